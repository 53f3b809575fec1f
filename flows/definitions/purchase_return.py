"""F5 Purchase returns (采购退货): audited Kingdee PUR_MRB bills become Jushuitan purchase-out
documents, confirmed, so Jushuitan's stock falls; the return reason as booked in Jushuitan is
written back to Kingdee on the source PUR_MRB (docs/requirements.md F5.1; docs/field-maps.md §3b).

Split by warehouse like F4 (external id `<FBillNo>[-<stock>]`). The Jushuitan return type is
`0` (normal) unless the flow setting `return_types` maps the Kingdee FMRTYPE to 1 (QC) or 2
(repair) [U]. The purchase-out is booked from the main sub-warehouse (`jst_warehouse`, default
1; Jushuitan's own default would be 3, incoming).

Write-back [U]: Kingdee only saves bills in status Z/A/D, except for fields whose lock
property (锁定性) leaves them editable after audit. The portal saves, by FID with
NeedUpDateFields and IsDeleteEntry=false (header only: the rows stay; docs/protocols/kingdee.md
§2.2), two custom header fields that must be set up that way in BOS:
`F_PAEZ_ReturnReason` (the reason text) and `F_PAEZ_JstDocNo` (the Jushuitan io_id(s)); names
are flow settings (`writeback_fields`), and `writeback: false` switches it off. A failed
write-back leaves the document synced (the stock moved) and opens a ticket saying what to copy.
"""

from __future__ import annotations

import logging

from django.utils.translation import gettext_lazy

from connectors.errors import ConnectorError
from core.messages import gettext as _

from ..choices import ErrorClass, FlowCode
from ..journal import EventLevel, journal
from ..money import money
from . import register
from .base import FlowContext, ValidationProblem
from .jushuitan_common import JushuitanDocumentFlow, SourceForm, quantity
from .push import NUMBER, PushEndpoint, kingdee_bill, ref

logger = logging.getLogger(__name__)

PUR_MRB = SourceForm(
    form_id="PUR_MRB",
    entry_key="FPURMRBENTRY",
    header={
        "supplier": "FSupplierID.FNumber",
        # Assistant data (辅助资料), read by its value; the remark is FDESCRIPTION (§4.8).
        "reason": "FMRREASON.FDataValue",
        "mr_type": "FMRTYPE",
        "note": "FDESCRIPTION",
    },
    entry={
        "material": "FMATERIALID.FNumber",
        "stock": "FSTOCKID.FNumber",
        "qty": "FRMREALQTY",
        "tax_price": "FTAXPRICE",
        "tax_rate": "FENTRYTAXRATE",
        "source_bill": "FSRCBillNo",
    },
    required_entry=("material", "stock", "qty"),
)
DEFAULT_WRITEBACK = {"reason": "F_PAEZ_ReturnReason", "jst_no": "F_PAEZ_JstDocNo"}


def _text(value) -> str:
    return "" if value in (None, "") else str(value).strip()


def return_reason(bill: dict) -> str:
    """The reason as booked (FMRREASON's value) followed by the remark (FDESCRIPTION)."""
    parts = [_text(bill.get("reason")), _text(bill.get("note"))]
    text = " ".join(dict.fromkeys(p for p in parts if p))
    return text or _("Return to supplier")


# The push endpoint (docs/requirements.md F5.1): Kingdee pushes audited PUR_MRB bills.
PUSH = PushEndpoint(
    path="kdcloud/purchase/return",
    summary="Push audited purchase returns (F5 purchase returns)",
    description=(
        "Kingdee PUR_MRB bills (audited, with FPURMRBENTRY rows) become confirmed Jushuitan "
        "purchase-out documents; the return reason is written back to the PUR_MRB."
    ),
    body=kingdee_bill(
        "KingdeePurchaseReturn",
        "FPURMRBENTRY",
        {
            "FMATERIALID": ref("Material"),
            "FSTOCKID": ref("Kingdee warehouse"),
            "FRMREALQTY": NUMBER,
            "FTAXPRICE": NUMBER,
            "FENTRYTAXRATE": NUMBER,
            "FSRCBillNo": {"type": "string"},
        },
        {
            "FSupplierID": ref("Supplier"),
            "FMRREASON": {"type": "string", "description": "Return reason, written back"},
            "FMRTYPE": {"type": "string"},
            "FNote": {"type": "string"},
        },
        "A Kingdee PUR_MRB bill with FPURMRBENTRY rows.",
    ),
    example={
        "FBillNo": "CGTL00007",
        "FDocumentStatus": "C",
        "FSupplierID": {"FNumber": "SUP001"},
        "FMRREASON": "来料不良",
        "FPURMRBENTRY": [
            {
                "FMATERIALID": {"FNumber": "SKU-PB-1001"},
                "FSTOCKID": {"FNumber": "20001"},
                "FRMREALQTY": 5,
                "FTAXPRICE": "62.00",
            }
        ],
    },
)


