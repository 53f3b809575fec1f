"""Choices of the sync engine: flows, document states (with their groups), error classes."""

from django.db import models
from django.utils.translation import gettext_lazy as _


def flow_choices() -> list[tuple[str, str]]:
    """The Flow.code choices: one per registered flow definition, with its label (issue 23
    point 3). Flow.code takes this callable, so a new flow needs no migration."""
    from .definitions import definitions

    return [(d.code, d.label or d.code) for d in definitions()]


# The codes of the flows the portal ships, for code that names one. A new flow needs no member
# here: its definition's code and label are its choice (flow_choices).
class FlowCode(models.TextChoices):
    MATERIAL_SYNC = "material_sync", _("F1 Material master sync")  # 物料主数据同步
    SALES_OUTBOUND = "sales_outbound", _("F2 Sales outbound")  # 销售出库
    SALES_RETURN = "sales_return", _("F3 Sales returns")  # 销售退货
    PURCHASE_INBOUND = "purchase_inbound", _("F4 Purchase inbound")  # 采购入库
    PURCHASE_RETURN = "purchase_return", _("F5 Purchase returns")  # 采购退货
    TRANSFER = "transfer", _("F7 Direct transfers")  # 直接调拨
    STOCK_COUNT = "stock_count", _("F8 Stock counts")  # 盘点
    INVENTORY_ADJUST = "inventory_adjust", _("F8.3 Kingdee inventory adjustments")  # 库存调整
    MASTER_DATA = "master_data", _("F9 Master data")  # 主数据


class System(models.TextChoices):
    JUSHUITAN = "jushuitan", _("Jushuitan")
    KINGDEE = "kingdee", _("Kingdee")


class DocumentState(models.TextChoices):
    RECEIVED = "received", _("Received")
    VALIDATED = "validated", _("Validated")
    MAPPED = "mapped", _("Mapped")
    LOADING = "loading", _("Loading")
    SYNCED = "synced", _("Synced")
    BLOCKED = "blocked", _("Blocked: waiting for a person")
    WAITING = "waiting", _("Waiting: timed retry")
    HELD = "held", _("Held: stock shortage")
    FAILED = "failed", _("Failed: gave up")
    IGNORED = "ignored", _("Ignored by a person")
    FILTERED = "filtered", _("Filtered out (kept with the reason)")


# A document in one of these states needs nothing more from the engine.
TERMINAL_STATES = frozenset({DocumentState.SYNCED, DocumentState.IGNORED, DocumentState.FILTERED})
# The engine may pick these up (WAITING only once next_attempt_at has passed).
WORKABLE_STATES = frozenset(
    {DocumentState.RECEIVED, DocumentState.VALIDATED, DocumentState.MAPPED, DocumentState.WAITING}
)
# These wait for a person (or for stock): they count as problems on the board.
PROBLEM_STATES = frozenset({DocumentState.BLOCKED, DocumentState.HELD, DocumentState.FAILED})


class ErrorClass(models.TextChoices):
    MISSING_MAPPING = "missing_mapping", _("Missing mapping")
    MISSING_VALUE = "missing_value", _("Missing value")
    INVALID_VALUE = "invalid_value", _("Invalid value")
    REMOTE_REJECTED = "remote_rejected", _("Rejected by the remote system")
    DUPLICATE = "duplicate", _("Duplicate")
    RATE_LIMITED = "rate_limited", _("Rate limited")
    CONNECTION = "connection", _("Connection failure")
    UNKNOWN_OUTCOME = "unknown_outcome", _("Unknown outcome")
    FX_UNAVAILABLE = "fx_unavailable", _("Exchange rate unavailable")
    INSUFFICIENT_STOCK = "insufficient_stock", _("Insufficient stock")
    AUTH = "auth", _("Authentication")
    DEPENDENCY = "dependency", _("Waiting for a related document")
    INTERNAL = "internal", _("Internal error")


# Transient classes are retried by timer; the rest need a person.
TRANSIENT_ERRORS = frozenset(
    {
        ErrorClass.RATE_LIMITED,
        ErrorClass.CONNECTION,
        ErrorClass.UNKNOWN_OUTCOME,
        ErrorClass.FX_UNAVAILABLE,
        ErrorClass.DEPENDENCY,
    }
)
