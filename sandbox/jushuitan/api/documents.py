"""Warehouse documents of the simulated Jushuitan open API: sales outbound, purchase in and out,
transfers (allocate) and other in/out, queried and created (docs/protocols/jushuitan.md).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import Q

from ..models import DocumentKind, StockDocument, Supplier
from ..services import ApiError, fmt, move_stock, next_number, resolve_wms, stamp, stock_field
from .common import _array, _ids, _int, _items, _object, _paged, _require_skus, _versioned
from .master_data import _co_id
from .stock import _doc_items


def _doc_row(d: StockDocument) -> dict:
    return {
        **d.data,
        "io_id": d.io_id,
        "so_id": d.so_id,
        "status": d.status,
        "f_status": "WaitConfirm",
        "wms_co_id": d.wms_co_id,
        "co_id": _co_id(),
        "io_date": fmt(d.io_date),
        **_versioned(d),
    }


def _doc_query(kind: str, biz, *, ids: dict, status_param: str = "status") -> dict:
    biz = _object(biz)
    qs = StockDocument.objects.filter(kind=kind)
    statuses = biz.get(status_param)
    if statuses:
        qs = qs.filter(status__in=statuses if isinstance(statuses, list) else [statuses])
    elif kind == DocumentKind.PURCHASE_IN:
        qs = qs.filter(status="Confirmed")  # the documented default of statuss
    if biz.get("wms_co_id") not in (None, "", 0):
        qs = qs.filter(wms_co_id=_int(biz.get("wms_co_id"), "wms_co_id"))
    doc_type = biz.get("type")
    if kind == DocumentKind.ALLOCATE and doc_type:
        qs = qs.filter(data__type=doc_type)
    types = _ids(biz, "types", 10)
    if kind == DocumentKind.OTHER_INOUT and types:
        qs = qs.filter(Q(data__type__in=types))
    for field in ("shop_id",):
        if biz.get(field) not in (None, ""):
            qs = qs.filter(**{f"data__{field}": _int(biz.get(field), field)})
    return _paged(
        qs,
        biz,
        list_key="datas",
        max_size=50,
        date_fields={0: "modified", 2: "io_date"},
        ids=ids,
        row=_doc_row,
    )


def sales_out_query(biz) -> dict:
    """/open/orders/out/simple/query (§3.15): one row per shipment io_id, with o_id and so_id;
    cross-border finance only with is_get_cbfinance."""
    data = _doc_query(
        DocumentKind.SALES_OUT,
        biz,
        ids={"so_ids": ("so_id", 50), "io_ids": ("io_id", 50), "o_ids": ("data__o_id", 50)},
    )
    if str(_object(biz).get("is_get_cbfinance", "false")).lower() != "true":
        for row in data["datas"]:
            row.pop("cb_finances", None)
    return data


def purchase_in_query(biz) -> dict:
    return _doc_query(
        DocumentKind.PURCHASE_IN,
        biz,
        status_param="statuss",
        ids={"so_ids": ("so_id", 30), "io_ids": ("io_id", 30), "po_ids": ("data__po_id", 30)},
    )


def purchase_out_query(biz) -> dict:
    return _doc_query(
        DocumentKind.PURCHASE_OUT, biz, ids={"so_ids": ("so_id", 30), "io_ids": ("io_id", 30)}
    )


def allocate_query(biz) -> dict:
    return _doc_query(
        DocumentKind.ALLOCATE, biz, ids={"so_ids": ("so_id", 50), "io_ids": ("io_id", 50)}
    )


def other_inout_query(biz) -> dict:
    return _doc_query(
        DocumentKind.OTHER_INOUT, biz, ids={"so_ids": ("so_id", 50), "io_ids": ("io_id", 50)}
    )


def count_query(biz) -> dict:
    return _doc_query(DocumentKind.COUNT, biz, ids={"io_ids": ("io_id", 50, True)})


def _create_stock_doc(
    kind: str, doc: dict, *, key_field: str, sign: int, default_warehouse: int, extra: dict
) -> dict:
    """Create one warehouse document (idempotent on key) and, if confirmed, move stock."""
    key = str(doc.get(key_field) or "").strip()
    if not key:
        raise ApiError(130, f"缺少必填参数 {key_field}")
    existing = StockDocument.objects.filter(kind=kind, key=key).first()
    if existing:
        return _created(key, existing.io_id, "单据已存在")
    items = _items(doc)
    _require_skus(items)
    wms = resolve_wms(doc.get("wms_co_id"))
    sub = _int(doc.get("warehouse"), "warehouse", default_warehouse)
    confirm = bool(doc.get("is_confirm", False))
    with transaction.atomic():
        io_id = next_number("io_id")
        modified, ts = stamp()
        try:
            with transaction.atomic():
                document = StockDocument.objects.create(
                    io_id=io_id,
                    kind=kind,
                    key=key,
                    so_id=key,
                    status="Confirmed" if confirm else "WaitConfirm",
                    wms_co_id=wms,
                    io_date=modified,
                    modified=modified,
                    ts=ts,
                    data={
                        **extra,
                        "wh_id": sub,
                        "remark": str(doc.get("remark") or ""),
                        "items": _doc_items(items, io_id),
                    },
                )
        except IntegrityError:  # a concurrent upload with the same key won
            existing = StockDocument.objects.get(kind=kind, key=key)
            return _created(key, existing.io_id, "单据已存在")
        if confirm:
            for item in items:
                move_stock(
                    wms_co_id=wms,
                    sku_id=item["sku_id"],
                    field=stock_field(sub),
                    delta=sign * int(item["qty"]),
                )
    return _created(key, document.io_id, "")


def _created(key: str, io_id: int, msg: str) -> dict:
    """One upload result as the writers other than createbatch answer it."""
    return {"external_id": key, "io_id": io_id, "is_success": True, "issuccess": True, "msg": msg}


def _batch(docs: list[dict], create: Callable[[dict], dict]) -> dict:
    """createbatch (§3.8, §3.9): the public SDK models `data` as ONE object
    `{external_id, io_id, is_success, msg}` although the request is an array; is_success is
    typed String. What the real server answers for several documents is not public [U]: the
    sandbox takes the strictest reading and answers the last document only, so a client that
    sends several per call cannot learn the others' outcome."""
    answer: dict = {}
    for doc in docs:
        key = str(doc.get("external_id", doc.get("so_id", "")) or "")
        try:
            row = create(doc)
            answer = {
                "external_id": key,
                "io_id": row["io_id"],
                "is_success": "true",
                "msg": row.get("msg", ""),
            }
        except ApiError as exc:
            answer = {"external_id": key, "io_id": None, "is_success": "false", "msg": exc.msg}
    return answer


