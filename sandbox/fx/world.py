"""The simulated FX world: deterministic central-parity fixings and ECB reference rates.

A fixing exists for a date iff it is an interbank trading day (Monday to Friday, not a Chinese
public holiday) and it has been published (09:15 Beijing time). Prices drift a little from a
base value by a hash of the date, so every run and every test sees the same numbers. The ECB
publishes on TARGET days (weekdays except its own holidays, open on Chinese holidays), a few
tenths of a percent away from the parity, as the real reference rates are.
"""

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
PUBLISHED_AT = time(9, 15)

# Base fixings as CFETS quotes them (direct: CNY per unit, JPY per 100; indirect: per 1 CNY).
BASE_PRICES: dict[str, Decimal] = {
    "USD/CNY": Decimal("7.1000"),
    "EUR/CNY": Decimal("7.7000"),
    "100JPY/CNY": Decimal("4.7500"),
    "HKD/CNY": Decimal("0.9130"),
    "GBP/CNY": Decimal("9.0000"),
    "AUD/CNY": Decimal("4.6500"),
    "NZD/CNY": Decimal("4.2000"),
    "SGD/CNY": Decimal("5.3000"),
    "CHF/CNY": Decimal("8.1000"),
    "CAD/CNY": Decimal("5.1500"),
    "CNY/MOP": Decimal("1.1300"),
    "CNY/MYR": Decimal("0.6300"),
    "CNY/RUB": Decimal("12.5000"),
    "CNY/ZAR": Decimal("2.5200"),
    "CNY/KRW": Decimal("192.0000"),
    "CNY/AED": Decimal("0.5170"),
    "CNY/SAR": Decimal("0.5280"),
    "CNY/HUF": Decimal("50.2000"),
    "CNY/PLN": Decimal("0.5500"),
    "CNY/DKK": Decimal("0.9650"),
    "CNY/SEK": Decimal("1.4600"),
    "CNY/NOK": Decimal("1.4800"),
    "CNY/TRY": Decimal("4.6000"),
    "CNY/MXN": Decimal("2.6500"),
    "CNY/THB": Decimal("4.9500"),
}
PAIR_NAMES_CN = {
    "USD": "美元",
    "EUR": "欧元",
    "JPY": "日元",
    "HKD": "港元",
    "GBP": "英镑",
    "AUD": "澳元",
    "NZD": "新西兰元",
    "SGD": "新加坡元",
    "CHF": "瑞士法郎",
    "CAD": "加元",
    "MOP": "澳门元",
    "MYR": "林吉特",
    "RUB": "卢布",
    "ZAR": "南非兰特",
    "KRW": "韩元",
    "AED": "阿联酋迪拉姆",
    "SAR": "沙特里亚尔",
    "HUF": "匈牙利福林",
    "PLN": "波兰兹罗提",
    "DKK": "丹麦克朗",
    "SEK": "瑞典克朗",
    "NOK": "挪威克朗",
    "TRY": "土耳其里拉",
    "MXN": "墨西哥比索",
    "THB": "泰铢",
}


def _days(first: str, last: str) -> set[date]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return {start + timedelta(days=n) for n in range((end - start).days + 1)}


# Chinese public holidays on which the interbank market is closed (the sandbox's calendar).
CHINESE_HOLIDAYS: set[date] = (
    _days("2025-01-01", "2025-01-01")
    | _days("2025-01-28", "2025-02-04")
    | _days("2025-04-04", "2025-04-06")
    | _days("2025-05-01", "2025-05-05")
    | _days("2025-05-31", "2025-06-02")
    | _days("2025-10-01", "2025-10-08")
    | _days("2026-01-01", "2026-01-03")
    | _days("2026-02-15", "2026-02-23")
    | _days("2026-04-04", "2026-04-06")
    | _days("2026-05-01", "2026-05-05")
    | _days("2026-06-19", "2026-06-21")
    | _days("2026-09-25", "2026-09-27")
    | _days("2026-10-01", "2026-10-07")
    | _days("2027-01-01", "2027-01-01")
)
# TARGET closing days (besides weekends).
TARGET_HOLIDAYS: set[date] = {
    date.fromisoformat(day)
    for day in (
        "2025-01-01",
        "2025-04-18",
        "2025-04-21",
        "2025-05-01",
        "2025-12-25",
        "2025-12-26",
        "2026-01-01",
        "2026-04-03",
        "2026-04-06",
        "2026-05-01",
        "2026-12-25",
        "2026-12-26",
        "2027-01-01",
    )
}
FIRST_DAY = date(2024, 1, 1)
ECB_SPREAD = Decimal("1.004")  # reference rates sit ~0.4 % away from the parity


def now_beijing() -> datetime:
    return datetime.now(BEIJING)


def is_fixing_day(day: date) -> bool:
    return day >= FIRST_DAY and day.weekday() < 5 and day not in CHINESE_HOLIDAYS


def is_published(day: date, now: datetime | None = None) -> bool:
    now = now or now_beijing()
    today = now.date()
    return day < today or (day == today and now.time() >= PUBLISHED_AT)


def fixing_price(pair: str, day: date) -> Decimal:
    """The sandbox fixing of a pair on a day (whether or not it is a fixing day)."""
    index = list(BASE_PRICES).index(pair)
    wobble = ((day.toordinal() * 7919 + index * 104729) % 2001) - 1000  # -1000 .. 1000
    factor = Decimal(1) + Decimal(wobble) / Decimal(200000)  # within ±0.5 %
    return (BASE_PRICES[pair] * factor).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def fixings_on(day: date, now: datetime | None = None) -> dict[str, Decimal] | None:
    """Every pair's fixing of that day, or None when nothing was (yet) published."""
    if not is_fixing_day(day) or not is_published(day, now):
        return None
    return {pair: fixing_price(pair, day) for pair in BASE_PRICES}


def latest_fixing_day(now: datetime | None = None) -> date:
    now = now or now_beijing()
    day = now.date()
    while fixings_on(day, now) is None:
        day -= timedelta(days=1)
    return day


def previous_fixing_day(day: date) -> date | None:
    day -= timedelta(days=1)
    while day >= FIRST_DAY:
        if is_fixing_day(day):
            return day
        day -= timedelta(days=1)
    return None


def _cny_per_unit(pair: str, price: Decimal) -> tuple[str, Decimal]:
    left, right = pair.split("/")
    if right == "CNY":
        unit = 100 if left.startswith("100") else 1
        return left.lstrip("0123456789"), price / unit
    return right, Decimal(1) / price


def ecb_rates_on(day: date, now: datetime | None = None) -> dict[str, Decimal] | None:
    """ECB reference rates of a day (units per 1 EUR), or None on TARGET closing days."""
    now = now or now_beijing()
    published = day < now.date() or (day == now.date() and now.hour >= 23)  # 16:00 CET
    if day < FIRST_DAY or day.weekday() >= 5 or day in TARGET_HOLIDAYS or not published:
        return None
    cny_per = dict(_cny_per_unit(pair, fixing_price(pair, day)) for pair in BASE_PRICES)
    cny_per_eur = cny_per.pop("EUR") * ECB_SPREAD
    rates = {"CNY": cny_per_eur.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)}
    for currency, cny in cny_per.items():
        rates[currency] = (cny_per_eur / (cny * ECB_SPREAD)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )
    return rates
