"""K2 export-refund data chain (9810 / 9710) from orders shipped in the Jushuitan sandbox and
synced by F2 into the Kingdee sandbox: one row per shipped line with every field the
declaration needs, totals equal to the Kingdee bills, gaps flagged and kept off the
declarable sheet."""

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from finance.export_chain import chain_rows, declaration_chain, export_csv, export_xlsx
from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from flows.tasks import flow_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shipped(demo_integration, storefront, celery_worker, wait_until):
    """Three USD orders, two of shop 10001 and one of shop 10003, shipped and synced by F2."""
    orders = [
        storefront.order(
            so_id="114-0000011-0000011",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-PB-1001", 2, "29.99"), ("SKU-CBL-1201", 1, "8.99")],
            freight="5.99",
            coupon="2.00",
        ),
        storefront.order(
            so_id="114-0000012-0000012",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-EAR-1101", 1, "39.99")],
        ),
        storefront.order(
            so_id="2401SG0000013",
            shop_id=10003,
            currency="USD",
            lines=[("SKU-PB-1002", 1, "24.99")],
        ),
    ]
    storefront.place_and_ship(*orders)
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)
    flow_run.delay(flow.pk)
    wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 3, 60)
    return orders


@pytest.mark.usefixtures("english")
def test_k2_export_rows_carry_the_chain_and_totals_equal_the_kingdee_bills(
    demo_integration, shipped, kingdee_bills
):
    """K2: GIVEN three shipped USD orders synced to Kingdee WHEN shop 10001 is exported for
    today THEN there is one row per shipped line of its two orders with platform order no.,
    shop, SKU, 10-digit HS code, English name, declared value, currency, rate, CNY amount,
    FBA no., ship date and the Kingdee bill no.; the CSV totals equal the sums over the
    SAL_OUTSTOCK bills read back from Kingdee, to the cent."""
    from django.utils import timezone

    today = timezone.localdate()
    rows = chain_rows(integration=demo_integration, start=today, end=today, shop_id="10001")
    order_nos = [shipped[0]["so_id"], shipped[1]["so_id"]]
    assert sorted({r.platform_order_no for r in rows}) == sorted(order_nos)
    assert len(rows) == 3 and all(r.complete for r in rows), [r.gaps for r in rows]
    first = next(r for r in rows if r.sku == "SKU-PB-1001")
    assert first.shop_id == "10001" and first.hs_code == "8507600090"
    assert first.english_name == "20000mAh Power Bank"
    assert first.currency == "USD" and first.rate > 0 and first.logistics_no.startswith("FBA")
    assert first.ship_date == today and first.kingdee_bill_no.startswith("JSTXS")

    bills = kingdee_bills("SAL_OUTSTOCK", order_nos)
    lines = [
        line for found in bills.values() for bill in found for line in bill["SAL_OUTSTOCKENTRY"]
    ]
    lines = [{k.lower(): v for k, v in line.items()} for line in lines]
    kd_declared = sum(Decimal(str(line["f_paez_netamount"])) for line in lines)
    kd_cny = sum(Decimal(str(line["f_paez_netamountcny"])) for line in lines)
    assert {bill["BillNo"] for found in bills.values() for bill in found} == {
        r.kingdee_bill_no for r in rows
    }

    chain = declaration_chain(integration=demo_integration)
    table = list(csv.reader(io.StringIO(export_csv(rows, chain).decode("utf-8-sig"))))
    start = next(n for n, r in enumerate(table) if r[:2] == ["Platform order no.", "Shop"])
    header = table[start]
    body = table[start + 1 : start + 4]
    assert len(body) == 3 and all(
        r[header.index("Gaps (not declarable until fixed)")] == "" for r in body
    )
    assert sum(Decimal(r[header.index("Declared value")]) for r in body) == kd_declared
    assert sum(Decimal(r[header.index("CNY amount")]) for r in body) == kd_cny
    totals_row = table[-1]
    assert totals_row[0] == "USD" and table[-2][0] == "Currency"
    assert (Decimal(totals_row[1]), Decimal(totals_row[2])) == (kd_declared, kd_cny)
    assert (
        Decimal("72.96") - Decimal("5.99") + Decimal("39.99") == kd_declared
    )  # goods net of coupon


@pytest.mark.usefixtures("english")
def test_k2_a_line_with_a_gap_is_flagged_and_not_exported_as_declarable(
    demo_integration, shipped, admin_client
):
    """K2: GIVEN a material whose English name was cleared in Kingdee WHEN its order is
    viewed and exported THEN its consumer-sale row names the gap (on the Consumer sales
    sheet, with no declaration item to draw on) and the totals of complete rows leave it
    out."""
    from sandbox.kingdee.models import KdBaseData

    material = KdBaseData.objects.get(form_id="BD_MATERIAL", number="SKU-EAR-1101")
    material.fields = {**material.fields, "f_paez_enname": ""}
    material.save()
    so = shipped[1]["so_id"]

    page = admin_client.get(
        "/finance/export-chain/", {"so": so, "integration": demo_integration.pk}
    )
    assert page.status_code == 200
    [row] = page.context["rows"]
    assert row.gaps == ["no English name"] and not row.complete
    assert b"ops-bad" in page.content

    download = admin_client.get(
        "/finance/export-chain/", {"so": so, "integration": demo_integration.pk, "format": "xlsx"}
    )
    book = load_workbook(io.BytesIO(download.content))
    assert book.sheetnames == [
        "Declaration items",
        "Gaps",
        "Consumer sales",
        "Returns",
        "Totals",
    ]
    sales = book["Consumer sales"]
    assert sales.max_row == 2 and sales.cell(row=2, column=1).value == so
    assert sales.cell(row=2, column=sales.max_column).value == "no English name"
    totals = book["Totals"]
    assert [c.value for c in totals[totals.max_row]][:3] == ["USD", 0, 0]

    rows = chain_rows(integration=demo_integration, platform_order_no=so)
    chain = declaration_chain(integration=demo_integration)
    assert export_xlsx(rows, chain)[:2] == b"PK"
