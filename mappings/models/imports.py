"""Bulk imports run by the worker (M1–M7): the uploaded file, where the run stands and what it
found. The admin shows a progress bar while a job runs, then its preview or summary."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel

from ..choices import IMPORT_JOB_TERMINAL_STATES, ImportJobStatus


class ImportJob(TimeStampedModel):
    """One run of a file through a mapping table's import: a dry run (preview, 预览) or the
    import itself, all or nothing either way. Rows processed while it runs are kept in the
    "imports" cache (the import's transaction holds SQLite's write lock); counts, per-row
    errors and a sample of the rows are stored here when it ends."""

    id = models.UUIDField(
        primary_key=True,
        default=uuid.uuid4,
        editable=False,
    )
    table = models.CharField(
        verbose_name=_("table"),
        max_length=40,
        help_text=_("Key of the mapping table, e.g. material"),
    )
    file_name = models.CharField(
        verbose_name=_("file name"),
        max_length=255,
        blank=True,
        help_text=_("Name of the uploaded file, e.g. materials.xlsx"),
    )
    file_format = models.CharField(
        verbose_name=_("file format"),
        max_length=10,
        help_text=_("csv or xlsx"),
    )
    content = models.BinaryField(
        verbose_name=_("file content"),
        editable=False,
    )
    dry_run = models.BooleanField(
        verbose_name=_("dry run"),
        default=True,
        help_text=_("A dry run checks every row and rolls back: nothing is written"),
    )
    language = models.CharField(
        verbose_name=_("language"),
        max_length=20,
        blank=True,
        help_text=_("Language of the row errors, the uploader's, e.g. zh-hans"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    preview = models.ForeignKey(
        "self",
        verbose_name=_("preview"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="imports",
        help_text=_("The dry run this import was confirmed from"),
    )
    confirmed_at = models.DateTimeField(
        verbose_name=_("confirmed at"),
        null=True,
        blank=True,
        help_text=_("When a dry run was confirmed (it is confirmed once)"),
    )
    status = models.CharField(
        verbose_name=_("status"),
        max_length=20,
        choices=ImportJobStatus.choices,
        default=ImportJobStatus.QUEUED,
        db_index=True,
    )
    total_rows = models.PositiveIntegerField(
        verbose_name=_("rows in the file"),
        null=True,
        blank=True,
    )
    started_at = models.DateTimeField(
        verbose_name=_("started at"),
        null=True,
        blank=True,
    )
    finished_at = models.DateTimeField(
        verbose_name=_("finished at"),
        null=True,
        blank=True,
    )
    totals = models.JSONField(
        verbose_name=_("totals"),
        default=dict,
        blank=True,
        help_text=_('Rows by outcome, e.g. {"new": 9990, "update": 10, "skip": 0}'),
    )
    error_count = models.PositiveIntegerField(
        verbose_name=_("errors"),
        default=0,
    )
    row_errors = models.JSONField(
        verbose_name=_("row errors"),
        default=list,
        blank=True,
        help_text=_("The first errors as [row, message], e.g. [[3, 'sku_id: required']]"),
    )
    headers = models.JSONField(
        verbose_name=_("columns"),
        default=list,
        blank=True,
    )
    sample = models.JSONField(
        verbose_name=_("sample rows"),
        default=list,
        blank=True,
        help_text=_("The first rows as [row, outcome, values], for the preview"),
    )
    message = models.TextField(
        verbose_name=_("message"),
        blank=True,
        help_text=_("Why the job failed as a whole, e.g. the file could not be read"),
    )

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self) -> str:
        kind = _("dry run") if self.dry_run else _("import")
        return f"{self.table} {kind} {self.file_name} ({self.get_status_display()})"

    @property
    def finished(self) -> bool:
        return self.status in IMPORT_JOB_TERMINAL_STATES

    @property
    def ok(self) -> bool:
        return self.status == ImportJobStatus.DONE and not self.error_count
