"""Writes of the mappings app that are not plain admin edits: bulk import (all or nothing),
import jobs run by the worker with their progress, import templates, and re-exports of the
exchange-rate and initialisation services."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import tablib
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.utils import timezone, translation
from import_export.formats import base_formats
from import_export.signals import post_import

from core.exports import neutralise
from core.messages import as_message
from core.messages import gettext as _

from .choices import ImportJobStatus
from .errors import ImportNotConfirmable
from .initialise import apply_plan, initialise_from_systems, propose_pairs, record_known_codes
from .models import ImportJob
from .rates import fetch_latest_rates, fetch_rates, set_manual_rate, store_fixings
from .resources import RESOURCES
from .selectors import import_progress_key, import_progress_store

logger = logging.getLogger(__name__)

FORMATS = {"csv": base_formats.CSV, "xlsx": base_formats.XLSX}


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    table: str
    dry_run: bool
    totals: dict[str, int] = field(default_factory=dict)
    row_errors: list[tuple[int, str]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    #: the first rows as (row number, outcome, values), for a preview
    sample: list[tuple[int, str, list[str]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.row_errors


def _format(file_format: str):
    try:
        return FORMATS[file_format]()
    except KeyError:
        raise ValueError(
            _("Unknown file format “%(format)s”; use csv or xlsx.") % {"format": file_format}
        ) from None


def _resource(table: str, **kwargs):
    try:
        return RESOURCES[table](**kwargs)
    except KeyError:
        raise ValueError(
            _("Unknown table “%(table)s”; known: %(known)s.")
            % {"table": table, "known": ", ".join(RESOURCES)}
        ) from None


def _read_dataset(*, content: bytes, file_format: str) -> tablib.Dataset:
    fmt = _format(file_format)
    data = content.decode("utf-8-sig") if fmt.is_binary() is False else content
    return fmt.create_dataset(data)


def import_table(
    *,
    table: str,
    content: bytes,
    file_format: str,
    dry_run: bool,
    user=None,
    progress: Callable[[int, int], None] | None = None,
    sample_size: int = 0,
) -> ImportReport:
    """Import a csv / xlsx file into one table; any invalid row rolls back the whole file.
    `progress(processed, total)` is called as rows go through; `sample_size` first rows are
    kept in the report with what the import does to each (new / update / skip ...)."""
    dataset = _read_dataset(content=content, file_format=file_format)
    if progress is not None:
        progress(0, len(dataset))
    resource = _resource(table, progress=progress)
    # Ask Kingdee about codes its snapshot lacks before the import's transaction opens (a
    # remote call never runs while the file's rows are held in a transaction).
    resource.snapshot_prepare(dataset)
    result = resource.import_data(dataset, dry_run=dry_run, user=user)
    report = ImportReport(
        table=table,
        dry_run=dry_run,
        totals=dict(result.totals),
        headers=list(dataset.headers or []),
    )
    # Every row has a result, in file order (the resources report skipped rows too).
    for number, row_result in enumerate(result.rows[:sample_size], 1):
        values = ["" if v is None else str(v) for v in dataset[number - 1]]
        report.sample.append((number, row_result.import_type, values))
    for error in result.base_errors:
        report.row_errors.append((0, str(error.error)))
    for number, errors in result.row_errors():
        for error in errors:
            report.row_errors.append((number, str(error.error)))
    for invalid in result.invalid_rows:
        messages = "; ".join(
            " ".join(str(m) for m in msgs)
            if name == NON_FIELD_ERRORS
            else f"{name}: {' '.join(str(m) for m in msgs)}"
            for name, msgs in invalid.error_dict.items()
        )
        report.row_errors.append((invalid.number, messages))
    report.row_errors.sort(key=lambda item: item[0])
    return report


#: rows of a dry run shown in its preview, and row errors kept per job
IMPORT_SAMPLE_ROWS = 100
IMPORT_KEPT_ERRORS = 500
#: finished jobs (with their files) are deleted when a new job starts after this long
IMPORT_JOB_RETENTION = timedelta(days=7)


def import_job_start(
    *,
    table: str,
    content: bytes,
    file_format: str,
    file_name: str = "",
    dry_run: bool = True,
    user=None,
    language: str = "",
    preview: ImportJob | None = None,
) -> ImportJob:
    """Store an uploaded file and queue its import (a dry run, or the import itself) for the
    worker; the job's page shows its progress, then its preview or summary."""
    _resource(table)
    _format(file_format)
    ImportJob.objects.filter(created_at__lt=timezone.now() - IMPORT_JOB_RETENTION).delete()
    job = ImportJob.objects.create(
        table=table,
        content=content,
        file_format=file_format,
        file_name=file_name[:255],
        dry_run=dry_run,
        user=user if getattr(user, "is_authenticated", False) else None,
        language=language,
        preview=preview,
    )
    transaction.on_commit(lambda job_id=str(job.pk): _enqueue_import(job_id=job_id))
    return job


