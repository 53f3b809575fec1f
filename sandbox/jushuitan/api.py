"""Endpoint handlers of the simulated Jushuitan open API: `handler(biz) -> data`.

Each handler validates its biz like the real API (page size, window span, list lengths,
required fields → code 140/130) and raises services.ApiError; writes run in a transaction
and are idempotent on the key the API documents (docs/protocols/jushuitan.md §4).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Max, Q, QuerySet, Sum

from .models import (
    AfterSale,
    ApiSettings,
    DocumentKind,
    Order,
    Partner,
    Shop,
    Sku,
    Stock,
    StockDocument,
    Supplier,
)
from .services import (
    UPLOADABLE_SITES,
    ApiError,
    fmt,
    move_stock,
    next_number,
    parse,
    resolve_wms,
    stamp,
    stock_field,
)

CENT = Decimal("0.01")

# --- helpers --------------------------------------------------------------------------------


def _money(value: object, name: str = "amount") -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else "0")).quantize(
            CENT, rounding=ROUND_HALF_UP
        )
    except InvalidOperation as exc:
        raise ApiError(140, f"参数不符合规范: {name} 不是数字") from exc


def _num(value: Decimal) -> float:
    """Amounts go out as JSON numbers (docs/protocols/jushuitan.md §1.5: the sandbox emits
    numbers)."""
    return float(value)


def _int(value: object, name: str, default: int | None = None) -> int:
    if value in (None, ""):
        if default is None:
            raise ApiError(130, f"缺少必填参数 {name}")
        return default
    try:
        return int(str(value))
    except ValueError as exc:
        raise ApiError(140, f"参数不符合规范: {name} 应为整数") from exc


def _ids(biz: dict, name: str, limit: int, *, comma: bool = False) -> list[str] | None:
    """A list parameter; None when absent. `comma` parameters are documented as one
    comma-separated string (docs/protocols/jushuitan.md §3.4, §3.5, §3.7) and an array is
    refused; the others are arrays (a comma string is still read)."""
    raw = biz.get(name)
    if raw in (None, "", []):
        return None
    if comma and not isinstance(raw, str):
        raise ApiError(140, f"参数不符合规范: {name} 应为逗号分隔的字符串")
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise ApiError(140, f"参数不符合规范: {name} 应为数组")
    values = [str(i).strip() for i in items if str(i).strip()]
    if len(values) > limit:
        raise ApiError(140, f"参数不符合规范: {name} 最多 {limit} 个")
    return values


def _page(biz: dict, max_size: int, default: int = 30) -> tuple[int, int]:
    index = _int(biz.get("page_index"), "page_index", 1)
    size = _int(biz.get("page_size"), "page_size", min(default, max_size))
    if index < 1 or size < 1:
        raise ApiError(140, "参数不符合规范: page_index 和 page_size 必须大于0")
    if size > max_size:
        if not ApiSettings.load().clamp_page_size:
            raise ApiError(140, f"参数不符合规范: page_size 最大 {max_size}")
        size = max_size
    return index, size


def _window(biz: dict, max_days: float, *, required: bool):
    begin, end = biz.get("modified_begin"), biz.get("modified_end")
    if not begin and not end:
        if required:
            raise ApiError(140, "参数不符合规范: 修改时间和单号不能同时为空")
        return None
    if not begin or not end:
        raise ApiError(140, "参数不符合规范: modified_begin 和 modified_end 必须同时存在")
    start, stop = parse(begin), parse(end)
    if stop < start:
        raise ApiError(140, "参数不符合规范: 结束时间不能早于开始时间")
    if stop - start > timedelta(days=max_days):
        limit = f"{max_days:g}天"
        raise ApiError(140, f"参数不符合规范: 时间间隔不能超过{limit}")
    if not ApiSettings.load().window_begin_inclusive:
        # Times have whole seconds: an exclusive begin leaves out its own second.
        start += timedelta(seconds=1)
    return start, stop


def _paged(
    qs: QuerySet,
    biz: dict,
    *,
    list_key: str,
    max_size: int,
    row: Callable,
    window_days: float = 7,
    date_fields: dict[int, str] | None = None,
    ids: dict[str, tuple[str, int]] | None = None,
    ts: str | None = "start_ts",
    totals: bool = True,
    window_required: bool = True,
) -> dict:
    """The common query shape: ids or a time window or a ts cursor, then pages."""
    index, size = _page(biz, max_size)
    has_ids = False
    for param, (field, limit, *comma) in (ids or {}).items():
        values = _ids(biz, param, limit, comma=bool(comma and comma[0]))
        if values is not None:
            has_ids = True
            qs = qs.filter(**{f"{field}__in": values})
    cursor = biz.get(ts) if ts else None
    window = _window(biz, window_days, required=window_required and not has_ids and not cursor)
    if window:
        date_type = _int(biz.get("date_type"), "date_type", 0)
        field = (date_fields or {0: "modified"}).get(date_type)
        if field is None:
            raise ApiError(140, f"参数不符合规范: date_type={date_type}")
        qs = qs.filter(**{f"{field}__gte": window[0], f"{field}__lte": window[1]})
    if cursor not in (None, ""):
        qs = qs.filter(ts__gte=_int(cursor, ts)).order_by("ts")
    else:
        qs = qs.order_by("modified", "pk")
    offset = (index - 1) * size
    chunk = list(qs[offset : offset + size + 1])
    data = {
        "page_index": index,
        "page_size": size,
        "has_next": len(chunk) > size,
        list_key: [row(obj) for obj in chunk[:size]],
    }
    if totals and str(biz.get("is_get_total", "true")).lower() != "false":
        count = qs.count()
        data["data_count"] = count
        data["page_count"] = (count + size - 1) // size
    return data


def _versioned(obj) -> dict:
    return {"modified": fmt(obj.modified), "ts": obj.ts}


def _require_skus(items: list, *, key: str = "sku_id") -> None:
    wanted = {str(i.get(key) or "") for i in items}
    if "" in wanted:
        raise ApiError(140, "参数不符合规范: items.sku_id 不能为空")
    known = set(Sku.objects.filter(sku_id__in=wanted).values_list("sku_id", flat=True))
    missing = sorted(wanted - known)
    if missing:
        raise ApiError(160, f"商品编码不存在: {', '.join(missing)}")


def _items(doc: dict, *, limit: int = 1000) -> list[dict]:
    items = doc.get("items")
    if not isinstance(items, list) or not items:
        raise ApiError(140, "参数不符合规范: items 不能为空")
    if len(items) > limit:
        raise ApiError(140, f"参数不符合规范: items 最多 {limit} 条")
    for item in items:
        if not isinstance(item, dict):
            raise ApiError(140, "参数不符合规范: items 元素应为对象")
        if _int(item.get("qty"), "items.qty") <= 0:
            raise ApiError(140, "参数不符合规范: items.qty 必须大于0")
    return items


def _array(biz, limit: int = 200) -> list[dict]:
    if not isinstance(biz, list):
        raise ApiError(140, "参数不符合规范: biz 应为数组")
    if len(biz) > limit:
        raise ApiError(140, f"参数不符合规范: 一次最多 {limit} 条")
    if not all(isinstance(x, dict) for x in biz):
        raise ApiError(140, "参数不符合规范: 数组元素应为对象")
    return biz


def _object(biz) -> dict:
    if not isinstance(biz, dict):
        raise ApiError(140, "参数不符合规范: biz 应为对象")
    return biz


def _row_fail(row: dict, error: ApiError) -> dict:
    return {**row, "issuccess": False, "msg": error.msg}


# --- master data ----------------------------------------------------------------------------


def shops_query(biz) -> dict:
    biz = _object(biz)
    qs = Shop.objects.all()
    shop_ids = _ids(biz, "shop_ids", 100)
    if shop_ids:
        qs = qs.filter(shop_id__in=shop_ids)
    data = _paged(
        qs,
        biz,
        list_key="datas",
        max_size=100,
        ts=None,
        totals=False,
        window_required=False,
        row=lambda s: {
            "shop_id": s.shop_id,
            "shop_name": s.shop_name,
            "co_id": _co_id(),
            "shop_site": s.shop_site,
            "shop_url": "",
            "nick": s.shop_name,
            "created": fmt(s.modified),
            "session_expired": "------永久授权------",
            "short_name": "",
            # No currency: the real shop rows carry none (§3.12); the portal takes it from
            # its shop mapping.
        },
    )
    return data


def _co_id() -> int:
    from .models import ApiApp

    app = ApiApp.objects.order_by("pk").first()
    return app.co_id if app else 0


def partners_query(biz) -> dict:
    biz = _object(biz)
    return _paged(
        Partner.objects.all(),
        _object(biz),
        list_key="datas",
        max_size=100,
        ts=None,
        window_required=False,
        row=lambda p: {
            "name": p.name,
            "co_id": _co_id(),
            "wms_co_id": p.wms_co_id,
            "is_main": p.is_main,
            "status": "生效",
            "remark1": "",
            "remark2": "",
        },
    )


def _supplier_row(s: Supplier) -> dict:
    return {
        **s.extra,
        "supplier_id": s.supplier_id,
        "supplier_code": s.supplier_code,
        "name": s.name,
        "enabled": s.enabled,
        **_versioned(s),
    }


def suppliers_query(biz) -> dict:
    biz = _object(biz)
    return _paged(
        Supplier.objects.all(),
        biz,
        list_key="datas",
        max_size=500,
        window_days=1,
        ids={
            "supplier_ids": ("supplier_id", 50),
            "supplier_codes": ("supplier_code", 50),
            "names": ("name", 50),
        },
        ts=None,
        row=_supplier_row,
    )


def suppliers_upload(biz) -> dict:
    rows = []
    for doc in _array(biz, 200):
        code = str(doc.get("supplier_code") or "").strip()
        name = str(doc.get("name") or "").strip()
        base = {"supplier_code": code, "name": name}
        if not name:
            rows.append(_row_fail(base, ApiError(140, "供应商名称不能为空")))
            continue
        with transaction.atomic():
            found = (Supplier.objects.filter(supplier_code=code).first() if code else None) or (
                Supplier.objects.filter(name=name).first()
            )
            modified, ts = stamp()
            extra = {k: v for k, v in doc.items() if k not in ("supplier_code", "name", "enabled")}
            if found is None:
                found = Supplier(
                    supplier_id=next_number("supplier_id"),
                    supplier_code=code or f"S{next_number('supplier_code')}",
                )
            found.name = name
            found.enabled = bool(doc.get("enabled", True))
            found.extra = {**found.extra, **extra}
            found.modified, found.ts = modified, ts
            found.save()
        rows.append({**base, "id": found.supplier_id, "issuccess": True, "msg": ""})
    return {"datas": rows}


def _sku_row(s: Sku) -> dict:
    f = s.fields
    return {
        **f,
        "sku_id": s.sku_id,
        "i_id": s.i_id,
        "name": s.name,
        "sale_price": _num(_money(f.get("s_price", f.get("sale_price")))),
        "cost_price": _num(_money(f.get("c_price", f.get("cost_price")))),
        "created": fmt(s.created),
        "autoid": abs(hash(s.sku_id)) % 10**9,
        **_versioned(s),
    }


def skus_query(biz) -> dict:
    biz = _object(biz)
    date_field = biz.get("date_field") or "modified"
    if date_field not in ("modified", "created"):
        raise ApiError(140, "参数不符合规范: date_field 只能是 modified 或 created")
    qs = Sku.objects.all()
    i_ids = _ids(biz, "i_ids", 20)
    if i_ids:
        qs = qs.filter(i_id__in=i_ids)
    return _paged(
        qs,
        {**biz, "date_type": 0 if date_field == "modified" else 1},
        list_key="datas",
        max_size=50,
        date_fields={0: "modified", 1: "created"},
        ids={"sku_ids": ("sku_id", 20, True)},
        ts=None,
        row=_sku_row,
        window_required=not i_ids,
    )


def skus_upload(biz) -> dict:
    biz = _object(biz)
    items = biz.get("items")
    if not isinstance(items, list) or not items:
        raise ApiError(140, "参数不符合规范: items 不能为空")
    rows = []
    for item in items:
        sku_id = str(item.get("sku_id") or "").strip()
        if not sku_id or len(sku_id) > 40:
            rows.append({"sku_id": sku_id, "is_success": False, "msg": "sku_id 为空或超过40位"})
            continue
        if not item.get("name") and not Sku.objects.filter(sku_id=sku_id).exists():
            rows.append({"sku_id": sku_id, "is_success": False, "msg": "新建商品 name 必填"})
            continue
        with transaction.atomic():
            modified, ts = stamp()
            sku = Sku.objects.filter(sku_id=sku_id).first() or Sku(sku_id=sku_id, created=modified)
            sku.i_id = str(item.get("i_id") or sku.i_id or sku_id)
            sku.name = str(item.get("name") or sku.name)
            # labels[] adds labels and deletedlabels[] removes them; both are lists
            # (docs/protocols/jushuitan.md §3.4).
            labels = [str(x) for x in (sku.fields.get("labels") or []) if str(x)]
            labels += [str(x) for x in (item.get("labels") or []) if str(x) not in labels]
            removed = {str(x) for x in (item.get("deletedlabels") or [])}
            sku.fields = {
                **sku.fields,
                **{
                    k: v
                    for k, v in item.items()
                    if k not in ("sku_id", "i_id", "name", "labels", "deletedlabels")
                },
                "labels": [x for x in labels if x not in removed],
            }
            sku.modified, sku.ts = modified, ts
            sku.save()
        rows.append({"sku_id": sku_id, "is_success": True, "msg": ""})
    return {"datas": rows}


# --- inventory ------------------------------------------------------------------------------

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


# --- warehouse documents ----------------------------------------------------------------------


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


# --- orders ---------------------------------------------------------------------------------

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


# --- after-sales ------------------------------------------------------------------------------


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


HANDLERS: dict[str, Callable] = {
    "/open/shops/query": shops_query,
    "/open/wms/partner/query": partners_query,
    "/open/supplier/query": suppliers_query,
    "/open/supplier/upload": suppliers_upload,
    "/open/sku/query": skus_query,
    "/open/jushuitan/itemsku/upload": skus_upload,
    "/open/inventory/query": inventory_query,
    "/open/jushuitan/inventoryv2/upload": inventory_upload,
    "/open/inventory/count/query": count_query,
    "/open/orders/single/query": orders_query,
    "/open/jushuitan/orders/upload": orders_upload,
    "/open/order/sent/upload": orders_sent_upload,
    "/open/orders/out/simple/query": sales_out_query,
    "/open/refund/single/query": refunds_query,
    "/open/aftersale/upload": aftersale_upload,
    "/open/webapi/aftersaleapi/open/confirm": aftersale_confirm,
    "/open/webapi/aftersaleapi/confirmgoods": aftersale_confirm_goods,
    "/open/aftersale/received/query": aftersale_received_query,
    "/open/purchasein/query": purchase_in_query,
    "/open/webapi/wmsapi/purchasein/createbatch": purchase_in_create,
    "/open/purchaseout/query": purchase_out_query,
    "/open/webapi/wmsapi/purchaseout/createbatch": purchase_out_create,
    "/open/allocate/query": allocate_query,
    "/open/jushuitan/allocate/in/upload": allocate_in_upload,
    "/open/allocate/kc/upload": allocate_kc_upload,
    "/open/other/inout/query": other_inout_query,
    "/open/jushuitan/otherinout/upload": other_inout_upload,
}

WRITES = frozenset(p for p in HANDLERS if "upload" in p or "create" in p or "confirm" in p)
