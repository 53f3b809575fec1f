"""F7 Direct transfers (直接调拨): an audited Kingdee STK_TransferDirect becomes, per pair of source
and destination warehouses, first an outbound from the source warehouse and then an inbound to the
destination warehouse in Jushuitan (docs/requirements.md F7.1; docs/field-maps.md §5a).

The two legs are Jushuitan other-out / other-in documents (the "two-document variant", the
most robust route: it needs no Jushuitan transfer permission and works across warehouse
companies) under their own external ids `<FBillNo>[-n]-OUT` and `<FBillNo>[-n]-IN`; each is
idempotent on its own key. The outbound leg always goes first. If the inbound leg fails, the
outbound is recorded as done and never sent again: the document is "half moved" (its progress
note and its ticket say which leg landed), and a retry (timed, or by a person after fixing the
cause) sends only the inbound leg.
"""

from __future__ import annotations

from collections import defaultdict

from django.utils.translation import gettext_lazy

from core.messages import gettext as _

from ..choices import FlowCode
from . import register
from .base import FlowContext
from .jushuitan_common import ENTRIES, JushuitanDocumentFlow, SourceForm, quantity

STK_TRANSFER = SourceForm(
    form_id="STK_TransferDirect",
    entry_key="FBillEntry",
    header={"note": "FNote"},
    entry={
        "material": "FMaterialId.FNumber",
        "src": "FSrcStockId.FNumber",
        "dest": "FDestStockId.FNumber",
        "qty": "FQty",
    },
    required_entry=("material", "src", "dest", "qty"),
    stock="src",
)


@register
class Transfer(JushuitanDocumentFlow):
    code = FlowCode.TRANSFER
    label = gettext_lazy("F7 Direct transfers")
    requirement = "F7"
    forms = (STK_TRANSFER,)

    def build_steps(self, ctx: FlowContext, document) -> list[dict]:
        bill = document.source_payload
        number = bill["FBillNo"]
        pairs: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for entry in bill[ENTRIES]:
            pairs[(str(entry["src"]), str(entry["dest"]))].append(entry)
        warehouse = int(ctx.setting("jst_warehouse", 1))
        steps = []
        for n, ((src, dest), entries) in enumerate(pairs.items(), start=1):
            suffix = "" if len(pairs) == 1 else f"-{n}"
            items = [
                {"sku_id": self.sku(ctx, e["material"]), "qty": int(quantity(e["qty"], "FQty"))}
                for e in entries
            ]
            note = str(bill.get("note") or "").strip()
            for direction, stock, tag, label, text in (
                ("out", src, "OUT", _("outbound leg"), _("Transfer out to %(to)s")),
                ("in", dest, "IN", _("inbound leg"), _("Transfer in from %(to)s")),
            ):
                other = dest if direction == "out" else src
                key = f"{number}{suffix}-{tag}"
                steps.append(
                    {
                        "kind": "other_inout",
                        "key": key,
                        "label": label,
                        "body": {
                            "type": direction,
                            "external_id": key,
                            "wms_co_id": self.wms(ctx, stock),
                            "warehouse": warehouse,
                            "is_confirm": True,
                            "drp_co_name": _("direct transfer"),
                            "remark": " ".join(
                                p for p in (f"K3 {number}", text % {"to": other}, note) if p
                            )[:200],
                            "items": items,
                        },
                    }
                )
        return steps

    def progress_note(self, doc, progress: dict) -> str:
        note = super().progress_note(doc, progress)
        steps = self._steps(doc)
        done = [s for s in steps if s["key"] in progress["done"]]
        if done and len(done) < len(steps):
            return _("Half moved: %(note)s") % {"note": note}
        return note
