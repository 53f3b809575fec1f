"""The simulated robots (the vendor's side) and every message they received (the inbox)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField


class RobotVendor(models.TextChoices):
    DINGTALK = "dingtalk", _("DingTalk")
    FEISHU = "feishu", _("Feishu")
    WECOM = "wecom", _("WeCom")


# Messages one robot accepts per minute, and the penalty after exceeding it
# (docs/protocols/alerts-fx-customs.md §1).
VENDOR_LIMITS = {
    RobotVendor.DINGTALK: (20, 600),
    RobotVendor.FEISHU: (100, 0),
    RobotVendor.WECOM: (20, 0),
}


class SandboxRobot(models.Model):
    """A robot as the vendor keeps it: its token (access_token / hook id / key), its signing
    secret and keyword, and whether it is throttled."""

    vendor = models.CharField(
        verbose_name=_("vendor"),
        max_length=20,
        choices=RobotVendor.choices,
        default=RobotVendor.DINGTALK,
    )
    name = models.CharField(
        verbose_name=_("name"),
        max_length=100,
        help_text=_("The group the robot posts to, e.g. 'ERP 告警群'"),
    )
    token = models.CharField(
        verbose_name=_("token"),
        max_length=100,
        unique=True,
        help_text=_("DingTalk access_token, Feishu hook id or WeCom key, e.g. sandbox-dingtalk"),
    )
    secret = EncryptedTextField(
        verbose_name=_("signing secret"),
        help_text=_("Blank: the robot does not check signatures. e.g. SECsandbox…"),
    )
    keyword = models.CharField(
        verbose_name=_("keywords"),
        max_length=200,
        blank=True,
        help_text=_("Comma separated; a message must contain one. e.g. ERP告警,告警"),
    )
    throttled_until = models.DateTimeField(
        verbose_name=_("throttled until"),
        null=True,
        blank=True,
        help_text=_("Set when the robot got more than its per-minute limit."),
    )

    class Meta:
        ordering = ("vendor", "name")
        verbose_name = _("sandbox robot")
        verbose_name_plural = _("sandbox robots")

    def __str__(self) -> str:
        return f"{self.get_vendor_display()}: {self.name}"

    @property
    def keywords(self) -> list[str]:
        return [k.strip() for k in self.keyword.split(",") if k.strip()]


class ReceivedMessage(models.Model):
    """One request a sandbox robot received, accepted or not (the inbox, 收件箱)."""

    robot = models.ForeignKey(
        SandboxRobot,
        verbose_name=_("robot"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        help_text=_("Empty when the token was unknown."),
    )
    vendor = models.CharField(
        verbose_name=_("vendor"),
        max_length=20,
        choices=RobotVendor.choices,
    )
    received_at = models.DateTimeField(
        verbose_name=_("received at"),
        auto_now_add=True,
        db_index=True,
    )
    accepted = models.BooleanField(
        verbose_name=_("accepted"),
        default=False,
        help_text=_("False when the robot answered with an error code."),
    )
    errcode = models.IntegerField(
        verbose_name=_("answer code"),
        default=0,
        help_text=_("What the robot answered, e.g. 0, 310000, 130101"),
    )
    errmsg = models.CharField(
        verbose_name=_("answer message"),
        max_length=200,
        blank=True,
        help_text=_("e.g. ok, sign not match"),
    )
    signature_checked = models.BooleanField(
        verbose_name=_("signature checked"),
        default=False,
        help_text=_("True when the robot has a secret and the signature matched."),
    )
    msgtype = models.CharField(
        verbose_name=_("message type"),
        max_length=30,
        blank=True,
        help_text=_("e.g. markdown, text, interactive"),
    )
    title = models.CharField(
        verbose_name=_("title"),
        max_length=200,
        blank=True,
    )
    content = models.TextField(
        verbose_name=_("content"),
        blank=True,
        help_text=_("The message text as the group would read it."),
    )
    at_mobiles = models.JSONField(
        verbose_name=_("@ mobiles"),
        default=list,
        blank=True,
        help_text=_('e.g. ["13800000000"]'),
    )
    at_user_ids = models.JSONField(
        verbose_name=_("@ user ids"),
        default=list,
        blank=True,
        help_text=_('e.g. ["ou_xxx"]'),
    )
    at_all = models.BooleanField(
        verbose_name=_("@ everyone"),
        default=False,
    )
    body = models.JSONField(
        verbose_name=_("request body"),
        default=dict,
        blank=True,
        help_text=_("The JSON body as received (Feishu signature masked)."),
    )
    size_bytes = models.PositiveIntegerField(
        verbose_name=_("size (bytes)"),
        default=0,
    )

    class Meta:
        ordering = ("-received_at", "-id")
        verbose_name = _("received robot message")
        verbose_name_plural = _("received robot messages")
        indexes = [models.Index(fields=("robot", "accepted", "received_at"))]

    def __str__(self) -> str:
        return f"{self.vendor} {self.received_at:%Y-%m-%d %H:%M:%S} {self.title or self.errmsg}"
