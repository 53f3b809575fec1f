"""What a flow module supplies to the engine: its stages as plain methods.

extract (pull pages) / parse_push (accept a pushed document) → scope → validate →
transform (map + build the target payload) → load (batched write) → after_synced (write back).
The engine owns state, retries, batching, claims and events; a definition never touches a
SyncDocument's state.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils.translation import gettext_noop

from core.errors import PortalError

from ..choices import ErrorClass

if TYPE_CHECKING:
    from ..models import Flow, SyncDocument
    from .push import PushEndpoint


@dataclass
class SourceRecord:
    """One source document as pulled or pushed, with the keys people search by."""

    source_key: str
    payload: dict
    modified_at: datetime | None = None
    platform_order_no: str = ""
    kingdee_bill_no: str = ""
    skus: list[str] = field(default_factory=list)
    shop_id: str = ""
    warehouse_code: str = ""
    # Set when the record is kept but not synced (not a finished good, cancelled, ...).
    filter_reason: str = ""


class Problem(PortalError):
    """A stage's verdict on one document: what is wrong, in which class, for whom."""

    error_class: str = ErrorClass.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        error_class: str | None = None,
        subject: str = "",
        code: str = "",
        system: str = "",
        stage: str = "",
        role: str = "",
        **extra: Any,
    ) -> None:
        super().__init__(message, **extra)
        if error_class:
            self.error_class = error_class
        self.subject = subject or message[:120]
        self.code = str(code or "")
        self.system = system
        self.stage = stage
        # Whose queue the ticket goes to; blank = the error class's default role. A flow
        # sets it when the record names its own owner (F1.4: the material group's owner).
        self.role = role


class ValidationProblem(Problem):
    """A required field is missing or a value is invalid: the record stops for a person."""

    def __init__(self, message: str, *, field_name: str, missing: bool = True, **kw: Any):
        kw.setdefault(
            "error_class", ErrorClass.MISSING_VALUE if missing else ErrorClass.INVALID_VALUE
        )
        kw.setdefault("subject", field_name)
        super().__init__(message, field=field_name, **kw)
        self.field_name = field_name


class StockShortage(Problem):
    """The target refused for lack of stock (F2.4): hold the document until stock arrives."""

    error_class = ErrorClass.INSUFFICIENT_STOCK

    def __init__(self, message: str, *, lines: list[tuple[str, str, Decimal]], **kw: Any):
        super().__init__(message, **kw)
        self.lines = lines  # (material number, stock number, quantity)


@dataclass
class LoadResult:
    """The outcome of writing one document: landed (with the target's id / number) or a
    problem. `unknown` means the write may have landed: ask the target before resending."""

    ok: bool = False
    target_id: str = ""
    target_number: str = ""
    problem: Problem | None = None
    unknown: bool = False
    progress: dict | None = None

    @classmethod
    def landed(cls, *, target_id: Any = "", target_number: str = "") -> LoadResult:
        return cls(ok=True, target_id=str(target_id or ""), target_number=target_number or "")


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter; some error classes have their own fixed rule
    (F2.3: FX unavailable → every 5 minutes, at most 3 times)."""

    max_attempts: int = 8
    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    jitter: float = 0.2
    per_class: dict[str, dict] = field(
        default_factory=lambda: {
            # F2.3: both FX sources failed → every 5 minutes, at most 3 times, then a ticket.
            ErrorClass.FX_UNAVAILABLE: {"max_attempts": 3, "delay_seconds": 300},
            # A return waits for its original outbound: every 10 minutes for 4 hours.
            ErrorClass.DEPENDENCY: {"max_attempts": 24, "delay_seconds": 600},
        }
    )

    @classmethod
    def from_settings(cls, base: RetryPolicy, overrides: dict | None) -> RetryPolicy:
        if not overrides:
            return base
        known = {"max_attempts", "base_seconds", "max_seconds", "jitter", "per_class"}
        values = {k: v for k, v in overrides.items() if k in known}
        merged = {**base.__dict__, **values}
        if "per_class" in values:
            merged["per_class"] = {**base.per_class, **values["per_class"]}
        return cls(**merged)

    def limit_for(self, error_class: str) -> int:
        return int(self.per_class.get(error_class, {}).get("max_attempts", self.max_attempts))

    def delay_for(self, error_class: str, attempt: int, rng) -> float:
        """Seconds before retry number `attempt` (1-based) of a failure of this class."""
        rule = self.per_class.get(error_class, {})
        if "delay_seconds" in rule:
            return float(rule["delay_seconds"])
        delay = min(self.max_seconds, self.base_seconds * (2 ** (attempt - 1)))
        return delay * (1 + rng.uniform(-self.jitter, self.jitter))


class FlowContext:
    """What stages of one flow run can use: the flow, its integration, clients, mappings."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.integration = flow.integration
        self.settings: dict = flow.settings or {}
        # Per-run memo for stages (exchange-rate book, currency numbers, ...).
        self.memo: dict = {}

    @cached_property
    def kingdee(self):
        from connectors.kingdee.client import client_for

        return client_for(self.integration.kingdee)

    @cached_property
    def jushuitan(self):
        from connectors.jushuitan.client import client_for

        return client_for(self.integration.jushuitan)

    @cached_property
    def mappings(self):
        from mappings.selectors import MappingBinder

        return MappingBinder(self.integration)

    def setting(self, name: str, default: Any) -> Any:
        return self.settings.get(name, default)


