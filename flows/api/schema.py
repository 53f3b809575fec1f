"""OpenAPI description of the flow endpoints: HMAC authentication (drf-spectacular
extension) and the request bodies of the six endpoints."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class HmacAuthenticationScheme(OpenApiAuthenticationExtension):
    """The three headers of a signed call, declared as one security requirement (all three)."""

    target_class = "flows.api.authentication.HmacAuthentication"
    name = ["PortalKey", "PortalTimestamp", "PortalSignature"]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-Portal-Key",
                "description": "The API client's key id (admin: API clients).",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-Portal-Timestamp",
                "description": "Unix seconds; within 300 s of the server clock.",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "X-Portal-Signature",
                "description": (
                    "HMAC-SHA256 request signature: hex HMAC-SHA256(secret, timestamp + '\\n' + "
                    "METHOD + '\\n' + path + '\\n' + sha256_hex(body)). Each signature is "
                    "accepted once (replays are refused); each client has a per-minute limit."
                ),
            },
        ]


# --- Request bodies of the six endpoints ------------------------------------------------------
# Raw JSON schemas (drf-spectacular passes dicts through). Every endpoint takes one document, an
# array of at most MAX_ITEMS documents, or no body / {} / [] (pull now). The documents keep the
# shape of their source system, whose rows carry many more keys: additionalProperties stays open.

MAX_ITEMS = 500

_NUMBER = {"oneOf": [{"type": "number"}, {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}]}
_WHOLE = {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\d+$"}]}
_KEY_TEXT = {"type": "string", "minLength": 1, "maxLength": 80}


def _ref(description: str) -> dict:
    """A Kingdee base-data reference of the Save model, {"FNumber": "..."}."""
    return {
        "type": "object",
        "description": description,
        "properties": {"FNumber": {"type": "string", "minLength": 1, "maxLength": 80}},
        "required": ["FNumber"],
    }


def _document(title: str, properties: dict, required: list[str], description: str) -> dict:
    return {
        "type": "object",
        "title": title,
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": True,
    }


def push_body(document: dict) -> dict:
    """One document or an array of them (an empty body, {} or [] asks for a pull)."""
    return {
        "oneOf": [
            document,
            {"type": "array", "items": document, "maxItems": MAX_ITEMS},
        ]
    }


_JST_LINE = {
    "type": "object",
    "properties": {
        "sku_id": {"type": "string", "maxLength": 80},
        "qty": {"type": "integer", "minimum": 0},
        "price": _NUMBER,
        "amount": _NUMBER,
        "outer_oi_id": {"type": "string"},
        "sku_type": {"type": "string"},
    },
}

JUSHUITAN_ORDER = _document(
    "JushuitanOrder",
    {
        "o_id": {**_WHOLE, "description": "Jushuitan internal order no. (内部单号)"},
        "so_id": {**_KEY_TEXT, "description": "Platform order no. (线上单号)"},
        "shop_id": {**_WHOLE, "description": "Jushuitan shop id"},
        "status": {"type": "string", "description": "Sent (已发货) is synced; others are kept"},
        "wms_co_id": _WHOLE,
        "send_date": {"type": "string", "example": "2026-11-28 10:15:00"},
        "modified": {"type": "string", "example": "2026-11-28 10:15:00"},
        "currency": {"type": "string", "example": "USD"},
        "l_id": {"type": "string", "description": "Logistics no."},
        "items": {"type": "array", "items": _JST_LINE},
    },
    ["o_id", "so_id", "shop_id"],
    "A row of Jushuitan /open/orders/single/query (is_get_cbfinance=true).",
)

JUSHUITAN_AFTER_SALE = _document(
    "JushuitanAfterSale",
    {
        "as_id": {**_WHOLE, "description": "Jushuitan after-sale no. (售后单号)"},
        "so_id": {**_KEY_TEXT, "description": "Platform order no. (线上单号)"},
        "shop_id": {**_WHOLE, "description": "Jushuitan shop id"},
        "status": {"type": "string", "description": "Confirmed is synced; others are kept"},
        "type": {"type": "string", "example": "普通退货"},
        "wms_co_id": _WHOLE,
        "modified": {"type": "string", "example": "2026-11-28 10:15:00"},
        "items": {
            "type": "array",
            "items": {
                **_JST_LINE,
                "properties": {**_JST_LINE["properties"], "r_qty": {"type": "integer"}},
            },
        },
    },
    ["as_id", "so_id", "shop_id"],
    "A row of Jushuitan /open/refund/single/query that reached returned (已退货).",
)

KINGDEE_MATERIAL = _document(
    "KingdeeMaterial",
    {
        "FNumber": {**_KEY_TEXT, "description": "Material code (物料编码) = Jushuitan SKU"},
        "FName": {"type": "string", "minLength": 1, "maxLength": 255},
        "FMaterialGroup": _ref("Material group"),
        "FUseOrgId": _ref("Use organisation, e.g. 100"),
        "FModifyDate": {"type": "string", "example": "2026-11-28 10:15:00"},
        "F_PAEZ_HSCode": {"type": "string", "description": "HS code (海关编码)"},
        "F_PAEZ_EnName": {"type": "string"},
        "F_PAEZ_DeclaredPrice": _NUMBER,
        "F_PAEZ_Brand": {"type": "string"},
        "F_PAEZ_IsBattery": {"type": "boolean"},
        "SubHeadEntity": {
            "type": "object",
            "properties": {
                "FCategoryID": _ref("Material category, CHLB05_SYS = finished goods"),
                "FBaseUnitId": _ref("Base unit"),
                "FGROSSWEIGHT": _NUMBER,
                "FNETWEIGHT": _NUMBER,
                "FWEIGHTUNITID": _ref("Weight unit"),
            },
        },
    },
    ["FNumber", "FName"],
    'A Kingdee BD_MATERIAL Save model (or {"Model": {...}}); FNumber and FName are required.',
)


def _kingdee_bill(title: str, entry_key: str, entry: dict, header: dict, description: str) -> dict:
    row = {
        "type": "object",
        "properties": entry,
        "required": [k for k in entry if k.lower().endswith(("materialid", "stockid"))]
        + [k for k in entry if k.lower() in ("frealqty", "frmrealqty", "fqty")],
    }
    return _document(
        title,
        {
            "FBillNo": {**_KEY_TEXT, "description": "Kingdee bill no."},
            "FDocumentStatus": {
                "type": "string",
                "description": "C (audited) is synced; other statuses are kept, not synced",
            },
            "FModifyDate": {"type": "string", "example": "2026-11-28 10:15:00"},
            **header,
            entry_key: {"type": "array", "items": row, "minItems": 1},
        },
        ["FBillNo", entry_key],
        description,
    )


KINGDEE_PURCHASE_INBOUND = _kingdee_bill(
    "KingdeePurchaseInbound",
    "FInStockEntry",
    {
        "FMaterialId": _ref("Material"),
        "FStockId": _ref("Kingdee warehouse"),
        "FRealQty": _NUMBER,
        "FTaxPrice": _NUMBER,
        "FEntryTaxRate": _NUMBER,
        "FPOOrderNo": {"type": "string"},
    },
    {
        "FSupplierId": _ref("Supplier"),
        "F_PAEZ_ExpectedArrival": {"type": "string", "format": "date"},
        "F_PAEZ_TariffRate": _NUMBER,
        "F_PAEZ_LogisticsMode": {"type": "string", "example": "sea"},
        "FNote": {"type": "string"},
    },
    "A Kingdee STK_InStock bill: the Save model, or query keys such as FSupplierId.FNumber.",
)

KINGDEE_PURCHASE_RETURN = _kingdee_bill(
    "KingdeePurchaseReturn",
    "FPURMRBENTRY",
    {
        "FMATERIALID": _ref("Material"),
        "FSTOCKID": _ref("Kingdee warehouse"),
        "FRMREALQTY": _NUMBER,
        "FTAXPRICE": _NUMBER,
        "FENTRYTAXRATE": _NUMBER,
        "FSRCBillNo": {"type": "string"},
    },
    {
        "FSupplierID": _ref("Supplier"),
        "FMRREASON": {"type": "string", "description": "Return reason, written back"},
        "FMRTYPE": {"type": "string"},
        "FNote": {"type": "string"},
    },
    "A Kingdee PUR_MRB bill with FPURMRBENTRY rows.",
)

KINGDEE_INVENTORY_ADJUSTMENT = _kingdee_bill(
    "KingdeeInventoryAdjustment",
    "FEntity",
    {
        "FMaterialId": _ref("Material"),
        "FStockId": _ref("Kingdee warehouse"),
        "FQty": _NUMBER,
    },
    {
        "FormId": {
            "type": "string",
            "enum": ["STK_MISCELLANEOUS", "STK_MisDelivery"],
            "description": "Other inbound (STK_MISCELLANEOUS) or other outbound (STK_MisDelivery)",
        },
        "FNote": {"type": "string"},
    },
    "A Kingdee other-inbound or other-outbound bill with FEntity rows.",
)

REQUEST_BODIES = {
    "sales_outbound": JUSHUITAN_ORDER,
    "sales_return": JUSHUITAN_AFTER_SALE,
    "material_sync": KINGDEE_MATERIAL,
    "purchase_inbound": KINGDEE_PURCHASE_INBOUND,
    "purchase_return": KINGDEE_PURCHASE_RETURN,
    "inventory_adjust": KINGDEE_INVENTORY_ADJUSTMENT,
}
