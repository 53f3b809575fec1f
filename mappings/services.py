"""Writes of the mappings app that are not plain admin edits: bulk import (all or nothing),
import templates, and re-exports of the exchange-rate and initialisation services."""

from __future__ import annotations

from dataclasses import dataclass, field

import tablib
from django.utils.translation import gettext as _
from import_export.formats import base_formats

from .initialise import apply_plan, initialise_from_systems, propose_pairs, record_known_codes
from .rates import fetch_latest_rates, fetch_rates, set_manual_rate, store_fixings
from .resources import RESOURCES

FORMATS = {"csv": base_formats.CSV, "xlsx": base_formats.XLSX}


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    table: str
    dry_run: bool
    totals: dict[str, int] = field(default_factory=dict)
    row_errors: list[tuple[int, str]] = field(default_factory=list)

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


def _resource(table: str):
    try:
        return RESOURCES[table]()
    except KeyError:
        raise ValueError(
            _("Unknown table “%(table)s”; known: %(known)s.")
            % {"table": table, "known": ", ".join(RESOURCES)}
        ) from None


def import_table(
    *, table: str, content: bytes, file_format: str, dry_run: bool, user=None
) -> ImportReport:
    """Import a csv / xlsx file into one table; any invalid row rolls back the whole file."""
    fmt = _format(file_format)
    data = content.decode("utf-8-sig") if fmt.is_binary() is False else content
    dataset = fmt.create_dataset(data)
    result = _resource(table).import_data(dataset, dry_run=dry_run, user=user)
    report = ImportReport(table=table, dry_run=dry_run, totals=dict(result.totals))
    for error in result.base_errors:
        report.row_errors.append((0, str(error.error)))
    for number, errors in result.row_errors():
        for error in errors:
            report.row_errors.append((number, str(error.error)))
    for invalid in result.invalid_rows:
        messages = "; ".join(
            f"{name}: {' '.join(str(m) for m in msgs)}" for name, msgs in invalid.error_dict.items()
        )
        report.row_errors.append((invalid.number, messages))
    report.row_errors.sort(key=lambda item: item[0])
    return report


def import_template(*, table: str, file_format: str) -> bytes | str:
    """An empty file with the table's columns, for people to fill in."""
    resource = _resource(table)
    dataset = tablib.Dataset(headers=resource.get_export_headers())
    return _format(file_format).export_data(dataset)


__all__ = [
    "ImportReport",
    "apply_plan",
    "fetch_latest_rates",
    "fetch_rates",
    "import_table",
    "import_template",
    "initialise_from_systems",
    "propose_pairs",
    "record_known_codes",
    "set_manual_rate",
    "store_fixings",
]
