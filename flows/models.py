"""The sync engine's rows: flows, their watermarks, one SyncDocument per business document."""

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField, StrongSecretValidator, new_secret
from core.models import TimeStampedModel

from .choices import DocumentState, ErrorClass, FlowCode, System, flow_choices


class Flow(TimeStampedModel):
    """One flow (F1…F9) of one Integration: switch, schedule, canary scope, batch size and the
    circuit breaker that pauses it while its connection keeps failing."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="flows",
    )
    code = models.CharField(
        verbose_name=_("flow"),
        max_length=30,
        choices=flow_choices,
    )
    enabled = models.BooleanField(
        verbose_name=_("enabled"),
        default=False,
    )
    batch_size = models.PositiveIntegerField(
        verbose_name=_("batch size"),
        default=200,
        help_text=_("Documents written per remote batch call, e.g. 200"),
    )
    poll_seconds = models.PositiveIntegerField(
        verbose_name=_("poll interval (seconds)"),
        default=60,
        help_text=_("How often the source is polled, e.g. 60"),
    )
    canary_shops = models.JSONField(
        verbose_name=_("canary shops"),
        default=list,
        blank=True,
        help_text=_("G6: only these Jushuitan shop ids are synced when set, e.g. [10001]"),
    )
    canary_warehouses = models.JSONField(
        verbose_name=_("canary warehouses"),
        default=list,
        blank=True,
        help_text=_('G6: only these warehouse codes are synced when set, e.g. ["20001"]'),
    )
    canary_since = models.DateTimeField(
        verbose_name=_("canary since"),
        null=True,
        blank=True,
    )
    settings = models.JSONField(
        verbose_name=_("flow settings"),
        default=dict,
        blank=True,
        help_text=_(
            'Per-flow options, e.g. {"order_no_field": "F_PAEZ_PlatformOrderNo", '
            '"retry": {"max_attempts": 8}}'
        ),
    )
    paused_until = models.DateTimeField(
        verbose_name=_("paused until"),
        null=True,
        blank=True,
        help_text=_(
            "Set by the circuit breaker while the connection keeps failing; after a rejected "
            "login it stays paused until a person resumes the flow."
        ),
    )
    consecutive_failures = models.PositiveIntegerField(
        verbose_name=_("consecutive connection failures"),
        default=0,
    )
    last_run_at = models.DateTimeField(
        verbose_name=_("last run"),
        null=True,
        blank=True,
    )
    last_success_at = models.DateTimeField(
        verbose_name=_("last successful run"),
        null=True,
        blank=True,
        help_text=_("The last run that synced at least one document."),
    )
    last_idle_at = models.DateTimeField(
        verbose_name=_("last run with nothing due"),
        null=True,
        blank=True,
        help_text=_("The last run that ended without errors and found nothing to sync."),
    )
    last_error = models.TextField(
        verbose_name=_("last run error"),
        blank=True,
    )

    class Meta:
        ordering = ("integration", "code")
        verbose_name = _("flow")
        verbose_name_plural = _("flows")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "code"), name="flow_unique_per_integration"
            )
        ]

    def __str__(self) -> str:
        return f"{self.integration} · {self.get_code_display()}"

    def clean(self) -> None:
        super().clean()
        raw = (
            (self.settings or {}).get("stuck_minutes") if isinstance(self.settings, dict) else None
        )
        if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0):
            raise ValidationError(
                {
                    "settings": _(
                        '"stuck_minutes" (the watchdog\'s bound) must be a whole number of '
                        "minutes above 0, e.g. 30; got %(value)s."
                    )
                    % {"value": json.dumps(raw)}
                }
            )


class Watermark(models.Model):
    """How far a flow has pulled its source (modification time). Never moves backwards; each
    pull starts `overlap_seconds` before it so late writes are not missed."""

    flow = models.OneToOneField(
        Flow,
        verbose_name=_("flow"),
        on_delete=models.CASCADE,
        related_name="watermark",
    )
    cursor = models.DateTimeField(
        verbose_name=_("pulled up to"),
        null=True,
        blank=True,
    )
    overlap_seconds = models.PositiveIntegerField(
        verbose_name=_("overlap (seconds)"),
        default=120,
    )
    catchup_lag_seconds = models.PositiveIntegerField(
        verbose_name=_("catch-up window (seconds)"),
        default=7200,
        help_text=_("The catch-up pass (补漏) re-reads this far back, e.g. 7200"),
    )
    catchup_every_seconds = models.PositiveIntegerField(
        verbose_name=_("catch-up every (seconds)"),
        default=900,
    )
    last_catchup_at = models.DateTimeField(
        verbose_name=_("last catch-up"),
        null=True,
        blank=True,
    )
    catchup_ts = models.BigIntegerField(
        verbose_name=_("catch-up row version"),
        null=True,
        blank=True,
        help_text=_(
            "Sources with row versions (Jushuitan ts): the catch-up reads every row changed "
            "since this version instead of re-reading a time window, e.g. 7340032"
        ),
    )
    updated_at = models.DateTimeField(
        verbose_name=_("updated at"),
        auto_now=True,
    )

    class Meta:
        ordering = ("flow",)
        verbose_name = _("watermark")
        verbose_name_plural = _("watermarks")

    def __str__(self) -> str:
        return f"{self.flow}: {self.cursor}"


# Non-terminal states a document passes through on its way to the target (the watchdog's
# "stuck" bound applies to these; waiting, held, blocked and failed have their own rules).
IN_PROGRESS_STATES = (
    DocumentState.RECEIVED,
    DocumentState.VALIDATED,
    DocumentState.MAPPED,
    DocumentState.LOADING,
)
# Default bound on how long a document may stay in one of those states (flow setting
# "stuck_minutes"); F2's hard bound is 30 minutes (shipped → booked).
STUCK_MINUTES_DEFAULT = 10
STUCK_MINUTES_BY_FLOW = {FlowCode.SALES_OUTBOUND: 30}
# A waiting document whose next attempt is this late is overdue (nobody picked it up).
OVERDUE_AFTER = timedelta(minutes=5)


def stuck_minutes(flow: "Flow") -> int:
    """The flow's bound in minutes: its setting "stuck_minutes", else the flow's default."""
    raw = (flow.settings or {}).get("stuck_minutes")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    return value if value > 0 else STUCK_MINUTES_BY_FLOW.get(flow.code, STUCK_MINUTES_DEFAULT)


def no_live_claim(now: datetime) -> models.Q:
    """Nobody holds the document: no claim, or a claim whose lease has lapsed."""
    return (
        models.Q(claim_token__isnull=True)
        | models.Q(claimed_until__isnull=True)
        | models.Q(claimed_until__lt=now)
    )


def _stuck_q(flow: "Flow", now: datetime) -> models.Q:
    return models.Q(flow_id=flow.pk) & (
        models.Q(
            state__in=IN_PROGRESS_STATES,
            updated_at__lt=now - timedelta(minutes=stuck_minutes(flow)),
        )
        | models.Q(state=DocumentState.WAITING, next_attempt_at__lt=now - OVERDUE_AFTER)
    )


class SyncDocumentQuerySet(models.QuerySet):
    """The one definition of what the engine may work on (claim, sweep, board, metrics) and of
    what the watchdog calls stuck."""

    def workable(self, now: datetime | None = None) -> "SyncDocumentQuerySet":
        """Documents the engine may claim now: received / validated / mapped, waiting whose
        attempt is due, and loading with no live claim (the write was interrupted: outcome
        unknown, checked in the target before anything is sent again). Nobody holds them."""
        now = now or timezone.now()
        return self.filter(
            models.Q(
                state__in=(DocumentState.RECEIVED, DocumentState.VALIDATED, DocumentState.MAPPED)
            )
            | models.Q(state=DocumentState.WAITING, next_attempt_at__lte=now)
            | models.Q(state=DocumentState.WAITING, next_attempt_at__isnull=True)
            | models.Q(state=DocumentState.LOADING)
        ).filter(no_live_claim(now))

    def outcome_unknown(self, now: datetime | None = None) -> "SyncDocumentQuerySet":
        """Loading with no live claim: a write that was in flight when its worker stopped."""
        now = now or timezone.now()
        return self.filter(state=DocumentState.LOADING).filter(no_live_claim(now))

    def stuck(self, flow: "Flow", now: datetime | None = None) -> "SyncDocumentQuerySet":
        """The flow's documents that should have moved by now: in progress (received …
        loading) unchanged for longer than the flow's bound, or waiting with the next
        attempt overdue by more than OVERDUE_AFTER (the watchdog's findings)."""
        return self.filter(_stuck_q(flow, now or timezone.now()))

    def stuck_any(self, now: datetime | None = None) -> "SyncDocumentQuerySet":
        """Stuck documents of every flow (each with its own bound)."""
        now = now or timezone.now()
        condition = models.Q(pk__in=[])
        for flow in Flow.objects.only("id", "code", "settings"):
            condition |= _stuck_q(flow, now)
        return self.filter(condition)

    def stuck_in_progress(self, flow: "Flow", now: datetime) -> "SyncDocumentQuerySet":
        return self.filter(
            flow_id=flow.pk,
            state__in=IN_PROGRESS_STATES,
            updated_at__lt=now - timedelta(minutes=stuck_minutes(flow)),
        )

    def overdue_waiting(self, flow: "Flow", now: datetime) -> "SyncDocumentQuerySet":
        return self.filter(
            flow_id=flow.pk, state=DocumentState.WAITING, next_attempt_at__lt=now - OVERDUE_AFTER
        )


class SyncDocument(TimeStampedModel):
    """One business document in one flow: its source payload, the target payload built from
    it, where it stands, and the keys people search it by (O3)."""

    objects = SyncDocumentQuerySet.as_manager()

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.PROTECT,
        related_name="documents",
    )
    flow = models.ForeignKey(
        Flow,
        verbose_name=_("flow"),
        on_delete=models.PROTECT,
        related_name="documents",
    )
    source_system = models.CharField(
        verbose_name=_("source system"),
        max_length=20,
        choices=System.choices,
    )
    source_key = models.CharField(
        verbose_name=_("source key"),
        max_length=200,
        help_text=_("The source document's identity, e.g. io:1024 (sales-out id)"),
    )
    idempotency_key = models.CharField(
        verbose_name=_("idempotency key"),
        max_length=300,
        unique=True,
    )
    source_modified_at = models.DateTimeField(
        verbose_name=_("source modified at"),
        null=True,
        blank=True,
    )
    source_payload = models.JSONField(
        verbose_name=_("source payload"),
        default=dict,
    )
    target_payload = models.JSONField(
        verbose_name=_("target payload"),
        default=dict,
        blank=True,
        help_text=_("What the portal sends; editable before a retry (edit-and-retry)."),
    )
    payload_edited = models.BooleanField(
        verbose_name=_("target payload edited by a person"),
        default=False,
    )
    target_key = models.CharField(
        verbose_name=_("target key"),
        max_length=200,
        blank=True,
        db_index=True,
        help_text=_("Deterministic key of the target document, e.g. the Kingdee FBillNo"),
    )
    target_id = models.CharField(
        verbose_name=_("target id"),
        max_length=100,
        blank=True,
    )
    state = models.CharField(
        verbose_name=_("state"),
        max_length=20,
        choices=DocumentState.choices,
        default=DocumentState.RECEIVED,
    )
    attempts = models.PositiveIntegerField(
        verbose_name=_("writes attempted"),
        default=0,
    )
    retries = models.PositiveIntegerField(
        verbose_name=_("consecutive retries"),
        default=0,
        help_text=_("Timed retries of the current transient problem; reset on success."),
    )
    next_attempt_at = models.DateTimeField(
        verbose_name=_("next attempt at"),
        null=True,
        blank=True,
    )
    outcome_unknown = models.BooleanField(
        verbose_name=_("last write outcome unknown"),
        default=False,
        help_text=_("The last write may have landed: the target is asked before resending."),
    )
    progress = models.JSONField(
        verbose_name=_("progress of multi-step writes"),
        default=dict,
        blank=True,
    )
    claim_token = models.UUIDField(
        verbose_name=_("claimed by"),
        null=True,
        blank=True,
    )
    claimed_until = models.DateTimeField(
        verbose_name=_("claim expires"),
        null=True,
        blank=True,
    )
    last_error_class = models.CharField(
        verbose_name=_("error class"),
        max_length=30,
        choices=ErrorClass.choices,
        blank=True,
    )
    last_error_code = models.CharField(
        verbose_name=_("error code"),
        max_length=100,
        blank=True,
    )
    last_error_message = models.TextField(
        verbose_name=_("error message"),
        blank=True,
    )
    last_error_stage = models.CharField(
        verbose_name=_("error stage"),
        max_length=30,
        blank=True,
    )
    filter_reason = models.CharField(
        verbose_name=_("filter reason"),
        max_length=300,
        blank=True,
        help_text=_("Why the document was not synced, e.g. 'shop 10002 is outside the canary'"),
    )
    synced_at = models.DateTimeField(
        verbose_name=_("synced at"),
        null=True,
        blank=True,
    )
    # Denormalised search keys (O3).
    platform_order_no = models.CharField(
        verbose_name=_("platform order no."),
        max_length=100,
        blank=True,
        db_index=True,
    )
    kingdee_bill_no = models.CharField(
        verbose_name=_("Kingdee bill no."),
        max_length=100,
        blank=True,
        db_index=True,
    )
    shop_id = models.CharField(
        verbose_name=_("shop"),
        max_length=50,
        blank=True,
    )
    warehouse_code = models.CharField(
        verbose_name=_("warehouse"),
        max_length=50,
        blank=True,
    )

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("sync document")
        verbose_name_plural = _("sync documents")
        indexes = [
            # The engine's claim query and the board's backlog counts.
            models.Index(fields=("flow", "state", "next_attempt_at"), name="syncdoc_flow_state"),
            models.Index(fields=("state", "updated_at"), name="syncdoc_state_updated"),
            models.Index(fields=("flow", "source_key"), name="syncdoc_flow_source"),
            # O1 throughput: a range scan over the last day's syncs, grouped by flow.
            models.Index(fields=("synced_at", "flow"), name="syncdoc_synced_flow"),
            # O3: exact search by source key without knowing the flow.
            models.Index(fields=("source_key",), name="syncdoc_source_key"),
        ]

    def __str__(self) -> str:
        return f"{self.flow.get_code_display()} {self.source_key}"

    @property
    def trace_key(self) -> str:
        """One open problem per source record: tickets are keyed by this."""
        return self.idempotency_key

    @property
    def progress_note(self) -> str:
        """What a multi-step write has done so far, for people (e.g. a transfer "half moved":
        the outbound leg landed, the inbound leg is missing); set by the flow in progress."""
        return str((self.progress or {}).get("note") or "")


