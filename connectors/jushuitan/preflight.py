"""Jushuitan preflight (issue 18 point 8; docs/protocols/jushuitan.md): what a real tenant must
offer before the enabled flows go live.

- the token and the time left before it expires (§1.4);
- each endpoint the enabled flows call answers: a read with ids that match nothing, a write
  with an empty or incomplete body that the API refuses before writing anything. Code 190 (no
  permission for the API) fails the flow that needs it: an app may lack e.g. the
  `/open/webapi/wmsapi/*/createbatch` routes [U];
- for each configured shop, the last 7 days' shipments through the chosen F2 source and
  through the other one (info rows); the chosen source finding none where the other finds
  some fails F2;
- each mapped warehouse's wms_co_id is known to Jushuitan (§3.13);
- whether `modified_begin` includes its own second (§2.4, undocumented): observed on one
  recent sales-out row and recorded on the connection, so the time-window walk re-reads no
  more than it must;
- the rate-limit headroom left for other programs on the same app key (§2.1: 5/s, 100/min).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.utils import timezone

from connectors.errors import AuthError, BusinessError, ConnectorError, TransientError
from connectors.preflight import Check, provider
from core.messages import gettext as _

from .choices import WindowBegin
from .client import ENDPOINTS, client_for, parse_time, to_beijing

SYSTEM = "jushuitan"
CODE_NO_PERMISSION = 190
# The documented limits per app key (§2.1) [C for the numbers, U for their scope].
LIMIT_PER_SECOND = 5
LIMIT_PER_MINUTE = 100
PROBE_ID = "PREFLIGHT-NO-SUCH-DOC"

# flow code -> the (path, probe biz) it calls. A probe never writes: reads look up an id
# that does not exist, writes send a body the API must refuse (empty array, missing fields).
_READ = {"so_ids": [PROBE_ID], "page_index": 1, "page_size": 1}
_PROBES: dict[str, list[tuple[str, object]]] = {
    "sales_outbound": [],  # per source, see _f2_probes
    "sales_return": [(ENDPOINTS["aftersale_received"].path, _READ)],
    "purchase_inbound": [
        (ENDPOINTS["purchase_in"].path, _READ),
        ("/open/webapi/wmsapi/purchasein/createbatch", []),
        (ENDPOINTS["suppliers"].path, {"supplier_codes": [PROBE_ID], "page_index": 1}),
    ],
    "purchase_return": [
        (ENDPOINTS["purchase_out"].path, _READ),
        ("/open/webapi/wmsapi/purchaseout/createbatch", []),
    ],
    "transfer": [
        (ENDPOINTS["other_inout"].path, _READ),
        ("/open/jushuitan/otherinout/upload", {}),
    ],
    "inventory_adjust": [
        (ENDPOINTS["other_inout"].path, _READ),
        ("/open/jushuitan/otherinout/upload", {}),
    ],
    "stock_count": [
        (ENDPOINTS["stock_counts"].path, {"io_ids": "0", "page_index": 1, "page_size": 1}),
        ("/open/jushuitan/inventoryv2/upload", {"type": "none"}),
    ],
    "material_sync": [
        (ENDPOINTS["skus"].path, {"sku_ids": PROBE_ID, "page_index": 1, "page_size": 1}),
        ("/open/jushuitan/itemsku/upload", {"items": "none"}),
    ],
    "master_data": [
        (ENDPOINTS["suppliers"].path, {"supplier_codes": [PROBE_ID], "page_index": 1}),
        ("/open/supplier/upload", {}),
    ],
}


def _f2_probes(source: str) -> list[tuple[str, object]]:
    if source == "orders":
        return [(ENDPOINTS["orders"].path, {"so_ids": [PROBE_ID], "page_index": 1})]
    return [(ENDPOINTS["sales_out"].path, _READ)]


@provider(SYSTEM)
def jushuitan_checks(integration) -> Iterator[Check]:
    from flows.models import Flow

    connection = integration.jushuitan
    token = _token_check(connection)
    yield token
    if not token.ok:
        return  # every other check needs a token
    client = client_for(connection)
    flows = {f.code: f for f in Flow.objects.filter(integration=integration, enabled=True)}
    yield from _endpoint_checks(client, flows)
    if "sales_outbound" in flows:
        yield from _shipment_checks(client, integration, flows["sales_outbound"])
    yield from _warehouse_checks(client, integration)
    yield _window_begin_check(client, connection)
    yield _headroom_check(connection)


def _token_check(connection) -> Check:
    from . import services

    try:
        services.token_ensure_fresh(connection=connection)
        connection.refresh_from_db()
    except ConnectorError as exc:
        return Check(
            system=SYSTEM,
            key="jushuitan.token",
            title=_("Access token of %(name)s") % {"name": connection.name},
            ok=False,
            detail=str(exc.message),
            fix=_(
                "Check the app key and secret; an ISV app needs the merchant to authorise it "
                "again, then use 'Refresh token now'."
            ),
        )
    left = connection.token_expires_at - timezone.now() if connection.token_expires_at else None
    ok = left is not None and left > timedelta(0)
    return Check(
        system=SYSTEM,
        key="jushuitan.token",
        title=_("Access token of %(name)s") % {"name": connection.name},
        ok=ok,
        detail=_("valid until %(until)s (%(days).1f days left)")
        % {
            "until": connection.token_expires_at,
            "days": (left.total_seconds() / 86400) if left is not None else 0,
        },
        fix=_("Use 'Refresh token now' on the connection."),
    )


def _endpoint_checks(client, flows: dict) -> Iterator[Check]:
    wanted: dict[str, list[str]] = {}
    bodies: dict[str, object] = {}
    for code, flow in flows.items():
        probes = (
            _f2_probes((flow.settings or {}).get("source", "sales_out"))
            if code == "sales_outbound"
            else _PROBES.get(code, [])
        )
        for path, body in probes:
            wanted.setdefault(path, []).append(code)
            bodies[path] = body
    for path, codes in sorted(wanted.items()):
        ok, detail = _probe(client, path, bodies[path])
        yield Check(
            system=SYSTEM,
            key=f"jushuitan.endpoint.{path}",
            title=_("Jushuitan answers %(path)s") % {"path": path},
            ok=ok,
            detail=detail,
            fix=_(
                "Add this API to the app's API package (API权限包) in the Jushuitan open "
                "platform console, or switch off the flows that need it."
            ),
            flows=tuple(sorted(set(codes))),
        )


def _probe(client, path: str, body) -> tuple[bool, str]:
    write = "upload" in path or "create" in path
    try:
        client.call(path, body, write=write)
    except BusinessError as exc:
        if exc.code == CODE_NO_PERMISSION:
            return False, f"code {exc.code}: {exc.remote_message}"
        return True, _("answers (refused the empty probe: code %(code)s %(msg)s)") % {
            "code": exc.code,
            "msg": exc.remote_message,
        }
    except (AuthError, TransientError) as exc:
        return False, str(exc.message)
    return True, _("answers")


def _count(client, name: str, shop_id: str, start, end, **filters) -> int | None:
    """Rows of a query in [start, end] for one shop (data_count of a one-row page)."""
    spec = ENDPOINTS[name]
    biz = {
        "shop_id": int(shop_id) if str(shop_id).isdigit() else shop_id,
        "modified_begin": to_beijing(start),
        "modified_end": to_beijing(end),
        "page_index": 1,
        "page_size": 1,
        **filters,
    }
    data = client.call(spec.path, biz) or {}
    if "data_count" in data:
        return int(data["data_count"])
    return len(data.get(spec.list_key) or [])


def _shipment_checks(client, integration, flow) -> Iterator[Check]:
    from mappings.models import ShopCustomerMapping

    source = (flow.settings or {}).get("source", "sales_out")
    shops = list(
        ShopCustomerMapping.objects.filter(integration=integration)
        .order_by("shop_id")
        .values_list("shop_id", flat=True)
    ) or [str(s) for s in integration.jushuitan.shop_scope or []]
    end = timezone.now()
    start = end - timedelta(days=7)
    for shop in shops:
        try:
            outs = _count(client, "sales_out", shop, start, end, status="Confirmed")
            orders = _count(client, "orders", shop, start, end, status="Sent")
        except ConnectorError as exc:
            yield Check(
                system=SYSTEM,
                key=f"jushuitan.shipments.{shop}",
                title=_("Shipments of shop %(shop)s in the last 7 days") % {"shop": shop},
                ok=False,
                detail=str(exc.message),
                flows=("sales_outbound",),
            )
            continue
        chosen, other = (outs, orders) if source == "sales_out" else (orders, outs)
        detail = _(
            "sales-out documents (/open/orders/out/simple/query): %(outs)s; shipped orders "
            "(/open/orders/single/query): %(orders)s; F2 reads %(source)s"
        ) % {"outs": outs, "orders": orders, "source": source}
        missing = not chosen and bool(other)
        yield Check(
            system=SYSTEM,
            key=f"jushuitan.shipments.{shop}",
            title=_("Shipments of shop %(shop)s in the last 7 days") % {"shop": shop},
            ok=not missing,
            info=not missing,
            detail=detail,
            fix=_(
                "The chosen source returns none of this shop's shipments while the other one "
                "does: set the F2 flow setting source to the other one."
            ),
            flows=("sales_outbound",),
        )


def _warehouse_checks(client, integration) -> Iterator[Check]:
    from mappings.models import WarehouseMapping

    mapped = sorted(
        set(
            WarehouseMapping.objects.filter(integration=integration).values_list(
                "wms_co_id", flat=True
            )
        )
    )
    if not mapped:
        return
    try:
        known = {str(w.get("wms_co_id")) for w in client.warehouses()}
    except ConnectorError as exc:
        yield Check(
            system=SYSTEM,
            key="jushuitan.warehouses",
            title=_("Jushuitan warehouses (/open/wms/partner/query)"),
            ok=False,
            detail=str(exc.message),
        )
        return
    for wms_co_id in mapped:
        # 0 is the merchant's own main company (§3 conventions); it is never listed.
        ok = str(wms_co_id) in known or str(wms_co_id) == "0"
        yield Check(
            system=SYSTEM,
            key=f"jushuitan.warehouse.{wms_co_id}",
            title=_("Warehouse wms_co_id %(id)s is known to Jushuitan") % {"id": wms_co_id},
            ok=ok,
            detail=_("listed") if ok else _("not among %(known)s") % {"known": sorted(known)},
            fix=_("Correct the warehouse mapping's wms_co_id (Mappings → Warehouses)."),
        )


def _headroom_check(connection) -> Check:
    """What the portal's own limiter leaves of the documented limits, and whether Jushuitan
    answered 199/200 in the last 24 hours (another program on the same key, or a tighter
    API package)."""
    from monitoring.models import RemoteCall

    per_second = LIMIT_PER_SECOND - int(connection.rate_per_second)
    per_minute = LIMIT_PER_MINUTE - int(connection.rate_per_minute)
    since = timezone.now() - timedelta(hours=24)
    limited = (
        RemoteCall.objects.filter(system=SYSTEM, created_at__gte=since)
        .filter(error__regex=r"code (199|200)\b")
        .count()
    )
    ok = per_second > 0 and per_minute > 0 and limited == 0
    return Check(
        system=SYSTEM,
        key="jushuitan.rate_headroom",
        title=_("Rate-limit headroom left for other programs on app key %(key)s")
        % {"key": connection.app_key},
        ok=ok,
        info=ok,
        detail=_(
            "Jushuitan allows %(ls)s/s and %(lm)s/min per app key; the portal takes %(ps)s/s "
            "and %(pm)s/min, leaving %(hs)s/s and %(hm)s/min; %(n)s rate-limit answers "
            "(199/200) in the last 24 hours."
        )
        % {
            "ls": LIMIT_PER_SECOND,
            "lm": LIMIT_PER_MINUTE,
            "ps": connection.rate_per_second,
            "pm": connection.rate_per_minute,
            "hs": per_second,
            "hm": per_minute,
            "n": limited,
        },
        fix=_(
            "Lower the connection's calls per second / per minute so other programs using the "
            "same app key keep some room, or ask Jushuitan for a larger API package."
        ),
    )


def _window_begin_check(client, connection) -> Check:
    """Ask for one recent sales-out row again with `modified_begin` set to its own `modified`:
    the answer says whether the begin is inclusive on this tenant. The observation is stored
    on the connection (the walk then re-enters at the newest second instead of one earlier)."""
    title = _("Time windows: does modified_begin include its own second?")
    spec = ENDPOINTS["sales_out"]
    end = timezone.now()
    try:
        data = client.call(
            spec.path,
            {
                "modified_begin": to_beijing(end - timedelta(days=7)),
                "modified_end": to_beijing(end),
                "page_index": 1,
                "page_size": 1,
            },
        )
        rows = (data or {}).get(spec.list_key) or []
        row = next((r for r in rows if r.get("modified") and r.get("io_id")), None)
        if row is None:
            return Check(
                system=SYSTEM, key="jushuitan.window_begin", title=title, ok=True, info=True,
                detail=_(
                    "No sales-out document in the last 7 days to observe it on: kept as "
                    "%(value)s."
                ) % {"value": WindowBegin(connection.window_begin).label},
            )  # fmt: skip
        moment = parse_time(row["modified"])
        begin = to_beijing(moment)
        again = client.call(
            spec.path,
            {
                "modified_begin": begin,
                "modified_end": to_beijing(moment + timedelta(seconds=1)),
                "page_index": 1,
                "page_size": 50,
            },
        )
    except ConnectorError as exc:
        return Check(
            system=SYSTEM, key="jushuitan.window_begin", title=title, ok=True, info=True,
            detail=str(exc.message),
        )  # fmt: skip
    found = any(r.get("io_id") == row["io_id"] for r in (again or {}).get(spec.list_key) or [])
    observed = WindowBegin.INCLUSIVE if found else WindowBegin.EXCLUSIVE
    if connection.window_begin != observed:
        type(connection).objects.filter(pk=connection.pk).update(window_begin=observed)
        connection.window_begin = observed
    return Check(
        system=SYSTEM, key="jushuitan.window_begin", title=title, ok=True, info=True,
        detail=_(
            "Sales-out %(io_id)s modified at %(begin)s, asked again from that second: "
            "%(answer)s. Recorded on the connection: %(value)s."
        ) % {
            "io_id": row["io_id"],
            "begin": begin,
            "answer": _("in the answer") if found else _("left out of the answer"),
            "value": observed.label,
        },
    )  # fmt: skip
