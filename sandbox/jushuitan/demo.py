"""Demo traffic: a cross-border storefront using the sandbox's own open API over HTTP.

Per order: upload (paid) then ship (FBA / carrier tracking no.); some orders come back as
returns (after-sale uploaded, goods received with confirmgoods, then confirmed); now and then
a stock count. Amazon / eBay / Shopee shops of the demo catalogue, USD / EUR / GBP / JPY prices
with discount, freight, platform commission and marketplace-collected tax (product_tax). The
same seed gives the same orders, so a repeated run is absorbed by the API's idempotent keys.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import requests

from sandbox import demo_catalogue as catalogue

logger = logging.getLogger(__name__)
BEIJING = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")
COMMISSION = {"amazon": Decimal("0.15"), "ebay": Decimal("0.12"), "shopee": Decimal("0.06")}
MARKETPLACE_TAX = {
    "USD": Decimal("0.025"),
    "EUR": Decimal("0.04"),
    "GBP": Decimal("0.035"),
    "JPY": Decimal("0.03"),
}
RETURN_RATE = 0.1
COUNT_RATE = 0.05


def _sign(form: dict[str, str], secret: str) -> str:
    joined = "".join(f"{k}{form[k]}" for k in sorted(form) if k != "sign" and form[k] != "")
    return hashlib.md5((secret + joined).encode("utf-8")).hexdigest()  # noqa: S324


class DemoApiError(Exception):
    pass


@dataclass
class Storefront:
    """A minimal open-API caller (the sandbox never imports the portal's client)."""

    base_url: str
    app_key: str
    app_secret: str
    session: requests.Session = field(default_factory=requests.Session)
    token: str = ""

    def _post(self, path: str, form: dict[str, str]) -> dict:
        form = {
            **form,
            "app_key": self.app_key,
            "timestamp": str(int(time.time())),
            "charset": "utf-8",
        }
        form["sign"] = _sign(form, self.app_secret)
        for attempt in range(6):
            answer = self.session.post(self.base_url.rstrip("/") + path, data=form, timeout=30)
            if answer.status_code >= 500:
                time.sleep(0.2 * (attempt + 1))
                continue
            body = answer.json()
            if body.get("code") in (199, 200, 150):
                time.sleep(0.5 * 2**attempt)
                form["timestamp"] = str(int(time.time()))
                form["sign"] = _sign(
                    {k: v for k, v in form.items() if k != "sign"}, self.app_secret
                )
                continue
            return body
        raise DemoApiError(f"{path}: no usable answer after retries")

    def login(self) -> None:
        body = self._post(
            "/openWeb/auth/getInitToken", {"grant_type": "authorization_code", "code": "demo01"}
        )
        if body.get("code") != 0:
            raise DemoApiError(f"token: {body.get('code')} {body.get('msg')}")
        self.token = body["data"]["access_token"]

    def call(self, path: str, biz) -> object:
        if not self.token:
            self.login()
        form = {
            "access_token": self.token,
            "version": "2",
            "biz": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
        }
        body = self._post(path, form)
        if body.get("code") == 100:
            self.login()
            body = self._post(path, {**form, "access_token": self.token})
        if body.get("code") != 0:
            raise DemoApiError(f"{path}: {body.get('code')} {body.get('msg')}")
        return body.get("data")


def _price(usd: Decimal, currency: str) -> Decimal:
    """The catalogue's USD price in the shop currency at the business rates; JPY has no cents."""
    value = usd * catalogue.BUSINESS_RATES["USD"] / catalogue.BUSINESS_RATES[currency]
    return value.quantize(Decimal("1") if currency == "JPY" else CENT, rounding=ROUND_HALF_UP)


def _so_id(rng: random.Random, platform: str) -> str:
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    if platform == "amazon":
        return f"{rng.choice(['111', '112', '113', '114'])}-{digits(7)}-{digits(7)}"
    if platform == "ebay":
        return f"{digits(2)}-{digits(5)}-{digits(5)}"
    return f"24{digits(4)}{rng.choice('ABCDEFGHJKMNPQRSTUVWXYZ')}{digits(7)}"


def _tracking(rng: random.Random, platform: str) -> tuple[str, str, str]:
    """(l_id, lc_id, lc_name): Amazon shops ship FBA, the others by a cross-border carrier."""
    alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    if platform == "amazon":
        return (
            f"FBA{''.join(rng.choice(alnum) for _ in range(9))}U{rng.randint(1, 999):06d}",
            "AMZFBA",
            "Amazon FBA",
        )
    return f"YT{rng.randint(10**15, 10**16 - 1)}", "YUNEXPRESS", "云途物流"


def receive_goods(shop, as_id, line: dict, so_id: str) -> None:
    """The warehouse receives the returned goods (confirmgoods, idempotent on return_id);
    confirming the after-sale is a separate call that moves no stock."""
    answer = shop.call(
        "/open/webapi/aftersaleapi/confirmgoods",
        [
            {
                "as_id": as_id,
                "return_id": f"RCV-{so_id}",
                "wh_id": 2,
                "items": [{"sku_id": line["sku_id"], "qty": line["qty"]}],
            }
        ],
    )
    if not answer or answer.get("fail_count"):
        raise DemoApiError(f"goods of after-sale {as_id} not received: {answer}")


def build_order(rng: random.Random, moment: datetime) -> dict:
    shop = rng.choice(catalogue.SHOPS)
    currency = shop["currency"]
    materials = rng.sample(catalogue.MATERIALS, k=rng.randint(1, 3))
    so_id = _so_id(rng, shop["platform"])
    items = []
    goods = Decimal("0")
    for number, material in enumerate(materials, start=1):
        qty = rng.choice([1, 1, 1, 2, 3])
        base = _price(material["sale_price"], currency)
        discount = Decimal(rng.choice(["0", "0", "0", "0.1", "0.15"]))
        price = (base * (1 - discount)).quantize(
            Decimal("1") if currency == "JPY" else CENT, rounding=ROUND_HALF_UP
        )
        amount = price * qty
        goods += amount
        items.append(
            {
                "sku_id": material["number"],
                "shop_sku_id": material["number"],
                "name": material["name"],
                "qty": qty,
                "price": str(price),
                "base_price": str(base),
                "amount": str(amount),
                "outer_oi_id": f"{so_id}-{number}",
            }
        )
    if rng.random() < 0.1:  # a free gift line (a SKU that exists only in Jushuitan)
        gift = catalogue.JUSHUITAN_ONLY_SKUS[0]
        items.append(
            {
                "sku_id": gift["sku_id"],
                "name": gift["name"],
                "qty": 1,
                "price": "0",
                "amount": "0",
                "is_gift": True,
                "outer_oi_id": f"{so_id}-gift",
            }
        )
    freight = _price(Decimal(rng.choice(["0", "0", "3.99", "5.99"])), currency)
    coupon = _price(Decimal(rng.choice(["0", "0", "0", "2"])), currency)
    pay_amount = goods + freight - coupon
    commission = (goods * COMMISSION[shop["platform"]]).quantize(CENT, rounding=ROUND_HALF_UP)
    marketplace_tax = (goods * MARKETPLACE_TAX[currency]).quantize(CENT, rounding=ROUND_HALF_UP)
    when = moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "shop_id": shop["shop_id"],
        "so_id": so_id,
        "order_date": when,
        "shop_status": "WAIT_SELLER_SEND_GOODS",
        "shop_buyer_id": f"buyer-{rng.randint(100000, 999999)}",
        "receiver_country": {"USD": "US", "EUR": "DE", "GBP": "GB", "JPY": "JP"}[currency],
        "currency": currency,
        "pay_amount": str(pay_amount),
        "freight": str(freight),
        "finance_data": {
            "platform_commission": str(commission),
            "product_tax": str(marketplace_tax),
            "shipping_tax": "0",
            "transaction_fee": "0",
        },
        "labels": "FBA" if shop["platform"] == "amazon" else "",
        "items": items,
        "pay": {
            "outer_pay_id": f"P{so_id}",
            "pay_date": when,
            "payment": shop["platform"],
            "buyer_account": "buyer",
            "seller_account": "seller",
            "amount": str(pay_amount),
        },
    }