def _enqueue_import(*, job_id: str) -> None:
    from .tasks import run_import_job

    run_import_job.delay(job_id)


def import_job_confirm(*, preview: ImportJob, user=None) -> ImportJob:
    """Import for real the file a dry run checked without errors. A preview is confirmed
    once: confirming it again (a second click) returns the import already started."""
    if not (preview.dry_run and preview.ok):
        raise ImportNotConfirmable(job_id=str(preview.pk), status=preview.status)
    with transaction.atomic():
        claimed = ImportJob.objects.filter(pk=preview.pk, confirmed_at__isnull=True).update(
            confirmed_at=timezone.now()
        )
        if not claimed:
            started = preview.imports.order_by("created_at").first()
            if started is not None:
                return started
        return import_job_start(
            table=preview.table,
            content=bytes(preview.content),
            file_format=preview.file_format,
            file_name=preview.file_name,
            dry_run=False,
            user=user,
            language=preview.language,
            preview=preview,
        )


def import_job_run(*, job_id: str) -> ImportJob | None:
    """Run a queued import job (the worker's task): claim it, import with progress reports in
    the "imports" cache, then store the totals, per-row errors and a sample of the rows."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJobStatus.QUEUED).update(
        status=ImportJobStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None  # already run (a redelivered message) or deleted
    job = ImportJob.objects.get(pk=job_id)
    store, key = import_progress_store(), import_progress_key(job.pk)
    seen = {"total": 0}

    def progress(processed: int, total: int) -> None:
        seen["total"] = total
        store.set(key, {"processed": processed, "total": total}, timeout=3600)

    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            report = import_table(
                table=job.table,
                content=bytes(job.content),
                file_format=job.file_format,
                dry_run=job.dry_run,
                user=job.user,
                progress=progress,
                sample_size=IMPORT_SAMPLE_ROWS if job.dry_run else 0,
            )
        except Exception as exc:  # the file could not be read, or a bug: the job says so
            logger.exception("import job %s failed", job.pk)
            job.status = ImportJobStatus.FAILED
            job.message = _("The import stopped: %(error)s") % {
                "error": f"{type(exc).__name__}: {exc}"
            }
        else:
            job.status = ImportJobStatus.DONE
            job.totals = report.totals
            job.error_count = len(report.row_errors)
            job.row_errors = [list(item) for item in report.row_errors[:IMPORT_KEPT_ERRORS]]
            job.headers = report.headers
            job.sample = [list(item) for item in report.sample]
    job.total_rows = seen["total"]
    job.finished_at = timezone.now()
    if not job.dry_run:
        job.content = b""  # imported (or refused): the file is no longer needed
        ImportJob.objects.filter(pk=job.preview_id).update(content=b"")
    job.save()
    if job.ok and not job.dry_run:
        # What import-export's admin sends after an import: documents blocked for a missing
        # mapping are released (flows.signals), as after an edit in the admin.
        post_import.send(sender=None, model=RESOURCES[job.table]._meta.model)
    return job


#: codes of one kind listed on the template's "codes" sheet, and in a cell of its guide
TEMPLATE_CODES_PER_KIND = 5000
TEMPLATE_CODES_IN_GUIDE = 30


def import_template(*, table: str, file_format: str) -> bytes | str:
    """A file with the table's columns and one example row, for people to fill in (replace
    the example row). The xlsx template carries a second sheet listing, per column, what it
    means and its allowed values, and a third listing the codes the target system has for the
    columns the dry run checks against its snapshot (issue 24 point 6); the first sheet is the
    one imported."""
    resource = _resource(table)
    headers = resource.get_export_headers()
    model = resource._meta.model
    snapshots = _template_snapshots(resource)
    data = tablib.Dataset(headers=headers, title=str(_("data")))
    data.append([_template_example(model, column, snapshots) for column in headers])
    fmt = _format(file_format)
    if fmt.get_extension() != "xlsx":
        return fmt.export_data(data)
    guide = tablib.Dataset(
        headers=[str(_("column")), str(_("meaning")), str(_("allowed values"))],
        title=str(_("allowed values")),
    )
    for column in headers:
        field = _model_field(model, column)
        meaning = str(field.help_text) if field is not None else ""
        guide.append([column, meaning, _template_allowed(field, column, snapshots)])
    return tablib.Databook([data, guide, _template_codes_sheet(snapshots)]).export("xlsx")


@dataclass
class _ColumnSnapshot:
    """The snapshot a template column is checked against (for one kind of row, if any)."""

    system: str
    kind: str
    codes: dict
    when: str = ""  # the row kind it applies to, e.g. currency (code mappings)


def _template_snapshots(resource) -> dict[str, list[_ColumnSnapshot]]:
    """Per column, the snapshots of the template's integration the dry run checks it with."""
    from connectors.models import Integration

    from .import_checks import snapshot_codes

    integration = Integration.objects.filter(code__in=_integration_codes()[:1]).first()
    if integration is None:
        return {}
    checks = [("", name, target) for name, target in resource.snapshot_checks.items()]
    if resource.snapshot_checks_by is not None:
        for when, more in resource.snapshot_checks_by[1].items():
            checks += [(str(when), name, target) for name, target in more.items()]
    found: dict[str, list[_ColumnSnapshot]] = {}
    for when, name, (system, kind) in checks:
        codes = snapshot_codes(integration.pk, system, kind)
        if codes:
            found.setdefault(name, []).append(_ColumnSnapshot(system, kind, codes, when))
    return found


