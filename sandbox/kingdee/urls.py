"""URLs of the simulator (mounted under /sandbox/ by sandbox.urls)."""

from django.urls import path

from . import views

urlpatterns = [
    path("k3cloud/<path:service_name>", views.service, name="sandbox-kingdee-service"),
]
