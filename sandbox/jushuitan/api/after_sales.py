"""After-sales of the simulated Jushuitan open API: refunds, after-sale upload and confirm, goods
received back and the received query (docs/protocols/jushuitan.md).
"""

from __future__ import annotations

from django.db import transaction

from ..models import AfterSale, DocumentKind, Order, StockDocument
from ..services import ApiError, fmt, move_stock, next_number, resolve_wms, stamp, stock_field
from .common import (
    _array,
    _ids,
    _int,
    _items,
    _money,
    _num,
    _object,
    _paged,
    _require_skus,
    _versioned,
)
from .documents import _doc_row


def _as_row(a: AfterSale) -> dict:
    return {
        **a.data,
        "as_id": a.as_id,
        "outer_as_id": a.outer_as_id,
        "shop_id": a.shop_id,
        "so_id": a.so_id,
        "status": a.status,
        **_versioned(a),
    }


def refunds_query(biz) -> dict:
    biz = _object(biz)
    qs = AfterSale.objects.all()
    if biz.get("shop_id") not in (None, "", 0):
        qs = qs.filter(shop_id=_int(biz.get("shop_id"), "shop_id"))
    if biz.get("status"):
        qs = qs.filter(status=biz["status"])
    if biz.get("good_status"):
        qs = qs.filter(data__good_status=biz["good_status"])
    return _paged(
        qs,
        biz,
        list_key="datas",
        max_size=50,
        ids={"so_ids": ("so_id", 50), "as_ids": ("as_id", 50), "o_ids": ("data__o_id", 50)},
        row=_as_row,
    )


def _upload_after_sale(doc: dict) -> dict:
    shop_id = _int(doc.get("shop_id"), "shop_id")
    outer = str(doc.get("outer_as_id") or "").strip()
    if not outer:
        raise ApiError(130, "缺少必填参数 outer_as_id")
    existing = AfterSale.objects.filter(shop_id=shop_id, outer_as_id=outer).first()
    if existing:
        return {
            "as_id": existing.as_id,
            "o_id": existing.data.get("o_id"),
            "so_id": existing.so_id,
            "outer_as_id": outer,
            "issuccess": True,
            "msg": "售后单已存在",
        }
    order = Order.objects.filter(shop_id=shop_id, so_id=str(doc.get("so_id") or "")).first()
    if order is None:
        raise ApiError(160, f"原订单不存在: {doc.get('so_id')}")
    items = _items(doc, limit=200)
    _require_skus(items)
    lines_by_outer = {line["outer_oi_id"]: line for line in order.data.get("items", [])}
    modified, ts = stamp()
    as_id = next_number("as_id")
    lines = []
    for number, item in enumerate(items, start=1):
        origin = lines_by_outer.get(str(item.get("outer_oi_id") or ""), {})
        qty = int(item["qty"])
        price = _money(origin.get("price", item.get("price", 0)))
        lines.append(
            {
                **item,
                "asi_id": as_id * 100 + number,
                "as_id": as_id,
                "qty": qty,
                "r_qty": 0,
                "defective_qty": 0,
                "price": _num(price),
                "amount": _num(_money(item.get("amount", price * qty))),
                "type": str(item.get("type") or "退货"),
                "name": origin.get("name", item.get("name", "")),
                "receive_date": "",
            }
        )
    data = {k: v for k, v in doc.items() if k not in ("items", "shop_id", "outer_as_id", "so_id")}
    data.update(
        {
            "o_id": order.o_id,
            "as_date": fmt(modified),
            "created": fmt(modified),
            "type": str(doc.get("type") or "普通退货"),
            "good_status": str(doc.get("good_status") or "BUYER_RETURNED_GOODS"),
            "refund": _num(_money(doc.get("refund"))),
            "payment": _num(_money(doc.get("payment"))),
            "freight": _num(_money(doc.get("freight"))),
            "currency": order.data.get("currency", ""),
            "shop_name": order.data.get("shop_name", ""),
            "order_status": order.status,
            "wms_co_id": order.wms_co_id,
            "wh_id": 2,
            "warehouse": "销退仓",
            "confirm_date": "",
            "items": lines,
        }
    )
    AfterSale.objects.create(
        as_id=as_id,
        shop_id=shop_id,
        outer_as_id=outer,
        so_id=order.so_id,
        status="WaitConfirm",
        modified=modified,
        ts=ts,
        data=data,
    )
    return {
        "as_id": as_id,
        "o_id": order.o_id,
        "so_id": order.so_id,
        "outer_as_id": outer,
        "issuccess": True,
        "msg": "",
    }


