"""The customer's code tables, pulled into the snapshot (KnownCode) that import dry runs check
codes against and the admin offers as suggestions (issue 24 point 6).

Kingdee: currencies (BD_Currency), accounts (BD_Account) and tax rates (BD_TaxRate), read with
ExecuteBillQuery (docs/protocols/kingdee.md §4.19). Jushuitan: shops and warehouses, the same
complete listings the initialisation (G1) reads. Each table is a complete listing: codes no
longer listed leave the snapshot. A table that cannot be read is reported and the others are
still pulled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from .choices import MasterKind, System
from .initialise import MasterRecord, record_known_codes

#: audited and not forbidden, the strictest reading (docs/protocols/kingdee.md §4.19);
#: PORTAL_KINGDEE_CODE_TABLE_FILTERS overrides it per form id
DEFAULT_FILTER = "FDocumentStatus = 'C' AND FForbidStatus = 'A'"


@dataclass(frozen=True)
class KingdeeCodeTable:
    """One Kingdee form read as a code table: its snapshot kind and the fields kept besides
    FNumber and FName (snapshot name -> field key)."""

    kind: str
    form_id: str
    extra: dict[str, str] = field(default_factory=dict)


KINGDEE_CODE_TABLES = (
    KingdeeCodeTable(MasterKind.CURRENCY, "BD_Currency", {"iso": "FCODE"}),
    KingdeeCodeTable(MasterKind.ACCOUNT, "BD_Account"),
    KingdeeCodeTable(MasterKind.TAX_RATE, "BD_TaxRate", {"rate": "FTaxRate"}),
)
CODE_TABLE_KINDS = frozenset(table.kind for table in KINGDEE_CODE_TABLES)


def code_table(kind: str) -> KingdeeCodeTable | None:
    return next((table for table in KINGDEE_CODE_TABLES if table.kind == kind), None)


def table_filter(form_id: str) -> str:
    """The FilterString a code table is read with (configurable per form id)."""
    overrides = getattr(settings, "PORTAL_KINGDEE_CODE_TABLE_FILTERS", None) or {}
    return str(overrides.get(form_id, DEFAULT_FILTER)).strip()


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def kingdee_code_rows(client, table: KingdeeCodeTable, *, numbers: list[str] | None = None):
    """The rows of one code table as MasterRecords (only `numbers`, when given)."""
    from connectors.kingdee.client import quote

    clauses = [table_filter(table.form_id)]
    if numbers is not None:
        clauses.append(f"FNumber in ({','.join(quote(n) for n in numbers)})")
    keys = ["FNumber", "FName", *table.extra.values()]
    return [
        MasterRecord(
            code=_text(row["FNumber"]),
            name=_text(row.get("FName")),
            extra={name: _text(row.get(key)) for name, key in table.extra.items()},
        )
        for row in client.iter_bill_query(
            table.form_id, keys, filter_string=" AND ".join(c for c in clauses if c)
        )
    ]


@dataclass
class CodeTablesResult:
    """Codes kept per (system, kind), and why a table could not be read."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def pull_kingdee_code_tables(*, integration, result: CodeTablesResult | None = None):
    """Currencies, accounts and tax rates from Kingdee into the snapshot."""
    from connectors.errors import ConnectorError
    from connectors.kingdee.client import client_for

    result = result or CodeTablesResult()
    client = client_for(integration.kingdee)
    for table in KINGDEE_CODE_TABLES:
        key = (System.KINGDEE.value, str(table.kind))
        try:
            records = kingdee_code_rows(client, table)
        except ConnectorError as exc:
            result.errors[key] = f"{table.form_id}: {exc.message}"
            continue
        result.counts[key] = record_known_codes(
            integration=integration, system=System.KINGDEE, kind=table.kind, records=records
        )
    return result


def pull_jushuitan_code_tables(*, integration, result: CodeTablesResult | None = None):
    """Shops and warehouses from Jushuitan into the snapshot (complete listings)."""
    from connectors.errors import ConnectorError
    from connectors.jushuitan.client import client_for

    from .sources import jushuitan_shops, jushuitan_warehouses

    result = result or CodeTablesResult()
    client = client_for(integration.jushuitan)
    for kind, listing in (
        (MasterKind.SHOP, jushuitan_shops),
        (MasterKind.WAREHOUSE, jushuitan_warehouses),
    ):
        key = (System.JUSHUITAN.value, str(kind))
        try:
            records = listing(client)
        except ConnectorError as exc:
            result.errors[key] = str(exc.message)
            continue
        result.counts[key] = record_known_codes(
            integration=integration, system=System.JUSHUITAN, kind=kind, records=records
        )
    return result


def pull_code_tables(*, integration) -> CodeTablesResult:
    """Kingdee's currencies, accounts and tax rates and Jushuitan's shops and warehouses."""
    result = pull_kingdee_code_tables(integration=integration)
    return pull_jushuitan_code_tables(integration=integration, result=result)
