"""Alerting models (O2): contacts, rules, alerts and the robot messages that carried them.

Rules pick which failures alert (error classes, flows, integration, minimum severity, N in
M minutes), where (a robot channel) and whom to @. `monitoring.alerts.alert_raise` stores one
Alert per matching rule; the dispatcher posts queued alerts as AlertDelivery rows (one row
= one robot message), singly or merged into a digest, never above the robot's limit.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.messages import localize
from core.models import TimeStampedModel
from core.roles import Role

from .alert_choices import AlertSeverity, AlertStatus, DeliveryKind, DeliveryStatus


def _split(text: str) -> list[str]:
    return [item for item in text.replace(";", ",").replace(" ", ",").split(",") if item]


class AlertContact(TimeStampedModel):
    """How a portal user is @-mentioned by the robots (a role's members are found here)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="alert_contact",
    )
    mobile = models.CharField(
        verbose_name=_("mobile"),
        max_length=20,
        blank=True,
        help_text=_("Used for DingTalk and WeCom @-mentions, e.g. 13800000000"),
    )
    dingtalk_user_id = models.CharField(
        verbose_name=_("DingTalk userId"),
        max_length=64,
        blank=True,
        help_text=_("Optional, e.g. manager4220"),
    )
    feishu_open_id = models.CharField(
        verbose_name=_("Feishu open_id"),
        max_length=64,
        blank=True,
        help_text=_("Feishu can only @ by id, e.g. ou_7d8a6e6df7621556ce0d21922b676706"),
    )
    wecom_user_id = models.CharField(
        verbose_name=_("WeCom userid"),
        max_length=64,
        blank=True,
        help_text=_("Optional, e.g. zhangsan"),
    )
    enabled = models.BooleanField(
        verbose_name=_("enabled"),
        default=True,
        help_text=_("Clear to stop mentioning this person (e.g. on leave)."),
    )

    class Meta:
        ordering = ("user__username",)
        verbose_name = _("alert contact")
        verbose_name_plural = _("alert contacts")

    def __str__(self) -> str:
        return f"{self.user} {self.mobile}".strip()


class AlertRule(TimeStampedModel):
    """Which failures alert, on which robot channel, and whom to @ (告警规则)."""

    name = models.CharField(
        verbose_name=_("name"),
        max_length=100,
        unique=True,
        help_text=_("e.g. 'Sales outbound failures to finance group'"),
    )
    enabled = models.BooleanField(
        verbose_name=_("enabled"),
        default=True,
    )
    channel = models.ForeignKey(
        "dingtalk.RobotChannel",
        verbose_name=_("robot channel"),
        on_delete=models.PROTECT,
        related_name="alert_rules",
    )
    error_classes = models.CharField(
        verbose_name=_("error classes"),
        max_length=500,
        blank=True,
        help_text=_(
            "Comma separated error classes as the engine names them; blank matches every "
            "class, e.g. missing_mapping, rate_limited, remote_*"
        ),
    )
    flow_codes = models.CharField(
        verbose_name=_("flows"),
        max_length=200,
        blank=True,
        help_text=_(
            "Comma separated flow codes; blank matches every flow, e.g. sales_outbound, "
            "sales_return"
        ),
    )
    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_rules",
        help_text=_("Blank: every integration."),
    )
    min_severity = models.CharField(
        verbose_name=_("minimum severity"),
        max_length=10,
        choices=AlertSeverity.choices,
        default=AlertSeverity.ERROR,
    )
    threshold_count = models.PositiveSmallIntegerField(
        verbose_name=_("threshold: failures"),
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_("Alert once this many matching failures happened within the window, e.g. 5"),
    )
    threshold_minutes = models.PositiveSmallIntegerField(
        verbose_name=_("threshold: window (minutes)"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(1440)],
        help_text=_("The window the failures are counted in, e.g. 10"),
    )
    dedupe_minutes = models.PositiveSmallIntegerField(
        verbose_name=_("deduplicate for (minutes)"),
        default=30,
        validators=[MaxValueValidator(1440)],
        help_text=_(
            "A repeat of the same alert (same key) within this time is counted on the first "
            "one instead of sent again; 0 sends every repeat. e.g. 30"
        ),
    )
    mention_mobiles = models.CharField(
        verbose_name=_("@ mobiles"),
        max_length=500,
        blank=True,
        help_text=_("Comma separated, e.g. 13800000000, 13900000000"),
    )
    mention_role = models.CharField(
        verbose_name=_("@ role"),
        max_length=30,
        choices=Role.choices,
        blank=True,
        help_text=_("Every member of this role with an alert contact is @-mentioned."),
    )
    mention_all = models.BooleanField(
        verbose_name=_("@ everyone"),
        default=False,
    )

    class Meta:
        ordering = ("name",)
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")

    def __str__(self) -> str:
        return self.name

    @property
    def error_class_patterns(self) -> list[str]:
        return _split(self.error_classes)

    @property
    def flow_code_patterns(self) -> list[str]:
        return _split(self.flow_codes)

    @property
    def mention_mobile_list(self) -> list[str]:
        return _split(self.mention_mobiles)