def run(
    *,
    base_url: str,
    app_key: str,
    app_secret: str,
    rate: float,
    seed: int,
    duration: float | None = None,
    orders: int | None = None,
) -> Counter:
    """Act as a storefront for `duration` seconds or `orders` orders at `rate` orders/s."""
    rng = random.Random(seed)
    shop = Storefront(base_url=base_url, app_key=app_key, app_secret=app_secret)
    stats: Counter = Counter()
    started = time.monotonic()
    interval = 1.0 / rate if rate > 0 else 0.0
    number = 0
    while True:
        if orders is not None and number >= orders:
            break
        if duration is not None and time.monotonic() - started >= duration:
            break
        if orders is None and duration is None:
            raise ValueError("give --duration or --orders")
        number += 1
        tick = time.monotonic()
        order = build_order(rng, datetime.now(tz=BEIJING))
        l_id, lc_id, lc_name = _tracking(
            rng, next(s["platform"] for s in catalogue.SHOPS if s["shop_id"] == order["shop_id"])
        )
        returns = rng.random() < RETURN_RATE
        counts = rng.random() < COUNT_RATE
        count_sku = rng.choice(catalogue.MATERIALS)["number"]
        count_delta = rng.choice([-2, -1, 1, 2])
        try:
            uploaded = shop.call("/open/jushuitan/orders/upload", [order])["datas"][0]
            if not uploaded["issuccess"]:
                stats["orders_rejected"] += 1
                logger.info("order %s rejected: %s", order["so_id"], uploaded["msg"])
                continue
            stats["orders"] += 1
            sent = shop.call(
                "/open/order/sent/upload",
                {
                    "items": [
                        {
                            "o_id": uploaded["o_id"],
                            "shop_id": order["shop_id"],
                            "so_id": order["so_id"],
                            "l_id": l_id,
                            "lc_id": lc_id,
                            "lc_name": lc_name,
                        }
                    ]
                },
            )
            if sent and sent[0].get("issuccess"):
                stats["shipped"] += 1
            else:
                stats["ship_failed"] += 1
                logger.info("order %s not shipped: %s", order["so_id"], sent)
                continue
            if returns:
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
                as_id = created["datas"][0]["as_id"]
                receive_goods(shop, as_id, line, order["so_id"])
                shop.call("/open/webapi/aftersaleapi/open/confirm", {"as_ids": [as_id]})
                stats["returns"] += 1
            if counts:
                shop.call(
                    "/open/jushuitan/inventoryv2/upload",
                    {
                        "wms_co_id": catalogue.WAREHOUSES[0]["wms_co_id"],
                        "warehouse": 1,
                        "type": "adjust",
                        "is_confirm": True,
                        "so_id": f"PD-{seed}-{number}",
                        "remark": "周期盘点",
                        "items": [{"sku_id": count_sku, "qty": count_delta}],
                    },
                )
                stats["stock_counts"] += 1
        except (DemoApiError, requests.RequestException) as exc:
            stats["errors"] += 1
            logger.warning("demo traffic: %s", exc)
        pause = interval - (time.monotonic() - tick)
        if pause > 0:
            time.sleep(pause)
    return stats
