"""URLs of the robot simulators (mounted under /sandbox/robots/ by sandbox.urls)."""

from django.urls import path

from . import views

urlpatterns = [
    path("dingtalk/robot/send", views.dingtalk_send, name="sandbox-robots-dingtalk"),
    path(
        "feishu/open-apis/bot/v2/hook/<str:token>",
        views.feishu_hook,
        name="sandbox-robots-feishu",
    ),
    path("wecom/cgi-bin/webhook/send", views.wecom_send, name="sandbox-robots-wecom"),
    path("inbox/", views.inbox, name="sandbox-robots-inbox"),
]
