"""Stock of the simulated Jushuitan open API: the inventory query and the stock count upload
(inventoryv2), and the stock document rows the other writes share (docs/protocols/jushuitan.md).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max, Sum

from ..models import DocumentKind, Sku, Stock, StockDocument
from ..services import ApiError, fmt, move_stock, next_number, resolve_wms, stamp, stock_field
from .common import _ids, _int, _object, _page, _require_skus, _window

_STOCK_COLUMNS = (
    "qty",
    "order_lock",
    "return_qty",
    "in_qty",
    "defective_qty",
    "customize_qty_1",
    "allocate_qty",
)


def inventory_query(biz) -> dict:
    biz = _object(biz)
    index, size = _page(biz, 100)
    qs = Stock.objects.all()
    wms = _int(biz.get("wms_co_id"), "wms_co_id", 0)
    if wms:
        qs = qs.filter(wms_co_id=wms)
    sku_ids = _ids(biz, "sku_ids", 100, comma=True)
    if sku_ids:
        qs = qs.filter(sku_id__in=sku_ids)
    names = _ids(biz, "names", 100, comma=True)
    if names:
        qs = qs.filter(sku_id__in=Sku.objects.filter(name__in=names).values("sku_id"))
    cursor = biz.get("ts")
    window = _window(biz, 7, required=not (sku_ids or names or cursor or biz.get("i_ids")))
    # One row per SKU: one warehouse, or (wms_co_id 0) the sum over all of them.
    grouped = qs.values("sku_id").annotate(
        modified_max=Max("modified"), ts_max=Max("ts"), **{f"s_{c}": Sum(c) for c in _STOCK_COLUMNS}
    )
    if window:
        grouped = grouped.filter(modified_max__gte=window[0], modified_max__lte=window[1])
    if cursor not in (None, ""):
        grouped = grouped.filter(ts_max__gte=_int(cursor, "ts")).order_by("ts_max", "sku_id")
    else:
        grouped = grouped.order_by("modified_max", "sku_id")
    chunk = list(grouped[(index - 1) * size : index * size + 1])
    names_by_sku = dict(
        Sku.objects.filter(sku_id__in=[r["sku_id"] for r in chunk]).values_list("sku_id", "name")
    )
    rows = [
        {
            "sku_id": r["sku_id"],
            "i_id": r["sku_id"].removeprefix("SKU-"),
            "name": names_by_sku.get(r["sku_id"], ""),
            **{c: r[f"s_{c}"] or 0 for c in _STOCK_COLUMNS},
            "pick_lock": 0,
            "virtual_qty": 0,
            "purchase_qty": 0,
            "modified": fmt(r["modified_max"]),
            "ts": r["ts_max"],
        }
        for r in chunk[:size]
    ]
    return {
        "page_index": index,
        "page_size": size,
        "has_next": len(chunk) > size,
        "inventorys": rows,
    }


def _document(
    *, kind: str, key: str, so_id: str, status: str, wms_co_id: int, data: dict, io_date=None
) -> StockDocument:
    modified, ts = stamp()
    return StockDocument.objects.create(
        io_id=next_number("io_id"),
        kind=kind,
        key=key,
        so_id=so_id,
        status=status,
        wms_co_id=wms_co_id,
        io_date=io_date or modified,
        modified=modified,
        ts=ts,
        data=data,
    )


def _doc_items(items: list[dict], io_id: int) -> list[dict]:
    names = dict(
        Sku.objects.filter(sku_id__in=[i["sku_id"] for i in items]).values_list("sku_id", "name")
    )
    out = []
    for number, item in enumerate(items, start=1):
        out.append(
            {
                **item,
                "ioi_id": io_id * 100 + number,
                "io_id": io_id,
                "sku_id": item["sku_id"],
                "i_id": str(item["sku_id"]).removeprefix("SKU-"),
                "name": names.get(item["sku_id"], ""),
                "qty": int(item["qty"]),
            }
        )
    return out


def inventory_upload(biz) -> dict:
    """inventoryv2: a count document; check = set to qty, adjust = add qty (signed)."""
    doc = _object(biz)
    so_id = str(doc.get("so_id") or "").strip()
    kind = str(doc.get("type") or "adjust")
    if kind not in ("check", "adjust"):
        raise ApiError(140, "参数不符合规范: type 只能是 check 或 adjust")
    items = doc.get("items")
    if not isinstance(items, list) or not items or len(items) > 500:
        raise ApiError(140, "参数不符合规范: items 必须有 1 到 500 条")
    if so_id:
        existing = StockDocument.objects.filter(kind=DocumentKind.COUNT, key=so_id).first()
        if existing:  # repeats are ignored: the first result wins
            return {"data": {"io_id": existing.io_id, "so_id": so_id, "msg": "单据已存在"}}
    _require_skus(items)
    wms = resolve_wms(doc.get("wms_co_id"))
    sub = _int(doc.get("warehouse"), "warehouse", 1)
    field = stock_field(sub)
    confirm = bool(doc.get("is_confirm", False))
    with transaction.atomic():
        lines = []
        for item in items:
            qty = _int(item.get("qty"), "items.qty")
            stock = Stock.objects.filter(wms_co_id=wms, sku_id=item["sku_id"]).first()
            book = getattr(stock, field) if stock else 0
            delta = qty - book if kind == "check" else qty
            lines.append({**item, "qty": delta, "r_qty": book + delta})
        io_id = next_number("io_id")
        modified, ts = stamp()
        document = StockDocument.objects.create(
            io_id=io_id,
            kind=DocumentKind.COUNT,
            key=so_id,
            so_id=so_id,
            status="Confirmed" if confirm else "WaitConfirm",
            wms_co_id=wms,
            io_date=modified,
            modified=modified,
            ts=ts,
            data={
                "type": "盘点" if kind == "check" else "库存调整",
                "wh_id": sub,
                "remark": str(doc.get("remark") or ""),
                "count_type": kind,
                "items": _doc_items(lines, io_id),
            },
        )
        if confirm:
            for line in lines:
                if line["qty"]:
                    move_stock(
                        wms_co_id=wms,
                        sku_id=line["sku_id"],
                        field=field,
                        delta=line["qty"],
                        check=False,
                    )
    return {"data": {"io_id": document.io_id, "so_id": so_id, "msg": ""}}
