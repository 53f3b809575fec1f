"""The live demo of `make run` (issue #10): the portal working on realistic data in minutes.

`demo_run(base_url=...)` waits until the portal answers /healthz, configures the demo
Integration against the simulators (sandbox.demo_setup), creates the periodic tasks, a robot
channel on the sandbox DingTalk robot with an alert rule, plants three realistic failures
(a missing mapping, a stock shortage, an FX outage) and then acts as a storefront for ever
(sandbox/jushuitan/demo.py) at a gentle rate. Every step is idempotent, so a second
`make run` continues the same world.

Like demo_setup, this is the one place (with the tests) where portal code and the simulators
meet; the flows still talk to the simulators over HTTP only.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import requests

from . import demo_catalogue as catalogue

logger = logging.getLogger(__name__)

DINGTALK_CHANNEL = "Sandbox DingTalk robot · ERP 告警群"
ALERT_RULE = "Demo: every failure to the ERP group · 全部异常"
# The demo compresses F2.3's "every 5 minutes, at most 3 times" so that the planted FX outage
# reaches the finance queue within the first minutes (a flow setting people can change).
DEMO_FX_RETRY = {"max_attempts": 3, "delay_seconds": 20}

# The planted failures (platform order nos. a person can search for).
GIFT_ORDER = "DEMO-GIFT-0001"
SHORTAGE_ORDER = "DEMO-SHORT-0001"
FX_ORDER = "DEMO-FX-TWD-0001"
RETURN_ORDER = "DEMO-RETURN-0001"  # shipped, then returned: F3 on the board from the start
THIN_WAREHOUSE = 20003  # 前海保税仓: 5 of a few SKUs in both systems
SHORT_SKU = "SKU-EAR-1101"
# Goods the WMS received into the thin warehouse that nobody booked in Kingdee yet.
UNBOOKED_RECEIPT = 10
SHORT_QTY = 8
# Neither CFETS nor the ECB publishes a New Taiwan dollar rate; Kingdee has it (PRE005).
UNPUBLISHED_CURRENCY = ("TWD", "PRE005")
NO_CENTS = {"JPY", "TWD"}


@dataclass
class DemoState:
    """What one demo run did (printed by the command, used by the tests)."""

    integration_id: int | None = None
    planted: list[str] = field(default_factory=list)
    traffic: Counter = field(default_factory=Counter)


def health_wait(*, base_url: str, timeout: float = 300.0, interval: float = 1.0) -> bool:
    """Poll GET /healthz until it answers 200 (True) or the timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/healthz", timeout=5).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(interval)
    return False


def alerts_ensure(*, base_url: str, integration):
    """A signed DingTalk channel on the sandbox robot and one rule sending every warning and
    error of the demo integration to it (O2). Existing rows keep what people changed."""
    from connectors.dingtalk.models import RobotChannel
    from monitoring.models import AlertRule
    from sandbox.robots.demo import DEMO_ROBOTS

    robot = next(r for r in DEMO_ROBOTS if r["vendor"] == "dingtalk")
    channel = RobotChannel.objects.filter(name=DINGTALK_CHANNEL).first()
    if channel is None:
        channel = RobotChannel(
            name=DINGTALK_CHANNEL,
            kind="dingtalk",
            webhook_url=(
                f"{base_url}/sandbox/robots/dingtalk/robot/send?access_token={robot['token']}"
            ),
            secret=robot["secret"],
        )
        channel.full_clean()
        channel.save()
    rule, _created = AlertRule.objects.get_or_create(
        name=ALERT_RULE,
        defaults={
            "channel": channel,
            "integration": integration,
            "min_severity": "warning",
            "dedupe_minutes": 30,
        },
    )
    return channel, rule


