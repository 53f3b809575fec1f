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


class CustomsMode(models.TextChoices):
    """Customs supervision mode (监管方式代码) of an export declaration."""

    GENERAL_TRADE = "0110", _("0110 General trade")  # 一般贸易
    B2C_RETAIL = "9610", _("9610 Cross-border e-commerce retail")  # 跨境贸易电子商务
    B2B_DIRECT = "9710", _("9710 Cross-border B2B direct export")  # 跨境电商B2B直接出口
    OVERSEAS_WAREHOUSE = "9810", _("9810 Export to an overseas warehouse")  # 出口海外仓


class DeclarationSource(models.TextChoices):
    IMPORT = "import", _("Imported from a broker / single-window file")
    KINGDEE = "kingdee", _("Read from Kingdee")


class PendingKind(models.TextChoices):
    """Why a document accounts for a stock difference at a reconciliation's cut-off."""

    BLOCKED = "blocked", _("blocked")
    HELD = "held", _("held for stock")
    FAILED = "failed", _("failed")
    WAITING = "waiting", _("waiting for a retry")
    IN_FLIGHT = "in_flight", _("in flight")


class FxTreatment(models.TextChoices):
    """What F6 does with the exchange differences (issue 19 point 4; docs/finance/
    fx-differences.md explains the accounting basis of each)."""

    POST = "post", _("Post vouchers to FX gain/loss (the brief's F6.1)")
    REPORT = "report", _("Report only, for Kingdee's own period-end revaluation")


class KingdeeSourceKind(models.TextChoices):
    """What a Kingdee source holds for the export-refund chain (K2)."""

    DECLARATIONS = "declarations", _("Customs declarations (报关单)")
    INVOICES = "invoices", _("Purchase VAT invoices (进项专票)")
    RECEIPTS = "receipts", _("FX receipts (收汇)")


class EnterpriseType(models.TextChoices):
    """How the tenant's export refund is computed (docs/finance/export-refund.md §1)."""

    TRADING = "trading", _("Trading company (外贸企业): purchase invoice amount × refund rate")
    MANUFACTURER = (
        "manufacturer",
        _("Manufacturer (生产企业, 免抵退): FOB × CNY rate × refund rate"),
    )
