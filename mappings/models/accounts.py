"""Financial account mapping (M7, G5, 财务科目映射)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.models import TimeStampedModel

from ..choices import AccountPurpose


class AccountMapping(TimeStampedModel):
    """The Kingdee account (会计科目) booked for a purpose in an organisation, optionally for
    one shop only: a shop row wins over the organisation-wide row (blank shop)."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("e.g. main"),
    )
    org_number = models.CharField(
        verbose_name=_("organisation number"),
        max_length=50,
        help_text=_("Kingdee organisation FNumber, e.g. 100"),
    )
    purpose = models.CharField(
        verbose_name=_("purpose"),
        max_length=20,
        choices=AccountPurpose.choices,
        help_text=_("What is booked, e.g. fx_gain_loss"),
    )
    shop_id = models.CharField(
        verbose_name=_("Jushuitan shop id"),
        max_length=64,
        blank=True,
        default="",
        help_text=_("Only for this shop; blank = every shop of the organisation, e.g. 10001"),
    )
    account_number = models.CharField(
        verbose_name=_("Kingdee account number"),
        max_length=50,
        help_text=_("BD_Account FNumber, e.g. 6603.03"),
    )
    account_name = models.CharField(
        verbose_name=_("account name"),
        max_length=200,
        blank=True,
        help_text=_("e.g. 财务费用-汇兑损益"),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ("integration", "org_number", "purpose", "shop_id")
        verbose_name = _("account mapping")
        verbose_name_plural = _("account mappings")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "org_number", "purpose", "shop_id"),
                name="mappings_account_unique",
            ),
        ]

    def __str__(self) -> str:
        shop = f" [{self.shop_id}]" if self.shop_id else ""
        return f"{self.org_number} {self.get_purpose_display()}{shop} → {self.account_number}"