def fx_retry_compress(*, integration) -> int:
    """Give the demo integration's flows the compressed FX retry rule, unless people already
    set an FX rule on a flow. Returns the number of flows changed."""
    from flows.choices import ErrorClass
    from flows.models import Flow

    changed = 0
    for flow in Flow.objects.filter(integration=integration):
        settings = dict(flow.settings or {})
        retry = dict(settings.get("retry") or {})
        per_class = dict(retry.get("per_class") or {})
        if ErrorClass.FX_UNAVAILABLE in per_class:
            continue
        per_class[ErrorClass.FX_UNAVAILABLE] = dict(DEMO_FX_RETRY)
        retry["per_class"] = per_class
        settings["retry"] = retry
        Flow.objects.filter(pk=flow.pk).update(settings=settings)
        changed += 1
    return changed


def _storefront(base_url: str):
    from .jushuitan import demo as traffic
    from .jushuitan.services import DEMO_APP_KEY, DEMO_APP_SECRET

    return traffic.Storefront(
        base_url=f"{base_url}/sandbox/jushuitan", app_key=DEMO_APP_KEY, app_secret=DEMO_APP_SECRET
    )


def _order(
    *, so_id: str, shop_id: int, currency: str, country: str, lines, wms_co_id: int = 0
) -> dict:
    from .jushuitan.demo import BEIJING

    when = datetime.now(tz=BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    unit = Decimal("1") if currency in NO_CENTS else Decimal("0.01")
    items = []
    total = Decimal("0")
    for number, (sku, qty, price, gift) in enumerate(lines, start=1):
        amount = (Decimal(price) * qty).quantize(unit, rounding=ROUND_HALF_UP)
        total += amount
        items.append(
            {
                "sku_id": sku,
                "name": sku,
                "qty": qty,
                "price": price,
                "amount": str(amount),
                "is_gift": gift,
                "outer_oi_id": f"{so_id}-{number}",
            }
        )
    pay = str(total)
    order = {
        "shop_id": shop_id,
        "so_id": so_id,
        "order_date": when,
        "shop_status": "WAIT_SELLER_SEND_GOODS",
        "shop_buyer_id": f"buyer-{so_id.lower()}",
        "receiver_country": country,
        "currency": currency,
        "pay_amount": pay,
        "freight": "0",
        "finance_data": {"platform_commission": "0", "product_tax": "0"},
        "items": items,
        "pay": {
            "outer_pay_id": f"P{so_id}",
            "amount": pay,
            "payment": "card",
            "pay_date": when,
        },
    }
    if wms_co_id:
        order["wms_co_id"] = wms_co_id
    return order


def _place_and_ship(shop, order: dict) -> None:
    uploaded = shop.call("/open/jushuitan/orders/upload", [order])["datas"][0]
    if not uploaded["issuccess"]:
        raise RuntimeError(f"{order['so_id']}: {uploaded['msg']}")
    sent = shop.call(
        "/open/order/sent/upload",
        {
            "items": [
                {
                    "o_id": uploaded["o_id"],
                    "shop_id": order["shop_id"],
                    "so_id": order["so_id"],
                    "l_id": f"DEMO{uploaded['o_id']}",
                    "lc_id": "YUNEXPRESS",
                    "lc_name": "云途物流",
                }
            ]
        },
    )
    if not (sent and sent[0].get("issuccess")):
        raise RuntimeError(f"{order['so_id']} not shipped: {sent}")


def _return(shop, order: dict) -> None:
    """The buyer sends the first line back; the warehouse confirms the goods arrived."""
    line = order["items"][0]
    created = shop.call(
        "/open/aftersale/upload",
        [
            {
                "shop_id": order["shop_id"],
                "outer_as_id": f"RMA-{order['so_id']}",
                "so_id": order["so_id"],
                "type": "普通退货",
                "shop_status": "WAIT_SELLER_CONFIRM_GOODS",
                "good_status": "BUYER_RETURNED_GOODS",
                "refund": line["amount"],
                "question_type": "不想要了",
                "items": [
                    {
                        "outer_oi_id": line["outer_oi_id"],
                        "sku_id": line["sku_id"],
                        "qty": line["qty"],
                        "amount": line["amount"],
                        "type": "退货",
                    }
                ],
            }
        ],
    )
    from .jushuitan.demo import receive_goods

    as_id = created["datas"][0]["as_id"]
    receive_goods(shop, as_id, line, order["so_id"])
    shop.call("/open/webapi/aftersaleapi/open/confirm", {"as_ids": [as_id]})


def _declare_reference_source(integration, currency: str) -> None:
    """The FX policy's declared source of a currency without an official fixing: the ECB."""
    from connectors.fx.models import FxSource, FxSourceKind
    from mappings.choices import CurrencyRateSource
    from mappings.models import FxCurrencySource, FxPolicy

    ecb = FxSource.objects.filter(kind=FxSourceKind.ECB).order_by("priority").first()
    if ecb is None:
        return
    policy, _created = FxPolicy.objects.get_or_create(integration=integration)
    FxCurrencySource.objects.get_or_create(
        policy=policy,
        currency=currency,
        defaults={
            "source": CurrencyRateSource.REFERENCE,
            "reference_source": ecb,
            "basis": "No CFETS fixing for TWD; ECB reference rate (demo)",
        },
    )


def failures_plant(*, base_url: str, integration) -> list[str]:
    """Plant the three failures a newcomer should find in the work-order queues, and one
    returned order, each once (an order already in the Jushuitan sandbox is not planted again):

    - missing mapping (M4): an order with the gift SKU that exists only in Jushuitan;
    - stock shortage (F2.4): the WMS received goods into the thin bonded warehouse that were
      never booked in Kingdee, then ships more than Kingdee holds there;
    - FX outage (F2.3): an order paid in TWD, which Kingdee knows (PRE005) and finance mapped;
      CFETS fixes no TWD parity, so finance declared the ECB reference as its source (issue 19
      point 3), but the source publishes no TWD rate.
    """
    from django.db import transaction

    from mappings.choices import CodeKind
    from mappings.models import CodeMapping

    from .jushuitan.models import Order
    from .jushuitan.services import move_stock

    shop = _storefront(base_url)
    planted: list[str] = []
    usd_shop, tw_shop = catalogue.SHOPS[0]["shop_id"], catalogue.SHOPS[2]["shop_id"]
    if not Order.objects.filter(so_id=GIFT_ORDER).exists():
        _place_and_ship(
            shop,
            _order(
                so_id=GIFT_ORDER,
                shop_id=usd_shop,
                currency="USD",
                country="US",
                lines=[("SKU-CASE-1301", 1, "12.99", False), ("SKU-GIFT-9001", 1, "0", True)],
            ),
        )
        planted.append(GIFT_ORDER)
    if not Order.objects.filter(so_id=SHORTAGE_ORDER).exists():
        with transaction.atomic():
            move_stock(
                wms_co_id=THIN_WAREHOUSE, sku_id=SHORT_SKU, field="qty", delta=UNBOOKED_RECEIPT
            )
        _place_and_ship(
            shop,
            _order(
                so_id=SHORTAGE_ORDER,
                shop_id=usd_shop,
                currency="USD",
                country="US",
                lines=[(SHORT_SKU, SHORT_QTY, "39.99", False)],
                wms_co_id=THIN_WAREHOUSE,
            ),
        )
        planted.append(SHORTAGE_ORDER)
    if not Order.objects.filter(so_id=FX_ORDER).exists():
        currency, number = UNPUBLISHED_CURRENCY
        CodeMapping.objects.get_or_create(
            integration=integration,
            kind=CodeKind.CURRENCY,
            jushuitan_code=currency,
            defaults={"kingdee_code": number},
        )
        _declare_reference_source(integration, currency)
        _place_and_ship(
            shop,
            _order(
                so_id=FX_ORDER,
                shop_id=tw_shop,
                currency=currency,
                country="TW",
                lines=[("SKU-BTL-1401", 2, "690", False)],
            ),
        )
        planted.append(FX_ORDER)
    if not Order.objects.filter(so_id=RETURN_ORDER).exists():
        order = _order(
            so_id=RETURN_ORDER,
            shop_id=usd_shop,
            currency="USD",
            country="US",
            lines=[("SKU-YOGA-1601", 1, "27.99", False)],
        )
        _place_and_ship(shop, order)
        _return(shop, order)
        planted.append(RETURN_ORDER)
    return planted


def flows_kick(*, integration, others_after: float = 15.0) -> int:
    """Queue one run of every enabled flow now (beat then runs them every minute): sales
    outbound first, the others `others_after` seconds later, so the planted return finds its
    outbound already in Kingdee instead of waiting for it (F3's 10-minute dependency rule)."""
    from flows.choices import FlowCode
    from flows.models import Flow
    from flows.tasks import flow_run

    flows = list(Flow.objects.filter(integration=integration, enabled=True))
    for flow in flows:
        first = flow.code == FlowCode.SALES_OUTBOUND
        flow_run.apply_async((flow.pk,), countdown=0 if first else others_after)
    return len(flows)


def opening_inventory_ensure(*, integration) -> int:
    """G2 on the first start: import and push the catalogue's opening stock per warehouse
    (never again later: it would overwrite what the traffic has moved since)."""
    from masterdata.models import OpeningInventoryImport
    from masterdata.services import opening_inventory_preview, opening_inventory_push

    from . import demo_catalogue as demo

    if OpeningInventoryImport.objects.filter(integration=integration).exists():
        return 0
    stock_number = {w["wms_co_id"]: w["stock_number"] for w in demo.WAREHOUSES}
    lines = ["仓库,物料,数量"] + [
        f"{stock_number[wms]},{sku},{qty}" for (wms, sku), qty in sorted(demo.OPENING_STOCK.items())
    ]
    batches = opening_inventory_preview(
        integration=integration,
        content="\n".join(lines).encode("utf-8"),
        file_name="demo-opening-inventory.csv",
    )
    for batch in batches:
        opening_inventory_push(batch=batch)
    return len(batches)


# K2: the demo's FBA replenishments (9810 to the US, sold by Amazon US), as the customs broker
# sends them. The first was filed for refund ten days ago, so a return since needs a correction;
# the second lacks a legal quantity, a purchase invoice and its FX receipt (shown as gaps).
FBA_SHOP = "10001"
DEMO_DECLARATIONS = (
    # declaration no., days ago exported, booking no., export invoice, filed days ago, items
    (
        "531620260000010001",
        30,
        "FBA15DEMO01",
        "EXP-DEMO-0001",
        10,
        (
            # item, sku, HS, name, qty, legal qty, kg, FOB USD, HWC-YT, invoice (amount, tax)
            (
                1,
                "SKU-YOGA-1601",
                "9506911900",
                "瑜伽垫",
                60,
                60,
                "58.8",
                "372.00",
                False,
                ("24442000000000010001", "1200.00", "156.00"),
            ),
            (
                2,
                "SKU-PB-1001",
                "8507600090",
                "移动电源",
                80,
                80,
                "33.6",
                "1480.00",
                True,
                ("24442000000000010002", "4960.00", "644.80"),
            ),
        ),
    ),
    (
        "531620260000010002",
        15,
        "FBA15DEMO02",
        "EXP-DEMO-0002",
        None,
        (
            (1, "SKU-EAR-1101", "8518300000", "蓝牙耳机", 50, None, "6.0", "1100.00", False, None),
            (
                2,
                "SKU-YOGA-1601",
                "9506911900",
                "瑜伽垫",
                40,
                40,
                "39.2",
                "248.00",
                False,
                ("24442000000000010003", "800.00", "104.00"),
            ),
        ),
    ),
)
RECONCILE_AFTER_SECONDS = 120.0


def declarations_workbook(*, today) -> bytes:
    """The broker's workbook for DEMO_DECLARATIONS, in the import template's layout."""
    import io
    from datetime import timedelta

    from openpyxl import Workbook

    from finance import declarations as imp

    book = Workbook()
    book.remove(book.active)
    heads = book.create_sheet(imp.SHEET_DECLARATIONS)
    heads.append([k for k, _label in imp.DECLARATION_COLUMNS])
    invoices = book.create_sheet(imp.SHEET_INVOICES)
    invoices.append([k for k, _label in imp.INVOICE_COLUMNS])
    receipts = book.create_sheet(imp.SHEET_RECEIPTS)
    receipts.append([k for k, _label in imp.RECEIPT_COLUMNS])
    for number, ago, booking, invoice_no, filed, items in DEMO_DECLARATIONS:
        exported = today - timedelta(days=ago)
        total = Decimal(0)
        for item_no, sku, hs, name, qty, legal, kg, fob, hwc, invoice in items:
            heads.append(
                [
                    number, item_no, "9810", exported.isoformat(), "US", booking, FBA_SHOP, "",
                    invoice_no, (today - timedelta(days=filed)).isoformat() if filed else "",
                    hs, name, sku, qty, "个", legal, "千克", kg, fob, "Y" if hwc else "N",
                ]
            )  # fmt: skip
            total += Decimal(fob)
            if invoice:
                invoices.append(
                    [number, item_no, invoice[0], exported.isoformat(), invoice[1], invoice[2]]
                )
        if filed:
            receipts.append(
                [number, f"PAYOUT-{booking}", (today - timedelta(days=filed)).isoformat(), "USD",
                 str(total)]
            )  # fmt: skip
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def declarations_ensure(*, integration) -> int:
    """K2: import the demo's declarations once, dry run first as a person would. Returns the
    number of declarations imported (0 when they are already there)."""
    from django.utils import timezone

    from finance.declarations import declarations_import
    from finance.models import CustomsDeclaration

    if CustomsDeclaration.objects.filter(integration=integration).exists():
        return 0
    content = declarations_workbook(today=timezone.localdate())
    checked = declarations_import(integration=integration, content=content, dry_run=True)
    if not checked.ok:
        raise RuntimeError("; ".join(str(p) for p in checked.problems))
    done = declarations_import(integration=integration, content=content, dry_run=False)
    return done.declarations


def finance_ensure(*, integration) -> None:
    """K1: the demo's returns land in Jushuitan's return sub-warehouse (2), which maps to the
    same Kingdee warehouse as the main one, so both are compared."""
    from finance.models import FinanceSettings

    FinanceSettings.objects.get_or_create(
        integration=integration, defaults={"sub_warehouses": "1,2"}
    )


def reconciliation_queue(*, integration, countdown: float = RECONCILE_AFTER_SECONDS) -> None:
    """K1: one reconciliation once the kicked flows have settled (the schedule runs it every
    six hours after that)."""
    from finance.choices import RunTrigger
    from finance.tasks import reconcile

    reconcile.apply_async((integration.pk, RunTrigger.MANUAL), countdown=countdown)


def setup(*, base_url: str) -> DemoState:
    """Everything before the traffic starts (idempotent)."""
    from core.schedules import schedules_setup

    from .demo_setup import demo_integration_setup

    integration = demo_integration_setup(base_url=base_url)
    opening_inventory_ensure(integration=integration)
    schedules_setup()
    alerts_ensure(base_url=base_url, integration=integration)
    fx_retry_compress(integration=integration)
    state = DemoState(integration_id=integration.pk)
    finance_ensure(integration=integration)
    declarations_ensure(integration=integration)
    state.planted = failures_plant(base_url=base_url, integration=integration)
    flows_kick(integration=integration)
    reconciliation_queue(integration=integration)
    return state


def traffic_forever(
    *,
    base_url: str,
    rate: float,
    chunk_seconds: float = 60.0,
    should_stop: Callable[[], bool] = lambda: False,
    report: Callable[[Counter], None] = lambda stats: None,
) -> Counter:
    """Run the storefront in chunks (a fresh seed each, so orders never repeat) until
    `should_stop()`; a failing chunk is logged and the next one starts."""
    from .jushuitan import demo as traffic
    from .jushuitan.services import DEMO_APP_KEY, DEMO_APP_SECRET

    total: Counter = Counter()
    while not should_stop():
        seed = time.time_ns() // 1000
        try:
            stats = traffic.run(
                base_url=f"{base_url}/sandbox/jushuitan",
                app_key=DEMO_APP_KEY,
                app_secret=DEMO_APP_SECRET,
                rate=rate,
                seed=seed,
                duration=chunk_seconds,
            )
        except Exception:  # the demo never stops the portal: log and go on
            logger.exception("demo traffic chunk failed")
            time.sleep(5)
            continue
        total.update(stats)
        report(total)
    return total