class Alert(TimeStampedModel):
    """One alert of one rule: what happened, whom to @, and how far its delivery got."""

    rule = models.ForeignKey(
        AlertRule,
        verbose_name=_("rule"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
    )
    channel = models.ForeignKey(
        "dingtalk.RobotChannel",
        verbose_name=_("robot channel"),
        on_delete=models.PROTECT,
        related_name="alerts",
    )
    title = models.CharField(
        verbose_name=_("title"),
        max_length=200,
        help_text=_("e.g. 'Sales outbound failed: SO-20260101-001'"),
    )
    text = models.TextField(
        verbose_name=_("text"),
        blank=True,
        help_text=_("Markdown: what is wrong and what to do."),
    )
    # Issue 20 point 4: title and text as message ids and parameters, posted in the channel's
    # language; the texts above are their fallback.
    title_data = models.JSONField(
        verbose_name=_("title id and parameters"),
        null=True,
        blank=True,
    )
    text_data = models.JSONField(
        verbose_name=_("text id and parameters"),
        null=True,
        blank=True,
    )
    error_class = models.CharField(
        verbose_name=_("error class"),
        max_length=100,
        db_index=True,
        help_text=_("e.g. MappingMissing"),
    )
    flow_code = models.CharField(
        verbose_name=_("flow"),
        max_length=50,
        blank=True,
        help_text=_("e.g. F2"),
    )
    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts",
    )
    severity = models.CharField(
        verbose_name=_("severity"),
        max_length=10,
        choices=AlertSeverity.choices,
        default=AlertSeverity.ERROR,
    )
    role = models.CharField(
        verbose_name=_("role"),
        max_length=30,
        blank=True,
        help_text=_("The role the problem belongs to (its members are @-mentioned), e.g. finance"),
    )
    dedupe_key = models.CharField(
        verbose_name=_("deduplication key"),
        max_length=200,
        help_text=_("Repeats with this key are folded together, e.g. F2:SO-20260101-001"),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=20,
        choices=AlertStatus.choices,
        default=AlertStatus.QUEUED,
    )
    occurrences = models.PositiveIntegerField(
        verbose_name=_("occurrences"),
        default=1,
        help_text=_("How many times it happened (repeats within the dedupe window), e.g. 3"),
    )
    last_seen_at = models.DateTimeField(
        verbose_name=_("last seen at"),
    )
    mention_mobiles = models.JSONField(
        verbose_name=_("@ mobiles"),
        default=list,
        blank=True,
        help_text=_('e.g. ["13800000000"]'),
    )
    mention_user_ids = models.JSONField(
        verbose_name=_("@ user ids"),
        default=list,
        blank=True,
        help_text=_('e.g. ["ou_xxx"]'),
    )
    mention_all = models.BooleanField(
        verbose_name=_("@ everyone"),
        default=False,
    )
    attempts = models.PositiveSmallIntegerField(
        verbose_name=_("attempts"),
        default=0,
    )
    next_attempt_at = models.DateTimeField(
        verbose_name=_("next attempt at"),
        null=True,
        blank=True,
    )
    sent_at = models.DateTimeField(
        verbose_name=_("sent at"),
        null=True,
        blank=True,
    )
    last_error = models.TextField(
        verbose_name=_("last error"),
        blank=True,
        help_text=_("e.g. RateLimited: the robot says messages are sent too fast (130101)"),
    )

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [
            models.Index(fields=("channel", "status", "next_attempt_at")),
            models.Index(fields=("rule", "dedupe_key", "created_at")),
            models.Index(fields=("rule", "status", "created_at")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} [{self.severity}] {self.title_text}"

    @property
    def title_text(self) -> str:
        """The title in the active language (the reader's, or the channel's when posting)."""
        return localize(self.title, self.title_data)

    @property
    def text_shown(self) -> str:
        return localize(self.text, self.text_data)


class AlertDelivery(models.Model):
    """One message posted (or attempted) to a robot, carrying one alert or a digest."""

    channel = models.ForeignKey(
        "dingtalk.RobotChannel",
        verbose_name=_("robot channel"),
        on_delete=models.PROTECT,
        related_name="deliveries",
    )
    kind = models.CharField(
        verbose_name=_("kind"),
        max_length=10,
        choices=DeliveryKind.choices,
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=10,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.SENDING,
    )
    alerts = models.ManyToManyField(
        Alert,
        verbose_name=_("alerts"),
        related_name="deliveries",
    )
    alert_count = models.PositiveIntegerField(
        verbose_name=_("alerts carried"),
        default=0,
        help_text=_("e.g. 1, or 57 for a digest"),
    )
    title = models.CharField(
        verbose_name=_("title"),
        max_length=200,
    )
    text = models.TextField(
        verbose_name=_("text"),
        help_text=_("The markdown posted to the robot."),
    )
    reserved_at = models.DateTimeField(
        verbose_name=_("reserved at"),
        db_index=True,
        help_text=_("When the slot in the robot's per-minute limit was taken."),
    )
    posted_at = models.DateTimeField(
        verbose_name=_("posted at"),
        null=True,
        blank=True,
        db_index=True,
    )
    finished_at = models.DateTimeField(
        verbose_name=_("finished at"),
        null=True,
        blank=True,
    )
    error_code = models.CharField(
        verbose_name=_("error code"),
        max_length=30,
        blank=True,
        help_text=_("The robot's code, e.g. 130101"),
    )
    error = models.TextField(
        verbose_name=_("error"),
        blank=True,
    )

    class Meta:
        ordering = ("-reserved_at", "-id")
        verbose_name = _("alert delivery")
        verbose_name_plural = _("alert deliveries")
        indexes = [models.Index(fields=("channel", "reserved_at"))]

    def __str__(self) -> str:
        return f"{self.channel} {self.reserved_at:%Y-%m-%d %H:%M:%S} ({self.alert_count})"
