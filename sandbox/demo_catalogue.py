"""One demo world shared by every simulator, so the Kingdee and Jushuitan sandboxes agree.

Codes follow the brief's 1:1 rules (customer code = shop code, warehouse code = warehouse
code, supplier code = supplier code, material code = SKU) except where a realistic exception
is planted on purpose:
- shop 10005 (Amazon DE) is customer `CUST-AMZ-DE` in Kingdee: needs a code-mapping row (M5);
- SKU `SKU-GIFT-9001` exists only in Jushuitan: a missing mapping (F1.3 / M4);
- material `SKU-LAMP-1501` has no HS code in Kingdee: a missing required field (F1.4).
Amounts are Decimal strings; weights in kg; declared prices in USD.
"""

from decimal import Decimal

ORG_NUMBER = "100"

SHOPS = [
    # shop_id, shop_name, platform, currency, Kingdee customer number
    {
        "shop_id": 10001,
        "shop_name": "Amazon US 旗舰店",
        "platform": "amazon",
        "currency": "USD",
        "customer_number": "10001",
    },
    {
        "shop_id": 10002,
        "shop_name": "eBay UK Store",
        "platform": "ebay",
        "currency": "GBP",
        "customer_number": "10002",
    },
    {
        "shop_id": 10003,
        "shop_name": "Shopee SG 跨境店",
        "platform": "shopee",
        "currency": "USD",
        "customer_number": "10003",
    },
    {
        "shop_id": 10004,
        "shop_name": "Amazon JP ストア",
        "platform": "amazon",
        "currency": "JPY",
        "customer_number": "10004",
    },
    {
        "shop_id": 10005,
        "shop_name": "Amazon DE Shop",
        "platform": "amazon",
        "currency": "EUR",
        "customer_number": "CUST-AMZ-DE",
    },
]

WAREHOUSES = [
    # Jushuitan wms_co_id, name; the Kingdee BD_STOCK number is the same code.
    {"wms_co_id": 20001, "name": "深圳跨境仓", "stock_number": "20001"},
    {"wms_co_id": 20002, "name": "美国海外仓 (FBA 备货)", "stock_number": "20002"},
    {"wms_co_id": 20003, "name": "前海保税仓", "stock_number": "20003"},
]

SUPPLIERS = [
    {"supplier_code": "SUP001", "name": "深圳市华强电子有限公司"},
    {"supplier_code": "SUP002", "name": "义乌市优品日用品厂"},
    {"supplier_code": "SUP003", "name": "东莞市博达户外用品有限公司"},
]

