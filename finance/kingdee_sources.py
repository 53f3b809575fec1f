"""K2 declarations, purchase VAT invoices (进项专票) and FX receipts (收汇) read from Kingdee,
where the tenant keeps them (docs/finance/export-refund.md §7).

Each `KingdeeSource` names a form and the field key of every column of the declarations
import (finance.declarations). The pull reads the enabled sources with ExecuteBillQuery
(paged, audited bills by default), turns every answered row into the import's `Row` keyed by
the import's columns, and hands all three lists to `rows_import`: the same checks, the same
all-or-nothing write, the same natural keys (declaration no. + item no., invoice no., receipt
no.), so pulling twice changes nothing and a row Kingdee holds wrong is reported by form, row
and column exactly as a workbook cell would be.

Two translations happen before the checks, because Kingdee stores references, not codes:
- `material_number` (instead of `sku_id`): the material is mapped to its Jushuitan SKU;
- a currency given as a Kingdee currency number (PRE007) is read as its ISO code (BD_Currency
  FCODE).
"""

from __future__ import annotations

import re

from django.utils import timezone

from connectors.errors import ConnectorError
from connectors.models import Integration
from core.messages import gettext as _

from .choices import DeclarationSource, KingdeeSourceKind
from .declarations import (
    CURRENCY,
    DECLARATION_COLUMNS,
    INVOICE_COLUMNS,
    RECEIPT_COLUMNS,
    ImportProblem,
    ImportReport,
    Row,
    rows_import,
)
from .models import KingdeeSource

DECLARATION_FORM = "PAEZ_CustomsDecl"
MATERIAL = "material_number"
FIELD_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")

COLUMNS = {
    KingdeeSourceKind.DECLARATIONS: [key for key, _label in DECLARATION_COLUMNS] + [MATERIAL],
    KingdeeSourceKind.INVOICES: [key for key, _label in INVOICE_COLUMNS],
    KingdeeSourceKind.RECEIPTS: [key for key, _label in RECEIPT_COLUMNS],
}
REQUIRED = {
    KingdeeSourceKind.DECLARATIONS: (
        "declaration_no",
        "item_no",
        "mode",
        "export_date",
        "destination_country",
        "quantity",
        "fob_usd",
    ),
    KingdeeSourceKind.INVOICES: ("declaration_no", "item_no", "invoice_no", "amount", "tax"),
    KingdeeSourceKind.RECEIPTS: (
        "declaration_no",
        "receipt_no",
        "received_on",
        "currency",
        "amount",
    ),
}
# Columns held on the declaration form's entry rows (one per item); the rest are header.
ITEM_COLUMNS = frozenset(
    [
        "item_no",
        "hs_code",
        "goods_name",
        "sku_id",
        "material_number",
        "quantity",
        "legal_unit",
        "legal_qty",
        "second_unit",
        "second_qty",
        "fob_usd",
        "hwc_yt",
    ]
)
KINDS = {
    **dict.fromkeys(
        ["quantity", "legal_qty", "second_qty", "fob_usd", "amount", "tax", "item_no"], "decimal"
    ),
    **dict.fromkeys(["export_date", "refund_filed_on", "invoice_date", "received_on"], "date"),
    "hwc_yt": "boolean",
}

