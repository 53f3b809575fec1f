"""K2 on declarations (issue 21 point 2): customs declarations imported from the broker's
workbook (template, dry run, all or nothing), consumer sales shipped in the Jushuitan sandbox
and synced by F2 allocated first-in-first-out to 9810 items, returns (F3) netted, 9710 matched
to its B2B shipment, refund estimated from the tax template's refund rate, gaps per item."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from finance import declarations as imp
from finance.export_chain import chain_rows, declaration_chain, export_xlsx
from finance.models import CustomsDeclaration, DeclarationItem, FxReceipt, PurchaseInvoice
from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from flows.tasks import flow_run

pytestmark = pytest.mark.django_db(transaction=True)


def _item(number, item_no, mode, ago, sku, qty, *, hs="8507600090", legal=None, fob="100.00",
          hwc="N", reference="", shops="10001", invoice_no="EXP-1", filed=""):  # fmt: skip
    exported = (timezone.localdate() - timedelta(days=ago)).isoformat()
    legal_qty = qty if legal is None else legal
    unit = "个" if legal_qty != "" else ""
    head = [number, item_no, mode, exported, "US", reference, shops, "", invoice_no, filed]
    return [*head, hs, "商品", sku, qty, unit, legal_qty, "", "", fob, hwc]


def workbook(items, invoices=(), receipts=()) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, columns, rows in (
        (imp.SHEET_DECLARATIONS, imp.DECLARATION_COLUMNS, items),
        (imp.SHEET_INVOICES, imp.INVOICE_COLUMNS, invoices),
        (imp.SHEET_RECEIPTS, imp.RECEIPT_COLUMNS, receipts),
    ):
        sheet = book.create_sheet(title)
        sheet.append([key for key, _label in columns])
        for row in rows:
            sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


D1, D2, D3 = "531620260000000001", "531620260000000002", "531620260000000003"


def test_k2_declarations_import_template_dry_run_and_all_or_nothing(demo_integration, admin_client):
    """K2 import: GIVEN the template download WHEN finance uploads a workbook with bad cells
    THEN every problem is named by sheet, row and column and nothing is written; a clean
    file in a dry run writes nothing either; imported for real it creates the declarations,
    items, purchase invoices and FX receipts, and a second import changes nothing."""
    template = admin_client.get("/finance/declarations/template.xlsx")
    assert template.status_code == 200
    book = load_workbook(io.BytesIO(template.content))
    assert book.sheetnames == ["Declarations", "Purchase invoices", "FX receipts", "Allowed values"]
    sheet = book["Declarations"]
    assert [c.value for c in sheet[1]][:3] == ["declaration_no", "item_no", "mode"]
    assert sheet.cell(row=2, column=3).value == "9810"
    assert any('"0110,9610,9710,9810"' in v.formula1 for v in sheet.data_validations.dataValidation)
    allowed = [r[0] for r in book["Allowed values"].iter_rows(values_only=True)]
    assert {"0110", "9610", "9710", "9810"} <= set(allowed)

    bad = workbook(
        [
            _item("53162026000000001", 1, "9810", 5, "SKU-PB-1001", 10),  # 17 digits
            _item(D2, 1, "9999", 5, "SKU-PB-1001", 10),
            _item(D3, 1, "9710", 5, "SKU-PB-1001", 0, hwc="Y", reference="B2B-1"),
        ]
    )
    url = "/finance/declarations/import/"
    page = admin_client.post(
        url,
        {"integration": demo_integration.pk, "file": io.BytesIO(bad)},
        headers={"Accept-Language": "en"},
    )
    assert page.status_code == 200
    problems = {(p.row, p.column) for p in page.context["report"].problems}
    assert problems == {(2, "declaration_no"), (3, "mode"), (4, "quantity"), (4, "hwc_yt")}
    assert b"import-problems" in page.content and b"HWC-YT applies to 9810" in page.content
    assert not CustomsDeclaration.objects.exists()

    formula = _item(D1, 2, "9810", 5, "SKU-EAR-1101", 4)
    formula[11] = "@SUM(1)"  # goods name: text that must not start a formula
    good = workbook(
        [_item(D1, 1, "9810", 5, "SKU-PB-1001", 10), formula],
        invoices=[(D1, 1, "INV-0001", "2026-01-01", "500.00", "65.00")],
        receipts=[(D1, "PAY-1", "2026-02-01", "USD", "1000.00")],
    )
    dry = admin_client.post(
        url, {"integration": demo_integration.pk, "file": io.BytesIO(good), "dry_run": "1"}
    )
    assert dry.context["report"].ok and dry.context["report"].items == 2
    assert not CustomsDeclaration.objects.exists()
    for _attempt in range(2):
        done = admin_client.post(
            url, {"integration": demo_integration.pk, "file": io.BytesIO(good)}
        )
        assert done.status_code == 302
        assert CustomsDeclaration.objects.count() == 1 and DeclarationItem.objects.count() == 2
        assert PurchaseInvoice.objects.get().amount == Decimal("500.00")
        assert FxReceipt.objects.get().amount == Decimal("1000.00")
    declaration = CustomsDeclaration.objects.get()
    admin_page = admin_client.get(f"/admin/finance/customsdeclaration/{declaration.pk}/change/")
    assert admin_page.status_code == 200 and b"SKU-EAR-1101" in admin_page.content
    chain = declaration_chain(integration=demo_integration)
    book = load_workbook(io.BytesIO(export_xlsx([], chain)))
    cells = [c.value for row in book.worksheets[1].iter_rows() for c in row]
    cells += [c.value for row in book.worksheets[0].iter_rows() for c in row]
    assert "@SUM(1)" not in cells
    item = next(i for i in chain.items if i.item_no == 2)
    assert item.cells()[8] == "'@SUM(1)"


def _ship(storefront, wait_until, integration, *orders):
    storefront.place_and_ship(*orders)
    flow = Flow.objects.get(integration=integration, code=FlowCode.SALES_OUTBOUND)
    flow_run.delay(flow.pk)
    numbers = [o["so_id"] for o in orders]
    wait_until(
        lambda: (
            SyncDocument.objects.filter(
                flow=flow, platform_order_no__in=numbers, state=S.SYNCED
            ).count()
            == len(numbers)
        ),
        60,
    )


@pytest.mark.usefixtures("english")
def test_k2_9810_sales_are_allocated_fifo_with_refund_and_gaps_per_item(
    demo_integration, storefront, celery_worker, wait_until
):
    """K2 (issue 21 point 2): GIVEN two 9810 declarations of SKU-PB-1001 for shop 10001 — the
    older (2 units) complete with a purchase invoice of 1000.00 + 130.00 tax and an FX
    receipt, the newer (5 units, HWC-YT) without legal quantity, invoice or receipt — WHEN
    shop 10001 ships 1, 2 and 1 units and shop 10003 ships 1 unit THEN the older item is sold
    out (2 / 0) and the newer holds 2 sold / 3 unsold: sold + unsold = declared on each, shop
    10003's sale draws on neither; the older item's estimated refund is 1000.00 × 13 % =
    130.00, all refundable now, and it is declarable; the newer lists what is missing on the
    Gaps sheet."""
    content = workbook(
        [
            _item(D1, 1, "9810", 20, "SKU-PB-1001", 2, fob="37.00"),
            _item(D2, 1, "9810", 10, "SKU-PB-1001", 5, fob="92.50", legal="", hwc="Y"),
        ],
        invoices=[(D1, 1, "24442000000000000001", "2026-01-01", "1000.00", "130.00")],
        receipts=[(D1, "PAY-1", "2026-02-01", "USD", "37.00")],
    )
    assert imp.declarations_import(integration=demo_integration, content=content, dry_run=False).ok
    orders = [
        storefront.order(
            so_id=f"K2-FIFO-{n}", shop_id=shop, currency="USD", lines=[("SKU-PB-1001", q, "29.99")]
        )
        for n, (shop, q) in enumerate([(10001, 1), (10001, 2), (10001, 1), (10003, 1)], start=1)
    ]
    _ship(storefront, wait_until, demo_integration, *orders)

    chain = declaration_chain(integration=demo_integration)
    older, newer = chain.items
    assert (older.declaration_no, older.sold, older.unsold) == (D1, Decimal(2), Decimal(0))
    assert (newer.declaration_no, newer.sold, newer.unsold) == (D2, Decimal(2), Decimal(3))
    for item in chain.items:
        assert item.sold + item.unsold == item.quantity
    assert older.refund_rate == Decimal("13") and older.taxable_amount == Decimal("1000.00")
    assert older.estimated_refund == Decimal("130.00") == older.refundable_now
    assert older.gaps == [] and older.complete
    assert newer.gaps == [
        "no quantity in the first legal unit",
        "no purchase VAT invoice (进项专票)",
        "no FX receipt (收汇)",
    ]
    rows = chain_rows(integration=demo_integration, chain=chain)
    drawn = {r.platform_order_no: r.allocations for r in rows}
    assert drawn["K2-FIFO-1"] == [(D1, 1, Decimal(1))]
    assert drawn["K2-FIFO-2"] == [(D1, 1, Decimal(1)), (D2, 1, Decimal(1))]
    assert drawn["K2-FIFO-4"] == [] and chain.unallocated

    book = load_workbook(io.BytesIO(export_xlsx(rows, chain)))
    items = list(book["Declaration items"].iter_rows(values_only=True))
    assert len(items) == 2 and items[1][0] == D1
    header = items[0]
    assert items[1][header.index("Estimated refund (CNY)")] == Decimal("130.00")
    gaps = list(book["Gaps"].iter_rows(values_only=True))
    assert [r[0] for r in gaps[1:]] == [D2]
    assert "no purchase VAT invoice" in gaps[1][3]


@pytest.mark.usefixtures("english")
def test_k2_returns_are_netted_with_the_correction_and_9710_matches_its_shipment(
    demo_integration, storefront, celery_worker, wait_until, live_server, admin_client
):
    """K2 (issue 21 point 2): GIVEN a 9810 item of SKU-YOGA-1601 whose refund was filed
    yesterday and a 9710 declaration for B2B order K2-B2B-0001 (3 cables) WHEN a one-unit
    yoga-mat sale ships, comes back (after-sale received, F3 synced) and the B2B order ships
    THEN the sale's chain row shows it returned (net 0, "fully returned": not offered for
    declaration), the item is back to 0 sold with the correction to make listed, and the
    9710 item is sold 3 / unsold 0 with no B2B gap; the page and the Returns sheet show it."""
    from sandbox.demo_run import _return, _storefront

    filed = (timezone.localdate() - timedelta(days=1)).isoformat()
    content = workbook(
        [
            _item(D1, 1, "9810", 20, "SKU-YOGA-1601", 10, hs="9506911900", filed=filed),
            _item(D2, 1, "9710", 1, "SKU-CBL-1201", 3, hs="8544421100", reference="K2-B2B-0001"),
        ],
    )
    assert imp.declarations_import(integration=demo_integration, content=content, dry_run=False).ok
    sale = storefront.order(
        so_id="K2-RET-0001", shop_id=10001, currency="USD", lines=[("SKU-YOGA-1601", 1, "27.99")]
    )
    b2b = storefront.order(
        so_id="K2-B2B-0001", shop_id=10002, currency="USD", lines=[("SKU-CBL-1201", 3, "8.99")]
    )
    _ship(storefront, wait_until, demo_integration, sale, b2b)
    assert declaration_chain(integration=demo_integration).items[0].sold == Decimal(1)

    _return(_storefront(live_server.url), sale)
    returns = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_RETURN)
    flow_run.delay(returns.pk)
    wait_until(
        lambda: SyncDocument.objects.filter(
            flow=returns, platform_order_no="K2-RET-0001", state=S.SYNCED
        ).exists(),
        60,
    )
    chain = declaration_chain(integration=demo_integration)
    yoga, cable = chain.items
    assert (yoga.sold, yoga.unsold, yoga.returned) == (Decimal(0), Decimal(10), Decimal(1))
    assert len(yoga.corrections) == 1 and f"Declaration {D1} item 1" in yoga.corrections[0]
    assert (cable.sold, cable.unsold) == (Decimal(3), Decimal(0))
    assert not any("B2B" in gap for gap in cable.gaps)
    [row] = chain_rows(integration=demo_integration, platform_order_no="K2-RET-0001", chain=chain)
    assert (row.quantity, row.returned, row.net_quantity) == (Decimal(1), Decimal(1), Decimal(0))
    assert "fully returned: nothing to declare" in row.gaps and not row.allocations
    [back] = chain.returns
    assert back.items[0][:3] == (D1, 1, Decimal(1)) and back.corrections

    page = admin_client.get(
        "/finance/export-chain/",
        {"so": "K2-RET-0001", "integration": demo_integration.pk},
        headers={"Accept-Language": "en"},
    )
    assert page.status_code == 200
    assert [r.platform_order_no for r in page.context["returns"]] == ["K2-RET-0001"]
    assert [i.declaration_no for i in page.context["items"]] == [D1]
    assert b"fully returned" in page.content and b"export-returns" in page.content
    download = admin_client.get(
        "/finance/export-chain/",
        {"so": "K2-RET-0001", "integration": demo_integration.pk, "format": "xlsx"},
    )
    sheet = load_workbook(io.BytesIO(download.content)).worksheets[3]  # Returns
    assert sheet.cell(row=2, column=1).value == "K2-RET-0001"
    assert sheet.cell(row=2, column=6).value  # the correction to make
