"""The simulated K3Cloud's demo world (from sandbox.demo_catalogue) and its reset
(docs/protocols/kingdee.md).
"""

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import bos, forms
from ..models import (
    DocumentStatus,
    KdBaseData,
    KdBill,
    KdBillCustomField,
    KdBillEntry,
    KdCustomField,
    KdNumberSequence,
    KdStockBalance,
)
from .common import split_model


def seed_demo() -> dict[str, int]:
    """Create the demo world (org 100, warehouses, customers, suppliers, materials, opening
    stock) from sandbox.demo_catalogue. Idempotent: base data is upserted by number and opening
    stock is only written where no balance exists yet, so documents posted since are kept."""
    from sandbox import demo_catalogue as demo

    org = demo.ORG_NUMBER
    now = timezone.now()
    counts = {"warehouses": 0, "customers": 0, "suppliers": 0, "materials": 0, "balances": 0}
    currency = {
        "CNY": "PRE001",
        "HKD": "PRE002",
        "EUR": "PRE003",
        "JPY": "PRE004",
        "TWD": "PRE005",
        "GBP": "PRE006",
        "USD": "PRE007",
    }

    def upsert(form_id: str, number: str, name: str, model: dict) -> None:
        forbid = model.pop("FForbidStatus", "A")
        model = {
            "FNumber": number,
            "FName": name,
            "FCreateOrgId": {"FNumber": org},
            "FUseOrgId": {"FNumber": org},
            **model,
        }
        header, _ = split_model(forms.get(form_id), model)
        KdBaseData.objects.update_or_create(
            form_id=form_id,
            org_number=org,
            number=number,
            defaults={
                "name": name,
                "fields": header,
                "model": model,
                "document_status": DocumentStatus.AUDITED,
                "forbid_status": forbid,
                "approved_at": now,
            },
        )

    with transaction.atomic():
        for wh in demo.WAREHOUSES:
            upsert(
                "BD_STOCK",
                wh["stock_number"],
                wh["name"],
                {
                    "FStockProperty": "1",
                    "FAllowMinusQty": False,
                    "FDefStockStatusId": {"FNumber": "KCZT01_SYS"},
                },
            )
            counts["warehouses"] += 1
        for shop in demo.SHOPS:
            upsert(
                "BD_Customer",
                shop["customer_number"],
                shop["shop_name"],
                {
                    "FShortName": shop["platform"],
                    "FTRADINGCURRID": {"FNumber": currency.get(shop["currency"], "PRE001")},
                },
            )
            counts["customers"] += 1
        for supplier in demo.SUPPLIERS:
            upsert("BD_Supplier", supplier["supplier_code"], supplier["name"], {})
            counts["suppliers"] += 1
        for m in demo.MATERIALS:
            upsert(
                "BD_MATERIAL",
                m["number"],
                m["name"],
                {
                    "FSpecification": m["english_name"],
                    "FMaterialGroup": {"FNumber": "FG"},
                    "FDescription": m["english_name"],
                    "F_PAEZ_HSCode": m["hs_code"],
                    "F_PAEZ_EnName": m["english_name"],
                    "F_PAEZ_Brand": m["brand"],
                    "F_PAEZ_IsBattery": m["has_battery"],
                    "F_PAEZ_DeclaredPrice": float(m["declared_price"]),
                    "F_PAEZ_Supplier": {"FNumber": m["supplier_code"]},
                    # K1 values stock differences at this cost (finance unit_cost_field).
                    "F_PAEZ_UnitCost": str(m["unit_cost"]),
                    "SubHeadEntity": {
                        "FErpClsID": "1",
                        "FCategoryID": {"FNumber": "CHLB05_SYS"},
                        "FBaseUnitId": {"FNumber": m["unit"]},
                        "FGROSSWEIGHT": float(m["gross_weight"]),
                        "FNETWEIGHT": float(m["net_weight"]),
                        "FWEIGHTUNITID": {"FNumber": "kg"},
                        "FIsInventory": True,
                        "FIsSale": True,
                        "FIsPurchase": True,
                    },
                },
            )
            counts["materials"] += 1
        for form_id, rows in demo.KINGDEE_BASE_DATA.items():
            for number, name, extra in rows:
                upsert(form_id, number, name, dict(extra))
                counts[form_id] = counts.get(form_id, 0) + 1
        # The custom fields the demo tenant created in BOS (anything else is MsgCode 9).
        for form_id, fields in demo.KINGDEE_CUSTOM_FIELDS.items():
            for name, level, kind, length in fields:
                bos.declare(
                    form_id,
                    [f"{demo.KINGDEE_DEV_PREFIX}{name}"],
                    level=level,
                    field_type=kind,
                    length=length or 255,
                )
        counts["custom_fields"] = sum(len(v) for v in demo.KINGDEE_CUSTOM_FIELDS.values())
        stock_number = {wh["wms_co_id"]: wh["stock_number"] for wh in demo.WAREHOUSES}
        unit_cost = {m["number"]: Decimal(str(m["unit_cost"])) for m in demo.MATERIALS}
        for (wms_co_id, sku), qty in demo.OPENING_STOCK.items():
            # Opening stock is valued at the material's unit cost (期初存货, costing.py).
            _, created = KdStockBalance.objects.get_or_create(
                org_number=org,
                stock_number=stock_number[wms_co_id],
                material_number=sku,
                defaults={
                    "base_qty": Decimal(qty),
                    "cost_qty": Decimal(qty),
                    "amount": (Decimal(qty) * unit_cost.get(sku, Decimal(0))).quantize(
                        Decimal("0.01"), rounding=ROUND_HALF_UP
                    ),
                },
            )
            counts["balances"] += int(created)
    return counts


def reset() -> None:
    """Forget every simulated document, balance, session and number (the demo seed stays
    available through seed_demo)."""
    from ..models import KdSession

    with transaction.atomic():
        for model in (
            KdCustomField,
            KdBillCustomField,
            KdBillEntry,
            KdBill,
            KdStockBalance,
            KdBaseData,
            KdNumberSequence,
            KdSession,
        ):
            model.objects.all().delete()


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