_M = [
    # sku, Chinese name, English name, HS code, declared USD, gross kg, net kg, brand, battery,
    # cost CNY, sale price in USD, supplier
    (
        "SKU-PB-1001",
        "20000mAh 充电宝",
        "20000mAh Power Bank",
        "8507600090",
        "18.50",
        "0.48",
        "0.42",
        "VoltPeak",
        True,
        "62.00",
        "29.99",
        "SUP001",
    ),
    (
        "SKU-PB-1002",
        "10000mAh 磁吸充电宝",
        "10000mAh Magnetic Power Bank",
        "8507600090",
        "14.00",
        "0.30",
        "0.25",
        "VoltPeak",
        True,
        "48.00",
        "24.99",
        "SUP001",
    ),
    (
        "SKU-EAR-1101",
        "蓝牙降噪耳机",
        "ANC Bluetooth Earbuds",
        "8518300000",
        "22.00",
        "0.22",
        "0.12",
        "SoundNest",
        True,
        "85.00",
        "39.99",
        "SUP001",
    ),
    (
        "SKU-CBL-1201",
        "USB-C 快充线 1m",
        "USB-C Fast Charging Cable 1m",
        "8544421100",
        "2.10",
        "0.06",
        "0.04",
        "VoltPeak",
        False,
        "6.50",
        "8.99",
        "SUP001",
    ),
    (
        "SKU-CBL-1202",
        "USB-C 快充线 2m",
        "USB-C Fast Charging Cable 2m",
        "8544421100",
        "2.80",
        "0.08",
        "0.06",
        "VoltPeak",
        False,
        "8.20",
        "11.99",
        "SUP001",
    ),
    (
        "SKU-CASE-1301",
        "iPhone 15 防摔手机壳",
        "iPhone 15 Shockproof Case",
        "3926909090",
        "1.60",
        "0.07",
        "0.05",
        "ArmorLite",
        False,
        "4.80",
        "12.99",
        "SUP002",
    ),
    (
        "SKU-CASE-1302",
        "iPhone 15 Pro 磁吸手机壳",
        "iPhone 15 Pro MagSafe Case",
        "3926909090",
        "2.20",
        "0.08",
        "0.06",
        "ArmorLite",
        False,
        "6.00",
        "15.99",
        "SUP002",
    ),
    (
        "SKU-BTL-1401",
        "不锈钢保温杯 750ml",
        "Stainless Vacuum Bottle 750ml",
        "9617001100",
        "4.50",
        "0.42",
        "0.36",
        "HydroTrail",
        False,
        "16.00",
        "21.99",
        "SUP003",
    ),
    (
        "SKU-LAMP-1501",
        "LED 护眼台灯",
        "LED Desk Lamp",
        "",
        "9.80",
        "1.10",
        "0.90",
        "Lumora",
        False,
        "35.00",
        "32.99",
        "SUP002",
    ),
    (
        "SKU-YOGA-1601",
        "TPE 瑜伽垫 6mm",
        "TPE Yoga Mat 6mm",
        "9506911900",
        "6.20",
        "1.05",
        "0.98",
        "ZenFlex",
        False,
        "22.00",
        "27.99",
        "SUP003",
    ),
    (
        "SKU-BAG-1701",
        "防水旅行背包",
        "Waterproof Travel Backpack",
        "4202920000",
        "11.00",
        "0.85",
        "0.78",
        "TrekMate",
        False,
        "42.00",
        "45.99",
        "SUP003",
    ),
    (
        "SKU-WATCH-1801",
        "智能手表 运动版",
        "Smart Watch Sport",
        "8517629900",
        "26.00",
        "0.20",
        "0.08",
        "PulseOne",
        True,
        "98.00",
        "59.99",
        "SUP001",
    ),
]

MATERIALS = [
    {
        "number": sku,
        "name": name_cn,
        "english_name": name_en,
        "hs_code": hs,
        "declared_price": Decimal(declared),
        "gross_weight": Decimal(gross),
        "net_weight": Decimal(net),
        "brand": brand,
        "has_battery": battery,
        "unit_cost": Decimal(cost),
        "sale_price": Decimal(price),
        "supplier_code": supplier,
        "unit": "Pcs",
    }
    for (
        sku,
        name_cn,
        name_en,
        hs,
        declared,
        gross,
        net,
        brand,
        battery,
        cost,
        price,
        supplier,
    ) in _M
]

# Only in Jushuitan (a gift SKU nobody created in Kingdee): a missing mapping.
JUSHUITAN_ONLY_SKUS = [
    {
        "sku_id": "SKU-GIFT-9001",
        "name": "赠品 贴纸套装",
        "english_name": "Gift Sticker Pack",
        "sale_price": Decimal("0.00"),
    },
]

# Opening stock per (warehouse, sku): plenty in the main warehouse, thin elsewhere so that
# stock shortages (F2.4) happen in the demo.
OPENING_STOCK = (
    {(20001, m["number"]): 500 for m in MATERIALS}
    | {(20002, m["number"]): 40 for m in MATERIALS[:6]}
    | {(20003, m["number"]): 5 for m in MATERIALS[:3]}
)

# Business exchange rates shown in Jushuitan (业务汇率), CNY per unit of currency.
BUSINESS_RATES = {
    "USD": Decimal("7.1800"),
    "EUR": Decimal("7.7600"),
    "GBP": Decimal("9.0500"),
    "JPY": Decimal("0.047600"),
}


