"""F8.3 Inventory adjustments made in Kingdee (库存调整): audited other-inbound
(STK_MISCELLANEOUS, 其他入库单) and other-outbound (STK_MisDelivery, 其他出库单) bills reach
Jushuitan as other-in / other-out documents, confirmed, so stock moves the same way there
(docs/requirements.md F8.3; docs/field-maps.md §5c). Pushed to `POST /kdcloud/inventory/adjust`
or polled.

One Jushuitan document per bill and warehouse, external id `<FBillNo>-<stock>-QTIN|QTOUT`.
Bills the portal itself wrote from Jushuitan stock counts (F8.1, bill nos. ending `-PY` / `-PK`,
docs/field-maps.md §7) are kept as filtered: sending them back would count the same gain or loss
twice. The patterns are the flow setting `skip_bill_patterns`.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy

from core.messages import gettext as _

from ..choices import FlowCode
from . import register
from .base import FlowContext
from .jushuitan_common import FORM, JushuitanDocumentFlow, SourceForm, quantity
from .push import NUMBER, PushEndpoint, kingdee_bill, ref

_ENTRY = {
    "material": "FMaterialId.FNumber",
    "stock": "FStockId.FNumber",
    "qty": "FQty",
}
OTHER_IN = SourceForm(
    form_id="STK_MISCELLANEOUS",
    entry_key="FEntity",
    header={"note": "FNote"},
    entry=dict(_ENTRY),
    required_entry=("material", "stock", "qty"),
)
OTHER_OUT = SourceForm(
    form_id="STK_MisDelivery",
    entry_key="FEntity",
    header={"note": "FNote"},
    entry=dict(_ENTRY),
    required_entry=("material", "stock", "qty"),
)
DIRECTIONS = {"stk_miscellaneous": ("in", "QTIN"), "stk_misdelivery": ("out", "QTOUT")}
DEFAULT_SKIP = [r"-P[YK]$"]


# The push endpoint (docs/requirements.md F8.3): Kingdee pushes audited other-in / other-out bills.
PUSH = PushEndpoint(
    path="kdcloud/inventory/adjust",
    summary="Push Kingdee inventory adjustments (F8.3)",
    description=(
        "Kingdee other-inbound (STK_MISCELLANEOUS) and other-outbound (STK_MisDelivery) bills, "
        'audited, with FEntity rows; name the form in "FormId". They become confirmed Jushuitan '
        "other-in / other-out documents."
    ),
    body=kingdee_bill(
        "KingdeeInventoryAdjustment",
        "FEntity",
        {
            "FMaterialId": ref("Material"),
            "FStockId": ref("Kingdee warehouse"),
            "FQty": NUMBER,
        },
        {
            "FormId": {
                "type": "string",
                "enum": ["STK_MISCELLANEOUS", "STK_MisDelivery"],
                "description": (
                    "Other inbound (STK_MISCELLANEOUS) or other outbound (STK_MisDelivery)"
                ),
            },
            "FNote": {"type": "string"},
        },
        "A Kingdee other-inbound or other-outbound bill with FEntity rows.",
    ),
    example={
        "FormId": "STK_MisDelivery",
        "FBillNo": "QTCKD00003",
        "FDocumentStatus": "C",
        "FNote": "样品领用",
        "FEntity": [
            {
                "FMaterialId": {"FNumber": "SKU-PB-1001"},
                "FStockId": {"FNumber": "20001"},
                "FQty": 2,
            }
        ],
    },
)


@register
class InventoryAdjust(JushuitanDocumentFlow):
    code = FlowCode.INVENTORY_ADJUST
    label = gettext_lazy("F8.3 Kingdee inventory adjustments")
    requirement = "F8.3"
    push = PUSH
    forms = (OTHER_IN, OTHER_OUT)

    def filter_reason(self, ctx: FlowContext, bill: dict) -> str:
        for pattern in ctx.setting("skip_bill_patterns", DEFAULT_SKIP):
            if re.search(pattern, bill.get("FBillNo") or ""):
                return _(
                    "bill %(no)s was written by the portal from a Jushuitan stock count (F8.1)"
                ) % {"no": bill.get("FBillNo")}
        return ""

    def build_steps(self, ctx: FlowContext, document) -> list[dict]:
        bill = document.source_payload
        number = bill["FBillNo"]
        direction, tag = DIRECTIONS[bill[FORM].lower()]
        label = _("other-in") if direction == "in" else _("other-out")
        remark = str(bill.get("note") or "").strip() or f"K3 {bill[FORM]} {number}"
        steps = []
        for stock, entries in self.split_by_stock(document).items():
            key = f"{number}-{stock}-{tag}"
            steps.append(
                {
                    "kind": "other_inout",
                    "key": key,
                    "label": label,
                    "body": {
                        "type": direction,
                        "external_id": key,
                        "wms_co_id": self.wms(ctx, stock),
                        "warehouse": int(ctx.setting("jst_warehouse", 1)),
                        "is_confirm": True,
                        "drp_co_name": _("Kingdee inventory adjustment"),
                        "remark": remark[:200],
                        "items": [
                            {
                                "sku_id": self.sku(ctx, e["material"]),
                                "qty": int(quantity(e["qty"], "FQty")),
                            }
                            for e in entries
                        ],
                    },
                }
            )
        return steps
