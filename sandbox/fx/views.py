"""The FX sources as the real ones answer (docs/protocols/alerts-fx-customs.md §2.2): CFETS
ccpr.json and CcprHisNew, ECB eurofxref daily / 90-day XML and the zipped CSV history. Fault
injection (system "fx") applies to every endpoint: server errors and added latency."""

import io
import math
import time
import zipfile
from datetime import date, timedelta

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox import faults

from . import world


def _faulty() -> HttpResponse | None:
    profile = faults.current("fx")
    faults.delay(profile)
    if faults.roll(profile.error_rate):
        return HttpResponse("<html><body>502 Bad Gateway</body></html>", status=502)
    return None


def _head(code: str = "200", message: str = "") -> dict:
    return {
        "version": "2.0",
        "provider": "CWAP",
        "rep_code": code,
        "rep_message": message,
        "ts": int(time.time() * 1000),
    }


def _json(body: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def _pair_name_cn(pair: str) -> str:
    left, right = pair.split("/")
    left_name = world.PAIR_NAMES_CN.get(left.lstrip("0123456789"), "人民币")
    right_name = world.PAIR_NAMES_CN.get(right, "人民币")
    prefix = "100" if left.startswith("100") else ""
    return f"{prefix}{left_name}/{right_name}"


@csrf_exempt
@require_http_methods(["GET", "POST"])
def cfets_latest(request):
    """ccpr.json: the latest published fixing, prices as strings, bp = change in pips."""
    if failure := _faulty():
        return failure
    day = world.latest_fixing_day()
    previous = world.previous_fixing_day(day)
    records = []
    for code, pair in enumerate(world.BASE_PRICES, start=1):
        price = world.fixing_price(pair, day)
        bp = (price - world.fixing_price(pair, previous)) * 10000 if previous else 0
        records.append(
            {
                "vrtCode": str(code),
                "vrtName": _pair_name_cn(pair),
                "vrtEName": pair,
                "price": f"{price:.4f}",
                "bp": f"{bp:.2f}",
                "bpDouble": float(bp),
            }
        )
    return _json(
        {
            "head": _head(),
            "data": {
                "lastDate": f"{day.isoformat()} 9:15",
                "lastDateEn": f"{day.strftime('%d/%m/%Y')} 9:15",
            },
            "records": records,
        }
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def cfets_history(request):
    """CcprHisNew: rows newest first, paged; a page size of 100 or more is refused (403)."""
    if failure := _faulty():
        return failure
    params = request.GET if request.method == "GET" else request.POST
    try:
        start = date.fromisoformat(params.get("startDate", ""))
        end = date.fromisoformat(params.get("endDate", ""))
        page = max(1, int(params.get("pageNum", 1)))
        size = int(params.get("pageSize", 15))
    except ValueError:
        return _json({"head": _head("400", "参数错误"), "data": {}, "records": []})
    if size >= 100:
        return HttpResponse("<html><body>403 Forbidden</body></html>", status=403)
    size = max(1, size)
    wanted = [p.strip() for p in params.get("currency", "").split(",") if p.strip()]
    pairs = [p for p in wanted if p in world.BASE_PRICES] or list(world.BASE_PRICES)
    rows = []
    day = end
    while day >= start:
        fixings = world.fixings_on(day)
        if fixings:
            rows.append({"date": day.isoformat(), "values": [f"{fixings[p]:.4f}" for p in pairs]})
        day -= timedelta(days=1)
    total = len(rows)
    return _json(
        {
            "head": _head(),
            "data": {
                "head": pairs,
                "total": total,
                "pageTotal": max(1, math.ceil(total / size)),
                "pageNum": page,
                "pageSize": size,
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
                "searchlist": pairs,
            },
            "records": rows[(page - 1) * size : page * size],
        }
    )


def _ecb_xml(days: list[date]) -> HttpResponse:
    cubes = []
    for day in days:
        rates = world.ecb_rates_on(day)
        if rates is None:
            continue
        inner = "".join(
            f'<Cube currency="{currency}" rate="{rate}"/>'
            for currency, rate in sorted(rates.items())
        )
        cubes.append(f'<Cube time="{day.isoformat()}">{inner}</Cube>')
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">'
        "<gesmes:subject>Reference rates</gesmes:subject>"
        "<gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>"
        f"<Cube>{''.join(cubes)}</Cube></gesmes:Envelope>"
    )
    return HttpResponse(body, content_type="text/xml; charset=utf-8")


def _ecb_days_back(count: int) -> list[date]:
    today = world.now_beijing().date()
    return [today - timedelta(days=n) for n in range(count)]


@require_http_methods(["GET"])
def ecb_daily(request):
    if failure := _faulty():
        return failure
    latest = next(day for day in _ecb_days_back(15) if world.ecb_rates_on(day))
    return _ecb_xml([latest])


@require_http_methods(["GET"])
def ecb_history_90d(request):
    if failure := _faulty():
        return failure
    return _ecb_xml(_ecb_days_back(90))


@require_http_methods(["GET"])
def ecb_history_zip(request):
    """eurofxref-hist.zip: one CSV, newest first, 'N/A' where a currency had no rate."""
    if failure := _faulty():
        return failure
    days = _ecb_days_back((world.now_beijing().date() - world.FIRST_DAY).days + 1)
    currencies = sorted(world.ecb_rates_on(date(2024, 1, 2)) or {})
    lines = ["Date," + ",".join(currencies) + ","]
    for day in days:
        rates = world.ecb_rates_on(day)
        if rates:
            lines.append(
                day.isoformat() + "," + ",".join(str(rates.get(c, "N/A")) for c in currencies) + ","
            )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("eurofxref-hist.csv", "\n".join(lines) + "\n")
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="eurofxref-hist.zip"'
    return response


def health(request):
    """A small index of what this simulator serves (for people poking at the demo)."""
    return _json(
        {
            "cfets": [
                "cfets/r/cms/www/chinamoney/data/fx/ccpr.json",
                "cfets/ags/ms/cm-u-bk-ccpr/CcprHisNew",
            ],
            "ecb": [
                "ecb/stats/eurofxref/eurofxref-daily.xml",
                "ecb/stats/eurofxref/eurofxref-hist-90d.xml",
                "ecb/stats/eurofxref/eurofxref-hist.zip",
            ],
            "latest_fixing_day": world.latest_fixing_day().isoformat(),
        }
    )
