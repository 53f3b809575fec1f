"""K2 customs declarations in (报关单导入): a workbook from the customs broker or the single
window (国际贸易"单一窗口") export, read into declarations, their items, purchase VAT invoices
(进项专票) and FX receipts (收汇).

Like the mapping imports: a downloadable template (example rows, the allowed values on their
own sheet), a dry run that reports every problem by sheet, row and column without writing,
and an all-or-nothing import keyed by natural keys (declaration no. + item no., invoice no.,
receipt no.), so importing the same file twice changes nothing.

Sheets (header row = the column keys below, any order, case-insensitive):
- Declarations: one row per declaration item (header fields repeated on every item row).
- Purchase invoices: declaration no. + item no. + invoice no., date, amount, tax.
- FX receipts: declaration no. + receipt no., date, currency, amount.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext_lazy

from connectors.models import Integration
from core.messages import gettext as _

from .choices import CustomsMode, DeclarationSource
from .models import CustomsDeclaration, DeclarationItem, FxReceipt, PurchaseInvoice

DECLARATION_NO = re.compile(r"^\d{18}$")
HS_CODE = re.compile(r"^\d{10}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
CENT = Decimal("0.01")
YES = {"y", "yes", "1", "true", "是"}
NO = {"", "n", "no", "0", "false", "否"}

SHEET_DECLARATIONS = "Declarations"
SHEET_INVOICES = "Purchase invoices"
SHEET_RECEIPTS = "FX receipts"
SHEET_ALLOWED = "Allowed values"

# (key, what it holds) per sheet; the key is the header cell.
DECLARATION_COLUMNS = (
    ("declaration_no", gettext_lazy("报关单号: 18 digits")),
    ("item_no", gettext_lazy("项号: 1, 2, …")),
    ("mode", gettext_lazy("监管方式: 0110, 9610, 9710 or 9810")),
    ("export_date", gettext_lazy("出口日期: YYYY-MM-DD")),
    ("destination_country", gettext_lazy("运抵国: ISO two letters, e.g. US")),
    ("reference_no", gettext_lazy("9810 booking (订仓单) no. or 9710 B2B order no.")),
    ("shop_ids", gettext_lazy("9810: Jushuitan shops selling the goods, comma-separated")),
    ("overseas_warehouse", gettext_lazy("9810: Jushuitan wms_co_id of the overseas warehouse")),
    ("export_invoice_no", gettext_lazy("出口发票号")),
    ("refund_filed_on", gettext_lazy("Date the refund was filed (YYYY-MM-DD), if filed")),
    ("hs_code", gettext_lazy("商品编码: 10 digits")),
    ("goods_name", gettext_lazy("申报品名")),
    ("sku_id", gettext_lazy("Jushuitan SKU of the goods")),
    ("quantity", gettext_lazy("成交数量 in pieces")),
    ("legal_unit", gettext_lazy("法定第一计量单位, e.g. 个")),
    ("legal_qty", gettext_lazy("法定第一数量")),
    ("second_unit", gettext_lazy("法定第二计量单位 (if the HS code has one), e.g. 千克")),
    ("second_qty", gettext_lazy("法定第二数量")),
    ("fob_usd", gettext_lazy("美元离岸价 (FOB USD)")),
    ("hwc_yt", gettext_lazy("HWC-YT 海外仓预退: Y or N (9810 only)")),
)
INVOICE_COLUMNS = (
    ("declaration_no", gettext_lazy("报关单号")),
    ("item_no", gettext_lazy("项号")),
    ("invoice_no", gettext_lazy("进项专票号码")),
    ("invoice_date", gettext_lazy("开票日期 YYYY-MM-DD")),
    ("amount", gettext_lazy("金额 (excl. tax, CNY)")),
    ("tax", gettext_lazy("税额 (CNY)")),
)
RECEIPT_COLUMNS = (
    ("declaration_no", gettext_lazy("报关单号")),
    ("receipt_no", gettext_lazy("收汇 bank slip / payout id")),
    ("received_on", gettext_lazy("收汇日期 YYYY-MM-DD")),
    ("currency", gettext_lazy("ISO currency, e.g. USD")),
    ("amount", gettext_lazy("Amount received")),
)
EXAMPLE_DECLARATIONS = (
    (
        "531620260000012345",
        1,
        "9810",
        "2026-01-10",
        "US",
        "FBA17ABCDE",
        "10001",
        "",
        "INV-2026-0001",
        "",
        "8507600090",
        "移动电源",
        "SKU-PB-1001",
        100,
        "个",
        100,
        "千克",
        42,
        "1850.00",
        "Y",
    ),
)
EXAMPLE_INVOICES = (
    ("531620260000012345", 1, "24442000000012345678", "2026-01-05", "6200.00", "806.00"),
)
EXAMPLE_RECEIPTS = (("531620260000012345", "PAYOUT-2026-0001", "2026-02-20", "USD", "1850.00"),)


def template_xlsx() -> bytes:
    """The import template: the three sheets with an example row each, and the allowed
    values with what every column holds."""
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    book.remove(book.active)
    for title, columns, examples in (
        (SHEET_DECLARATIONS, DECLARATION_COLUMNS, EXAMPLE_DECLARATIONS),
        (SHEET_INVOICES, INVOICE_COLUMNS, EXAMPLE_INVOICES),
        (SHEET_RECEIPTS, RECEIPT_COLUMNS, EXAMPLE_RECEIPTS),
    ):
        sheet = book.create_sheet(title)
        sheet.append([key for key, _label in columns])
        for row in examples:
            sheet.append(list(row))
    sheet = book[SHEET_DECLARATIONS]
    modes = DataValidation(type="list", formula1='"0110,9610,9710,9810"', allow_blank=False)
    flags = DataValidation(type="list", formula1='"Y,N"', allow_blank=True)
    sheet.add_data_validation(modes)
    sheet.add_data_validation(flags)
    modes.add("C2:C5000")
    flags.add("T2:T5000")
    allowed = book.create_sheet(SHEET_ALLOWED)
    allowed.append([_("sheet"), _("column"), _("what it holds")])
    for title, columns in (
        (SHEET_DECLARATIONS, DECLARATION_COLUMNS),
        (SHEET_INVOICES, INVOICE_COLUMNS),
        (SHEET_RECEIPTS, RECEIPT_COLUMNS),
    ):
        for key, label in columns:
            allowed.append([title, key, str(label)])
    allowed.append([])
    allowed.append([_("mode"), _("meaning")])
    for value, label in CustomsMode.choices:
        allowed.append([value, str(label)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass
class ImportProblem:
    sheet: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.sheet} {self.row} {self.column}: {self.message}"


@dataclass
class ImportReport:
    """What a dry run found or an import did."""

    dry_run: bool
    declarations: int = 0
    items: int = 0
    invoices: int = 0
    receipts: int = 0
    created: int = 0
    updated: int = 0
    problems: list[ImportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Row:
    """One row (a sheet row, or a row Kingdee answered: finance.kingdee_sources) with typed
    getters that record problems naming the column; both sources go through the same
    checks below."""

    def __init__(self, sheet: str, number: int, values: dict, problems: list[ImportProblem]):
        self.sheet, self.row_no, self.values, self.problems = sheet, number, values, problems

    def problem(self, column: str, message: str) -> None:
        self.problems.append(ImportProblem(self.sheet, self.row_no, column, message))

    def text(self, key: str, *, required: bool = False, pattern=None, expected: str = "") -> str:
        value = self.values.get(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = "" if value is None else str(value).strip()
        if required and not text:
            self.problem(key, _("is required (%(expected)s)") % {"expected": expected or key})
        elif text and pattern is not None and not pattern.match(text):
            self.problem(
                key, _("%(value)r is not %(expected)s") % {"value": text, "expected": expected}
            )
        return text

    def number(self, key: str, *, required: bool = False, positive: bool = False):
        value = self.values.get(key)
        if value in (None, ""):
            if required:
                self.problem(key, _("is required (a number)"))
            return None
        try:
            number = Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            self.problem(key, _("%(value)r is not a number") % {"value": value})
            return None
        if positive and number <= 0:
            self.problem(key, _("must be greater than 0, got %(value)s") % {"value": number})
        elif number < 0:
            self.problem(key, _("must not be negative, got %(value)s") % {"value": number})
        return number

    def day(self, key: str, *, required: bool = False) -> date | None:
        value = self.values.get(key)
        if value in (None, ""):
            if required:
                self.problem(key, _("is required (a date, YYYY-MM-DD)"))
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            self.problem(key, _("%(value)r is not a date (YYYY-MM-DD)") % {"value": value})
            return None

    def flag(self, key: str) -> bool:
        text = str(self.values.get(key) or "").strip().lower()
        if text in YES:
            return True
        if text not in NO:
            self.problem(key, _("%(value)r is not Y or N") % {"value": text})
        return False


def _rows(book, title: str, problems: list[ImportProblem], *, required: bool) -> list[Row]:
    if title not in book.sheetnames:
        if required:
            problems.append(ImportProblem(title, 0, "", _("the sheet is missing")))
        return []
    sheet = book[title]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None) or ()
    keys = [str(h or "").strip().lower() for h in header]
    found = []
    for number, values in enumerate(rows, start=2):
        if not any(v not in (None, "") for v in values):
            continue
        found.append(Row(title, number, dict(zip(keys, values, strict=False)), problems))
    return found


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def declarations_import(
    *, integration: Integration, content: bytes, dry_run: bool = True
) -> ImportReport:
    """Read a declarations workbook; with dry_run nothing is written. An import with any
    problem writes nothing either (all or nothing)."""
    from openpyxl import load_workbook

    report = ImportReport(dry_run=dry_run)
    problems = report.problems
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:
        problems.append(
            ImportProblem("", 0, "", _("not an xlsx workbook: %(error)s") % {"error": exc})
        )
        return report
    return rows_import(
        integration=integration,
        report=report,
        declaration_rows=_rows(book, SHEET_DECLARATIONS, problems, required=True),
        invoice_rows=_rows(book, SHEET_INVOICES, problems, required=False),
        receipt_rows=_rows(book, SHEET_RECEIPTS, problems, required=False),
        source=DeclarationSource.IMPORT,
    )


def rows_import(
    *,
    integration: Integration,
    report: ImportReport,
    declaration_rows: list[Row],
    invoice_rows: list[Row],
    receipt_rows: list[Row],
    source: str,
) -> ImportReport:
    """Check declaration, purchase-invoice and FX-receipt rows (from the workbook or from
    Kingdee) and, unless a dry run or any problem, write them all in one transaction, keyed
    by declaration no. + item no., invoice no. and receipt no. (idempotent)."""
    problems, dry_run = report.problems, report.dry_run
    heads: dict[str, dict] = {}
    items: dict[tuple[str, int], dict] = {}
    for row in declaration_rows:
        number = row.text(
            "declaration_no", required=True, pattern=DECLARATION_NO, expected=_("18 digits")
        )
        mode = row.text("mode", required=True, expected="0110 / 9610 / 9710 / 9810")
        if mode and mode not in CustomsMode.values:
            row.problem(
                "mode", _("%(value)r is not one of 0110, 9610, 9710, 9810") % {"value": mode}
            )
        head = {
            "mode": mode,
            "export_date": row.day("export_date", required=True),
            "destination_country": row.text(
                "destination_country",
                required=True,
                pattern=COUNTRY,
                expected=_("two capital letters, e.g. US"),
            ),
            "reference_no": row.text("reference_no"),
            "shop_ids": row.text("shop_ids"),
            "overseas_warehouse": row.text("overseas_warehouse"),
            "export_invoice_no": row.text("export_invoice_no"),
            "refund_filed_on": row.day("refund_filed_on"),
        }
        item_no = row.number("item_no", required=True, positive=True)
        hwc_yt = row.flag("hwc_yt")
        if hwc_yt and mode and mode != CustomsMode.OVERSEAS_WAREHOUSE:
            row.problem("hwc_yt", _("HWC-YT applies to 9810 declarations only"))
        if mode == CustomsMode.B2B_DIRECT and not head["reference_no"]:
            row.problem("reference_no", _("a 9710 declaration needs its B2B order no."))
        if not number:
            continue
        if number in heads and heads[number] != head:
            row.problem(
                "declaration_no",
                _("the header columns differ from an earlier row of the same declaration"),
            )
        heads.setdefault(number, head)
        if item_no is not None and item_no != item_no.to_integral_value():
            row.problem("item_no", _("must be a whole number"))
            continue
        key = (number, int(item_no or 0))
        if key in items:
            row.problem("item_no", _("item %(item)s appears twice") % {"item": key[1]})
        items[key] = {
            "hs_code": row.text("hs_code", pattern=HS_CODE, expected=_("10 digits")),
            "goods_name": row.text("goods_name"),
            "sku_id": row.text("sku_id", required=True, expected=_("the Jushuitan SKU")),
            "quantity": row.number("quantity", required=True, positive=True),
            "legal_unit": row.text("legal_unit"),
            "legal_qty": row.number("legal_qty"),
            "second_unit": row.text("second_unit"),
            "second_qty": row.number("second_qty"),
            "fob_usd": _money(row.number("fob_usd", required=True)),
            "hwc_yt": hwc_yt,
        }
    invoices: dict[tuple[str, int, str], dict] = {}
    for row in invoice_rows:
        number = row.text(
            "declaration_no", required=True, pattern=DECLARATION_NO, expected=_("18 digits")
        )
        item_no = row.number("item_no", required=True, positive=True)
        invoice_no = row.text("invoice_no", required=True, expected=_("the invoice number"))
        values = {
            "invoice_date": row.day("invoice_date"),
            "amount": _money(row.number("amount", required=True)),
            "tax": _money(row.number("tax", required=True)),
        }
        key = (number, int(item_no or 0), invoice_no)
        if number and item_no and not _item_known(integration, items, key[:2]):
            row.problem(
                "item_no",
                _("no declaration item %(item)s of %(no)s") % {"item": key[1], "no": number},
            )
        invoices[key] = values
    receipts: dict[tuple[str, str], dict] = {}
    for row in receipt_rows:
        number = row.text(
            "declaration_no", required=True, pattern=DECLARATION_NO, expected=_("18 digits")
        )
        receipt_no = row.text("receipt_no", required=True, expected=_("the receipt id"))
        values = {
            "received_on": row.day("received_on", required=True),
            "currency": row.text(
                "currency", required=True, pattern=CURRENCY, expected=_("an ISO code, e.g. USD")
            ),
            "amount": _money(row.number("amount", required=True, positive=True)),
        }
        if number and number not in heads and not _declaration_known(integration, number):
            row.problem("declaration_no", _("no declaration %(no)s") % {"no": number})
        receipts[(number, receipt_no)] = values
    report.declarations, report.items = len(heads), len(items)
    report.invoices, report.receipts = len(invoices), len(receipts)
    if dry_run or problems:
        return report
    with transaction.atomic():
        declarations: dict[str, CustomsDeclaration] = {}
        for number, head in heads.items():
            declaration, created = CustomsDeclaration.objects.update_or_create(
                integration=integration,
                declaration_no=number,
                defaults={**head, "source": source},
            )
            declarations[number] = declaration
            report.created += created
            report.updated += not created
        saved: dict[tuple[str, int], DeclarationItem] = {}
        for (number, item_no), values in items.items():
            saved[(number, item_no)], _created = DeclarationItem.objects.update_or_create(
                declaration=declarations[number], item_no=item_no, defaults=values
            )
        for (number, item_no, invoice_no), values in invoices.items():
            item = saved.get((number, item_no)) or DeclarationItem.objects.get(
                declaration__integration=integration,
                declaration__declaration_no=number,
                item_no=item_no,
            )
            PurchaseInvoice.objects.update_or_create(
                item=item, invoice_no=invoice_no, defaults=values
            )
        for (number, receipt_no), values in receipts.items():
            declaration = declarations.get(number) or CustomsDeclaration.objects.get(
                integration=integration, declaration_no=number
            )
            FxReceipt.objects.update_or_create(
                declaration=declaration, receipt_no=receipt_no, defaults=values
            )
    return report


def _item_known(integration, items: dict, key: tuple[str, int]) -> bool:
    return (
        key in items
        or DeclarationItem.objects.filter(
            declaration__integration=integration,
            declaration__declaration_no=key[0],
            item_no=key[1],
        ).exists()
    )


def _declaration_known(integration, number: str) -> bool:
    return CustomsDeclaration.objects.filter(
        integration=integration, declaration_no=number
    ).exists()
