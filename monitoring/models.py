"""Events (the 90-day log), exception tickets (异常工单) and the remote-call log."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.messages import localize
from core.models import TimeStampedModel
from core.roles import Role
from flows.journal import EventLevel  # the journal's levels (issue 23), re-exported here


class Event(models.Model):
    """One thing that happened to a document (or a flow): a state transition, a stage result,
    a person's action. Searchable by platform order no., Kingdee bill no. and SKU (O3)."""

    created_at = models.DateTimeField(
        verbose_name=_("time"),
        auto_now_add=True,
    )
    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    document = models.ForeignKey(
        "flows.SyncDocument",
        verbose_name=_("document"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
    )
    flow_code = models.CharField(
        verbose_name=_("flow"),
        max_length=30,
        blank=True,
    )
    stage = models.CharField(
        verbose_name=_("stage"),
        max_length=30,
        help_text=_("e.g. extract, validate, map, load, retry, ticket"),
    )
    level = models.CharField(
        verbose_name=_("level"),
        max_length=10,
        choices=EventLevel.choices,
        default=EventLevel.INFO,
    )
    from_state = models.CharField(
        verbose_name=_("from state"),
        max_length=20,
        blank=True,
    )
    to_state = models.CharField(
        verbose_name=_("to state"),
        max_length=20,
        blank=True,
    )
    message = models.TextField(
        verbose_name=_("message"),
    )
    message_data = models.JSONField(
        verbose_name=_("message id and parameters"),
        null=True,
        blank=True,
        help_text=_("The message shown in the reader's language; the text is its fallback."),
    )
    detail = models.JSONField(
        verbose_name=_("detail"),
        default=dict,
        blank=True,
    )
    batch_id = models.UUIDField(
        verbose_name=_("batch"),
        null=True,
        blank=True,
        help_text=_("The remote batch this event belongs to; links to the remote calls."),
    )
    platform_order_no = models.CharField(
        verbose_name=_("platform order no."),
        max_length=100,
        blank=True,
    )
    kingdee_bill_no = models.CharField(
        verbose_name=_("Kingdee bill no."),
        max_length=100,
        blank=True,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=("document", "created_at"), name="event_document_time"),
            models.Index(fields=("created_at",), name="event_time"),
            models.Index(
                fields=("platform_order_no",),
                name="event_platform_order",
                condition=~Q(platform_order_no=""),
            ),
            models.Index(
                fields=("kingdee_bill_no",),
                name="event_kingdee_bill",
                condition=~Q(kingdee_bill_no=""),
            ),
            models.Index(
                fields=("batch_id",), name="event_batch", condition=Q(batch_id__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.stage}: {self.message_text[:60]}"

    @property
    def message_text(self) -> str:
        """The message in the reader's language (issue 20 point 4)."""
        return localize(self.message, self.message_data)


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    IGNORED = "ignored", _("Ignored")


OPEN_TICKET_STATUSES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS)


class ExceptionTicket(TimeStampedModel):
    """异常工单: one open problem per source record (trace key), in the queue of the role that
    can fix it, with a plain title and a suggested fix. A later success closes it."""

    trace_key = models.CharField(
        verbose_name=_("trace key"),
        max_length=300,
        help_text=_("The source record this problem belongs to, e.g. main:sales_outbound:io:1024"),
    )
    integration = models.ForeignKey(
        "connectors.Integration",
        verbose_name=_("integration"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tickets",
    )
    document = models.ForeignKey(
        "flows.SyncDocument",
        verbose_name=_("document"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tickets",
    )
    flow_code = models.CharField(
        verbose_name=_("flow"),
        max_length=30,
        blank=True,
    )
    error_class = models.CharField(
        verbose_name=_("error class"),
        max_length=30,
    )
    role = models.CharField(
        verbose_name=_("queue (role)"),
        max_length=30,
        choices=Role.choices,
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=20,
        choices=TicketStatus.choices,
        default=TicketStatus.OPEN,
    )
    title = models.CharField(
        verbose_name=_("title"),
        max_length=300,
    )
    message = models.TextField(
        verbose_name=_("what is wrong"),
    )
    suggested_fix = models.TextField(
        verbose_name=_("what to do"),
        blank=True,
    )
    # Issue 20 point 4: the texts above as message ids and parameters, shown in the reader's
    # language; the texts stay as the fallback and for search.
    title_data = models.JSONField(
        verbose_name=_("title id and parameters"),
        null=True,
        blank=True,
    )
    message_data = models.JSONField(
        verbose_name=_("message id and parameters"),
        null=True,
        blank=True,
    )
    fix_data = models.JSONField(
        verbose_name=_("fix id and parameters"),
        null=True,
        blank=True,
    )
    detail = models.JSONField(
        verbose_name=_("detail"),
        default=dict,
        blank=True,
    )
    occurrences = models.PositiveIntegerField(
        verbose_name=_("occurrences"),
        default=1,
    )
    last_seen_at = models.DateTimeField(
        verbose_name=_("last seen"),
        auto_now_add=True,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    resolved_at = models.DateTimeField(
        verbose_name=_("closed at"),
        null=True,
        blank=True,
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    resolution = models.TextField(
        verbose_name=_("resolution"),
        blank=True,
    )
    is_cause = models.BooleanField(
        verbose_name=_("one cause, many documents"),
        default=False,
        help_text=_(
            "The ticket of a root cause (a missing mapping, an exchange rate, a shortage): the "
            "documents it blocks are listed on it, and it closes when none is left."
        ),
    )

    class Meta:
        ordering = ("-last_seen_at",)
        verbose_name = _("exception ticket")
        verbose_name_plural = _("exception tickets")
        constraints = [
            models.UniqueConstraint(
                fields=("trace_key",),
                condition=Q(status__in=("open", "in_progress")),
                name="ticket_one_open_per_trace_key",
            )
        ]
        indexes = [
            models.Index(fields=("role", "status", "last_seen_at"), name="ticket_queue"),
            models.Index(fields=("trace_key", "status"), name="ticket_trace"),
        ]

    def __str__(self) -> str:
        return self.title_text

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_TICKET_STATUSES

    # Issue 20 point 4: what the reader sees, in the reader's language.
    @property
    def title_text(self) -> str:
        return localize(self.title, self.title_data)

    @property
    def message_text(self) -> str:
        return localize(self.message, self.message_data)

    @property
    def fix_text(self) -> str:
        return localize(self.suggested_fix, self.fix_data)

    @property
    def resolution_text(self) -> str:
        return localize(self.resolution)


class TicketDocument(models.Model):
    """Issue 20 point 1: a document blocked by the cause of a ticket. A document leaves when
    it syncs, is ignored or moves on to another problem; the ticket closes with the last one."""

    ticket = models.ForeignKey(
        ExceptionTicket,
        verbose_name=_("ticket"),
        on_delete=models.CASCADE,
        related_name="links",
    )
    document = models.ForeignKey(
        "flows.SyncDocument",
        verbose_name=_("document"),
        on_delete=models.CASCADE,
        related_name="ticket_links",
    )
    joined_at = models.DateTimeField(
        verbose_name=_("joined"),
        auto_now_add=True,
    )

    class Meta:
        ordering = ("joined_at", "id")
        verbose_name = _("document of a ticket")
        verbose_name_plural = _("documents of tickets")
        constraints = [
            models.UniqueConstraint(fields=("ticket", "document"), name="ticketdoc_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} ← {self.document_id}"


class TicketComment(models.Model):
    """A note on a ticket by a person."""

    ticket = models.ForeignKey(
        ExceptionTicket,
        verbose_name=_("ticket"),
        on_delete=models.CASCADE,
        related_name="comments",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    text = models.TextField(
        verbose_name=_("comment"),
    )
    created_at = models.DateTimeField(
        verbose_name=_("time"),
        auto_now_add=True,
    )

    class Meta:
        ordering = ("created_at",)
        verbose_name = _("ticket comment")
        verbose_name_plural = _("ticket comments")

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def text_shown(self) -> str:
        """A note the portal wrote ("Retried.") in the reader's language; a person's as is
        (unless it is word for word a message of the portal)."""
        return localize(self.text)


class RemoteCall(models.Model):
    """One call to a remote system, request and answer with secrets masked (O3 trace)."""

    created_at = models.DateTimeField(
        verbose_name=_("time"),
        auto_now_add=True,
        db_index=True,
    )
    system = models.CharField(
        verbose_name=_("system"),
        max_length=20,
    )
    operation = models.CharField(
        verbose_name=_("operation"),
        max_length=200,
    )
    url = models.CharField(
        verbose_name=_("URL"),
        max_length=500,
        blank=True,
    )
    request = models.TextField(
        verbose_name=_("request"),
        blank=True,
    )
    response = models.TextField(
        verbose_name=_("answer"),
        blank=True,
    )
    status = models.IntegerField(
        verbose_name=_("HTTP status"),
        null=True,
        blank=True,
    )
    duration_ms = models.FloatField(
        verbose_name=_("duration (ms)"),
        default=0,
    )
    error = models.TextField(
        verbose_name=_("error"),
        blank=True,
    )
    batch_id = models.UUIDField(
        verbose_name=_("batch"),
        null=True,
        blank=True,
        db_index=True,
    )

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("remote call")
        verbose_name_plural = _("remote calls")

    def __str__(self) -> str:
        return f"{self.system} {self.operation}"


# Alerting (O2) lives in alert_models; exposed here so Django finds the models.
from .alert_models import Alert, AlertContact, AlertDelivery, AlertRule  # noqa: E402

__all__ = [
    "Alert",
    "AlertContact",
    "AlertDelivery",
    "AlertRule",
    "Event",
    "EventLevel",
    "ExceptionTicket",
    "RemoteCall",
    "TicketComment",
    "TicketDocument",
    "TicketStatus",
]