class DocumentSku(models.Model):
    """A SKU a document carries, for search by SKU (O3)."""

    document = models.ForeignKey(
        SyncDocument,
        verbose_name=_("document"),
        on_delete=models.CASCADE,
        related_name="sku_keys",
    )
    sku = models.CharField(
        verbose_name=_("SKU"),
        max_length=100,
        db_index=True,
    )

    class Meta:
        ordering = ("sku",)
        verbose_name = _("document SKU")
        verbose_name_plural = _("document SKUs")
        constraints = [
            models.UniqueConstraint(fields=("document", "sku"), name="document_sku_unique")
        ]
        indexes = [
            # O3: the newest documents of a SKU straight from the index (ORDER BY document
            # DESC LIMIT n), even for a SKU carried by a hundred thousand documents.
            models.Index(fields=("sku", "-document"), name="docsku_sku_document"),
        ]

    def __str__(self) -> str:
        return self.sku


class StockHoldStatus(models.TextChoices):
    OPEN = "open", _("Frozen, waiting for stock")
    RELEASED = "released", _("Released")
    CANCELLED = "cancelled", _("Cancelled")


class StockHold(TimeStampedModel):
    """待检库存: a quantity frozen for a held sales outbound until stock arrives (F2.4)."""

    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="stock_holds",
    )
    document = models.ForeignKey(
        SyncDocument,
        verbose_name=_("document"),
        on_delete=models.CASCADE,
        related_name="stock_holds",
    )
    material_number = models.CharField(
        verbose_name=_("material"),
        max_length=100,
        db_index=True,
    )
    stock_number = models.CharField(
        verbose_name=_("warehouse"),
        max_length=100,
    )
    quantity = models.DecimalField(
        verbose_name=_("frozen quantity"),
        max_digits=18,
        decimal_places=4,
        default=Decimal("0"),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=20,
        choices=StockHoldStatus.choices,
        default=StockHoldStatus.OPEN,
    )
    released_at = models.DateTimeField(
        verbose_name=_("released at"),
        null=True,
        blank=True,
    )

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("pending-inspection stock (待检库存)")
        verbose_name_plural = _("pending-inspection stock (待检库存)")
        indexes = [
            models.Index(
                fields=("integration", "status", "material_number", "stock_number"),
                name="stockhold_lookup",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.material_number} @ {self.stock_number}: {self.quantity}"


def new_key_id() -> str:
    return uuid.uuid4().hex


class ApiClient(TimeStampedModel):
    """A machine that may call the flow endpoints, signing each request with HMAC-SHA256."""

    name = models.CharField(
        verbose_name=_("name"),
        max_length=100,
        unique=True,
        help_text=_("e.g. 'Kingdee push plug-in'"),
    )
    key_id = models.CharField(
        verbose_name=_("key id"),
        max_length=64,
        unique=True,
        default=new_key_id,
        help_text=_("Sent in the X-Portal-Key header."),
    )
    secret = EncryptedTextField(
        verbose_name=_("signing secret"),
        help_text=_(
            "Shared secret for the X-Portal-Signature HMAC; stored encrypted and never shown. "
            "Leave blank to have a strong one generated (shown once); 'Rotate the signing "
            "secret' replaces it."
        ),
        validators=[StrongSecretValidator()],
    )
    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        related_name="api_clients",
    )
    enabled = models.BooleanField(
        verbose_name=_("enabled"),
        default=True,
    )
    requests_per_minute = models.PositiveIntegerField(
        verbose_name=_("requests per minute"),
        default=600,
    )

    class Meta:
        ordering = ("name",)
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # Never an empty secret: a client without one gets a generated, strong secret.
        if not self.secret:
            self.secret = new_secret()
        super().save(*args, **kwargs)


