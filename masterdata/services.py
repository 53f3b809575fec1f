"""Writes of the master-data app: the master-data check (F9.1) and opening inventory (G2).

The check compares what both systems list (warehouses, shops ↔ customers, suppliers) through
the mappings (M1–M3), stores every verdict as a line of one run, refreshes the KnownCode
snapshot, and keeps one exception ticket per record that needs a person (opened or updated
while the problem lasts, closed by the first run that finds it in step).

Opening inventory: a file (xlsx or csv; columns warehouse, material, qty) is read into one
import per warehouse, each line mapped to a Jushuitan SKU (M4) and compared with Jushuitan's
current stock: nothing is sent (the dry run). Pushing sends an inventory check (absolute
quantities) per warehouse in parts of at most 500 lines, each under a deterministic so_id, so
a repeated push (a lost answer, a double click) never counts stock twice.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from core.errors import PortalError
from core.messages import compose
from core.messages import gettext as _
from mappings.choices import MasterKind, System
from mappings.errors import MappingMissing
from mappings.initialise import MasterRecord, record_known_codes
from monitoring import services as monitoring

from .choices import CHECK_PROBLEMS, CheckKind, CheckStatus, ImportStatus
from .models import (
    MasterDataCheck,
    MasterDataCheckLine,
    OpeningInventoryImport,
    OpeningInventoryLine,
)

PART_SIZE = 500  # inventoryv2 takes at most 500 items per call
QTY_PLACES = Decimal("1")


class MasterDataError(PortalError):
    default_message = gettext_noop("The master-data action failed.")


# --- F9.1: the master-data check ----------------------------------------------------------


@dataclass
class _Verdict:
    kind: str
    status: str
    kingdee_code: str = ""
    kingdee_name: str = ""
    jushuitan_code: str = ""
    jushuitan_name: str = ""
    message: str = ""

    @property
    def trace_key(self) -> str:
        return f"f9:{self.kind}:{self.kingdee_code or '-'}:{self.jushuitan_code or '-'}"


def _kingdee_list(client, form_id: str, org: str) -> list[MasterRecord]:
    from connectors.kingdee.client import quote

    rows = client.iter_bill_query(
        form_id,
        ["FNumber", "FName"],
        filter_string=f"FDocumentStatus = 'C' and FForbidStatus = 'A' and "
        f"FUseOrgId.FNumber = {quote(org)}",
        order_string="FNumber ASC",
    )
    return [MasterRecord(str(r["FNumber"]), str(r.get("FName") or "")) for r in rows]


def _compare(
    *,
    kind: str,
    kingdee: list[MasterRecord],
    jushuitan: list[MasterRecord],
    resolve,
    what: str,
) -> list[_Verdict]:
    """Each Kingdee record through its mapping to Jushuitan, then what Jushuitan has left."""
    jst = {r.code: r for r in jushuitan}
    seen: set[str] = set()
    verdicts: list[_Verdict] = []
    for record in kingdee:
        try:
            code = resolve(record.code)
        except MappingMissing as exc:
            verdicts.append(
                _Verdict(
                    kind,
                    CheckStatus.UNMAPPED,
                    record.code,
                    record.name,
                    message=exc.message,
                )
            )
            continue
        other = jst.get(code)
        if other is None:
            verdicts.append(
                _Verdict(
                    kind,
                    CheckStatus.MISSING_IN_JUSHUITAN,
                    record.code,
                    record.name,
                    code,
                    message=_(
                        "Kingdee %(what)s %(code)s (%(name)s) maps to %(jst)s, which Jushuitan "
                        "does not have. Create it in Jushuitan or correct the mapping."
                    )
                    % {"what": what, "code": record.code, "name": record.name, "jst": code},
                )
            )
            continue
        seen.add(code)
        same_name = other.name.strip() == record.name.strip()
        verdicts.append(
            _Verdict(
                kind,
                CheckStatus.OK if same_name else CheckStatus.NAME_DIFFERS,
                record.code,
                record.name,
                other.code,
                other.name,
                "" if same_name else _("The names differ; check that this is the same one."),
            )
        )
    for code, other in jst.items():
        if code in seen:
            continue
        verdicts.append(
            _Verdict(
                kind,
                CheckStatus.MISSING_IN_KINGDEE,
                jushuitan_code=code,
                jushuitan_name=other.name,
                message=_(
                    "Jushuitan %(what)s %(code)s (%(name)s) has no Kingdee counterpart. Create "
                    "it in Kingdee or add a mapping row."
                )
                % {"what": what, "code": code, "name": other.name},
            )
        )
    return verdicts


def master_data_check(*, integration, user=None) -> MasterDataCheck:
    """F9.1: compare warehouses, shops ↔ customers and suppliers between Kingdee and
    Jushuitan; store the run, refresh the KnownCode snapshot, open / close tickets."""
    from connectors.jushuitan.client import client_for as jst_client
    from connectors.kingdee.client import client_for as kd_client

    run = MasterDataCheck.objects.create(integration=integration, started_by=user)
    kingdee, jushuitan = kd_client(integration.kingdee), jst_client(integration.jushuitan)
    org = integration.kingdee.org_number or "100"
    try:
        kd_stocks = _kingdee_list(kingdee, "BD_STOCK", org)
        kd_customers = _kingdee_list(kingdee, "BD_Customer", org)
        kd_suppliers = _kingdee_list(kingdee, "BD_Supplier", org)
        jst_warehouses = [
            MasterRecord(str(r["wms_co_id"]), str(r.get("name") or ""))
            for r in jushuitan.warehouses()
        ]
        jst_shops = [
            MasterRecord(str(r["shop_id"]), str(r.get("shop_name") or ""))
            for r in jushuitan.shops()
        ]
        jst_suppliers = [
            MasterRecord(str(r["supplier_code"]), str(r.get("name") or ""))
            for r in jushuitan.suppliers_by_codes([s.code for s in kd_suppliers])
        ]
    except Exception as exc:  # the run records why it could not finish; the schedule retries
        MasterDataCheck.objects.filter(pk=run.pk).update(error=str(exc)[:2000])
        run.refresh_from_db()
        return run
    for system, kind, records in (
        (System.KINGDEE, MasterKind.WAREHOUSE, kd_stocks),
        (System.KINGDEE, MasterKind.CUSTOMER, kd_customers),
        (System.JUSHUITAN, MasterKind.WAREHOUSE, jst_warehouses),
        (System.JUSHUITAN, MasterKind.SHOP, jst_shops),
    ):
        record_known_codes(integration=integration, system=system, kind=kind, records=records)
    for system, records in ((System.KINGDEE, kd_suppliers), (System.JUSHUITAN, jst_suppliers)):
        record_known_codes(
            integration=integration,
            system=system,
            kind=MasterKind.SUPPLIER,
            records=records,
            complete=False,
        )

    from mappings.models import ShopCustomerMapping, SupplierMapping, WarehouseMapping

    def explicit_or_same(model, key_field: str, value_field: str):
        """A mapping row, else the same code (M1–M3 1:1 rule); the listing decides whether
        the other side has it, so the rule is not gated on the KnownCode snapshot here."""
        rows = dict(
            model.objects.filter(integration=integration)
            .order_by("-id")
            .values_list(key_field, value_field)
        )
        return lambda code: str(rows.get(code) or code)

    stock_to_wms = explicit_or_same(WarehouseMapping, "stock_number", "wms_co_id")
    customer_to_shop = explicit_or_same(ShopCustomerMapping, "customer_number", "shop_id")
    supplier_to_jst = explicit_or_same(SupplierMapping, "supplier_number", "jst_supplier_code")

    verdicts = (
        _compare(
            kind=CheckKind.WAREHOUSE,
            kingdee=kd_stocks,
            jushuitan=jst_warehouses,
            resolve=stock_to_wms,
            what=_("warehouse"),
        )
        + _compare(
            kind=CheckKind.SHOP,
            kingdee=kd_customers,
            jushuitan=jst_shops,
            resolve=customer_to_shop,
            what=_("shop / customer"),
        )
        + [
            v
            for v in _compare(
                kind=CheckKind.SUPPLIER,
                kingdee=kd_suppliers,
                jushuitan=jst_suppliers,
                resolve=supplier_to_jst,
                what=_("supplier"),
            )
            # Jushuitan was asked only for Kingdee's codes: nothing there is "extra".
            if v.status != CheckStatus.MISSING_IN_KINGDEE
        ]
    )
    # Customers that are not shops (wholesale, B2B) are normal in Kingdee: only shops need a
    # counterpart, so a customer without a shop is listed but not a problem.
    for v in verdicts:
        if v.kind == CheckKind.SHOP and v.status in (
            CheckStatus.UNMAPPED,
            CheckStatus.MISSING_IN_JUSHUITAN,
        ):
            v.status = CheckStatus.OK
            v.message = _("A Kingdee customer without a Jushuitan shop (not a shop customer).")
    with transaction.atomic():
        MasterDataCheckLine.objects.bulk_create(
            [
                MasterDataCheckLine(
                    check_run=run,
                    kind=v.kind,
                    status=v.status,
                    kingdee_code=v.kingdee_code[:80],
                    kingdee_name=v.kingdee_name[:200],
                    jushuitan_code=v.jushuitan_code[:80],
                    jushuitan_name=v.jushuitan_name[:200],
                    message=v.message,
                )
                for v in verdicts
            ]
        )
        problems = [v for v in verdicts if v.status in CHECK_PROBLEMS]
        for v in problems:
            monitoring.ticket_open_or_update(
                trace_key=f"{integration.code}:{v.trace_key}",
                error_class="missing_mapping",
                message=v.message,
                subject=compose(
                    "%(kind)s %(key)s",
                    kind=CheckKind(v.kind).label,
                    key=v.kingdee_code or v.jushuitan_code,
                ),
                integration_id=integration.pk,
                flow_code="master_data",
                detail={"check": run.pk, "status": v.status, "kind": v.kind},
            )
        in_step = [
            f"{integration.code}:{v.trace_key}" for v in verdicts if v.status not in CHECK_PROBLEMS
        ]
        monitoring.tickets_close_for(
            trace_keys=in_step, resolution=_("The master-data check found it in step.")
        )
        run.compared = len(verdicts)
        run.problems = len(problems)
        run.save(update_fields=["compared", "problems", "updated_at"])
    return run


# --- F9.2 / G2: opening inventory -----------------------------------------------------------


@dataclass
class _Row:
    row: int
    warehouse: str
    material: str
    qty: Decimal


@dataclass
class ParsedFile:
    rows: list[_Row] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)


HEADERS = {
    "warehouse": ("warehouse", "stock", "仓库", "仓库编码", "fstockid"),
    "material": ("material", "sku", "物料", "物料编码", "fmaterialid"),
    "qty": ("qty", "quantity", "数量", "期初数量"),
}


def _table(content: bytes, file_name: str) -> list[list]:
    if file_name.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).active
        return [list(r) for r in sheet.iter_rows(values_only=True)]
    text = content.decode("utf-8-sig")
    return [list(r) for r in csv.reader(io.StringIO(text))]


def opening_inventory_parse(*, content: bytes, file_name: str) -> ParsedFile:
    """Read the file: a header row naming warehouse, material and qty (English or Chinese)."""
    parsed = ParsedFile()
    try:
        table = _table(content, file_name)
    except Exception as exc:
        raise MasterDataError(
            _("The file %(name)s cannot be read as xlsx or UTF-8 csv: %(error)s")
            % {"name": file_name, "error": exc}
        ) from exc
    if not table:
        raise MasterDataError(_("The file %(name)s is empty.") % {"name": file_name})
    header = [str(c or "").strip().lower() for c in table[0]]
    columns = {}
    for name, aliases in HEADERS.items():
        found = [i for i, h in enumerate(header) if h in aliases]
        if not found:
            raise MasterDataError(
                _("The first row needs a %(column)s column (one of: %(aliases)s).")
                % {"column": name, "aliases": ", ".join(aliases)}
            )
        columns[name] = found[0]
    seen: dict[tuple[str, str], int] = {}
    for number, cells in enumerate(table[1:], start=2):
        values = {n: cells[i] if i < len(cells) else None for n, i in columns.items()}
        if all(v in (None, "") for v in values.values()):
            continue
        warehouse = str(values["warehouse"] or "").strip()
        material = str(values["material"] or "").strip()
        if not warehouse or not material:
            parsed.errors.append(
                {"row": number, "message": _("warehouse and material are required")}
            )
            continue
        try:
            qty = Decimal(str(values["qty"]).strip())
        except (InvalidOperation, ValueError):
            parsed.errors.append(
                {"row": number, "message": _("qty %(v)r is not a number") % {"v": values["qty"]}}
            )
            continue
        if qty < 0 or qty != qty.quantize(QTY_PLACES, rounding=ROUND_HALF_UP):
            parsed.errors.append(
                {
                    "row": number,
                    "message": _("qty %(v)s must be a whole number, 0 or more") % {"v": qty},
                }
            )
            continue
        key = (warehouse, material)
        if key in seen:
            parsed.errors.append(
                {
                    "row": number,
                    "message": _("%(material)s in %(wh)s is already on row %(first)d")
                    % {"material": material, "wh": warehouse, "first": seen[key]},
                }
            )
            continue
        seen[key] = number
        parsed.rows.append(_Row(number, warehouse, material, qty))
    return parsed


def opening_inventory_preview(
    *, integration, content: bytes, file_name: str, user=None, sub_warehouse: int = 1
) -> list[OpeningInventoryImport]:
    """The dry run (G2): one import per warehouse with each line's SKU (M4) and what Jushuitan
    holds now; nothing is sent. Rows that cannot be mapped are listed on the import, which
    then cannot be pushed."""
    from connectors.jushuitan.client import client_for
    from mappings import selectors

    parsed = opening_inventory_parse(content=content, file_name=file_name)
    if not parsed.rows and parsed.errors:
        raise MasterDataError(
            _("No row of %(name)s can be imported: %(errors)s")
            % {
                "name": file_name,
                "errors": "; ".join(f"{e['row']}: {e['message']}" for e in parsed.errors[:10]),
            }
        )
    client = client_for(integration.jushuitan)
    binder = selectors.MappingBinder(integration)
    by_warehouse: dict[str, list[_Row]] = {}
    for row in parsed.rows:
        by_warehouse.setdefault(row.warehouse, []).append(row)
    imports = []
    for stock_number, rows in by_warehouse.items():
        errors = list(parsed.errors)  # file-level problems show on every import
        try:
            wms_co_id = binder.warehouse.to_internal(stock_number)
        except MappingMissing as exc:
            wms_co_id = ""
            errors.append({"row": rows[0].row, "message": exc.message})
        lines = []
        for row in rows:
            try:
                sku = binder.material.to_internal(row.material)
            except MappingMissing as exc:
                errors.append({"row": row.row, "message": exc.message})
                continue
            lines.append((row, sku))
        current: dict[str, Decimal] = {}
        if wms_co_id and lines:
            for stock in client.inventory_by_skus(
                [sku for _r, sku in lines], wms_co_id=int(wms_co_id)
            ):
                current[str(stock["sku_id"])] = Decimal(str(stock.get("qty") or 0))
        with transaction.atomic():
            batch = OpeningInventoryImport.objects.create(
                integration=integration,
                stock_number=stock_number,
                wms_co_id=str(wms_co_id),
                sub_warehouse=sub_warehouse,
                file_name=file_name[:200],
                status=ImportStatus.INVALID if errors else ImportStatus.PREVIEWED,
                errors=errors,
                created_by=user,
            )
            OpeningInventoryLine.objects.bulk_create(
                [
                    OpeningInventoryLine(
                        batch=batch,
                        row=row.row,
                        material_number=row.material,
                        sku_id=sku,
                        qty=row.qty,
                        jushuitan_qty=current.get(sku, Decimal("0")),
                    )
                    for row, sku in lines
                ]
            )
        imports.append(batch)
    return imports


def opening_inventory_push(*, batch: OpeningInventoryImport, user=None) -> OpeningInventoryImport:
    """Push a previewed import to Jushuitan as inventory checks (absolute quantities, confirmed)
    in parts of ≤500 lines. Parts already answered are not sent again; a part whose answer was
    lost is sent again under the same so_id, which Jushuitan ignores if it has it (G2)."""
    from connectors.errors import ConnectorError
    from connectors.jushuitan.client import client_for

    with transaction.atomic():
        fresh = OpeningInventoryImport.objects.select_for_update().get(pk=batch.pk)
        if fresh.status not in (ImportStatus.PREVIEWED, ImportStatus.FAILED):
            raise MasterDataError(
                _("Only previewed or failed imports can be pushed; this one is %(status)s.")
                % {"status": fresh.get_status_display()}
            )
        fresh.status = ImportStatus.PUSHING
        fresh.save(update_fields=["status", "updated_at"])
    client = client_for(fresh.integration.jushuitan)
    lines = list(fresh.lines.order_by("row"))
    progress = dict(fresh.progress or {})
    try:
        for index in range(0, len(lines), PART_SIZE):
            so_id = fresh.external_no(index // PART_SIZE + 1)
            if progress.get(so_id):
                continue
            part = lines[index : index + PART_SIZE]
            result = client.upload_inventory(
                {
                    "wms_co_id": int(fresh.wms_co_id),
                    "warehouse": fresh.sub_warehouse,
                    "type": "check",
                    "is_confirm": True,
                    "so_id": so_id,
                    "remark": _("Opening inventory %(wh)s (portal import %(id)s)")
                    % {"wh": fresh.stock_number, "id": fresh.pk},
                    "items": [{"sku_id": line.sku_id, "qty": int(line.qty)} for line in part],
                }
            )
            progress[so_id] = result.remote_id or "sent"
            OpeningInventoryImport.objects.filter(pk=fresh.pk).update(progress=progress)
    except ConnectorError as exc:
        OpeningInventoryImport.objects.filter(pk=fresh.pk).update(
            status=ImportStatus.FAILED, progress=progress, last_error=str(exc.message)[:2000]
        )
        fresh.refresh_from_db()
        return fresh
    OpeningInventoryImport.objects.filter(pk=fresh.pk).update(
        status=ImportStatus.PUSHED,
        progress=progress,
        pushed_at=timezone.now(),
        pushed_by=user,
        last_error="",
    )
    fresh.refresh_from_db()
    return fresh