def _supplier_extra(doc: dict) -> dict:
    supplier_id = doc.get("supplier_id")
    supplier = None
    if supplier_id not in (None, ""):
        supplier = Supplier.objects.filter(supplier_id=_int(supplier_id, "supplier_id")).first()
        if supplier is None:
            raise ApiError(160, f"供应商不存在: {supplier_id}")
    return {
        "supplier_id": supplier.supplier_id if supplier else None,
        "supplier_name": supplier.name if supplier else "",
        "po_id": doc.get("po_id"),
        "tax_rate": doc.get("tax_rate"),
    }


def purchase_in_create(biz) -> dict:
    return _batch(
        _array(biz, 50),
        lambda d: _create_stock_doc(
            DocumentKind.PURCHASE_IN,
            d,
            key_field="external_id",
            sign=+1,
            default_warehouse=1,
            extra={**_supplier_extra(d), "type": "采购进仓"},
        ),
    )


def purchase_out_create(biz) -> dict:
    return _batch(
        _array(biz, 50),
        lambda d: _create_stock_doc(
            DocumentKind.PURCHASE_OUT,
            d,
            key_field="external_id",
            sign=-1,
            default_warehouse=3,
            extra={
                **_supplier_extra(d),
                "seller_id": d.get("supplier_id"),
                "type": "采购退货",
                "return_type": _int(d.get("type"), "type", 0),
            },
        ),
    )


def other_inout_upload(biz) -> dict:
    doc = _object(biz)
    direction = str(doc.get("type") or "")
    if direction not in ("in", "out"):
        raise ApiError(140, "参数不符合规范: type 只能是 in 或 out")
    if not str(doc.get("remark") or "").strip():
        raise ApiError(140, "参数不符合规范: remark 不能为空")
    result = _create_stock_doc(
        DocumentKind.OTHER_INOUT,
        doc,
        key_field="external_id",
        sign=+1 if direction == "in" else -1,
        default_warehouse=1,
        extra={
            "type": "其它进仓" if direction == "in" else "其它出库",
            "drop_co_name": str(doc.get("drp_co_name") or ""),
        },
    )
    return {"data": {"external_id": result["external_id"], "io_id": result["io_id"]}}