def _template_allowed(field, column: str, snapshots) -> str:
    from .choices import MasterKind, System
    from .import_checks import code_label

    if field is not None and field.choices:
        return "; ".join(f"{value} = {label}" for value, label in field.flatchoices)
    if column == "integration":
        return "; ".join(_integration_codes()) or str(_("the integration's code"))
    parts = []
    for snap in snapshots.get(column, []):
        first = sorted(snap.codes)[:TEMPLATE_CODES_IN_GUIDE]
        listed = "; ".join(code_label(code, snap.codes[code]) for code in first)
        more = len(snap.codes) - TEMPLATE_CODES_IN_GUIDE
        text = _("A %(kind)s code %(system)s has: %(codes)s") % {
            "kind": as_message(MasterKind(snap.kind).label).lower(),
            "system": System(snap.system).label,
            "codes": listed,
        }
        if more > 0:
            text += " " + _("… and %(count)d more (sheet “codes”)") % {"count": more}
        if snap.when:
            text = _("For kind %(kind)s: %(text)s") % {"kind": snap.when, "text": text}
        parts.append(text)
    return "\n".join(parts) or str(_("free text (see the example)"))


def _template_codes_sheet(snapshots) -> tablib.Dataset:
    """Every code the checked columns may take, as the target system listed it."""
    from .choices import MasterKind, System

    sheet = tablib.Dataset(
        headers=[
            str(_("column")),
            str(_("system")),
            str(_("kind")),
            str(_("code")),
            str(_("name")),
            str(_("details")),
        ],
        title=str(_("codes")),
    )
    for column, snaps in snapshots.items():
        for snap in snaps:
            for code in sorted(snap.codes)[:TEMPLATE_CODES_PER_KIND]:
                known = snap.codes[code]
                details = ", ".join(f"{k}={v}" for k, v in sorted(known.extra.items()))
                sheet.append(
                    [
                        column,
                        str(System(snap.system).label),
                        str(MasterKind(snap.kind).label),
                        neutralise(code),
                        neutralise(known.name),
                        neutralise(details),
                    ]
                )
    return sheet


def _model_field(model, column: str):
    return next((f for f in model._meta.fields if f.name == column), None)


def _integration_codes() -> list[str]:
    from connectors.models import Integration

    return list(Integration.objects.order_by("code").values_list("code", flat=True)[:20])


def _template_example(model, column: str, snapshots=None) -> str:
    """The example of a column: a real integration code, the first allowed value, the "e.g."
    of the field's help text (every field states one, CONTRIBUTING "Text") when the target
    system has it, else a code it has."""
    if column == "integration":
        return (_integration_codes() or ["main"])[0]
    field = _model_field(model, column)
    if field is None:
        return ""
    if field.choices:
        return str(field.flatchoices[0][0])
    from django.utils import translation

    with translation.override("en"):  # the msgid states the example after "e.g."
        text = str(field.help_text or "")
    example = ""
    if "e.g. " in text:
        example = text.split("e.g. ", 1)[1].strip().strip("'\"“” ").split("'")[0].strip()
        example = example.rstrip(".")
    snaps = (snapshots or {}).get(column, [])
    if snaps and example not in snaps[0].codes:
        example = sorted(snaps[0].codes)[0]
    # A cell must never start a formula (=, +, -, @, tab, CR) in the spreadsheet.
    return f"'{example}" if example[:1] in ("=", "+", "-", "@", "\t", "\r") else example


__all__ = [
    "ImportReport",
    "apply_plan",
    "fetch_latest_rates",
    "fetch_rates",
    "import_job_confirm",
    "import_job_run",
    "import_job_start",
    "import_table",
    "import_template",
    "initialise_from_systems",
    "propose_pairs",
    "record_known_codes",
    "set_manual_rate",
    "store_fixings",
]