# The defaults: the demo tenant's BOS form and custom fields (sandbox.demo_catalogue), the
# standard keys of IV_PURCHASEIC / AR_RECEIVEBILL (docs/protocols/kingdee.md §4.18).
_P = "F_PAEZ_"
DEFAULTS: dict[str, dict] = {
    KingdeeSourceKind.DECLARATIONS: {
        "form_id": DECLARATION_FORM,
        "entry_key": "FEntity",
        "fields": {
            "declaration_no": f"{_P}DeclarationNo",
            "mode": f"{_P}Mode",
            "export_date": f"{_P}ExportDate",
            "destination_country": f"{_P}Country",
            "reference_no": f"{_P}ReferenceNo",
            "shop_ids": f"{_P}ShopIds",
            "overseas_warehouse": f"{_P}OverseasWarehouse",
            "export_invoice_no": f"{_P}ExportInvoiceNo",
            "refund_filed_on": f"{_P}RefundFiledOn",
            "item_no": f"{_P}ItemNo",
            "hs_code": f"{_P}HSCode",
            "goods_name": f"{_P}GoodsName",
            "sku_id": f"{_P}SkuId",
            "quantity": f"{_P}Qty",
            "legal_unit": f"{_P}LegalUnit",
            "legal_qty": f"{_P}LegalQty",
            "second_unit": f"{_P}SecondUnit",
            "second_qty": f"{_P}SecondQty",
            "fob_usd": f"{_P}FobUsd",
            "hwc_yt": f"{_P}HwcYt",
        },
    },
    KingdeeSourceKind.INVOICES: {
        "form_id": "IV_PURCHASEIC",
        "entry_key": "",
        "fields": {
            "declaration_no": f"{_P}DeclarationNo",
            "item_no": f"{_P}DeclItemNo",
            "invoice_no": "FINVOICENO",
            "invoice_date": "FINVOICEDATE",
            "amount": "FHEADAUXPRICEFOR",
            "tax": "FTAXAMOUNTFOR",
        },
    },
    KingdeeSourceKind.RECEIPTS: {
        "form_id": "AR_RECEIVEBILL",
        "entry_key": "",
        "fields": {
            "declaration_no": f"{_P}DeclarationNo",
            "receipt_no": "FBillNo",
            "received_on": "FDATE",
            "currency": "FCURRENCYID.FNumber",
            "amount": "FREALRECAMOUNTFOR",
        },
    },
}


def fields_problems(*, kind: str, fields) -> list[str]:
    """What is wrong with a source's column → field-key map (empty = fine)."""
    if not isinstance(fields, dict):
        return [_("must be an object of column: field key")]
    known = COLUMNS.get(kind, [])
    problems = [
        _("%(column)r is not a column; the columns are %(known)s")
        % {"column": column, "known": ", ".join(known)}
        for column in fields
        if column not in known
    ]
    problems += [
        _("%(column)s: %(key)r is not a Kingdee field key") % {"column": column, "key": key}
        for column, key in fields.items()
        if not isinstance(key, str) or not FIELD_KEY.match(key)
    ]
    problems += [
        _("%(column)s is required") % {"column": column}
        for column in REQUIRED.get(kind, ())
        if column not in fields
    ]
    if kind == KingdeeSourceKind.DECLARATIONS and not ({"sku_id", MATERIAL} & set(fields)):
        problems.append(_("sku_id or material_number is required"))
    return problems


def kingdee_sources_ensure(*, integration: Integration, enabled: bool = True) -> int:
    """Create the three sources with the defaults where missing; returns how many were new."""
    created = 0
    for kind, default in DEFAULTS.items():
        _source, new = KingdeeSource.objects.get_or_create(
            integration=integration,
            kind=kind,
            defaults={**default, "fields": dict(default["fields"]), "enabled": enabled},
        )
        created += int(new)
    return created


def field_needs(integration: Integration) -> list:
    """What the enabled sources read, for the Kingdee preflight: one FieldNeed per key."""
    from flows.definitions.kingdee_needs import ENTRY, HEADER, FieldNeed

    needs = []
    for source in KingdeeSource.objects.filter(integration=integration, enabled=True):
        entry = source.kind == KingdeeSourceKind.DECLARATIONS and bool(source.entry_key)
        for column, key in source.fields.items():
            needs.append(
                FieldNeed(
                    source.form_id,
                    key,
                    ENTRY if entry and column in ITEM_COLUMNS else HEADER,
                    KINDS.get(column, "text"),
                    setting=_("the Kingdee source %(kind)s (Finance)")
                    % {"kind": source.get_kind_display()},
                )
            )
    return needs


def _field_keys(source: KingdeeSource) -> list[str]:
    keys = list(dict.fromkeys(source.fields.values()))
    if source.entry_key:
        keys.append(f"{source.entry_key}_FEntryID")
    return keys