def aftersale_upload(biz) -> dict:
    rows = []
    for doc in _array(biz, 50):
        try:
            with transaction.atomic():
                rows.append(_upload_after_sale(doc))
        except ApiError as exc:
            rows.append(
                {
                    "as_id": None,
                    "outer_as_id": doc.get("outer_as_id", ""),
                    "issuccess": False,
                    "msg": exc.msg,
                }
            )
    return {"datas": rows}


_RETURN_TYPES = {"普通退货", "拒收退货", "换货"}


def _outcome(success: list[dict], fail: list[dict]) -> dict:
    """The after-sale webapi answer (§3.3): {success[], fail[], success_count, fail_count}."""
    return {
        "success": success,
        "fail": fail,
        "success_count": len(success),
        "fail_count": len(fail),
    }


def _fail(as_id, outer: str, message: str) -> dict:
    return {
        "as_id": str(as_id),
        "outer_as_id": outer,
        "message": message,
        "details": message,
        "is_success": "false",
    }


def aftersale_confirm(biz) -> dict:
    """/open/webapi/aftersaleapi/open/confirm (docId=581, §3.3): biz {"as_ids": [...],
    "exchange_force", "confirm_refund"}. Confirms the after-sale only; it moves no stock
    (goods are received separately with confirmgoods)."""
    biz = _object(biz)
    as_ids = _ids(biz, "as_ids", 50)
    if not as_ids:
        raise ApiError(130, "缺少必填参数 as_ids")
    success, fail = [], []
    for as_id in as_ids:
        with transaction.atomic():
            sale = AfterSale.objects.select_for_update().filter(as_id=_int(as_id, "as_ids")).first()
            if sale is None:
                fail.append(_fail(as_id, "", "售后单不存在"))
                continue
            if sale.status in ("Cancelled", "Merged"):
                fail.append(_fail(sale.as_id, sale.outer_as_id, f"售后单状态 {sale.status}"))
                continue
            if sale.status != "Confirmed":
                modified, ts = stamp()
                sale.data["shop_status"] = "SUCCESS"
                sale.data["confirm_date"] = fmt(modified)
                sale.status = "Confirmed"
                sale.modified, sale.ts = modified, ts
                sale.save()
                _order_note(sale, "Confirmed", modified)
            success.append(
                {
                    "as_id": sale.as_id,
                    "outer_as_id": sale.outer_as_id,
                    "message": "",
                    "details": "",
                    "is_success": True,
                }
            )
    return _outcome(success, fail)


def _order_note(sale: AfterSale, what: str, modified) -> None:
    order = Order.objects.filter(shop_id=sale.shop_id, so_id=sale.so_id).first()
    if order is None:
        return
    if what == "Confirmed":
        refunded = {line.get("outer_oi_id") for line in sale.data["items"]}
        for line in order.data.get("items", []):
            if line.get("outer_oi_id") in refunded:
                line["refund_status"] = "success"
    order.history.append({"status": f"AfterSale:{sale.as_id}:{what}", "at": fmt(modified)})
    order.modified, order.ts = stamp()
    order.save()


# qty_type → sub-warehouse (docId=272: 0 good, 4 defective, 6/7/8 custom; absent = returns).
_QTY_TYPE_WAREHOUSE = {0: 1, 4: 4, 6: 6, 7: 7, 8: 8}


