"""Orders of the simulated Jushuitan open API: the order query, the order upload (with stock
locking) and shipping (whole or partial, with each shipment's share of the amounts;
docs/protocols/jushuitan.md).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction

from ..models import ApiSettings, DocumentKind, Order, Shop, StockDocument
from ..services import (
    UPLOADABLE_SITES,
    ApiError,
    fmt,
    move_stock,
    next_number,
    parse,
    resolve_wms,
    stamp,
)
from .common import (
    CENT,
    _array,
    _int,
    _items,
    _money,
    _num,
    _object,
    _paged,
    _require_skus,
    _versioned,
)
from .master_data import _co_id
from .stock import _doc_items

_SHOP_STATUS = {
    "WAIT_BUYER_PAY": "WaitPay",
    "WAIT_SELLER_SEND_GOODS": "WaitConfirm",
    "WAIT_BUYER_CONFIRM_GOODS": "WaitConfirm",
    "TRADE_FINISHED": "WaitConfirm",
    "TRADE_CLOSED": "Cancelled",
    "TRADE_CLOSED_BY_TAOBAO": "Cancelled",
}
_LOCKING = {"WaitConfirm", "WaitFConfirm", "Delivering", "Question"}


def _order_row(o: Order) -> dict:
    return {
        **o.data,
        "o_id": o.o_id,
        "so_id": o.so_id,
        "shop_id": o.shop_id,
        "co_id": _co_id(),
        "status": o.status,
        "wms_co_id": o.wms_co_id,
        "order_date": fmt(o.order_date),
        "send_date": fmt(o.send_date),
        "status_history": o.history,
        **_versioned(o),
    }


def orders_query(biz) -> dict:
    biz = _object(biz)
    qs = Order.objects.all()
    if biz.get("shop_id") not in (None, "", 0):
        qs = qs.filter(shop_id=_int(biz.get("shop_id"), "shop_id"))
    if biz.get("status"):
        qs = qs.filter(status=biz["status"])
    data = _paged(
        qs,
        biz,
        list_key="orders",
        max_size=100,
        date_fields={0: "modified", 2: "order_date", 3: "send_date"},
        ids={"so_ids": ("so_id", 20), "o_ids": ("o_id", 100)},
        row=_order_row,
    )
    if str(biz.get("is_get_cbfinance", "false")).lower() != "true":
        for row in data["orders"]:
            row.pop("cb_finances", None)
    return data


def _lock(order_status: str, items: list[dict], wms: int, sign: int) -> None:
    if order_status in _LOCKING:
        for item in items:
            move_stock(
                wms_co_id=wms,
                sku_id=item["sku_id"],
                field="qty",
                delta=0,
                lock=sign * int(item["qty"]),
            )


def _upload_order(doc: dict) -> dict:
    so_id = str(doc.get("so_id") or "").strip()
    shop_id = _int(doc.get("shop_id"), "shop_id")
    if not so_id or len(so_id) > 50:
        raise ApiError(140, "so_id 不能为空且不超过50位")
    shop = Shop.objects.filter(shop_id=shop_id).first()
    if shop is None:
        raise ApiError(170, f"店铺不存在: {shop_id}")
    if shop.shop_site not in UPLOADABLE_SITES and not ApiSettings.load().platform_order_upload:
        # §3.2: only self-run mall, offline cross-border, offline-store and B2B shops take
        # uploaded orders; a platform shop's orders come from the platform download.
        raise ApiError(
            160,
            f"店铺 {shop_id} 站点为 {shop.shop_site}，"
            "仅支持商家自有商城、跨境线下平台、线下店铺、B2B",
        )
    shop_status = str(doc.get("shop_status") or "WAIT_SELLER_SEND_GOODS")
    status = _SHOP_STATUS.get(shop_status)
    if status is None:
        raise ApiError(140, f"参数不符合规范: shop_status={shop_status}")
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(shop_id=shop_id, so_id=so_id).first()
        modified, ts = stamp()
        if order is not None:  # a repeat updates the updatable fields only
            if order.status == "Sent" or order.status == status:
                order.data.update(
                    {k: doc[k] for k in ("remark", "labels", "buyer_message") if k in doc}
                )
            elif status == "Cancelled":
                _lock(order.status, order.data.get("items", []), order.wms_co_id, -1)
                order.status = status
            elif order.status == "WaitPay" and status == "WaitConfirm":
                _lock(status, order.data.get("items", []), order.wms_co_id, +1)
                order.status = status
            if order.history[-1]["status"] != order.status:
                order.history.append({"status": order.status, "at": fmt(modified)})
            order.data["shop_status"] = shop_status
            order.modified, order.ts = modified, ts
            order.save()
            return {
                "o_id": order.o_id,
                "so_id": so_id,
                "issuccess": True,
                "msg": "订单已存在，已更新",
            }
        items = _items(doc, limit=200)
        _require_skus(items)
        wms = resolve_wms(doc.get("wms_co_id"))
        o_id = next_number("o_id")
        lines, total = [], Decimal("0")
        for number, item in enumerate(items, start=1):
            qty = int(item["qty"])
            price = _money(item.get("price"), "price")
            base = _money(item.get("base_price", price), "base_price")
            amount = _money(item.get("amount", price * qty), "amount")
            total += amount
            lines.append(
                {
                    **item,
                    "oi_id": o_id * 100 + number,
                    "qty": qty,
                    "price": _num(price),
                    "base_price": _num(base),
                    "amount": _num(amount),
                    "outer_oi_id": str(item.get("outer_oi_id") or f"{so_id}-{number}"),
                    "item_status": status,
                    "refund_status": "none",
                    "sku_type": "normal",
                }
            )
        freight = _money(doc.get("freight"), "freight")
        pay_amount = _money(doc.get("pay_amount", total + freight), "pay_amount")
        free_amount = (total + freight - pay_amount).quantize(CENT, rounding=ROUND_HALF_UP)
        pay = doc.get("pay") if isinstance(doc.get("pay"), dict) else None
        # Cross-border finance is uploaded as finance_data (§3.2) and read back as cb_finances
        # (with is_get_cbfinance); undocumented upload keys such as cb_finances are dropped.
        data = {
            k: v
            for k, v in doc.items()
            if k
            not in (
                "items",
                "pay",
                "shop_id",
                "so_id",
                "wms_co_id",
                "order_date",
                "finance_data",
                "cb_finances",
                "cb_total_tax",
            )
        }
        finance = doc.get("finance_data")
        if finance is not None and not isinstance(finance, dict):
            raise ApiError(140, "参数不符合规范: finance_data 应为对象")
        if finance:
            data["cb_finances"] = finance
        data.update(
            {
                "shop_name": shop.shop_name,
                "shop_site": shop.shop_site,
                # "跨境线下订单必填，不填写默认人民币" (§3.2)
                "currency": str(doc.get("currency") or "CNY"),
                "shop_status": shop_status,
                "type": "普通订单",
                "order_from": "OPEN",
                "pay_amount": _num(pay_amount),
                "paid_amount": _num(pay_amount) if pay else 0.0,
                "freight": _num(freight),
                "free_amount": _num(free_amount),
                "items": lines,
                "created": fmt(modified),
                "pays": [
                    {**pay, "pay_id": o_id, "o_id": o_id, "amount": _num(_money(pay.get("amount")))}
                ]
                if pay
                else [],
                "pay_date": str(pay.get("pay_date") or fmt(modified)) if pay else "",
            }
        )
        order_date = parse(doc["order_date"]) if doc.get("order_date") else modified
        Order.objects.create(
            o_id=o_id,
            shop_id=shop_id,
            so_id=so_id,
            status=status,
            wms_co_id=wms,
            order_date=order_date,
            modified=modified,
            ts=ts,
            data=data,
            history=[{"status": status, "at": fmt(modified)}],
        )
        _lock(status, lines, wms, +1)
    return {"o_id": o_id, "so_id": so_id, "issuccess": True, "msg": ""}


def orders_upload(biz) -> dict:
    rows = []
    for doc in _array(biz, 50):
        try:
            rows.append(_upload_order(doc))
        except ApiError as exc:
            rows.append(
                {"o_id": None, "so_id": doc.get("so_id", ""), "issuccess": False, "msg": exc.msg}
            )
    return {"datas": rows}


def _ship(item: dict, part: dict[str, int] | None = None) -> dict:
    """Ship an order: every line still open, or (`part`, the ERP's split shipment 拆分发货,
    sandbox only: not an open-API parameter) the given quantities per SKU. Each shipment is
    its own sales-out document (io_id) with the order's o_id and so_id; the order's freight,
    discount, payable and finance figures are split over the shipments by goods amount, the
    last one taking the remainder (as a split order's child orders carry their share)."""
    qs = Order.objects.select_for_update()
    if item.get("o_id") not in (None, ""):
        order = qs.filter(o_id=_int(item.get("o_id"), "o_id")).first()
    else:
        order = qs.filter(
            shop_id=_int(item.get("shop_id"), "shop_id"), so_id=str(item.get("so_id") or "")
        ).first()
    if order is None:
        raise ApiError(160, "订单不存在")
    l_id = str(item.get("l_id") or "").strip()
    if not l_id:
        raise ApiError(130, "缺少必填参数 l_id")
    if order.status == "Sent":
        if order.data.get("l_id") == l_id:
            return {"o_id": order.o_id, "so_id": order.so_id, "issuccess": True, "msg": "已发货"}
        raise ApiError(160, f"订单已发货，物流单号 {order.data.get('l_id')}")
    if order.status not in _LOCKING:
        raise ApiError(160, f"订单状态 {order.status} 不能发货")
    items = order.data.get("items", [])
    shipping_now: list[tuple[dict, int]] = []
    for line in items:
        open_qty = int(line["qty"]) - int(line.get("shipped_qty") or 0)
        qty = open_qty if part is None else min(int(part.get(line["sku_id"], 0)), open_qty)
        if qty > 0:
            shipping_now.append((line, qty))
    if not shipping_now:
        raise ApiError(160, "没有可发货的商品")
    for line, qty in shipping_now:
        move_stock(
            wms_co_id=order.wms_co_id, sku_id=line["sku_id"], field="qty", delta=-qty, lock=-qty
        )
        line["shipped_qty"] = int(line.get("shipped_qty") or 0) + qty
    finished = all(int(line.get("shipped_qty") or 0) >= int(line["qty"]) for line in items)
    modified, ts = stamp()
    shipping = {
        "l_id": l_id,
        "lc_id": str(item.get("lc_id") or ""),
        "logistics_company": str(item.get("lc_name") or item.get("lc_id") or ""),
    }
    order.status = "Sent" if finished else "Delivering"
    if finished:
        order.send_date = modified
        for line in items:
            line["item_status"] = "Sent"
    order.data.update(shipping)
    order.history.append({"status": order.status, "at": fmt(modified)})
    order.modified, order.ts = modified, ts
    io_id = next_number("io_id")
    out_items = []
    goods = Decimal("0")
    for line, qty in shipping_now:
        full = _money(line["amount"])
        sale_amount = full if qty == int(line["qty"]) else _money(_money(line["price"]) * qty)
        goods += sale_amount
        out_items.append(
            {
                "sku_id": line["sku_id"],
                "qty": qty,
                "name": line.get("name", ""),
                "sale_price": line["price"],
                "sale_amount": _num(sale_amount),
                "sale_base_price": line["base_price"],
                "outer_oi_id": line["outer_oi_id"],
                "oi_id": line["oi_id"],
                "is_gift": bool(line.get("is_gift", False)),
            }
        )
    shares = _shipment_shares(order, goods, finished)
    order.save()
    keep = (
        "shop_name",
        "currency",
        "paid_amount",
        "shop_buyer_id",
        "receiver_country",
        "cb_total_tax",
        "remark",
        "buyer_message",
    )
    modified, ts = stamp()
    StockDocument.objects.create(
        io_id=io_id,
        kind=DocumentKind.SALES_OUT,
        key="",
        so_id=order.so_id,
        status="Confirmed",
        wms_co_id=order.wms_co_id,
        io_date=modified,
        modified=modified,
        ts=ts,
        data={
            **{k: order.data[k] for k in keep if k in order.data},
            **shares,
            **shipping,
            "o_id": order.o_id,
            "shop_id": order.shop_id,
            "wh_id": 1,
            "type": "销售出库",
            "order_type": order.data.get("type", "普通订单"),
            "items": _doc_items(out_items, io_id),
        },
    )
    return {"o_id": order.o_id, "so_id": order.so_id, "io_id": io_id, "issuccess": True, "msg": ""}


def _shipment_shares(order: Order, goods: Decimal, finished: bool) -> dict:
    """This shipment's part of the order-level amounts, by goods amount; the last takes the
    rest so the shipments add up to the order to the cent."""
    total_goods = sum((_money(line["amount"]) for line in order.data.get("items", [])), Decimal(0))
    done = order.data.setdefault("shipped_shares", {})
    names = ("pay_amount", "freight", "free_amount")
    finance = order.data.get("cb_finances") or {}
    out: dict = {}
    for name in names:
        whole_value = _money(order.data.get(name))
        out[name] = _share(whole_value, goods, total_goods, done, name, finished)
    if finance:
        out["cb_finances"] = {
            key: _num(
                _share(_money(value), goods, total_goods, done, f"fin:{key}", finished, raw=True)
            )
            for key, value in finance.items()
            if _is_number(value)
        }
    return out


def _share(value, goods, total_goods, done, name, finished, raw=False):
    already = _money(done.get(name, 0))
    if finished or not total_goods:
        part = value - already
    else:
        part = (value * goods / total_goods).quantize(CENT, rounding=ROUND_HALF_UP)
    done[name] = str(already + part)
    return part if raw else _num(part)


def _is_number(value) -> bool:
    try:
        Decimal(str(value))
    except (InvalidOperation, ValueError):
        return False
    return True


def ship_partially(*, o_id: int, quantities: dict[str, int], l_id: str) -> dict:
    """Sandbox-only (services, admin, tests): a split shipment of part of an order."""
    with transaction.atomic():
        return _ship({"o_id": o_id, "l_id": l_id, "lc_id": "SPLIT"}, part=quantities)


def orders_sent_upload(biz) -> list[dict]:
    biz = _object(biz)
    items = biz.get("items")
    if not isinstance(items, list) or not items or len(items) > 50:
        raise ApiError(140, "参数不符合规范: items 必须有 1 到 50 条")
    rows = []
    for item in items:
        try:
            with transaction.atomic():
                rows.append(_ship(item))
        except ApiError as exc:
            rows.append(
                {
                    "o_id": item.get("o_id"),
                    "so_id": item.get("so_id", ""),
                    "issuccess": False,
                    "msg": exc.msg,
                }
            )
    return rows
