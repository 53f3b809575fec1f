"""Import dry runs check codes against the target system's snapshot (M4, issue 24 point 6).

A column checked against a snapshot (KnownCode of one system and kind) refuses a code that
system did not list, naming the field, what was expected and the allowed values (all of them
for a small code table, the closest ones otherwise). Kingdee is asked once per file about the
codes its snapshot lacks (created since the last pull) before the import's transaction opens;
the snapshot learns those it has. Code tables also carry details that must agree with the row
(a currency's ISO code, a tax rate's percentage).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from core.messages import as_message
from core.messages import gettext as _

from .choices import MasterKind, System
from .models import KnownCode

#: a snapshot this small is listed in full in an error; a larger one by its closest codes
LIST_ALL_UP_TO = 30
CLOSEST = 5


@dataclass(frozen=True)
class Known:
    name: str
    extra: dict


def snapshot_codes(
    integration_id: int, system: str, kind: str, *, only=None
) -> dict[str, Known] | None:
    """The codes `system` listed for `kind` with their names and details (None: never
    listed, so nothing is checked); `only` limits the answer to those codes."""
    rows = KnownCode.objects.filter(integration_id=integration_id, system=system, kind=kind)
    if only is not None:
        rows = rows.filter(code__in=list(only))
    values = rows.values_list("code", "name", "extra")
    return {code: Known(name, extra or {}) for code, name, extra in values} or None


def code_label(code: str, known: Known) -> str:
    details = known.extra.get("iso") or known.extra.get("rate") or ""
    text = f"{code} {known.name}".strip()
    return f"{text} ({details})" if details != "" else text


def allowed_values(value: str, known: dict[str, Known]) -> str:
    """The allowed values of a column, for an error: every code of a small table, else the
    closest codes to the value given and how many there are."""
    if len(known) <= LIST_ALL_UP_TO:
        listed = "; ".join(code_label(code, known[code]) for code in sorted(known))
        return _("Allowed values: %(values)s.") % {"values": listed}
    closest = difflib.get_close_matches(value, list(known), n=CLOSEST, cutoff=0.5)
    text = _("%(count)d codes are known (Mappings › known codes).") % {"count": len(known)}
    if closest:
        text += " " + _("Closest: %(values)s.") % {
            "values": "; ".join(code_label(code, known[code]) for code in closest)
        }
    return text


def unknown_code_message(*, value: str, system: str, kind: str, known: dict[str, Known]) -> str:
    from .code_tables import CODE_TABLE_KINDS

    if kind in CODE_TABLE_KINDS:
        read = _("the code tables last pulled")
        again = _("press 'Pull code tables' (Mappings › known codes) if it was created since")
    else:
        read = _("the codes read at initialisation")
        again = _("run 'Initialise mappings from both systems' again if it was created since")
    message = _(
        "“%(value)s”: %(system)s has no %(kind)s with this code (%(read)s): check the code, "
        "or %(again)s."
    ) % {
        "value": value,
        "kind": as_message(MasterKind(kind).label).lower(),
        "system": System(system).label,
        "read": read,
        "again": again,
    }
    return f"{message} {allowed_values(value, known)}"


def unreachable_message(*, value: str, trouble: str) -> str:
    return _(
        "“%(value)s” is not among the codes read from Kingdee and Kingdee could not be asked "
        "now (%(error)s): try the dry run again."
    ) % {"value": value, "error": trouble}


def currency_mismatch(*, iso: str, number: str, known: Known) -> str | None:
    """A currency mapping whose Kingdee currency is another currency (USD → PRE003 EUR)."""
    listed = str(known.extra.get("iso") or "").upper()
    if not listed or not iso or listed == iso.upper():
        return None
    return _(
        "Kingdee currency %(number)s is %(name)s (%(listed)s), not %(iso)s: map %(iso)s to "
        "the Kingdee currency whose code is %(iso)s."
    ) % {"number": number, "name": known.name, "listed": listed, "iso": iso.upper()}


def tax_rate_mismatch(*, rate, number: str, known: Known) -> str | None:
    """A tax template whose VAT rate differs from its Kingdee tax rate's percentage."""
    try:
        listed = Decimal(str(known.extra.get("rate")))
        given = Decimal(str(rate))
    except (InvalidOperation, TypeError, ValueError):
        return None
    if listed == given:
        return None
    return _(
        "Kingdee tax rate %(number)s (%(name)s) is %(listed)s%%, not %(rate)s%%: use the tax "
        "rate of %(rate)s%% or correct the VAT rate."
    ) % {
        "number": number,
        "name": known.name,
        "listed": listed.normalize(),
        "rate": given.normalize(),
    }