def _receive_goods(doc: dict) -> dict:
    """One receipt batch of an after-sale (§3.3 confirmgoods, "可分批确认"): stock in, r_qty
    up, and a received-goods document (退仓单) listed by /open/aftersale/received/query.
    Idempotent on return_id ("防止重复调用而误增加库存")."""
    as_id = _int(doc.get("as_id"), "as_id")
    return_id = str(doc.get("return_id") or "").strip()
    sale = AfterSale.objects.select_for_update().filter(as_id=as_id).first()
    if sale is None:
        raise ApiError(160, "售后单不存在")
    if return_id:
        existing = StockDocument.objects.filter(kind=DocumentKind.RETURN_IN, key=return_id).first()
        if existing is not None:
            return {"as_id": sale.as_id, "outer_as_id": sale.outer_as_id, "io_id": existing.io_id}
    if sale.status in ("Cancelled", "Merged"):
        raise ApiError(160, f"售后单状态 {sale.status} 不能收货")
    items = _items(doc, limit=200)
    lines = {line["sku_id"]: line for line in sale.data.get("items", [])}
    wms = resolve_wms(doc.get("wms_co_id") or sale.data.get("wms_co_id"))
    for item in items:
        line = lines.get(str(item.get("sku_id") or ""))
        if line is None:
            raise ApiError(160, f"售后单没有商品 {item.get('sku_id')}")
        if int(line.get("r_qty") or 0) + int(item["qty"]) > int(line["qty"]):
            raise ApiError(160, f"{line['sku_id']} 收货数量超过申请数量 {line['qty']}")
    modified, ts = stamp()
    io_id = next_number("io_id")
    received = []
    default_wh = _int(doc.get("wh_id"), "wh_id", 2)
    for item in items:
        line = lines[str(item["sku_id"])]
        qty = int(item["qty"])
        qty_type = item.get("qty_type")
        wh = default_wh if qty_type in (None, "") else _QTY_TYPE_WAREHOUSE.get(int(qty_type), 2)
        move_stock(wms_co_id=wms, sku_id=line["sku_id"], field=stock_field(wh), delta=qty)
        line["r_qty"] = int(line.get("r_qty") or 0) + qty
        line["receive_date"] = fmt(modified)
        price = _money(line.get("price"))
        received.append(
            {
                "sku_id": line["sku_id"],
                "i_id": str(line["sku_id"]).removeprefix("SKU-"),
                "name": line.get("name", ""),
                "qty": qty,
                "sale_price": _num(price),
                "sale_amount": _num(_money(price * qty)),
                "outer_oi_id": line.get("outer_oi_id", ""),
                "wh_id": wh,
            }
        )
    if all(int(line.get("r_qty") or 0) >= int(line["qty"]) for line in lines.values()):
        sale.data["good_status"] = "SELLER_RECEIVED"
    sale.modified, sale.ts = modified, ts
    sale.save()
    StockDocument.objects.create(
        io_id=io_id,
        kind=DocumentKind.RETURN_IN,
        key=return_id,
        so_id=sale.so_id,
        status="Confirmed",
        wms_co_id=wms,
        io_date=modified,
        modified=modified,
        ts=next_number("ts"),
        data={
            "as_id": sale.as_id,
            "o_id": sale.data.get("o_id"),
            "shop_id": sale.shop_id,
            "type": sale.data.get("type", "普通退货"),
            "wh_id": default_wh,
            "warehouse": "销退仓" if default_wh == 2 else "主仓",
            "l_id": str(doc.get("l_id") or sale.data.get("l_id") or ""),
            "logistics_company": str(doc.get("logistics_company") or ""),
            "aftersale_remark": str(doc.get("remark") or ""),
            "creator_name": "open-api",
            "items": [
                {**line, "io_id": io_id, "ioi_id": str(io_id * 100 + n)}
                for n, line in enumerate(received, start=1)
            ],
        },
    )
    _order_note(sale, f"Received:{io_id}", modified)
    return {"as_id": sale.as_id, "outer_as_id": sale.outer_as_id, "io_id": io_id}


def aftersale_confirm_goods(biz) -> dict:
    """/open/webapi/aftersaleapi/confirmgoods (docId=272): biz = array of
    {as_id, items[{sku_id, qty, qty_type}], wms_co_id, wh_id, return_id, l_id, remark}."""
    success, fail = [], []
    for doc in _array(biz, 50):
        try:
            with transaction.atomic():
                row = _receive_goods(doc)
        except ApiError as exc:
            fail.append(_fail(doc.get("as_id", ""), "", exc.msg))
            continue
        success.append({**row, "message": "", "details": "", "is_success": True})
    return _outcome(success, fail)


def aftersale_received_query(biz) -> dict:
    """/open/aftersale/received/query (docId=40): goods actually received back, one row per
    receipt (退仓单 io_id); `status` is the after-sale's current status."""
    biz = _object(biz)
    qs = StockDocument.objects.filter(kind=DocumentKind.RETURN_IN)
    if biz.get("shop_id") not in (None, "", 0):
        qs = qs.filter(data__shop_id=_int(biz.get("shop_id"), "shop_id"))
    data = _paged(
        qs,
        biz,
        list_key="datas",
        max_size=50,
        date_fields={0: "modified", 4: "io_date"},
        ids={
            "so_ids": ("so_id", 50),
            "io_ids": ("io_id", 50),
            "as_ids": ("data__as_id", 50),
            "o_ids": ("data__o_id", 50),
        },
        row=_doc_row,
    )
    statuses = dict(
        AfterSale.objects.filter(
            as_id__in=[r.get("as_id") for r in data["datas"] if r.get("as_id")]
        ).values_list("as_id", "status")
    )
    for row in data["datas"]:
        row.pop("f_status", None)
        row["status"] = statuses.get(row.get("as_id"), "WaitConfirm")
    return data
