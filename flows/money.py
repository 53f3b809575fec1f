"""Money arithmetic of the flows: Decimal only, explicit rounding, allocations that add up."""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(value, places: Decimal = CENT) -> Decimal:
    """Parse a source amount ('12.3', 12.3, None) into a Decimal rounded half-up to the cent."""
    if value in (None, ""):
        return Decimal("0").quantize(places)
    return Decimal(str(value)).quantize(places, rounding=ROUND_HALF_UP)


def allocate(total: Decimal, weights: list[Decimal], places: Decimal = CENT) -> list[Decimal]:
    """Split `total` over lines in proportion to `weights`, rounded to `places`, so that the
    parts add up exactly to `total` (largest remainder; ties go to the earlier line).

    >>> allocate(Decimal("10.00"), [Decimal(1), Decimal(1), Decimal(1)])
    [Decimal('3.34'), Decimal('3.33'), Decimal('3.33')]
    """
    total = Decimal(total).quantize(places, rounding=ROUND_HALF_UP)
    if not weights:
        return []
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        weights = [Decimal(1)] * len(weights)
        weight_sum = Decimal(len(weights))
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    exact = [magnitude * w / weight_sum for w in weights]
    floors = [e.quantize(places, rounding=ROUND_DOWN) for e in exact]
    left = int(((magnitude - sum(floors, Decimal(0))) / places).to_integral_value())
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += places
    return [sign * part for part in floors]


def spread(total: Decimal, weights: list[Decimal], places: Decimal = CENT) -> list[Decimal]:
    """Split `total` over lines in proportion to `weights`: every line but the last weighted
    one rounds towards zero, the last weighted line takes the remainder, so the parts add up
    exactly to `total` and a line without weight (a gift) gets nothing (issue 19 point 1).

    >>> spread(Decimal("2.00"), [Decimal("59.98"), Decimal("8.99"), Decimal(0)])
    [Decimal('1.73'), Decimal('0.27'), Decimal('0.00')]
    """
    total = Decimal(total).quantize(places, rounding=ROUND_HALF_UP)
    if not weights:
        return []
    weighted = [i for i, w in enumerate(weights) if w]
    if not weighted:
        return allocate(total, weights, places)
    weight_sum = sum(weights, Decimal(0))
    parts = [
        (total * w / weight_sum).quantize(places, rounding=ROUND_DOWN) if w else places * 0
        for w in weights
    ]
    last = weighted[-1]
    parts[last] = total - sum(parts[:last], Decimal(0)) - sum(parts[last + 1 :], Decimal(0))
    return parts
