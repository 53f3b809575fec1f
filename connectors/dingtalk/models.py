"""Group robot channels (DingTalk / Feishu / WeCom) that alerts are posted to."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.crypto import MASK
from core.fields import EncryptedTextField
from core.models import TimeStampedModel

from .choices import DEFAULT_LIMIT_PER_MINUTE, VENDOR_LIMIT_PER_MINUTE, RobotKind
from .validators import validate_webhook_url

_SECRET_QUERY_KEYS = {"access_token", "key", "sign"}


def mask_webhook_url(url: str) -> str:
    """The URL with its credentials (access_token, key, sign, Feishu hook id) masked."""
    parts = urlsplit(url)
    query = urlencode(
        [(k, "***" if k in _SECRET_QUERY_KEYS else v) for k, v in parse_qsl(parts.query)],
        safe="*",
    )
    path = parts.path
    marker = "/bot/v2/hook/"
    if marker in path:
        path = path.split(marker, 1)[0] + marker + "***"
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def split_list(text: str) -> list[str]:
    """'138..., 139...' -> ['138...', '139...'] (commas, semicolons or blanks)."""
    return [item for item in text.replace(";", ",").replace(" ", ",").split(",") if item]


class RobotChannel(TimeStampedModel):
    """A group robot (群机器人) the portal posts alerts to: DingTalk, Feishu or WeCom."""

    name = models.CharField(
        verbose_name=_("name"),
        max_length=100,
        unique=True,
        help_text=_("A name people recognise, e.g. 'Finance group robot'"),
    )
    kind = models.CharField(
        verbose_name=_("kind"),
        max_length=20,
        choices=RobotKind.choices,
        default=RobotKind.DINGTALK,
    )
    webhook_url = EncryptedTextField(
        verbose_name=_("webhook URL"),
        blank=False,
        help_text=_(
            "The whole URL from the robot's settings (it holds the token; stored encrypted), "
            "e.g. https://oapi.dingtalk.com/robot/send?access_token=…"
        ),
    )
    secret = EncryptedTextField(
        verbose_name=_("signing secret"),
        help_text=_(
            "Only when the robot uses signing (加签): DingTalk SEC…, Feishu secret; stored "
            "encrypted. Leave blank for WeCom."
        ),
    )
    keyword = models.CharField(
        verbose_name=_("keyword"),
        max_length=50,
        blank=True,
        help_text=_(
            "When the robot uses keyword security, one of its keywords; it is added to every "
            "message that lacks it, e.g. ERP告警"
        ),
    )
    at_mobiles = models.CharField(
        verbose_name=_("always @ (mobiles)"),
        max_length=500,
        blank=True,
        help_text=_("Mobile numbers @-mentioned in every alert, comma separated, e.g. 13800000000"),
    )
    at_user_ids = models.CharField(
        verbose_name=_("always @ (user ids)"),
        max_length=500,
        blank=True,
        help_text=_(
            "DingTalk userIds, Feishu open_ids or WeCom userids @-mentioned in every alert, "
            "comma separated, e.g. ou_7d8a6e6df7621556ce0d21922b676706"
        ),
    )
    at_all = models.BooleanField(
        verbose_name=_("@ everyone"),
        default=False,
        help_text=_("Mention the whole group (@all) in every alert."),
    )
    limit_per_minute = models.PositiveSmallIntegerField(
        verbose_name=_("messages per minute"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_(
            "At most this many messages a minute go to the robot; bursts above it are merged "
            "into digests. Blank: 18 for DingTalk and WeCom (limit 20), 90 for Feishu (100)."
        ),
    )
    language = models.CharField(
        verbose_name=_("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        default="",
        help_text=_(
            "The language of the group: alerts, ticket titles and texts are posted in it. "
            "Blank: the portal's default language."
        ),
    )
    enabled = models.BooleanField(
        verbose_name=_("enabled"),
        default=True,
    )
    throttled_until = models.DateTimeField(
        verbose_name=_("throttled until"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Set when the robot answered 'too fast': nothing is sent before then."),
    )

    class Meta:
        ordering = ("name",)
        verbose_name = _("robot channel")
        verbose_name_plural = _("robot channels")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def clean(self) -> None:
        super().clean()
        if self.webhook_url:
            try:
                validate_webhook_url(self.webhook_url, kind=self.kind)
            except ValidationError as exc:
                raise ValidationError({"webhook_url": exc.messages}) from exc
        limit = self.limit_per_minute
        if limit and limit > VENDOR_LIMIT_PER_MINUTE[RobotKind(self.kind)]:
            raise ValidationError(
                {
                    "limit_per_minute": _("%(kind)s accepts at most %(n)s messages a minute.")
                    % {
                        "kind": RobotKind(self.kind).label,
                        "n": VENDOR_LIMIT_PER_MINUTE[RobotKind(self.kind)],
                    }
                }
            )

    @property
    def effective_limit_per_minute(self) -> int:
        return self.limit_per_minute or DEFAULT_LIMIT_PER_MINUTE[RobotKind(self.kind)]

    @property
    def masked_webhook_url(self) -> str:
        return mask_webhook_url(self.webhook_url) if self.webhook_url else ""

    @property
    def masked_secret(self) -> str:
        return MASK if self.secret else ""

    @property
    def at_mobile_list(self) -> list[str]:
        return split_list(self.at_mobiles)

    @property
    def at_user_id_list(self) -> list[str]:
        return split_list(self.at_user_ids)
