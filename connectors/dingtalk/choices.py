"""Choices of connectors.dingtalk: the robot vendors and their documented limits."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RobotKind(models.TextChoices):
    DINGTALK = "dingtalk", _("DingTalk group robot")  # 钉钉自定义机器人
    FEISHU = "feishu", _("Feishu / Lark custom bot")  # 飞书自定义机器人
    WECOM = "wecom", _("WeCom group robot")  # 企业微信群机器人


# Messages per minute each vendor accepts from one robot (DingTalk 20, Feishu 100, WeCom 20:
# docs/protocols/alerts-fx-customs.md §1). The portal stays below them with a margin (the
# guidance there is <= 18/min for DingTalk) so a clock skew between us and the vendor
# never trips the limit.
VENDOR_LIMIT_PER_MINUTE = {
    RobotKind.DINGTALK: 20,
    RobotKind.FEISHU: 100,
    RobotKind.WECOM: 20,
}
DEFAULT_LIMIT_PER_MINUTE = {
    RobotKind.DINGTALK: 18,
    RobotKind.FEISHU: 90,
    RobotKind.WECOM: 18,
}
