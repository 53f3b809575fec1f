"""Jushuitan (聚水潭) open-platform API: paging, the named readers and the writers.

docs/protocols/jushuitan.md (§ numbers below). The typed business calls of one connection on
top of the signed calls of `transport.py`; the client knows no flows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import transport
from .choices import WindowBegin
from .transport import JushuitanTransport

BEIJING = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def to_beijing(moment: datetime) -> str:
    """An aware datetime as Jushuitan writes times: `YYYY-MM-DD HH:mm:ss` in Beijing time."""
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT)


def parse_time(value: Any) -> datetime | None:
    """Lenient parse of a Jushuitan time (Beijing, optional .fff) into an aware datetime."""
    if not value:
        return None
    text = str(value).strip().replace("T", " ")
    for fmt in (TIME_FORMAT + ".%f", TIME_FORMAT, "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=BEIJING)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class Endpoint:
    """A query endpoint: where its rows are and how far it may be asked at once.

    docs/protocols/jushuitan.md §2.2, §2.4."""

    path: str
    list_key: str = "datas"
    max_page_size: int = 50
    max_window: timedelta | None = timedelta(days=7)
    key_fields: tuple[str, ...] = ("io_id",)


ENDPOINTS: dict[str, Endpoint] = {
    "orders": Endpoint("/open/orders/single/query", "orders", 100, key_fields=("o_id",)),
    "sales_out": Endpoint("/open/orders/out/simple/query", "datas", 50),
    "refunds": Endpoint("/open/refund/single/query", "datas", 50, key_fields=("as_id",)),
    # Goods actually received back (退仓单 per receipt batch, docId=40) [S].
    "aftersale_received": Endpoint("/open/aftersale/received/query", "datas", 50),
    "skus": Endpoint("/open/sku/query", "datas", 50, key_fields=("sku_id",)),
    "inventory": Endpoint("/open/inventory/query", "inventorys", 100, key_fields=("sku_id",)),
    "stock_counts": Endpoint("/open/inventory/count/query", "datas", 50),
    "purchase_in": Endpoint("/open/purchasein/query", "datas", 50),
    "purchase_out": Endpoint("/open/purchaseout/query", "datas", 50),
    "allocations": Endpoint("/open/allocate/query", "datas", 50),
    "other_inout": Endpoint("/open/other/inout/query", "datas", 50),
    "shops": Endpoint("/open/shops/query", "datas", 100, None, key_fields=("shop_id",)),
    # Max page size undocumented (default 30) [U]: 30 is what the docs promise.
    "warehouses": Endpoint("/open/wms/partner/query", "datas", 30, None, ("wms_co_id",)),
    "suppliers": Endpoint(
        "/open/supplier/query", "datas", 500, timedelta(days=1), key_fields=("supplier_id",)
    ),
}


# Every status a purchase-in can have (§3.8), for lookups by external id.
ALL_PURCHASE_IN_STATUSES = (
    "WaitConfirm",
    "Confirmed",
    "OuterConfirming",
    "Archive",
    "Cancelled",
    "Delete",
)


@dataclass(frozen=True)
class RowResult:
    """One record of an upload answer: did it land, under which Jushuitan id."""

    key: str
    ok: bool
    remote_id: str
    message: str
    raw: dict
    # Neither a success flag nor an id: the write may or may not have landed.
    unknown: bool = False


def success_flag(value: Any) -> bool | None:
    """A row's is_success / issuccess as Jushuitan writes it: a bool, or a string / number
    ("true", "false", "1", "0", 1, 0). None when absent or unreadable (docs/protocols/
    jushuitan.md §1.5: the public SDK types the flag as a string)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes", "y"):
            return True
        if text in ("false", "0", "no", "n"):
            return False
    return None


def _row_results(rows: Iterable[dict], key_field: str, id_field: str) -> list[RowResult]:
    """Per-record results of an upload. The flag decides; a row without a readable flag but
    with an id landed; a row with neither is an unknown outcome (`ok` False, `unknown`)."""
    results = []
    for row in rows:
        if not isinstance(row, dict):
            continue
        raw_flag = row.get("issuccess", row.get("is_success"))
        flag = success_flag(raw_flag)
        remote_id = str(row.get(id_field) or "")
        if flag is None:
            flag = True if remote_id else None
        results.append(
            RowResult(
                key=str(row.get(key_field, "")),
                ok=bool(flag),
                remote_id=remote_id,
                message=str(row.get("msg") or row.get("message") or ""),
                raw=row,
                unknown=flag is None,
            )
        )
    return results