def allocate_in_upload(biz) -> dict:
    """A transfer between two sub-warehouses of one warehouse company."""
    doc = _object(biz)
    so_id = str(doc.get("so_id") or "").strip()
    if not so_id or len(so_id) > 50:
        raise ApiError(130, "缺少必填参数 so_id")
    existing = StockDocument.objects.filter(kind=DocumentKind.ALLOCATE, key=so_id).first()
    if existing:
        return {"data": {"io_id": existing.io_id, "so_id": so_id}}
    source = _int(doc.get("warehouse"), "warehouse")
    target = _int(doc.get("link_warehouse"), "link_warehouse")
    if source == target:
        raise ApiError(160, "调出仓和调入仓不能相同")
    items = _items(doc)
    _require_skus(items)
    wms = resolve_wms(doc.get("wms_co_id"))
    confirm = bool(doc.get("is_confirm", False))
    with transaction.atomic():
        io_id = next_number("io_id")
        modified, ts = stamp()
        StockDocument.objects.create(
            io_id=io_id,
            kind=DocumentKind.ALLOCATE,
            key=so_id,
            so_id=so_id,
            status="Confirmed" if confirm else "WaitConfirm",
            wms_co_id=wms,
            io_date=modified,
            modified=modified,
            ts=ts,
            data={
                "type": "仓内调拨",
                "wh_id": source,
                "link_wh_id": target,
                "link_wms_co_id": wms,
                "remark": str(doc.get("remark") or ""),
                "items": _doc_items(items, io_id),
            },
        )
        if confirm:
            for item in items:
                qty = int(item["qty"])
                move_stock(
                    wms_co_id=wms, sku_id=item["sku_id"], field=stock_field(source), delta=-qty
                )
                move_stock(
                    wms_co_id=wms, sku_id=item["sku_id"], field=stock_field(target), delta=qty
                )
    return {"data": {"io_id": io_id, "so_id": so_id}}


def _cross_transfer(doc: dict) -> dict:
    so_id = str(doc.get("so_id") or "").strip()
    if not so_id:
        raise ApiError(130, "缺少必填参数 so_id")
    existing = StockDocument.objects.filter(kind=DocumentKind.ALLOCATE, key=f"{so_id}#out").first()
    if existing:
        return {"so_id": so_id, "io_id": existing.io_id, "issuccess": True, "msg": "单据已存在"}
    source = resolve_wms(doc.get("go_co_id"))
    target = resolve_wms(doc.get("link_co_id"))
    sub, link_sub = (
        _int(doc.get("warehouse"), "warehouse", 1),
        _int(doc.get("link_warehouse"), "link_warehouse", 1),
    )
    if source == target and sub == link_sub:
        raise ApiError(160, "调出仓和调入仓不能相同")
    items = _items(doc)
    _require_skus(items)
    confirm = bool(doc.get("is_confirm", False))
    status = "Confirmed" if confirm else "WaitConfirm"
    with transaction.atomic():
        out_id, in_id = next_number("io_id", 2), None
        in_id = out_id + 1
        modified, ts = stamp()
        common = {"remark": str(doc.get("remark") or "")}
        StockDocument.objects.create(
            io_id=out_id,
            kind=DocumentKind.ALLOCATE,
            key=f"{so_id}#out",
            so_id=so_id,
            status=status,
            wms_co_id=source,
            io_date=modified,
            modified=modified,
            ts=ts,
            data={
                **common,
                "type": "调拨出",
                "wh_id": sub,
                "link_wms_co_id": target,
                "link_wh_id": link_sub,
                "link_io_id": in_id,
                "items": _doc_items(items, out_id),
            },
        )
        modified, ts = stamp()
        StockDocument.objects.create(
            io_id=in_id,
            kind=DocumentKind.ALLOCATE,
            key=f"{so_id}#in",
            so_id=so_id,
            status=status,
            wms_co_id=target,
            io_date=modified,
            modified=modified,
            ts=ts,
            data={
                **common,
                "type": "调拨入",
                "wh_id": link_sub,
                "link_wms_co_id": source,
                "link_wh_id": sub,
                "link_io_id": out_id,
                "items": _doc_items(items, in_id),
            },
        )
        if confirm:
            for item in items:
                qty = int(item["qty"])
                move_stock(
                    wms_co_id=source, sku_id=item["sku_id"], field=stock_field(sub), delta=-qty
                )
                move_stock(
                    wms_co_id=target, sku_id=item["sku_id"], field=stock_field(link_sub), delta=qty
                )
    return {"so_id": so_id, "io_id": out_id, "issuccess": True, "msg": ""}


def allocate_kc_upload(biz) -> dict:
    rows = []
    for doc in _array(biz, 50):
        try:
            rows.append(_cross_transfer(doc))
        except ApiError as exc:
            rows.append(
                {"so_id": doc.get("so_id", ""), "io_id": None, "issuccess": False, "msg": exc.msg}
            )
    return {"datas": rows}