@register
class PurchaseReturn(JushuitanDocumentFlow):
    code = FlowCode.PURCHASE_RETURN
    label = gettext_lazy("F5 Purchase returns")
    requirement = "F5"
    push = PUSH
    forms = (PUR_MRB,)

    def validate(self, ctx: FlowContext, document) -> None:
        super().validate(ctx, document)
        if not _text(document.source_payload.get("supplier")):
            raise ValidationProblem(
                _("The purchase return has no supplier (FSupplierID)."), field_name="FSupplierID"
            )

    def build_steps(self, ctx: FlowContext, document) -> list[dict]:
        bill = document.source_payload
        number = bill["FBillNo"]
        supplier_id = self.supplier_id(ctx, _text(bill.get("supplier")))
        return_type = int(ctx.setting("return_types", {}).get(_text(bill.get("mr_type")), 0))
        groups = self.split_by_stock(document)
        steps = []
        for stock, entries in groups.items():
            key = number if len(groups) == 1 else f"{number}-{stock}"
            items = [
                {
                    "sku_id": self.sku(ctx, e["material"]),
                    "qty": int(quantity(e["qty"], "FRMREALQTY")),
                    "price": str(money(e.get("tax_price"))),
                    "tax_rate": str(e.get("tax_rate") or 0),
                    "supplier_id": supplier_id,
                    "remark": _("from %(bill)s") % {"bill": _text(e.get("source_bill"))}
                    if _text(e.get("source_bill"))
                    else "",
                }
                for e in entries
            ]
            steps.append(
                {
                    "kind": "purchase_out",
                    "key": key,
                    "label": _("purchase-out"),
                    "body": {
                        "external_id": key,
                        "is_confirm": True,
                        "type": return_type,
                        "supplier_id": supplier_id,
                        "wms_co_id": self.wms(ctx, stock),
                        "warehouse": int(ctx.setting("jst_warehouse", 1)),
                        "remark": f"K3 {number} {return_reason(bill)}"[:200],
                        "items": items,
                    },
                }
            )
        return steps

    def after_synced(self, ctx: FlowContext, documents) -> None:
        """F5.1: write the return reason and the Jushuitan document no. back onto the PUR_MRB."""
        if not ctx.setting("writeback", True):
            return
        fields = {**DEFAULT_WRITEBACK, **ctx.setting("writeback_fields", {})}
        for doc in documents:
            bill = doc.source_payload
            io_ids = ",".join(str(v) for v in (doc.progress or {}).get("done", {}).values())
            reason = _("%(reason)s (Jushuitan purchase-out %(io)s)") % {
                "reason": return_reason(bill),
                "io": io_ids,
            }
            try:
                fid = bill.get("FID") or self._fid(ctx, bill["FBillNo"])
                answer = ctx.kingdee.save(
                    "PUR_MRB",
                    {"FID": fid, fields["reason"]: reason[:255], fields["jst_no"]: io_ids},
                    need_update_fields=["FID", fields["reason"], fields["jst_no"]],
                    validate_base_data=False,
                    # Header-only: never let the server drop the entry rows (§2.2).
                    is_delete_entry=False,
                )
                failure = "; ".join(e.message for e in answer.errors)
            except ConnectorError as exc:
                failure = str(exc.message)
            if not failure:
                journal().event_record(
                    document=doc,
                    stage="writeback",
                    message=_("Return reason written back to Kingdee %(no)s: %(reason)s")
                    % {"no": bill["FBillNo"], "reason": reason},
                )
                continue
            logger.warning("F5 write-back to %s failed: %s", bill["FBillNo"], failure)
            journal().event_record(
                document=doc,
                stage="writeback",
                level=EventLevel.ERROR,
                message=_("Writing the return reason back to Kingdee failed: %(error)s")
                % {"error": failure},
            )
            journal().ticket_open_or_update(
                trace_key=f"{doc.trace_key}:writeback",
                error_class=ErrorClass.REMOTE_REJECTED,
                message=_(
                    "The purchase-out reached Jushuitan (io %(io)s) but the return reason could "
                    "not be written back to Kingdee %(no)s: %(error)s. Check that the fields "
                    "%(fields)s exist on PUR_MRB and stay editable after audit, or enter the "
                    "reason there by hand."
                )
                % {
                    "io": io_ids,
                    "no": bill["FBillNo"],
                    "error": failure,
                    "fields": ", ".join(fields.values()),
                },
                subject=bill["FBillNo"],
                document=doc,
                system="kingdee",
            )

    def _fid(self, ctx: FlowContext, number: str) -> int:
        refs = ctx.kingdee.lookup_bills("PUR_MRB", key_field="FBillNo", values=[number])
        return refs[number].id
