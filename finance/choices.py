"""Choices of the finance app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class VoucherMode(models.TextChoices):
    """How FX differences are grouped into Kingdee vouchers (F6.1)."""

    DAILY = "daily", _("One voucher per day, organisation and currency")
    DOCUMENT = "document", _("One voucher per document")


class FxDocumentKind(models.TextChoices):
    """The business document an FX difference line belongs to; it decides the counterpart
    account and the sign of gain / loss."""

    SALE = "sale", _("Sales outbound")  # 销售出库 (receivable)
    SALE_RETURN = "sale_return", _("Sales return")  # 销售退货 (receivable, reversed)
    PURCHASE = "purchase", _("Purchase inbound")  # 采购入库 (payable)


class VoucherStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending (outcome checked before any resend)")
    POSTED = "posted", _("Posted to Kingdee")
    NOTHING = "nothing", _("Nothing to post (net zero)")
    FAILED = "failed", _("Failed (ticket open)")


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Scheduled")
    MANUAL = "manual", _("On demand")


class FxTreatment(models.TextChoices):
    """What F6 does with the exchange differences (issue 19 point 4; docs/finance/
    fx-differences.md explains the accounting basis of each)."""

    POST = "post", _("Post vouchers to FX gain/loss (the brief's F6.1)")
    REPORT = "report", _("Report only, for Kingdee's own period-end revaluation")