# Custom fields the demo tenant created in BOS, per form: (key suffix after F_PAEZ_, level,
# type, length). The simulated Kingdee knows only these (sandbox.kingdee.bos); the portal's
# Kingdee preflight checks exactly what the enabled flows need, so the two must agree.
KINGDEE_DEV_PREFIX = "F_PAEZ_"
DECLARATION_FORM = "PAEZ_CustomsDecl"  # 报关单 form created in BOS (K2)
_TEXT, _DEC, _DATE = "text", "decimal", "date"
KINGDEE_CUSTOM_FIELDS: dict[str, list[tuple[str, str, str, int]]] = {
    "SAL_OUTSTOCK": [
        *[
            (name, "header", kind, length)
            for name, kind, length in (
                ("PlatformOrderNo", _TEXT, 100),
                ("BuyerId", _TEXT, 100),
                ("ShopId", _TEXT, 50),
                ("LogisticsNo", _TEXT, 100),
                ("LogisticsCompany", _TEXT, 100),
                ("Currency", _TEXT, 10),
                ("TradeAmount", _DEC, 0),
                ("TradeAmountCNY", _DEC, 0),
                ("Commission", _DEC, 0),
                ("CommissionCNY", _DEC, 0),
                ("RateDate", _DATE, 0),
            )
        ],
        *[
            (name, "entry", kind, length)
            for name, kind, length in (
                ("SkuId", _TEXT, 100),
                ("HSCode", _TEXT, 20),
                ("NetAmount", _DEC, 0),
                ("NetAmountCNY", _DEC, 0),
            )
        ],
    ],
    "SAL_RETURNSTOCK": [
        ("PlatformOrderNo", "header", _TEXT, 100),
        ("SrcBillNo", "header", _TEXT, 80),
        ("AfterSaleId", "header", _TEXT, 50),
        ("Currency", "header", _TEXT, 10),
        ("RefundAmount", "header", _DEC, 0),
        ("RefundAmountCNY", "header", _DEC, 0),
        ("RateDate", "header", _DATE, 0),
        ("SkuId", "entry", _TEXT, 100),
        ("Amount", "entry", _DEC, 0),
        ("AmountCNY", "entry", _DEC, 0),
    ],
    "STK_InStock": [
        ("ExpectedArrival", "header", _DATE, 0),
        ("TariffRate", "header", _DEC, 0),
        ("LogisticsMode", "header", _TEXT, 50),
    ],
    "PUR_MRB": [
        ("ReturnReason", "header", _TEXT, 255),
        ("JstDocNo", "header", _TEXT, 100),
    ],
    **{
        form: [
            ("CountNo", "header", _TEXT, 50),
            ("SkuId", "entry", _TEXT, 100),
            ("BookQty", "entry", _DEC, 0),
            ("CountedQty", "entry", _DEC, 0),
        ]
        for form in ("STK_MISCELLANEOUS", "STK_MisDelivery")
    },
    "HS_AdjustmentBill": [("SrcBillNo", "header", _TEXT, 80)],
    # K2 (finance.kingdee_sources): a customs-declaration form the tenant built in BOS, one
    # bill per declaration and one FEntity row per item, and the custom fields that tie a
    # purchase VAT invoice / a receipt to its declaration (item).
    DECLARATION_FORM: [
        *[
            (name, "header", kind, length)
            for name, kind, length in (
                ("DeclarationNo", _TEXT, 18),
                ("Mode", _TEXT, 4),
                ("ExportDate", _DATE, 0),
                ("Country", _TEXT, 2),
                ("ReferenceNo", _TEXT, 100),
                ("ShopIds", _TEXT, 200),
                ("OverseasWarehouse", _TEXT, 32),
                ("ExportInvoiceNo", _TEXT, 100),
                ("RefundFiledOn", _DATE, 0),
            )
        ],
        *[
            (name, "entry", kind, length)
            for name, kind, length in (
                ("ItemNo", "integer", 0),
                ("HSCode", _TEXT, 10),
                ("GoodsName", _TEXT, 200),
                ("SkuId", _TEXT, 100),
                ("Qty", _DEC, 0),
                ("LegalUnit", _TEXT, 20),
                ("LegalQty", _DEC, 0),
                ("SecondUnit", _TEXT, 20),
                ("SecondQty", _DEC, 0),
                ("FobUsd", _DEC, 0),
                ("HwcYt", "boolean", 0),
            )
        ],
    ],
    "IV_PURCHASEIC": [
        ("DeclarationNo", "header", _TEXT, 18),
        ("DeclItemNo", "header", "integer", 0),
    ],
    "AR_RECEIVEBILL": [("DeclarationNo", "header", _TEXT, 18)],
    "GL_VOUCHER": [("PortalKey", "header", _TEXT, 100)],
    "BD_MATERIAL": [
        ("HSCode", "header", _TEXT, 20),
        ("EnName", "header", _TEXT, 255),
        ("Brand", "header", _TEXT, 100),
        ("IsBattery", "header", "boolean", 0),
        ("DeclaredPrice", "header", _DEC, 0),
        ("Supplier", "header", "base data", 0),
        ("UnitCost", "header", _DEC, 0),
    ],
}

