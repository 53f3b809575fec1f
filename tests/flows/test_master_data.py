"""F9 master data and G2 opening inventory, against both sandboxes over real HTTP: suppliers
uploaded Kingdee → Jushuitan by the engine (F9.1), warehouses / shops / suppliers checked with
tickets for what is out of step (F9.1), and opening inventory imported per warehouse with a
dry-run preview, then pushed exactly once (F9.2, G2)."""

import io
import time
from decimal import Decimal

import pytest

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from flows.tasks import flow_run
from mappings.models import KnownCode, SupplierMapping
from masterdata import selectors, services
from masterdata.choices import CheckKind, CheckStatus, ImportStatus
from masterdata.models import MasterDataCheckLine, OpeningInventoryImport
from monitoring.models import ExceptionTicket

pytestmark = pytest.mark.django_db(transaction=True)


def supplier_state(flow, number: str) -> str | None:
    doc = SyncDocument.objects.filter(flow=flow, source_key=f"supplier:{number}").first()
    return doc.state if doc else None


def test_f9_1_suppliers_uploaded_to_jushuitan_and_resynced_on_change(
    demo_integration, kingdee_master, jushuitan_items, celery_worker, wait_until
):
    """F9.1: GIVEN a supplier created and audited in Kingdee WHEN the master-data flow runs
    THEN Jushuitan has the supplier under the same code, the supplier mapping records
    Jushuitan's supplier_id (M3) and both codes are known; WHEN its name changes in Kingdee
    THEN the next run renames it in Jushuitan."""
    kingdee_master.supplier("SUP900", "宁波新能电池有限公司")
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.MASTER_DATA)

    flow_run.delay(flow.pk)
    wait_until(lambda: supplier_state(flow, "SUP900") == S.SYNCED, 60)

    remote = jushuitan_items.supplier("SUP900")
    assert remote["name"] == "宁波新能电池有限公司" and remote["enabled"] is True
    # after_synced records the codes just after the state is settled: wait for it.
    wait_until(
        lambda: KnownCode.objects.filter(
            integration=demo_integration, system="jushuitan", kind="supplier", code="SUP900"
        ).exists(),
        30,
    )
    mapping = SupplierMapping.objects.get(integration=demo_integration, supplier_number="SUP900")
    assert mapping.jst_supplier_code == "SUP900"
    assert mapping.jst_supplier_id == remote["supplier_id"]
    from mappings.selectors import jst_supplier_for

    assert jst_supplier_for(integration=demo_integration, supplier_number="SUP900") == "SUP900"

    kingdee_master.update("BD_Supplier", "SUP900", "FSupplierId", {"FName": "宁波新能电池股份公司"})
    flow_run.delay(flow.pk)
    # the supplier changes in Jushuitan before the document is settled as synced: wait for both
    wait_until(
        lambda: (
            jushuitan_items.supplier("SUP900")["name"] == "宁波新能电池股份公司"
            and supplier_state(flow, "SUP900") == S.SYNCED
        ),
        60,
    )


def test_f9_1_check_reports_mismatches_as_tickets_and_closes_them(
    demo_integration, kingdee_master, celery_worker, wait_until
):
    """F9.1: GIVEN the demo world plus a Kingdee warehouse Jushuitan lacks and a supplier not
    yet uploaded WHEN the master-data check runs THEN warehouses and shops in step are OK
    (Amazon DE through its initialised customer mapping), the warehouse and supplier are
    reported with a ticket each to the master-data admins; WHEN the supplier is uploaded
    THEN the next check closes its ticket."""
    kingdee_master.warehouse("20009", "华东备货仓")
    kingdee_master.supplier("SUP901", "杭州优选包装有限公司")

    run = services.master_data_check(integration=demo_integration)

    assert run.error == ""
    lines = {(x.kind, x.kingdee_code or x.jushuitan_code): x for x in run.lines.all()}
    for wh in ("20001", "20002", "20003"):
        assert lines[(CheckKind.WAREHOUSE, wh)].status == CheckStatus.OK
    assert lines[(CheckKind.SHOP, "CUST-AMZ-DE")].status == CheckStatus.OK
    assert lines[(CheckKind.SHOP, "CUST-AMZ-DE")].jushuitan_code == "10005"
    missing_wh = lines[(CheckKind.WAREHOUSE, "20009")]
    assert missing_wh.status in (CheckStatus.UNMAPPED, CheckStatus.MISSING_IN_JUSHUITAN)
    assert lines[(CheckKind.SUPPLIER, "SUP901")].status == CheckStatus.MISSING_IN_JUSHUITAN
    assert lines[(CheckKind.SUPPLIER, "SUP001")].status == CheckStatus.OK
    assert run.problems == 2
    tickets = ExceptionTicket.objects.filter(flow_code="master_data", status="open")
    assert tickets.count() == 2
    assert {t.role for t in tickets} == {"master_data_admin"}
    assert any("20009" in t.message for t in tickets)

    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.MASTER_DATA)
    flow_run.delay(flow.pk)
    wait_until(lambda: supplier_state(flow, "SUP901") == S.SYNCED, 60)
    again = services.master_data_check(integration=demo_integration)
    assert again.problems == 1
    assert (
        MasterDataCheckLine.objects.get(check_run=again, kingdee_code="SUP901").status
        == CheckStatus.OK
    )
    assert ExceptionTicket.objects.filter(flow_code="master_data", status="open").count() == 1


