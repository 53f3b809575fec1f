"""F2 sales outbound, end to end: orders created and shipped through the Jushuitan sandbox's
own API become audited SAL_OUTSTOCK bills in the Kingdee sandbox, via a real Celery worker."""

from decimal import ROUND_HALF_UP, Decimal

import pytest

from flows.choices import DocumentState as S
from flows.choices import FlowCode
from flows.models import Flow, SyncDocument
from flows.tasks import flow_run
from mappings.rates import rate_for

pytestmark = pytest.mark.django_db(transaction=True)
CENT = Decimal("0.01")


def cny(amount: Decimal, currency: str, on_date) -> Decimal:
    """The test's own conversion: the published parity of the date, per its quoting unit."""
    quote = rate_for(currency=currency, on_date=on_date)
    return (amount * quote.rate / quote.quote_unit).quantize(CENT, rounding=ROUND_HALF_UP)


def test_f2_shipped_orders_become_audited_outbounds_exactly_once(
    demo_integration, storefront, kingdee_bills, celery_worker, wait_until
):
    """F2.1/F2.2: GIVEN two shipped orders (USD, two lines with freight, coupon, tariff and
    commission; JPY) WHEN the scheduled run executes in a worker THEN each is one audited
    SAL_OUTSTOCK carrying every F2.2 field, with CNY amounts equal to the cent to the test's
    own calculation; a second run writes nothing more."""
    usd = storefront.order(
        so_id="112-0000001-0000001",
        shop_id=10001,
        currency="USD",
        country="US",
        lines=[("SKU-PB-1001", 2, "29.99"), ("SKU-CBL-1201", 1, "8.99")],
        freight="5.99",
        coupon="2.00",
        commission="10.35",
        marketplace_tax="2.36",
    )
    jpy = storefront.order(
        so_id="503-0000002-0000002",
        shop_id=10004,
        currency="JPY",
        country="JP",
        lines=[("SKU-CASE-1301", 3, "1960")],
        commission="588",
    )
    storefront.place_and_ship(usd, jpy)
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)

    flow_run.delay(flow.pk)
    wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 2, 60)
    flow_run.delay(flow.pk)  # a second run finds nothing new to write

    bills = kingdee_bills("SAL_OUTSTOCK", [usd["so_id"], jpy["so_id"]])
    assert {k: len(v) for k, v in bills.items()} == {usd["so_id"]: 1, jpy["so_id"]: 1}
    bill = bills[usd["so_id"]][0]
    assert bill["_status"] == "C"
    doc = SyncDocument.objects.get(flow=flow, platform_order_no=usd["so_id"])
    assert doc.kingdee_bill_no == bill_no(bill)
    ship_date = doc.target_payload["FDate"]
    # Header (F2.2 order fields).
    assert field(bill, "CustomerID") == "10001"
    assert field(bill, "F_PAEZ_BuyerId") == f"buyer-{usd['so_id']}"
    assert field(bill, "F_PAEZ_LogisticsNo").startswith("FBA")
    assert Decimal(field(bill, "F_PAEZ_TradeAmount")) == Decimal("72.96")  # 59.98+8.99+5.99-2
    assert Decimal(field(bill, "F_PAEZ_Commission")) == Decimal("10.35")
    from datetime import date

    day = date.fromisoformat(ship_date)
    assert Decimal(field(bill, "F_PAEZ_TradeAmountCNY")) == cny(Decimal("72.96"), "USD", day)
    # Lines (issue 19 point 1): the coupon is spread into Kingdee's own discount field, the
    # remainder on the last line; Kingdee's FAllAmount is what the buyer paid for the goods.
    # Freight is a receivable line (tests/flows/test_amounts.py), not spread over the goods.
    lines = entries(bill)
    assert [line_field(x, "Discount") for x in lines] == [Decimal("1.73"), Decimal("0.27")]
    assert [line_field(x, "AllAmount") for x in lines] == [Decimal("58.25"), Decimal("8.72")]
    nets = [Decimal("59.98") - Decimal("1.73"), Decimal("8.99") - Decimal("0.27")]
    assert [line_field(x, "F_PAEZ_NetAmountCNY") for x in lines] == [
        cny(n, "USD", day) for n in nets
    ]
    assert doc.progress["fx"]["currency"] == "USD"
    # JPY: quoted per 100 yen by the parity.
    jpy_doc = SyncDocument.objects.get(flow=flow, platform_order_no=jpy["so_id"])
    jpy_bill = bills[jpy["so_id"]][0]
    assert Decimal(field(jpy_bill, "F_PAEZ_TradeAmountCNY")) == cny(
        Decimal("5880"), "JPY", date.fromisoformat(jpy_doc.target_payload["FDate"])
    )