# Base data besides warehouses, customers, suppliers and materials (number, name, extra keys).
KINGDEE_BASE_DATA: dict[str, list[tuple[str, str, dict]]] = {
    "BD_Currency": [
        ("PRE001", "人民币", {"FCODE": "CNY"}),
        ("PRE002", "港币", {"FCODE": "HKD"}),
        ("PRE003", "欧元", {"FCODE": "EUR"}),
        ("PRE004", "日元", {"FCODE": "JPY"}),
        ("PRE005", "新台币", {"FCODE": "TWD"}),
        ("PRE006", "英镑", {"FCODE": "GBP"}),
        ("PRE007", "美元", {"FCODE": "USD"}),
        # forbidden (禁用) in the demo tenant: a code-table pull leaves it out
        ("PRE011", "新加坡元", {"FCODE": "SGD", "FForbidStatus": "B"}),
    ],
    "BD_RateType": [("HLTX01_SYS", "固定汇率", {})],
    "BD_TaxRate": [
        ("SL00_CB", "出口零税率", {"FTaxRate": 0}),
        ("SL02_SYS", "13%增值税", {"FTaxRate": 13}),
        ("SL06_SYS", "6%增值税", {"FTaxRate": 6}),
    ],
    # 费用项目: what the receivable's charge lines book (docs/finance/receivables.md).
    "BD_Expense": [
        ("FYXM_FREIGHT", "运费", {"FAccountId": {"FNumber": "6601.01"}}),
        ("FYXM_MKTTAX", "平台代收税费", {"FAccountId": {"FNumber": "6403"}}),
        ("FYXM_PLATFEE", "平台佣金及服务费", {"FAccountId": {"FNumber": "6601.02"}}),
        ("FYXM_ALLOW", "销售折让（仅退款）", {"FAccountId": {"FNumber": "6001"}}),
    ],
    "BD_Account": [
        (number, name, {})
        for number, name in (
            ("1001", "库存现金"),
            ("1002", "银行存款"),
            ("1122", "应收账款"),
            ("1405", "库存商品"),
            ("2202", "应付账款"),
            ("2221.01", "应交税费-应交增值税"),
            ("6001", "主营业务收入"),
            ("6401", "主营业务成本"),
            ("6403", "税金及附加"),
            ("6601.01", "销售费用-运费"),
            ("6601.02", "销售费用-平台佣金"),
            ("6603.01", "财务费用-利息"),
            ("6603.02", "财务费用-手续费"),
            ("6603.03", "财务费用-汇兑损益"),
        )
    ],
    "BOS_BillType": [
        (number, name, {"FBillFormID": form})
        for number, name, form in (
            ("XSCKD01_SYS", "标准销售出库单", "SAL_OUTSTOCK"),
            ("XSTHD01_SYS", "标准销售退货单", "SAL_RETURNSTOCK"),
            ("RKD01_SYS", "标准采购入库单", "STK_InStock"),
            ("TLD01_SYS", "标准退料单", "PUR_MRB"),
            ("ZJDB01_SYS", "标准直接调拨单", "STK_TransferDirect"),
            ("QTRKD01_SYS", "标准其他入库单", "STK_MISCELLANEOUS"),
            ("QTCKD01_SYS", "标准其他出库单", "STK_MisDelivery"),
            ("CBTZD01_SYS", "标准成本调整单", "HS_AdjustmentBill"),
            ("YSD01_SYS", "标准应收单", "AR_receivable"),
        )
    ],
    # 退料原因 (assistant data of PUR_MRB.FMRREASON): FNumber, FDataValue.
    "BOS_ASSISTANTDATA_DETAIL": [
        ("01", "质量问题", {"FDataValue": "质量问题"}),
        ("02", "数量不符", {"FDataValue": "数量不符"}),
        ("03", "其他", {"FDataValue": "其他"}),
    ],
}
