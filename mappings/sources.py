"""G1: read what the two systems list, through the connectors, as MasterRecord lists.

Kingdee: customers, warehouses, suppliers and materials of the integration's organisation
(ExecuteBillQuery, paged). Jushuitan: shops and warehouses (complete listings), suppliers and
SKUs by the codes Kingdee has, plus SKUs modified in a recent window (so codes that exist only
in Jushuitan show up as unpaired).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from .initialise import (
    InitialisationResult,
    JushuitanMasterData,
    KingdeeMasterData,
    MasterRecord,
    initialise_from_systems,
    record_known_codes,
)

# Custom material fields the sandbox and the demo tenant use (header level, F_PAEZ_ prefix).
MATERIAL_FIELDS = {
    "hs_code": "F_PAEZ_HSCode",
    "english_name": "F_PAEZ_EnName",
    "declared_price": "F_PAEZ_DeclaredPrice",
    "brand": "F_PAEZ_Brand",
}
RECENT_SKU_DAYS = 30


def kingdee_master_data(*, integration) -> KingdeeMasterData:
    from connectors.kingdee.client import client_for, quote

    client = client_for(integration.kingdee)
    org = f"FUseOrgId.FNumber = {quote(integration.kingdee.org_number)}"

    def listing(form_id: str, extra: dict[str, str] | None = None) -> list[MasterRecord]:
        extra = extra or {}
        keys = ["FNumber", "FName", *extra.values()]
        return [
            MasterRecord(
                code=str(row["FNumber"]),
                name=str(row.get("FName") or ""),
                extra={name: str(row.get(key) or "") for name, key in extra.items()},
            )
            for row in client.iter_bill_query(form_id, keys, filter_string=org)
        ]

    return KingdeeMasterData(
        customers=listing("BD_Customer"),
        warehouses=listing("BD_STOCK"),
        suppliers=listing("BD_Supplier"),
        materials=listing("BD_MATERIAL", MATERIAL_FIELDS),
    )


KINGDEE_FORMS = {
    "customer": "BD_Customer",
    "warehouse": "BD_STOCK",
    "supplier": "BD_Supplier",
    "material": "BD_MATERIAL",
}


def kingdee_codes_confirm(*, integration, kind: str, codes: list[str]) -> set[str]:
    """Which of `codes` Kingdee has now (e.g. a material created after the snapshot); those
    found join the snapshot. Raises ConnectorError when Kingdee cannot be asked."""
    from connectors.kingdee.client import client_for, quote

    from .code_tables import code_table, kingdee_code_rows

    table = code_table(kind)
    if table is not None and codes:
        found = kingdee_code_rows(client_for(integration.kingdee), table, numbers=codes)
        record_known_codes(
            integration=integration, system="kingdee", kind=kind, records=found, complete=False
        )
        return {record.code for record in found}
    if not codes or kind not in KINGDEE_FORMS:
        return set()
    client = client_for(integration.kingdee)
    numbers = ",".join(quote(code) for code in codes)
    org = f"FUseOrgId.FNumber = {quote(integration.kingdee.org_number)}"
    rows = client.iter_bill_query(
        KINGDEE_FORMS[kind], ["FNumber", "FName"], filter_string=f"{org} AND FNumber in ({numbers})"
    )
    found = [MasterRecord(code=str(r["FNumber"]), name=str(r.get("FName") or "")) for r in rows]
    record_known_codes(
        integration=integration, system="kingdee", kind=kind, records=found, complete=False
    )
    return {record.code for record in found}


def jushuitan_shops(client) -> list[MasterRecord]:
    """Every shop of the company (a complete listing)."""
    return [
        MasterRecord(
            code=str(s["shop_id"]),
            name=str(s.get("shop_name") or ""),
            # The shop's currency, where the listing gives one: the checklist (FX1) checks it
            # has a Kingdee currency number before the first order needs it.
            extra={"currency": str(s["currency"]).upper()} if s.get("currency") else {},
        )
        for s in client.shops()
    ]


def jushuitan_warehouses(client) -> list[MasterRecord]:
    """Every partner / branch warehouse (wms_co_id) of the company (a complete listing)."""
    return [
        MasterRecord(code=str(w["wms_co_id"]), name=str(w.get("name") or ""))
        for w in client.warehouses()
    ]


def jushuitan_master_data(*, integration, kingdee: KingdeeMasterData) -> JushuitanMasterData:
    from connectors.jushuitan.client import client_for

    client = client_for(integration.jushuitan)
    shops = jushuitan_shops(client)
    warehouses = jushuitan_warehouses(client)
    suppliers = [
        MasterRecord(code=str(s.get("supplier_code") or ""), name=str(s.get("name") or ""))
        for s in client.suppliers_by_codes([r.code for r in kingdee.suppliers])
        if s.get("supplier_code")
    ]
    skus: dict[str, MasterRecord] = {}
    for row in client.skus_by_ids([r.code for r in kingdee.materials]):
        skus[str(row["sku_id"])] = MasterRecord(
            code=str(row["sku_id"]), name=str(row.get("name") or "")
        )
    end = timezone.now()
    for row in client.skus(start=end - timedelta(days=RECENT_SKU_DAYS), end=end):
        skus.setdefault(
            str(row["sku_id"]),
            MasterRecord(code=str(row["sku_id"]), name=str(row.get("name") or "")),
        )
    return JushuitanMasterData(
        shops=shops, warehouses=warehouses, suppliers=suppliers, skus=list(skus.values())
    )


def initialise_from_connections(
    *, integration, apply: bool = True, user=None
) -> InitialisationResult:
    """G1 against the live systems: list both, snapshot their codes, propose and apply pairs;
    Kingdee's code tables (currencies, accounts, tax rates) join the snapshot too."""
    from .code_tables import pull_kingdee_code_tables

    kingdee = kingdee_master_data(integration=integration)
    jushuitan = jushuitan_master_data(integration=integration, kingdee=kingdee)
    result = initialise_from_systems(
        integration=integration, kingdee=kingdee, jushuitan=jushuitan, apply=apply, user=user
    )
    result.code_tables = pull_kingdee_code_tables(integration=integration)
    return result