# --- reading a viewed bill (the sandbox returns what was saved, ORM-style names) ------------


def bill_no(bill: dict) -> str:
    return bill.get("BillNo") or bill.get("FBillNo")


def _get(row: dict, name: str):
    lowered = {key.lower(): value for key, value in row.items()}
    for key in (name, f"F{name}", name.removeprefix("F")):
        if key.lower() in lowered:
            value = lowered[key.lower()]
            if isinstance(value, dict):
                return value.get("Number") or value.get("FNumber")
            return value
    raise KeyError(f"{name} not in {sorted(row)}")


def field(bill: dict, name: str):
    return _get(bill, name)


def entries(bill: dict) -> list[dict]:
    for key in ("FEntity", "Entity", "SAL_OUTSTOCKENTRY"):
        if key in bill:
            return bill[key]
    raise KeyError(sorted(bill))


def line_field(line: dict, name: str) -> Decimal:
    return Decimal(str(_get(line, name)))


# --- F2.3, F2.4, mappings, canary, faults, push, schedule ---------------------------------------


def _flow(integration, **changes) -> Flow:
    flow = Flow.objects.get(integration=integration, code=FlowCode.SALES_OUTBOUND)
    for name, value in changes.items():
        setattr(flow, name, value)
    flow.save()
    return flow