class FlowPreflightOverride(models.Model):
    """A person switched a flow on although the latest preflight had failures gating it
    (docs/protocols/kingdee.md §7): who, when, why, and which failures they accepted."""

    flow = models.ForeignKey(
        Flow,
        verbose_name=_("flow"),
        on_delete=models.CASCADE,
        related_name="preflight_overrides",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("overridden by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    username = models.CharField(
        verbose_name=_("overridden by (name)"),
        max_length=150,
        help_text=_("Kept when the user is deleted, e.g. finance.lead or 'demo setup'"),
    )
    reason = models.TextField(
        verbose_name=_("reason"),
        help_text=_("Why the flow goes on anyway, e.g. 'field created, preflight re-run tonight'"),
    )
    failures = models.JSONField(
        verbose_name=_("failures accepted"),
        default=list,
        help_text=_("The failed checks at the time of the override (key, title, detail, fix)."),
    )
    preflight_runs = models.JSONField(
        verbose_name=_("preflight runs"),
        default=list,
        help_text=_("Ids of the preflight runs those failures come from, e.g. [12, 13]"),
    )
    created_at = models.DateTimeField(
        verbose_name=_("overridden at"),
        auto_now_add=True,
    )

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("preflight override")
        verbose_name_plural = _("preflight overrides")

    def __str__(self) -> str:
        return f"{self.flow} · {self.username} · {self.created_at:%Y-%m-%d %H:%M}"


class ShadowRun(models.Model):
    """A map-only dry run (影子运行, issue 24 point 4): a flow read the last N days of real
    source documents, validated, mapped and transformed each one and wrote nothing. Kept so
    that runs made day after day beside the manual process can be compared."""

    flow = models.ForeignKey(
        Flow,
        verbose_name=_("flow"),
        on_delete=models.CASCADE,
        related_name="shadow_runs",
    )
    days = models.PositiveSmallIntegerField(
        verbose_name=_("days read"),
        default=7,
        help_text=_("How many days of source documents were read, e.g. 7"),
    )
    started_at = models.DateTimeField(
        verbose_name=_("started at"),
        auto_now_add=True,
    )
    finished_at = models.DateTimeField(
        verbose_name=_("finished at"),
        null=True,
        blank=True,
    )
    requested_by = models.CharField(
        verbose_name=_("requested by"),
        max_length=150,
        blank=True,
    )
    totals = models.JSONField(
        verbose_name=_("totals"),
        default=dict,
        blank=True,
        help_text=_('Documents per outcome, e.g. {"would_write": 25, "would_block": 5}'),
    )
    causes = models.JSONField(
        verbose_name=_("causes"),
        default=list,
        blank=True,
        help_text=_("What would block, grouped by cause, with the link to fix each."),
    )
    documents = models.JSONField(
        verbose_name=_("documents"),
        default=list,
        blank=True,
        help_text=_("Per document: what it would write, or why it would block."),
    )
    error = models.TextField(
        verbose_name=_("error"),
        blank=True,
        help_text=_("Why the source could not be read, if it could not."),
    )

    class Meta:
        ordering = ("-started_at",)
        verbose_name = _("map-only dry run")
        verbose_name_plural = _("map-only dry runs")

    def __str__(self) -> str:
        return f"{self.flow} · {self.started_at:%Y-%m-%d %H:%M}"