class _Translator:
    """Material → SKU and Kingdee currency number → ISO code, asked once each."""

    def __init__(self, integration: Integration, client) -> None:
        from mappings.selectors import MappingBinder

        self.binder = MappingBinder(integration)
        self.client = client
        self._currencies: dict[str, str] | None = None

    def sku(self, row: Row, material) -> None:
        from mappings.errors import MappingMissing

        number = "" if material is None else str(material).strip()
        if not number:
            return
        try:
            row.values["sku_id"] = self.binder.material.to_internal(number)
        except MappingMissing as exc:
            row.problem(MATERIAL, exc.message)
            row.values["sku_id"] = number  # reported once, on its own column; nothing is written

    def currency(self, value) -> str:
        text = "" if value is None else str(value).strip()
        if not text or CURRENCY.match(text):
            return text
        if self._currencies is None:
            rows = self.client.execute_bill_query("BD_Currency", ["FNumber", "FCODE"])
            self._currencies = {str(n): str(c or "").upper() for n, c in rows}
        return self._currencies.get(text, text)


def _read(client, source: KingdeeSource, translate: _Translator, problems) -> list[Row]:
    keys = _field_keys(source)
    found = []
    rows = client.iter_bill_query(
        source.form_id, keys, filter_string=source.filter_string, entry_key=source.entry_key
    )
    for number, answered in enumerate(rows, start=1):
        values = {column: answered.get(key) for column, key in source.fields.items()}
        row = Row(source.form_id, number, values, problems)
        if MATERIAL in values:
            translate.sku(row, values.pop(MATERIAL))
        if "currency" in values:
            values["currency"] = translate.currency(values["currency"])
        found.append(row)
    return found


def kingdee_pull(*, integration: Integration, dry_run: bool = False) -> ImportReport:
    """Read the integration's enabled Kingdee sources into declarations, items, purchase
    invoices and FX receipts (see the module doc). Returns the import report; the sources
    record when they were read and what came of it."""
    from connectors.kingdee.client import KingdeeClient

    report = ImportReport(dry_run=dry_run)
    sources = {
        s.kind: s for s in KingdeeSource.objects.filter(integration=integration, enabled=True)
    }
    if not sources:
        return report
    connection = integration.kingdee
    client = KingdeeClient(connection, timeout=connection.timeout_seconds or 30)
    rows: dict[str, list[Row]] = {}
    try:
        translate = _Translator(integration, client)
        for kind, source in sources.items():
            rows[kind] = _read(client, source, translate, report.problems)
    except ConnectorError as exc:
        report.problems.append(ImportProblem(source.form_id, 0, "", exc.message))
    finally:
        client.http.close()
    if len(rows) == len(sources):
        rows_import(
            integration=integration,
            report=report,
            declaration_rows=rows.get(KingdeeSourceKind.DECLARATIONS, []),
            invoice_rows=rows.get(KingdeeSourceKind.INVOICES, []),
            receipt_rows=rows.get(KingdeeSourceKind.RECEIPTS, []),
            source=DeclarationSource.KINGDEE,
        )
    _record(sources.values(), report)
    return report


def report_summary(report: ImportReport) -> str:
    if report.problems:
        head = _("%(n)s problems, nothing written:") % {"n": len(report.problems)}
        return "\n".join([head, *(str(p) for p in report.problems[:50])])
    return _(
        "%(declarations)s declarations (%(items)s items), %(invoices)s purchase invoices, "
        "%(receipts)s FX receipts read%(dry)s."
    ) % {
        "declarations": report.declarations,
        "items": report.items,
        "invoices": report.invoices,
        "receipts": report.receipts,
        "dry": _(" (dry run: nothing written)") if report.dry_run else "",
    }


def _record(sources, report: ImportReport) -> None:
    summary = report_summary(report)
    now = timezone.now()
    for source in sources:
        KingdeeSource.objects.filter(pk=source.pk).update(last_pulled_at=now, last_result=summary)
