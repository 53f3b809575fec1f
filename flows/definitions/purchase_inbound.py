"""F4 Purchase inbound (采购入库): audited Kingdee STK_InStock bills become Jushuitan purchase-in
documents, confirmed, so Jushuitan's available stock rises; sales outbounds held for those
materials (F2.4) are released (docs/requirements.md F4.1, F4.2; docs/field-maps.md §3a).

One Jushuitan document covers one warehouse, so a bill with lines in several warehouses is
split (external id `<FBillNo>-<stock>`; a single-warehouse bill keeps `<FBillNo>`). F4.2's
fields: the PO no. (entry FPOOrderNo), supplier (M3 → Jushuitan's numeric supplier_id), the
expected arrival date, tariff rate and logistics mode (custom header fields, configurable through
the flow setting `source_keys`), the tax-inclusive purchase price and the VAT rate per line.
Jushuitan's purchase-in has no fields for arrival, tariff or logistics [U]: they go into the
remark, which Jushuitan shows on the document.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext_lazy

from core.messages import gettext as _

from ..choices import FlowCode
from ..money import money
from . import register
from .base import FlowContext
from .jushuitan_common import ENTRIES, JushuitanDocumentFlow, SourceForm, quantity
from .push import NUMBER, PushEndpoint, kingdee_bill, ref

STK_INSTOCK = SourceForm(
    form_id="STK_InStock",
    entry_key="FInStockEntry",
    header={
        "supplier": "FSupplierId.FNumber",
        "expected_arrival": "F_PAEZ_ExpectedArrival",
        "tariff_rate": "F_PAEZ_TariffRate",
        "logistics_mode": "F_PAEZ_LogisticsMode",
    },
    entry={
        "material": "FMaterialId.FNumber",
        "stock": "FStockId.FNumber",
        "qty": "FRealQty",
        "tax_price": "FTaxPrice",
        "tax_rate": "FEntryTaxRate",
        "po_no": "FPOOrderNo",
        # STK_InStock has FNote on its entry only (docs/protocols/kingdee.md §4.7).
        "note": "FNote",
    },
    required_entry=("material", "stock", "qty"),
)


def _text(value) -> str:
    return "" if value in (None, "") else str(value).strip()


# The push endpoint (docs/requirements.md F4.1): Kingdee pushes audited STK_InStock bills.
PUSH = PushEndpoint(
    path="kdcloud/purchase/inbound",
    summary="Push audited purchase inbounds (F4 purchase inbound)",
    description=(
        "Kingdee STK_InStock bills (audited; query keys such as FSupplierId.FNumber, or the Save "
        "model with FInStockEntry rows) become confirmed Jushuitan purchase-in documents; sales "
        "outbounds held for their materials are released."
    ),
    body=kingdee_bill(
        "KingdeePurchaseInbound",
        "FInStockEntry",
        {
            "FMaterialId": ref("Material"),
            "FStockId": ref("Kingdee warehouse"),
            "FRealQty": NUMBER,
            "FTaxPrice": NUMBER,
            "FEntryTaxRate": NUMBER,
            "FPOOrderNo": {"type": "string"},
        },
        {
            "FSupplierId": ref("Supplier"),
            "F_PAEZ_ExpectedArrival": {"type": "string", "format": "date"},
            "F_PAEZ_TariffRate": NUMBER,
            "F_PAEZ_LogisticsMode": {"type": "string", "example": "sea"},
            "FNote": {"type": "string"},
        },
        "A Kingdee STK_InStock bill: the Save model, or query keys such as FSupplierId.FNumber.",
    ),
    example={
        "FBillNo": "CGRK00012",
        "FDocumentStatus": "C",
        "FSupplierId": {"FNumber": "SUP001"},
        "F_PAEZ_ExpectedArrival": "2026-05-20",
        "F_PAEZ_TariffRate": "5",
        "F_PAEZ_LogisticsMode": "sea",
        "FInStockEntry": [
            {
                "FMaterialId": {"FNumber": "SKU-PB-1001"},
                "FStockId": {"FNumber": "20001"},
                "FRealQty": 100,
                "FTaxPrice": "62.00",
                "FEntryTaxRate": "13",
                "FPOOrderNo": "CGDD000123",
            }
        ],
    },
)


@register
class PurchaseInbound(JushuitanDocumentFlow):
    code = FlowCode.PURCHASE_INBOUND
    label = gettext_lazy("F4 Purchase inbound")
    requirement = "F4"
    push = PUSH
    forms = (STK_INSTOCK,)

    def validate(self, ctx: FlowContext, document) -> None:
        super().validate(ctx, document)
        if not _text(document.source_payload.get("supplier")):
            from .base import ValidationProblem

            raise ValidationProblem(
                _("The purchase inbound has no supplier (FSupplierId)."),
                field_name="FSupplierId",
            )

    def build_steps(self, ctx: FlowContext, document) -> list[dict]:
        bill = document.source_payload
        number = bill["FBillNo"]
        supplier_id = self.supplier_id(ctx, _text(bill.get("supplier")))
        groups = self.split_by_stock(document)
        steps = []
        for stock, entries in groups.items():
            po_nos = sorted({_text(e.get("po_no")) for e in entries if _text(e.get("po_no"))})
            items = [
                {
                    "sku_id": self.sku(ctx, e["material"]),
                    "qty": int(quantity(e["qty"], "FRealQty")),
                    "price": str(money(e.get("tax_price"))),
                    "tax_rate": str(Decimal(str(e.get("tax_rate") or 0)).normalize()),
                    "remark": _("PO %(po)s") % {"po": _text(e.get("po_no"))}
                    if _text(e.get("po_no"))
                    else "",
                }
                for e in entries
            ]
            key = number if len(groups) == 1 else f"{number}-{stock}"
            remark = " ".join(
                part
                for part in (
                    f"K3 {number}",
                    _("PO %(po)s") % {"po": ",".join(po_nos)} if po_nos else "",
                    _("expected arrival %(d)s") % {"d": _text(bill.get("expected_arrival"))[:10]}
                    if _text(bill.get("expected_arrival"))
                    else "",
                    _("tariff rate %(r)s%%") % {"r": _text(bill.get("tariff_rate"))}
                    if _text(bill.get("tariff_rate"))
                    else "",
                    _("logistics %(m)s") % {"m": _text(bill.get("logistics_mode"))}
                    if _text(bill.get("logistics_mode"))
                    else "",
                    " ".join(
                        dict.fromkeys(_text(e.get("note")) for e in entries if _text(e.get("note")))
                    ),
                )
                if part
            )
            steps.append(
                {
                    "kind": "purchase_in",
                    "key": key,
                    "label": _("purchase-in"),
                    "body": {
                        "external_id": key,
                        # Setting confirm_in_jushuitan=False leaves it WaitConfirm for the
                        # warehouse to confirm (the lost-answer lookup still finds it, §3.8).
                        "is_confirm": bool(ctx.setting("confirm_in_jushuitan", True)),
                        "supplier_id": supplier_id,
                        "wms_co_id": self.wms(ctx, stock),
                        "warehouse": int(ctx.setting("jst_warehouse", 1)),
                        "tax_rate": items[0]["tax_rate"],
                        "remark": remark[:200],
                        "items": items,
                    },
                }
            )
        return steps

    def after_synced(self, ctx: FlowContext, documents) -> None:
        """F4.1 / F2.4: stock arrived; sales outbounds held for these materials retry now."""
        from ..engine import holds_release
        from ..models import SyncDocument
        from ..tasks import flow_process

        materials = sorted(
            {str(e["material"]) for d in documents for e in d.source_payload.get(ENTRIES, [])}
        )
        numbers = ", ".join(d.source_payload["FBillNo"] for d in documents)
        released = holds_release(
            integration_id=ctx.integration.pk,
            materials=materials,
            reason=_("Stock arrived: purchase inbound %(numbers)s reached Jushuitan.")
            % {"numbers": numbers},
        )
        by_flow: dict[int, list[int]] = {}
        for pk, flow_id in SyncDocument.objects.filter(pk__in=released).values_list(
            "pk", "flow_id"
        ):
            by_flow.setdefault(flow_id, []).append(pk)
        for flow_id, ids in by_flow.items():
            transaction.on_commit(lambda f=flow_id, i=ids: flow_process.delay(f, i))
