"""F8.2 opt-in revaluation of counted stock (docs/requirements.md F8.2; issue 17 point 1). The
accounting is in docs/finance/stock-counts.md §7, the bill in docs/field-maps.md §5b and the form
in docs/protocols/kingdee.md §4.16.

The count bills already move the variance at Kingdee's unit cost (variance × KD cost). With the
flow setting `revaluation` = "propose" the portal also proposes a cost adjustment
(HS_AdjustmentBill, 成本调整单) that re-values the COUNTED stock of every line over the F8.2
threshold to a reference unit cost:

    amount = r_qty × (reference cost − Kingdee unit cost), rounded half-up to the cent

r_qty is the quantity after the count, so the amount never contains the variance's value and
nothing is counted twice: after approval the line's inventory value is book value + variance ×
KD cost + r_qty × (reference − KD cost) = r_qty × reference (when the book was valued at the KD
cost). A zero amount gives no line, no lines give no bill.

- One bill per count bill (`<count bill no.>-CA`), carrying the count number in the custom header
  field `<custom_prefix>CountNo` like the count bills; saved only (status A), looked up by number
  before any resend, queried back after save; the count's finance ticket lists it, approving
  audits it after the count bill, rejecting deletes it (finance/stock_counts.py).
- The reference cost comes from `revaluation_reference`: "count_line" (default, the count line's
  Jushuitan `cost_price`) or "sku" (the Jushuitan SKU's `cost_price`).
- Every key of the bill is a setting (`revaluation_bill`, overlaid on DEFAULT_BILL).
- Gate: the HS_AdjustmentBill checks join the Kingdee preflight while `revaluation` is
  "propose", and turning it on (or switching on the flow with it) is refused until the latest
  preflight proved the form and every configured key, unless a person overrides it
  (flows.services.flow_settings_update / flow_enable, docs/protocols/kingdee.md §7).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from .base import FlowContext, ValidationProblem
from .kingdee_common import custom_field

OFF, PROPOSE = "off", "propose"
MODES = (OFF, PROPOSE)
SUFFIX = "CA"
CENT = Decimal("0.01")
REFERENCES = ("count_line", "sku")

# docs/protocols/kingdee.md §4.16: keys [S] from a public integration's DTO; the values are the
# portal's defaults [U] (tenants differ: set `revaluation_bill`).
DEFAULT_BILL: dict[str, Any] = {
    "form": "HS_AdjustmentBill",
    "entry": "FEntity",
    "bill_type": "CBTZD01_SYS",
    "acct_system": "KJHSTX01_SYS",
    "acct_policy": "KJZC01_SYS",
    "business_type": "0",
    "acct_org": "",  # empty: the Kingdee connection's organisation
    "keys": {
        "bill_type": "FBillTypeID",
        "acct_system": "FACCTGSYSTEMID",
        "acct_org": "FAcctOrgID",
        "acct_policy": "FACCTPOLICYID",
        "business_type": "FBusinessType",
        "stock_org": "FStockOrgID",
        "material": "FMaterialID",
        "stock_status": "FSTOCKSTATUSID",
        "stock": "FStockID",
        "owner": "FOwnerID",
        "amount": "FAdjustmentAMOUNT",
    },
}
HEADER_KEYS = ("bill_type", "acct_system", "acct_org", "acct_policy", "business_type")
ENTRY_KEYS = ("stock_org", "material", "stock_status", "stock", "owner", "amount")


def mode(settings: dict | None) -> str:
    value = str((settings or {}).get("revaluation", OFF) or OFF)
    return value if value in MODES else OFF


def bill_spec(settings: dict | None) -> dict[str, Any]:
    """The cost adjustment bill as configured: DEFAULT_BILL overlaid with `revaluation_bill`."""
    configured = dict((settings or {}).get("revaluation_bill") or {})
    spec = {**DEFAULT_BILL, **{k: v for k, v in configured.items() if k != "keys"}}
    spec["keys"] = {**DEFAULT_BILL["keys"], **(configured.get("keys") or {})}
    return spec


def adjustment_no(bill_no: str) -> str:
    return f"{bill_no}-{SUFFIX}"


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def reference_costs(ctx: FlowContext, count: dict, skus: list[str]) -> dict[str, Decimal]:
    """The reference unit cost per SKU from `revaluation_reference` (module doc); a SKU without
    a positive one stops the record for a person."""
    source = str(ctx.setting("revaluation_reference", "count_line"))
    raw: dict[str, Any] = {}
    if source == "sku":
        rows = ctx.jushuitan.skus_by_ids(sorted(set(skus)))
        raw = {str(r.get("sku_id")): r.get("cost_price") for r in rows}
    else:
        for item in count.get("items") or []:
            cost = _decimal(item.get("cost_price"))
            if cost and cost > 0:
                raw.setdefault(str(item.get("sku_id") or ""), cost)
    costs: dict[str, Decimal] = {}
    for sku in skus:
        cost = _decimal(raw.get(sku))
        if cost is None or cost <= 0:
            raise ValidationProblem(
                _(
                    "SKU %(sku)s has no Jushuitan cost price (%(where)s), so its counted stock "
                    "cannot be revalued (flow setting revaluation = propose). Enter the cost "
                    "price, set revaluation_reference, or set revaluation to off, then retry."
                )
                % {"sku": sku, "where": "items[].cost_price" if source != "sku" else "sku"},
                field_name="cost_price",
            )
        costs[sku] = cost
    return costs


def proposal(
    ctx: FlowContext, *, count: dict, lines, materials, review, stock: str, bill_no: str, on_date
) -> dict | None:
    """The revaluation of one count bill (module doc): {"bill_no", "form", "lines", "total",
    "bill"}; None when revaluation is off or no line has an amount."""
    from .stock_count import unit_costs

    if mode(ctx.settings) != PROPOSE:
        return None
    flagged = [
        (line, material, row)
        for line, material, row in zip(lines, materials, review, strict=True)
        if row["over_threshold"]
    ]
    if not flagged:
        return None
    skus = [line["sku_id"] for line, _m, _r in flagged]
    refs = reference_costs(ctx, count, skus)
    missing = {line["sku_id"]: m for line, m, row in flagged if row.get("unit_cost") is None}
    kd = unit_costs(ctx, missing) if missing else {}
    rows = []
    for line, material, row in flagged:
        cost = Decimal(row["unit_cost"]) if row.get("unit_cost") is not None else kd[line["sku_id"]]
        if cost <= 0:
            raise ValidationProblem(
                _(
                    "SKU %(sku)s has no Kingdee unit cost (BD_MATERIAL), so its counted stock "
                    "cannot be revalued. Enter the cost in Kingdee, or set revaluation to off, "
                    "then retry."
                )
                % {"sku": line["sku_id"]},
                field_name="unit_cost",
            )
        ref = refs[line["sku_id"]]
        amount = (line["counted"] * (ref - cost)).quantize(CENT, rounding=ROUND_HALF_UP)
        if amount == 0:
            continue
        rows.append(
            {
                "sku_id": line["sku_id"],
                "material": material,
                "r_qty": str(line["counted"]),
                "kingdee_cost": str(cost),
                "reference_cost": str(ref),
                "amount": str(amount),
            }
        )
    if not rows:
        return None
    spec = bill_spec(ctx.settings)
    keys = spec["keys"]
    org = ctx.integration.kingdee.org_number
    number = adjustment_no(bill_no)
    entries = [
        {
            keys["stock_org"]: {"FNumber": org},
            keys["material"]: {"FNumber": row["material"]},
            keys["stock_status"]: {"FNumber": ctx.setting("stock_status", "KCZT01_SYS")},
            keys["stock"]: {"FNumber": stock},
            keys["owner"]: {"FNumber": org},
            keys["amount"]: row["amount"],
        }
        for row in rows
    ]
    bill = {
        "FBillNo": number,
        keys["bill_type"]: {"FNumber": spec["bill_type"]},
        "FDate": on_date.isoformat(),
        keys["acct_system"]: {"FNumber": spec["acct_system"]},
        keys["acct_org"]: {"FNumber": spec["acct_org"] or org},
        keys["acct_policy"]: {"FNumber": spec["acct_policy"]},
        keys["business_type"]: str(spec["business_type"]),
        custom_field(ctx, "CountNo"): str(count.get("io_id")),
        spec["entry"]: entries,
    }
    total = sum((Decimal(r["amount"]) for r in rows), Decimal(0))
    return {
        "bill_no": number,
        "form": spec["form"],
        "lines": rows,
        "total": str(total),
        "bill": bill,
    }


def query_back(client, *, settings: dict | None, bill_no: str) -> dict:
    """What Kingdee holds for the cost adjustment `bill_no` (ExecuteBillQuery by FBillNo):
    {"bill_no", "status", "rows": [[material, stock, amount], ...], "total"}; status None and
    no rows when Kingdee has no such bill."""
    from connectors.kingdee.client import quote

    spec = bill_spec(settings)
    keys = spec["keys"]
    fields = [
        "FBillNo",
        "FDocumentStatus",
        f"{keys['material']}.FNumber",
        f"{keys['stock']}.FNumber",
        keys["amount"],
    ]
    found = list(
        client.iter_bill_query(
            spec["form"],
            fields,
            filter_string=f"FBillNo = {quote(bill_no)}",
            entry_key=spec["entry"],
        )
    )
    rows = [[r[fields[2]], r[fields[3]], str(_decimal(r[fields[4]]) or 0)] for r in found]
    return {
        "bill_no": bill_no,
        "status": found[0]["FDocumentStatus"] if found else None,
        "rows": rows,
        "total": str(sum((Decimal(r[2]) for r in rows), Decimal(0))),
    }


def add_needs(ctx: FlowContext, needs) -> None:
    """The form and every configured key the revaluation writes, for the preflight; nothing
    while `revaluation` is off (kingdee_needs.stock_count)."""
    from .kingdee_needs import ENTRY, HEADER, BaseNeed, FieldNeed

    if mode(ctx.settings) != PROPOSE:
        return
    spec = bill_spec(ctx.settings)
    form, keys = spec["form"], spec["keys"]
    needs.add(form, "FBillNo FDate FDocumentStatus")
    for name in HEADER_KEYS:
        needs.fields.append(FieldNeed(form, keys[name], HEADER, setting="revaluation_bill"))
    for name in ENTRY_KEYS:
        needs.fields.append(FieldNeed(form, keys[name], ENTRY, setting="revaluation_bill"))
    needs.custom(ctx, form, "CountNo", length=50)
    needs.base.append(
        BaseNeed("BOS_BillType", spec["bill_type"], f"bill type of {form}", "revaluation_bill")
    )


def proof_keys(ctx: FlowContext) -> list[str]:
    """The preflight check keys that prove the revaluation as configured in `ctx`."""
    from .kingdee_needs import Needs

    needs = Needs()
    add_needs(ctx, needs)
    if not needs.fields:
        return []
    form = bill_spec(ctx.settings)["form"]
    return [
        f"kingdee.form.{form}",
        *(f"kingdee.field.{n.form_id}.{n.key}" for n in needs.fields),
        *(f"kingdee.base.{n.form_id}.{n.number}" for n in needs.base),
    ]


def proof_failures(flow) -> list:
    """Why the revaluation of `flow` (its settings as they are on the object) is not proved:
    the failed or missing checks of the latest Kingdee preflight (module doc); [] when
    revaluation is off or proved."""
    from connectors.preflight import Check, checks_of, preflight_latest

    keys = proof_keys(FlowContext(flow))
    if not keys:
        return []
    run = preflight_latest(integration=flow.integration, system="kingdee")
    by_key = {c.key.lower(): c for c in checks_of(run)} if run is not None else {}
    form = bill_spec(flow.settings)["form"]
    failures = []
    for key in keys:
        check = by_key.get(key.lower())
        if check is not None and check.ok:
            continue
        failures.append(
            check
            or Check(
                system="kingdee",
                key=key,
                title=_("Preflight check of %(what)s") % {"what": key.split(".", 2)[-1]},
                ok=False,
                detail=_(
                    "The latest Kingdee preflight did not check it: it checks the cost "
                    "adjustment form %(form)s only while the stock_count flow's setting "
                    "revaluation is propose."
                )
                % {"form": form},
                fix=_(
                    "Run the Kingdee preflight after saving revaluation = propose on the "
                    "switched-off stock_count flow."
                ),
                flows=(flow.code,),
            )
        )
    return failures


def settings_gate(flow, settings: dict) -> list:
    """Turning revaluation on (or changing its bill) on an ENABLED flow needs the proof; a
    switched-off flow may take the setting, and switching it on then passes flow_enable's gate,
    which asks for the same proof (StockCount.preflight_requirements)."""
    from flows.models import Flow

    if mode(settings) != PROPOSE or not flow.pk:
        return []
    stored = Flow.objects.filter(pk=flow.pk).values_list("enabled", "settings").first()
    if stored is None or not stored[0]:
        return []
    old = stored[1] or {}
    same = (
        mode(old) == PROPOSE
        and bill_spec(old) == bill_spec(settings)
        and old.get("custom_prefix") == settings.get("custom_prefix")
    )
    if same:
        return []
    probe = type(flow)(pk=flow.pk, integration=flow.integration, code=flow.code, settings=settings)
    return proof_failures(probe)