def _version(row: dict) -> int:
    try:
        return int(row.get("ts") or 0)
    except (TypeError, ValueError):
        return 0


def _chunks(items: list, size: int) -> Iterator[list]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


class JushuitanClient(JushuitanTransport):
    """One Jushuitan connection's API. Thread-safe; use `client_for(connection)`."""

    # How often a row-version walk met a page not in ascending ts (preflight / tests read it).
    ts_fallbacks = 0

    # --- paging ------------------------------------------------------------------------------
    def iter_pages(
        self,
        path: str,
        *,
        biz: dict | None = None,
        page_size: int = 50,
        list_key: str = "datas",
    ) -> Iterator[list[dict]]:
        """Page one query (no window logic) until has_next is false or a page is short."""
        page_index = 1
        while True:
            data = self.call(
                path, {**(biz or {}), "page_index": page_index, "page_size": page_size}
            )
            rows = (data or {}).get(list_key) or []
            yield rows
            if not rows or len(rows) < page_size or not (data or {}).get("has_next", True):
                return
            page_index += 1

    def iter_window(
        self,
        path: str,
        *,
        start: datetime,
        end: datetime,
        time_fields: tuple[str, str] = ("modified_begin", "modified_end"),
        max_window: timedelta | None = timedelta(days=7),
        overlap: timedelta = timedelta(minutes=10),
        page_size: int = 50,
        biz: dict | None = None,
        list_key: str = "datas",
        key_fields: tuple[str, ...] = ("io_id",),
        row_time_field: str = "modified",
    ) -> Iterator[dict]:
        """Stream every row modified in [start - overlap, end], each version once.

        The range is cut into windows no longer than `max_window`; each window starts
        `overlap` before the previous one ended, so a row committed late at a boundary is
        still seen. Inside a window the pager moves a time cursor to the newest `modified`
        it has seen and restarts at page 1 (a keyset walk), so rows that change while we
        page cannot shift unseen rows past us; pages whose rows share one second are
        stepped by page_index. Rows are deduplicated by `key_fields` + version (`ts`, else
        `modified`): the same version is yielded once per walk, a newer one again.
        """
        if end <= start:
            return
        seen: set[tuple] = set()
        # A second short of the longest window: the walk may begin one second early (_begin).
        span = (max_window - timedelta(seconds=1)) if max_window else (end - start + overlap)
        if max_window is not None and overlap >= max_window:
            raise ValueError("overlap must be shorter than the window")
        win_start = start - overlap
        while win_start < end:
            win_end = min(win_start + span, end)
            yield from self._walk_window(
                path,
                win_start,
                win_end,
                time_fields=time_fields,
                page_size=page_size,
                biz=biz,
                list_key=list_key,
                key_fields=key_fields,
                row_time_field=row_time_field,
                seen=seen,
            )
            if win_end >= end:
                return
            win_start = win_end - overlap

    def _walk_window(
        self,
        path,
        win_start,
        win_end,
        *,
        time_fields,
        page_size,
        biz,
        list_key,
        key_fields,
        row_time_field,
        seen,
    ) -> Iterator[dict]:
        cursor = self._begin(win_start)
        page_index = 1
        keyset = True
        while True:
            query = {
                **(biz or {}),
                time_fields[0]: to_beijing(cursor),
                time_fields[1]: to_beijing(win_end),
                "page_index": page_index,
                "page_size": page_size,
            }
            data = self.call(path, query) or {}
            rows = data.get(list_key) or []
            newest = None
            previous = None
            for row in rows:
                version = row.get("ts") or row.get(row_time_field)
                key = (*(row.get(f) for f in key_fields), version)
                if key not in seen:
                    seen.add(key)
                    yield row
                moment = parse_time(row.get(row_time_field))
                if moment is not None:
                    if previous is not None and moment < previous:
                        keyset = False  # not sorted by time: plain page stepping is safer
                    previous = moment
                    newest = moment if newest is None or moment > newest else newest
            if not rows or len(rows) < page_size or not data.get("has_next", True):
                return
            restart = self._begin(newest)
            if keyset and restart is not None and restart > cursor:
                cursor, page_index = restart, 1
            else:
                page_index += 1

    def _begin(self, moment):
        """The `modified_begin` that reads the rows of `moment`'s second and later: the second
        itself when the tenant is known to include it, else one second earlier, so rows of
        that second are not lost (docs/protocols/jushuitan.md §2.4)."""
        if moment is None or self.connection.window_begin == WindowBegin.INCLUSIVE:
            return moment
        return moment - timedelta(seconds=1)

    def iter_ts(
        self,
        path: str,
        *,
        start_ts: int,
        page_size: int = 50,
        biz: dict | None = None,
        list_key: str = "datas",
        ts_field: str = "start_ts",
        key_fields: tuple[str, ...] = ("io_id",),
    ) -> Iterator[dict]:
        """Stream rows with row version ts >= start_ts (docs/protocols/jushuitan.md §2.5).

        With a cursor only the cursor and paging are sent ("其它条件都不传"); `biz` is for
        queries that need a fixed scope and should normally be empty. While every page comes
        in ascending `ts`, the walk stays on page 1 and moves the cursor to the page's highest
        `ts` (pattern b). Row order with a cursor is undocumented [U]: as soon as a page is not
        ascending, the walk keeps the cursor it had and steps `page_index` instead (pattern a)
        until the last page, so no row is skipped; those rows are then yielded in ascending
        `ts`, because the caller resumes from the highest version it has seen.
        """
        cursor = int(start_ts)
        seen: set[tuple] = set()

        def fresh(rows: list[dict]) -> list[dict]:
            out = []
            for row in rows:
                key = (*(row.get(f) for f in key_fields), row.get("ts"))
                if key not in seen:
                    seen.add(key)
                    out.append(row)
            return out

        while True:
            data = self._ts_page(path, biz, ts_field, cursor, 1, page_size)
            rows = data.get(list_key) or []
            versions = [_version(r) for r in rows]
            if versions != sorted(versions):
                self.ts_fallbacks += 1
                yield from self._ts_stepping(
                    path, biz, ts_field, cursor, page_size, list_key, rows, data, fresh
                )
                return
            new = fresh(rows)
            yield from new
            top = max(versions, default=cursor)
            if not rows or len(rows) < page_size or not new or top <= cursor:
                return
            if not data.get("has_next", True):
                return
            cursor = top

    def _ts_page(self, path, biz, ts_field, cursor, page_index, page_size) -> dict:
        query = {
            **(biz or {}),
            ts_field: cursor,
            "is_get_total": False,
            "page_index": page_index,
            "page_size": page_size,
        }
        return self.call(path, query) or {}

    def _ts_stepping(
        self, path, biz, ts_field, cursor, page_size, list_key, first_rows, first_data, fresh
    ) -> Iterator[dict]:
        """Pattern a: the same start_ts, pages 2, 3, … until the last; rows out in ts order."""
        buffered = list(first_rows)
        data, rows, page_index = first_data, first_rows, 1
        while rows and len(rows) >= page_size and data.get("has_next", True):
            page_index += 1
            data = self._ts_page(path, biz, ts_field, cursor, page_index, page_size)
            rows = data.get(list_key) or []
            buffered.extend(rows)
        buffered.sort(key=_version)
        yield from fresh(buffered)

    def iter_ids(
        self,
        path: str,
        *,
        ids_field: str,
        ids: Iterable,
        chunk: int,
        biz: dict | None = None,
        list_key: str = "datas",
        page_size: int = 50,
        as_string: bool = False,
    ) -> Iterator[dict]:
        """Look documents up by their ids, `chunk` ids per call (the API's list limit)."""
        for part in _chunks(list(ids), chunk):
            value: Any = ",".join(str(i) for i in part) if as_string else part
            for rows in self.iter_pages(
                path,
                biz={**(biz or {}), ids_field: value},
                page_size=page_size,
                list_key=list_key,
            ):
                yield from rows

    def read(
        self,
        name: str,
        *,
        start: datetime,
        end: datetime,
        overlap: timedelta | None = None,
        **filters: Any,
    ) -> Iterator[dict]:
        """A named query (ENDPOINTS) through iter_window at its maximum page and window."""
        spec = ENDPOINTS[name]
        return self.iter_window(
            spec.path,
            start=start,
            end=end,
            max_window=spec.max_window,
            overlap=timedelta(minutes=10) if overlap is None else overlap,
            page_size=spec.max_page_size,
            biz=filters or None,
            list_key=spec.list_key,
            key_fields=spec.key_fields,
        )

    # --- named readers ------------------------------------------------------------------------
    def orders(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Orders (订单) modified in the range; filters e.g. status="Sent", shop_id=10001."""
        return self.read("orders", start=start, end=end, **filters)

    def orders_since(self, start_ts: int) -> Iterator[dict]:
        """Orders whose row version is >= start_ts (docs/protocols/jushuitan.md §2.5), at the
        largest page. Only the cursor and paging are sent (§2.5): the caller re-checks status
        itself."""
        endpoint = ENDPOINTS["orders"]
        return self.iter_ts(
            endpoint.path,
            start_ts=start_ts,
            page_size=endpoint.max_page_size,
            list_key=endpoint.list_key,
            key_fields=("o_id",),
        )

    def sales_outs(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Sales-out documents (销售出库单), one per shipment io_id; e.g. status="Confirmed"."""
        return self.read("sales_out", start=start, end=end, **filters)

    def sales_outs_since(self, start_ts: int) -> Iterator[dict]:
        """Sales-out documents whose row version is >= start_ts (cursor and paging only)."""
        endpoint = ENDPOINTS["sales_out"]
        return self.iter_ts(endpoint.path, start_ts=start_ts, page_size=endpoint.max_page_size)

    def received_returns(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Goods received back for after-sales (实际收货), one row per receipt io_id."""
        return self.read("aftersale_received", start=start, end=end, **filters)

    def received_returns_since(self, start_ts: int) -> Iterator[dict]:
        endpoint = ENDPOINTS["aftersale_received"]
        return self.iter_ts(endpoint.path, start_ts=start_ts, page_size=endpoint.max_page_size)

    def refunds(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """After-sales (售后单); e.g. status="Confirmed"."""
        return self.read("refunds", start=start, end=end, **filters)

    def skus(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        return self.read("skus", start=start, end=end, **filters)

    def inventory(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Stock per SKU (库存); pass wms_co_id for one warehouse, none for the total."""
        return self.read("inventory", start=start, end=end, **filters)

    def stock_counts(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Stock-count documents (盘点单); items[].qty is the signed gain/loss."""
        return self.read("stock_counts", start=start, end=end, **filters)

    def purchase_ins(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        return self.read("purchase_in", start=start, end=end, **filters)

    def purchase_outs(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        return self.read("purchase_out", start=start, end=end, **filters)

    def allocations(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Transfers (调拨单): each leg is its own document, linked by link_io_id."""
        return self.read("allocations", start=start, end=end, **filters)

    def other_inouts(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        return self.read("other_inout", start=start, end=end, **filters)

    def suppliers(self, *, start: datetime, end: datetime, **filters: Any) -> Iterator[dict]:
        """Suppliers (供应商) modified in the range (windows of at most one day)."""
        return self.read("suppliers", start=start, end=end, **filters)

    def shops(self) -> Iterator[dict]:
        spec = ENDPOINTS["shops"]
        for rows in self.iter_pages(spec.path, page_size=spec.max_page_size):
            yield from rows

    def warehouses(self) -> Iterator[dict]:
        """Partner / branch warehouses (wms_co_id) of the company."""
        spec = ENDPOINTS["warehouses"]
        for rows in self.iter_pages(spec.path, page_size=spec.max_page_size):
            yield from rows

    def orders_by_so_ids(self, so_ids: Iterable[str], **filters: Any) -> list[dict]:
        """Orders by platform order no. (≤20 per call): the existence check before re-sending."""
        return list(
            self.iter_ids(
                ENDPOINTS["orders"].path,
                ids_field="so_ids",
                ids=so_ids,
                chunk=20,
                biz=filters,
                list_key="orders",
                page_size=100,
            )
        )

    def orders_by_o_ids(self, o_ids: Iterable, **filters: Any) -> list[dict]:
        """Orders by internal order no. (o_ids, 20 per call), e.g. with is_get_cbfinance."""
        return list(
            self.iter_ids(
                ENDPOINTS["orders"].path,
                ids_field="o_ids",
                ids=o_ids,
                chunk=20,
                biz=filters,
                list_key="orders",
                page_size=100,
            )
        )

    def sales_outs_by_io_ids(self, io_ids: Iterable, **filters: Any) -> list[dict]:
        """Sales-out documents by io_id (≤50 per call), e.g. with is_get_cbfinance."""
        spec = ENDPOINTS["sales_out"]
        return list(
            self.iter_ids(
                spec.path,
                ids_field="io_ids",
                ids=io_ids,
                chunk=50,
                biz=filters,
                page_size=spec.max_page_size,
            )
        )

    def documents_by_external_ids(self, name: str, external_ids: Iterable[str]) -> list[dict]:
        """Warehouse documents by the caller's external no. (`so_ids`), e.g. to check that a
        write whose answer was lost has landed: name in purchase_in, purchase_out,
        allocations, other_inout, sales_out. Purchase-in sends `statuss` with every status:
        without it the query returns Confirmed only (§3.8), and an unconfirmed document
        would be written again."""
        spec = ENDPOINTS[name]
        biz = {"statuss": list(ALL_PURCHASE_IN_STATUSES)} if name == "purchase_in" else None
        return list(
            self.iter_ids(
                spec.path,
                ids_field="so_ids",
                ids=external_ids,
                chunk=30,
                biz=biz,
                list_key=spec.list_key,
                page_size=spec.max_page_size,
            )
        )

    def stock_counts_by_io_ids(self, io_ids: Iterable[str]) -> list[dict]:
        spec = ENDPOINTS["stock_counts"]
        return list(
            self.iter_ids(
                spec.path, ids_field="io_ids", ids=io_ids, chunk=50, page_size=50, as_string=True
            )
        )

    def skus_by_ids(self, sku_ids: Iterable[str]) -> list[dict]:
        spec = ENDPOINTS["skus"]
        return list(
            self.iter_ids(
                spec.path, ids_field="sku_ids", ids=sku_ids, chunk=20, page_size=50, as_string=True
            )
        )

    def suppliers_by_codes(self, codes: Iterable[str]) -> list[dict]:
        spec = ENDPOINTS["suppliers"]
        return list(
            self.iter_ids(spec.path, ids_field="supplier_codes", ids=codes, chunk=50, page_size=500)
        )

    def inventory_by_skus(
        self, sku_ids: Iterable[str], *, wms_co_id: int | None = None
    ) -> list[dict]:
        biz = {"wms_co_id": wms_co_id} if wms_co_id is not None else None
        return list(
            self.iter_ids(
                ENDPOINTS["inventory"].path,
                ids_field="sku_ids",
                ids=sku_ids,
                chunk=100,
                biz=biz,
                list_key="inventorys",
                page_size=100,
                as_string=True,
            )
        )

    # --- writers (idempotent by the external id the API keys on) -------------------------------
    def upload_skus(self, items: list[dict], *, batch: int = 50) -> list[RowResult]:
        """Create or update SKUs (商品资料); the key is sku_id."""
        results: list[RowResult] = []
        for part in _chunks(items, batch):
            data = self.call("/open/jushuitan/itemsku/upload", {"items": part}, write=True) or {}
            results += _row_results(data.get("datas") or [], "sku_id", "sku_id")
        return results

    def upload_suppliers(self, suppliers: list[dict], *, batch: int = 50) -> list[RowResult]:
        """Create or update suppliers; the key is supplier_code (remote id = supplier_id)."""
        results: list[RowResult] = []
        for part in _chunks(suppliers, batch):
            data = self.call("/open/supplier/upload", part, write=True) or {}
            results += _row_results(data.get("datas") or [], "supplier_code", "id")
        return results

    def _create_batch(self, path: str, docs: list[dict], batch: int) -> list[RowResult]:
        """createbatch routes (§3.8, §3.9): the public SDK answers one object
        `{external_id, io_id, is_success, msg}` (+ request_id) for a request array, so each
        call carries `batch` documents (1 by default) and answers are matched by external_id;
        a document without a matching answer is an unknown outcome."""
        results: list[RowResult] = []
        for part in _chunks(docs, batch):
            data = self.call(path, part, write=True)
            if isinstance(data, list):
                rows = data
            elif isinstance(data, dict) and isinstance(data.get("datas"), list):
                rows = data["datas"]
            elif isinstance(data, dict) and isinstance(data.get("data"), dict | list):
                inner = data["data"]
                rows = inner if isinstance(inner, list) else [inner]
            else:
                rows = [data] if isinstance(data, dict) else []
            by_key = {r.key: r for r in _row_results(rows, "external_id", "io_id") if r.key}
            if len(part) == 1 and not by_key and rows:
                # One document, one answer without its external_id: it is that document's.
                [only] = _row_results(rows[:1], "external_id", "io_id")
                by_key = {str(part[0].get("external_id", "")): only}
            for doc in part:
                key = str(doc.get("external_id", ""))
                results.append(
                    by_key.get(key)
                    or RowResult(key=key, ok=False, remote_id="", message="", raw={}, unknown=True)
                )
        return results

    def create_purchase_ins(self, docs: list[dict], *, batch: int = 1) -> list[RowResult]:
        """Purchase-in (采购入库) documents; the key is external_id (a repeat returns the
        same io_id)."""
        return self._create_batch("/open/webapi/wmsapi/purchasein/createbatch", docs, batch)

    def create_purchase_outs(self, docs: list[dict], *, batch: int = 1) -> list[RowResult]:
        """Purchase-out / return to supplier (采购退货); the key is external_id."""
        return self._create_batch("/open/webapi/wmsapi/purchaseout/createbatch", docs, batch)

    def _single(self, path: str, doc: dict, key_field: str) -> RowResult:
        data = self.call(path, doc, write=True) or {}
        inner = data.get("data") if isinstance(data.get("data"), dict) else data
        flag = success_flag(inner.get("issuccess", inner.get("is_success")))
        remote_id = str(inner.get("io_id") or "")
        if flag is None:
            flag = True if remote_id else None
        return RowResult(
            key=str(doc.get(key_field, "")),
            ok=bool(flag),
            remote_id=remote_id,
            message=str(inner.get("msg") or ""),
            raw=inner,
            unknown=flag is None,
        )

    def upload_transfer(self, doc: dict) -> RowResult:
        """A transfer between sub-warehouses of one company (调拨); the key is so_id."""
        return self._single("/open/jushuitan/allocate/in/upload", doc, "so_id")

    def upload_cross_transfers(self, docs: list[dict]) -> list[RowResult]:
        """Transfers between companies / partner warehouses (跨仓调拨); the key is so_id."""
        data = self.call("/open/allocate/kc/upload", docs, write=True) or {}
        return _row_results(data.get("datas") or [], "so_id", "io_id")

    def upload_inventory(self, doc: dict) -> RowResult:
        """Inventory check (type=check, absolute) or adjustment (type=adjust, delta); creates
        a stock-count document. The key is so_id: a repeat is ignored, the first wins."""
        return self._single("/open/jushuitan/inventoryv2/upload", doc, "so_id")

    def upload_other_inout(self, doc: dict) -> RowResult:
        """Other in / out (其它出入库), type in|out; the key is external_id."""
        return self._single("/open/jushuitan/otherinout/upload", doc, "external_id")

    def upload_orders(self, orders: list[dict], *, batch: int = 50) -> list[RowResult]:
        """Orders of a self-run shop (≤50 per call); the key is (shop_id, so_id)."""
        results: list[RowResult] = []
        for part in _chunks(orders, batch):
            data = self.call("/open/jushuitan/orders/upload", part, write=True) or {}
            results += _row_results(data.get("datas") or [], "so_id", "o_id")
        return results

    def upload_shipments(self, items: list[dict]) -> list[RowResult]:
        """Mark orders shipped (发货) with carrier and tracking no. (o_id or shop_id+so_id)."""
        data = self.call("/open/order/sent/upload", {"items": items}, write=True)
        rows = data if isinstance(data, list) else (data or {}).get("datas") or []
        return _row_results(rows, "so_id", "o_id")

    def upload_after_sales(self, docs: list[dict]) -> list[RowResult]:
        """After-sales (售后单); the key is (shop_id, outer_as_id)."""
        data = self.call("/open/aftersale/upload", docs, write=True) or {}
        return _row_results(data.get("datas") or [], "outer_as_id", "as_id")


_clients_lock = threading.RLock()
_clients: dict[int, tuple[float, JushuitanClient]] = {}


def client_for(connection) -> JushuitanClient:
    """The per-process client of a connection, rebuilt when the connection row changes. Its
    token comes from the registered provider (`transport.use_token_provider`)."""
    stamp = connection.updated_at.timestamp() if connection.updated_at else 0.0
    with _clients_lock:
        hit = _clients.get(connection.pk)
        if hit and hit[0] >= stamp:
            return hit[1]
        client = JushuitanClient(connection)
        _clients[connection.pk] = (stamp, client)
        return client


def forget_clients() -> None:
    """Drop the cached clients and close the pooled connections (tests, connection edits)."""
    with _clients_lock:
        _clients.clear()
        transport.close_session()