class UnsupportedStage(PortalError):
    default_message = gettext_noop("This flow does not support this stage.")


class FlowDefinition(ABC):
    """Base of every flow module. Subclasses set the class attributes and the stages."""

    code: ClassVar[str]
    source_system: ClassVar[str]
    target_system: ClassVar[str]
    # Issue 23 point 3: the definition is the only thing a new flow registers. The registry
    # (flows.definitions) derives the Flow.code choices (code, label), the push URL and its
    # OpenAPI operation (push) and the defaults of a new flow row (poll_seconds) from it.
    label: ClassVar[str] = ""  # gettext_lazy("F10 Sales orders"); blank shows the code
    # The ID in docs/requirements.md ("F2", "F8.3"): orders the flows in choices and lists.
    requirement: ClassVar[str] = ""
    poll_seconds: ClassVar[int] = 60  # how often a new flow row polls its source
    push: ClassVar[PushEndpoint | None] = None  # None: the source cannot push
    retry: ClassVar[RetryPolicy] = RetryPolicy()
    # Maximum length of one pull window, and whether the source can be pulled at all.
    pull_window_seconds: ClassVar[int] = 3600
    pullable: ClassVar[bool] = True
    # Master data (F1, F9) is an upsert: a record that changes at its source after it was
    # synced must be synced again, so a newer version re-opens a synced document too.
    reopen_synced_on_change: ClassVar[bool] = False

    def extract(
        self, ctx: FlowContext, *, start: datetime, end: datetime
    ) -> Iterator[SourceRecord]:
        raise UnsupportedStage(f"{type(self).__name__} cannot pull its source", flow=self.code)

    # Sources with a row-version cursor (Jushuitan `ts`, docs/protocols/jushuitan.md §2.5): the
    # catch-up pass walks the rows changed since the last one it saw instead of re-reading a
    # time window.
    catchup_by_row_version: ClassVar[bool] = False

    def extract_since(self, ctx: FlowContext, *, row_version: int) -> Iterator[SourceRecord]:
        """Records whose row version is >= row_version (catchup_by_row_version only); each
        record's payload carries its `ts`."""
        raise UnsupportedStage(f"{type(self).__name__} has no row-version cursor", flow=self.code)

    def parse_push(self, ctx: FlowContext, item: dict) -> SourceRecord:
        raise UnsupportedStage(f"{type(self).__name__} accepts no pushed documents", flow=self.code)

    def validate(self, ctx: FlowContext, document: SyncDocument) -> None:
        """Raise ValidationProblem naming the field when the source cannot be synced."""
        return

    @abstractmethod
    def transform(self, ctx: FlowContext, document: SyncDocument) -> tuple[dict, str]:
        """Map and build the target payload; return (payload, deterministic target key)."""

    @abstractmethod
    def load(self, ctx: FlowContext, documents: list[SyncDocument]) -> dict[int, LoadResult]:
        """Write the documents (batched); return one LoadResult per document id."""

    def find_existing(
        self, ctx: FlowContext, documents: list[SyncDocument]
    ) -> dict[int, LoadResult]:
        """Check-before-resend: for documents whose last write may have landed, ask the target.
        Return a landed LoadResult for each one found; absent ids were not found."""
        return {}

    def after_synced(self, ctx: FlowContext, documents: Iterable[SyncDocument]) -> None:
        """Write back / side effects once documents landed (release holds, ...)."""
        return

    def preflight_requirements(self, flow: Flow) -> list:
        """Preflight checks (connectors.preflight.Check) that must have passed before `flow`,
        with its settings, may be switched on, beyond the failures that name the flow: an
        opt-in the preflight proves only once it is set (F8.2 revaluation,
        docs/protocols/kingdee.md §7). Missing or failed ones are returned."""
        return []

    def settings_gate(self, flow: Flow, settings: dict) -> list:
        """Failed or missing preflight checks that refuse saving `settings` on `flow`
        (flows.services.flow_settings_update); [] when nothing in them needs a proof."""
        return []