def _run_until(flow, wait_until, condition, timeout=90):
    """Run the flow as beat would (and let due retries come round) until the condition holds."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        from django.utils import timezone

        SyncDocument.objects.filter(flow=flow, state=S.WAITING).update(
            next_attempt_at=timezone.now()
        )
        flow_run.delay(flow.pk)
        time.sleep(1.5)
        if time.monotonic() > deadline:
            from django.db.models import Count

            states = dict(
                SyncDocument.objects.filter(flow=flow).values_list("state").annotate(Count("id"))
            )
            flow.refresh_from_db()
            errors = list(
                SyncDocument.objects.filter(flow=flow)
                .exclude(state=S.SYNCED)
                .values_list("last_error_class", "last_error_message")[:5]
            )
            raise AssertionError(
                f"flow did not settle: {states}, paused until {flow.paused_until}, {errors}"
            )


def test_f2_4_stock_shortage_is_held_frozen_and_released_when_stock_arrives(
    demo_integration, storefront, kingdee_bills, celery_worker, wait_until
):
    """F2.4: GIVEN Jushuitan ships more than Kingdee holds WHEN the outbound is written THEN
    Kingdee refuses it, the document is held with the quantity frozen (待检库存) and purchasing
    gets a ticket; WHEN stock arrives in Kingdee THEN the check releases it and it syncs."""
    from connectors.kingdee.client import client_for
    from flows.models import StockHold
    from flows.tasks import holds_check
    from monitoring.services import ticket_of_document
    from sandbox.jushuitan.models import Stock

    Stock.objects.filter(wms_co_id=20003, sku_id="SKU-EAR-1101").update(qty=50)  # JST only
    order = storefront.order(
        so_id="SHORT-1",
        shop_id=10001,
        currency="USD",
        lines=[("SKU-EAR-1101", 8, "39.99")],
        wms_co_id=20003,
    )
    storefront.place_and_ship(order)
    flow = _flow(demo_integration)
    flow_run.delay(flow.pk)
    doc = wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.HELD).first(), 60)
    hold = StockHold.objects.get(document=doc)
    assert (hold.material_number, hold.stock_number, hold.quantity) == (
        "SKU-EAR-1101",
        "20003",
        Decimal("8"),
    )
    ticket = ticket_of_document(doc)  # issue 20 point 1: the shortage's ticket
    assert ticket.role == "purchasing" and "加急补货" in ticket.suggested_fix
    assert ticket.trace_key == "shortage:SKU-EAR-1101:20003"
    assert kingdee_bills("SAL_OUTSTOCK", ["SHORT-1"]) == {}
    # Issue 20 point 2: the ticket shows the stock on both sides, the hold and the purchase
    # that would release it.
    from monitoring.fixes import shortage_of

    on_hand = client_for(demo_integration.kingdee).inventory(
        material_numbers=["SKU-EAR-1101"], stock_numbers=["20003"]
    )
    shortage = shortage_of(ticket)
    assert (shortage.material, shortage.stock, shortage.held) == ("SKU-EAR-1101", "20003", 8)
    assert shortage.kingdee_on_hand == sum(on_hand.values(), Decimal(0)) < 8
    assert shortage.jushuitan_on_hand >= 50 and not shortage.notes
    assert shortage.to_purchase == 8 - shortage.kingdee_on_hand
    assert [h.document_id for h in shortage.holds] == [doc.pk]

    holds_check.delay()  # not enough stock yet: nothing changes
    receipt = client_for(demo_integration.kingdee).save(
        "STK_MISCELLANEOUS",
        {
            "FDate": doc.target_payload["FDate"],
            "FStockOrgId": {"FNumber": "100"},
            "FStockDirect": "GENERAL",
            "FEntity": [
                {
                    "FMATERIALID": {"FNumber": "SKU-EAR-1101"},
                    "FSTOCKID": {"FNumber": "20003"},
                    "FQty": 10,
                }
            ],
        },
        auto_submit_audit=True,
    )
    assert receipt.ok
    holds_check.delay()
    wait_until(lambda: SyncDocument.objects.get(pk=doc.pk).state == S.SYNCED, 60)
    hold.refresh_from_db()
    ticket.refresh_from_db()
    assert hold.status == "released" and ticket.status == "resolved"
    assert len(kingdee_bills("SAL_OUTSTOCK", ["SHORT-1"])["SHORT-1"]) == 1


def test_f2_3_fx_backup_source_then_timed_retries_then_ticket(
    demo_integration, storefront, celery_worker, wait_until
):
    """F2.3: the primary FX source down → the backup's rate is used and recorded; both down →
    retry after 5 minutes, at most 3 times, then a finance ticket."""
    from connectors.fx.models import FxSource, FxSourceKind
    from mappings.models import ExchangeRate
    from monitoring.services import ticket_of_document
    from sandbox import faults

    ExchangeRate.objects.all().delete()  # no stored rate: the sources must be asked
    FxSource.objects.filter(kind=FxSourceKind.CFETS).update(base_url="http://127.0.0.1:9/cfets")
    storefront.place_and_ship(
        storefront.order(
            so_id="FX-1",
            shop_id=10002,
            currency="GBP",
            country="GB",
            lines=[("SKU-BAG-1701", 1, "39.99")],
        )
    )
    flow = _flow(demo_integration)
    flow_run.delay(flow.pk)
    doc = wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).first(), 60)
    assert doc.progress["fx"]["fallback_used"] is True
    assert "ecb" in doc.progress["fx"]["source"].lower()

    ExchangeRate.objects.all().delete()
    faults.set_profile("fx", error_rate=1)  # both sources now fail
    storefront.place_and_ship(
        storefront.order(
            so_id="FX-2",
            shop_id=10002,
            currency="GBP",
            country="GB",
            lines=[("SKU-BAG-1701", 1, "39.99")],
        )
    )
    flow_run.delay(flow.pk)
    waiting = wait_until(
        lambda: SyncDocument.objects.filter(
            flow=flow, platform_order_no="FX-2", state=S.WAITING
        ).first(),
        60,
    )
    delays = []
    for attempt in range(1, 5):
        doc = SyncDocument.objects.get(pk=waiting.pk)
        if doc.state == S.FAILED:
            break
        delays.append(round((doc.next_attempt_at - doc.updated_at).total_seconds() / 60))
        SyncDocument.objects.filter(pk=doc.pk).update(next_attempt_at=doc.updated_at)
        from flows.tasks import flow_process

        flow_process.delay(flow.pk)
        wait_until(
            lambda n=attempt: (
                SyncDocument.objects.get(pk=waiting.pk).retries >= n + 1
                or SyncDocument.objects.get(pk=waiting.pk).state == S.FAILED
            ),
            30,
        )
    doc = SyncDocument.objects.get(pk=waiting.pk)
    assert delays == [5, 5, 5] and doc.state == S.FAILED
    ticket = ticket_of_document(doc)  # issue 20 point 1: one ticket per currency and date
    assert ticket.role == "finance" and ticket.error_class == "fx_unavailable"
    assert ticket.trace_key.startswith("fx:") and ticket.links.get().document == doc


def test_missing_mapping_blocks_then_the_mapping_releases_it(
    demo_integration, storefront, kingdee_bills, celery_worker, wait_until
):
    """M4/F1.3: a gift SKU that exists only in Jushuitan blocks the order with a ticket to
    master-data admins naming it; adding the mapping in the admin's table releases the order,
    which then syncs and closes the ticket."""
    from mappings.models import MaterialMapping, TaxTemplate
    from monitoring.services import ticket_of_document

    order = storefront.order(
        so_id="GIFT-1",
        shop_id=10001,
        currency="USD",
        lines=[("SKU-CASE-1301", 1, "12.99"), ("SKU-GIFT-9001", 1, "0")],
    )
    storefront.place_and_ship(order)
    flow = _flow(demo_integration)
    flow_run.delay(flow.pk)
    doc = wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.BLOCKED).first(), 60)
    ticket = ticket_of_document(doc)
    assert ticket.role == "master_data_admin" and "SKU-GIFT-9001" in ticket.title
    assert ticket.trace_key == f"mapping:{demo_integration.code}:material:SKU-GIFT-9001"
    # The admin creates the material in Kingdee (with opening stock), then maps the SKU to it.
    from connectors.kingdee.client import client_for

    kingdee = client_for(demo_integration.kingdee)
    created = kingdee.save(
        "BD_MATERIAL",
        {
            "FNumber": "SKU-GIFT-9001",
            "FName": "赠品 贴纸套装",
            "FCreateOrgId": {"FNumber": "100"},
            "FUseOrgId": {"FNumber": "100"},
            "F_PAEZ_HSCode": "4911990000",
            "SubHeadEntity": {
                "FErpClsID": "1",
                "FBaseUnitId": {"FNumber": "Pcs"},
                "FIsInventory": True,
                "FIsSale": True,
            },
        },
        auto_submit_audit=True,
    )
    assert created.ok, created.errors
    receipt = kingdee.save(
        "STK_MISCELLANEOUS",
        {
            "FDate": doc.target_payload.get("FDate") or "2026-01-01",
            "FStockOrgId": {"FNumber": "100"},
            "FStockDirect": "GENERAL",
            "FEntity": [
                {
                    "FMATERIALID": {"FNumber": "SKU-GIFT-9001"},
                    "FSTOCKID": {"FNumber": "20001"},
                    "FQty": 100,
                }
            ],
        },
        auto_submit_audit=True,
    )
    assert receipt.ok, receipt.errors
    TaxTemplate.objects.create(
        integration=demo_integration,
        country="US",
        hs_prefix="491199",
        name="US printed matter",
        kingdee_tax_number="SL00_CB",
        vat_rate=0,
        duty_rate=0,
        refund_rate=0,
        effective_from="2024-01-01",
    )
    MaterialMapping.objects.create(
        integration=demo_integration, sku_id="SKU-GIFT-9001", material_number="SKU-GIFT-9001"
    )
    wait_until(lambda: SyncDocument.objects.get(pk=doc.pk).state == S.SYNCED, 60)
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    assert len(kingdee_bills("SAL_OUTSTOCK", ["GIFT-1"])["GIFT-1"]) == 1


def test_g6_canary_scope_syncs_only_the_canary_shop(
    demo_integration, storefront, kingdee_bills, celery_worker, wait_until
):
    """G6: with one canary shop, orders of other shops are kept as filtered with the reason."""
    flow = _flow(demo_integration, canary_shops=[10001])
    storefront.place_and_ship(
        storefront.order(
            so_id="CAN-1", shop_id=10001, currency="USD", lines=[("SKU-CBL-1202", 1, "11.99")]
        ),
        storefront.order(
            so_id="CAN-2",
            shop_id=10002,
            currency="GBP",
            country="GB",
            lines=[("SKU-CBL-1202", 1, "9.99")],
        ),
    )
    flow_run.delay(flow.pk)
    wait_until(
        lambda: (
            SyncDocument.objects.filter(flow=flow, state__in=[S.SYNCED, S.FILTERED]).count() == 2
        ),
        60,
    )
    kept = SyncDocument.objects.get(flow=flow, platform_order_no="CAN-2")
    assert kept.state == S.FILTERED and "10002" in kept.filter_reason
    assert set(kingdee_bills("SAL_OUTSTOCK", ["CAN-1", "CAN-2"])) == {"CAN-1"}


def test_f2_exactly_once_under_injected_faults(
    demo_integration, storefront, kingdee_bills, celery_worker, wait_until
):
    """F2.1 + DESIGN exactly once: with Kingdee answering 20% server errors and 20% timeouts after
    the write committed, and Jushuitan 10% errors, every order lands exactly once."""
    from connectors.kingdee.client import clear_clients
    from connectors.kingdee.models import KingdeeConnection
    from sandbox import faults

    KingdeeConnection.objects.filter(pk=demo_integration.kingdee_id).update(timeout_seconds=2)
    clear_clients()
    flow = _flow(
        demo_integration,
        batch_size=5,
        settings={"retry": {"base_seconds": 0.2, "jitter": 0, "max_attempts": 50}},
    )
    orders = [
        storefront.order(
            so_id=f"CHAOS-{n}",
            shop_id=10001,
            currency="USD",
            lines=[("SKU-CBL-1201", 1 + n % 3, "8.99")],
        )
        for n in range(20)
    ]
    storefront.place_and_ship(*orders)
    faults.set_profile("kingdee", error_rate=0.2, timeout_after_commit_rate=0.2, stall_seconds=3)
    faults.set_profile("jushuitan", error_rate=0.1)
    _run_until(
        flow,
        wait_until,
        lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 20,
        timeout=240,
    )
    faults.set_profile("kingdee")
    faults.set_profile("jushuitan")
    bills = kingdee_bills("SAL_OUTSTOCK", [o["so_id"] for o in orders])
    assert sorted(bills) == sorted(o["so_id"] for o in orders)
    assert all(len(found) == 1 for found in bills.values()), {k: len(v) for k, v in bills.items()}


def test_push_endpoint_signed_accepts_and_rejects_clearly(
    demo_integration, storefront, celery_worker, wait_until, live_server
):
    """POST /jushuitan/order/outbound: a signed push is stored and synced (202 with the ids);
    a bad signature, a replay and an invalid document are refused, saying why."""
    import json

    import requests

    from connectors.jushuitan.client import JushuitanClient
    from flows.api.authentication import signed_headers
    from flows.models import ApiClient

    api = ApiClient.objects.create(
        name="shop hook", integration=demo_integration, secret="hook-secret"
    )
    storefront.place_and_ship(
        storefront.order(
            so_id="PUSH-1", shop_id=10001, currency="USD", lines=[("SKU-BTL-1401", 2, "21.99")]
        )
    )
    row = JushuitanClient(demo_integration.jushuitan).orders_by_so_ids(["PUSH-1"])[0]
    url = f"{live_server.url}/jushuitan/order/outbound"
    body = json.dumps(row).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept-Language": "en",
        **signed_headers(
            client_key=api.key_id,
            secret="hook-secret",
            method="POST",
            path="/jushuitan/order/outbound",
            body=body,
        ),
    }
    answer = requests.post(url, data=body, headers=headers, timeout=10)
    assert answer.status_code == 202, answer.text
    ids = answer.json()["documents"]
    wait_until(lambda: SyncDocument.objects.get(pk=ids[0]).state == S.SYNCED, 60)

    replay = requests.post(url, data=body, headers=headers, timeout=10)
    assert replay.status_code in (401, 403) and "replay" in replay.json()["message"]
    forged = {
        **headers,
        "X-Portal-Signature": "0" * 64,
        "X-Portal-Timestamp": headers["X-Portal-Timestamp"],
    }
    assert requests.post(url, data=body, headers=forged, timeout=10).status_code in (401, 403)
    bad = json.dumps({"so_id": "X", "shop_id": 10001}).encode()
    bad_headers = {
        "Content-Type": "application/json",
        **signed_headers(
            client_key=api.key_id,
            secret="hook-secret",
            method="POST",
            path="/jushuitan/order/outbound",
            body=bad,
        ),
    }
    refused = requests.post(url, data=bad, headers=bad_headers, timeout=10)
    assert refused.status_code == 400
    assert refused.json()["extra"]["fields"]["documents"][0]["field"] == "o_id"


def test_f2_1_one_minute_schedule_exists(demo_integration):
    """F2.1: Jushuitan is polled every minute (a django-celery-beat schedule per flow)."""
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name=f"flow {demo_integration.code}: sales_outbound")
    assert task.enabled and task.interval.every == 60 and task.interval.period == "seconds"
    assert task.task == "flows.tasks.flow_run"


def test_older_build_bare_success_lands_each_order_once(
    demo_integration, storefront, kingdee_bills, celery_worker, wait_until, monkeypatch
):
    """Issue 17 point 7: GIVEN a Kingdee build that answers BatchSave successes with only
    {"IsSuccess": true}, Id and Number (no SuccessEntitys) WHEN two shipped orders sync in one
    batch THEN both land (the one without an entity confirmed by its number, not left as an
    unknown outcome) and each is one audited bill."""
    monkeypatch.setenv("PORTAL_SANDBOX_KINGDEE_SUCCESS_ENVELOPE", "legacy")
    orders = [
        storefront.order(
            so_id=f"112-0000009-00000{n}",
            shop_id=10001,
            currency="USD",
            country="US",
            lines=[("SKU-CBL-1201", 1, "8.99")],
        )
        for n in (1, 2)
    ]
    storefront.place_and_ship(*orders)
    flow = Flow.objects.get(integration=demo_integration, code=FlowCode.SALES_OUTBOUND)

    flow_run.delay(flow.pk)
    wait_until(lambda: SyncDocument.objects.filter(flow=flow, state=S.SYNCED).count() == 2, 60)

    docs = SyncDocument.objects.filter(flow=flow)
    assert not docs.filter(outcome_unknown=True).exists()
    bills = kingdee_bills("SAL_OUTSTOCK", [o["so_id"] for o in orders])
    assert {k: [b["_status"] for b in v] for k, v in bills.items()} == {
        o["so_id"]: ["C"] for o in orders
    }
