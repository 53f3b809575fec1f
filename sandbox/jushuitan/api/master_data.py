"""Master data of the simulated Jushuitan open API: shops, warehouses (partners), suppliers and
SKUs, queried and uploaded (docs/protocols/jushuitan.md).
"""

from __future__ import annotations

from django.db import transaction

from ..models import Partner, Shop, Sku, Supplier
from ..services import ApiError, fmt, next_number, stamp
from .common import _array, _ids, _money, _num, _object, _paged, _row_fail, _versioned


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
    from ..models import ApiApp

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
