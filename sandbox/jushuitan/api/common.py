"""What the handlers of the simulated Jushuitan open API share: money and number parsing,
the biz checks the real API makes (list lengths, page sizes, time windows, required fields →
code 140/130; docs/protocols/jushuitan.md §4) and the paged query every `.../query` answers with.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db.models import QuerySet

from ..models import ApiSettings, Sku
from ..services import ApiError, fmt, parse

CENT = Decimal("0.01")


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