def xlsx(rows: list[tuple]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(("仓库", "物料", "数量"))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_g2_opening_inventory_preview_changes_nothing_then_push_sets_stock(
    demo_integration, jushuitan_items
):
    """F9.2 / G2: GIVEN an xlsx with opening stock for warehouses 20002 and 20003 WHEN it is
    imported THEN one import per warehouse shows each SKU's current Jushuitan quantity and the
    change, and Jushuitan is unchanged (dry run); a file with an unknown material is listed
    as invalid and cannot be pushed; WHEN the 20002 import is pushed THEN Jushuitan holds
    exactly the file's quantities and the checklist knows 20002 is done, 20003 is not."""
    assert jushuitan_items.stock("SKU-PB-1001", 20002) == Decimal(40)
    content = xlsx(
        [("20002", "SKU-PB-1001", 60), ("20002", "SKU-CBL-1201", 0), ("20003", "SKU-PB-1001", 7)]
    )

    imports = services.opening_inventory_preview(
        integration=demo_integration, content=content, file_name="期初库存.xlsx"
    )

    by_wh = {i.stock_number: i for i in imports}
    assert set(by_wh) == {"20002", "20003"}
    first = by_wh["20002"]
    assert first.status == ImportStatus.PREVIEWED and first.wms_co_id == "20002"
    lines = {line.sku_id: line for line in first.lines.all()}
    assert lines["SKU-PB-1001"].jushuitan_qty == Decimal(40)
    assert lines["SKU-PB-1001"].change == Decimal(20)
    assert lines["SKU-CBL-1201"].change == -lines["SKU-CBL-1201"].jushuitan_qty
    assert jushuitan_items.stock("SKU-PB-1001", 20002) == Decimal(40)  # nothing sent

    (bad,) = services.opening_inventory_preview(
        integration=demo_integration,
        content=xlsx([("20001", "NO-SUCH-MATERIAL", 5), ("20001", "SKU-PB-1001", -1)]),
        file_name="bad.xlsx",
    )
    assert bad.status == ImportStatus.INVALID
    assert {e["row"] for e in bad.errors} == {2, 3}
    with pytest.raises(services.MasterDataError):
        services.opening_inventory_push(batch=bad)

    pushed = services.opening_inventory_push(batch=first)

    assert pushed.status == ImportStatus.PUSHED and pushed.pushed_at
    assert jushuitan_items.stock("SKU-PB-1001", 20002) == Decimal(60)
    assert jushuitan_items.stock("SKU-CBL-1201", 20002) == Decimal(0)
    assert set(selectors.opening_inventory_status(integration_id=demo_integration.pk)) == {"20002"}
    assert selectors.warehouses_without_opening_inventory(
        integration_id=demo_integration.pk, stock_numbers=["20001", "20002", "20003"]
    ) == ["20001", "20003"]
    with pytest.raises(services.MasterDataError):
        services.opening_inventory_push(batch=pushed)  # a second push is refused


def test_g2_opening_inventory_push_exactly_once_when_the_answer_is_lost(
    demo_integration, jushuitan_items
):
    """G2 exactly once: GIVEN Jushuitan commits the inventory check but the answer is lost
    (timeout) WHEN the push is retried THEN Jushuitan keeps one count document for the
    import's so_id and the stock equals the file's quantity."""
    from connectors.jushuitan.client import forget_clients
    from connectors.jushuitan.models import JushuitanConnection
    from sandbox import faults
    from sandbox.jushuitan.models import StockDocument

    (batch,) = services.opening_inventory_preview(
        integration=demo_integration,
        content=xlsx([("20003", "SKU-PB-1001", 9)]),
        file_name="20003.xlsx",
    )
    JushuitanConnection.objects.filter(pk=demo_integration.jushuitan_id).update(timeout_seconds=2)
    forget_clients()
    try:
        faults.set_profile("jushuitan", timeout_after_commit_rate=1, stall_seconds=3)
        failed = services.opening_inventory_push(batch=batch)
        assert failed.status == ImportStatus.FAILED and failed.last_error
        faults.set_profile("jushuitan")
        time.sleep(0.1)
        done = services.opening_inventory_push(
            batch=OpeningInventoryImport.objects.get(pk=batch.pk)
        )
    finally:
        faults.set_profile("jushuitan")
        forget_clients()
    assert done.status == ImportStatus.PUSHED
    assert StockDocument.objects.filter(key=batch.external_no(1)).count() == 1
    assert jushuitan_items.stock("SKU-PB-1001", 20003) == Decimal(9)


def test_g2_admin_upload_previews_and_push_action(demo_integration, jushuitan_items, admin_client):
    """G2 admin page: GIVEN a master-data admin's file upload THEN the import is previewed
    (nothing sent) and the 'Push to Jushuitan' action sets the stock."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    page = admin_client.get("/admin/masterdata/openinginventoryimport/upload/")
    assert page.status_code == 200
    answer = admin_client.post(
        "/admin/masterdata/openinginventoryimport/upload/",
        {
            "integration": demo_integration.pk,
            "sub_warehouse": 1,
            "file": SimpleUploadedFile("期初.xlsx", xlsx([("20001", "SKU-CASE-1301", 321)])),
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    batch = OpeningInventoryImport.objects.get(stock_number="20001")
    assert batch.status == ImportStatus.PREVIEWED
    assert jushuitan_items.stock("SKU-CASE-1301", 20001) != Decimal(321)
    listing = admin_client.post(
        "/admin/masterdata/openinginventoryimport/",
        {"action": "push", "_selected_action": [batch.pk]},
        follow=True,
    )
    assert listing.status_code == 200
    assert jushuitan_items.stock("SKU-CASE-1301", 20001) == Decimal(321)
    batch.refresh_from_db()
    assert batch.status == ImportStatus.PUSHED
