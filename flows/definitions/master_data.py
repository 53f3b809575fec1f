"""F9 Master data (主数据): Kingdee suppliers uploaded to Jushuitan (docs/requirements.md F9.1,
docs/field-maps.md §6c). Warehouses and shops are checked, not written: masterdata.services.

Source: BD_Supplier rows audited in the use-org, pulled by modification / approval time.
Target: `/open/supplier/upload` (upsert on supplier_code [U]); a supplier modified after its
sync is synced again. The supplier code is the Kingdee number (M3 1:1 rule) unless a supplier
mapping row names another code. After a sync the mapping row records Jushuitan's integer
supplier_id (purchase uploads need it) and both codes join the KnownCode snapshot.

Flow settings: `org` (default the connection's org).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy

from core.messages import gettext as _
from mappings.choices import MappingKind, MappingSource
from mappings.errors import MappingMissing

from ..choices import ErrorClass, FlowCode, System
from . import register
from .base import FlowContext, FlowDefinition, LoadResult, Problem, SourceRecord
from .kingdee_common import mapping_problem
from .material_sync import KD_TIME, SHANGHAI, _kd_time, _org, _text, window_end

FORM = "BD_Supplier"
KEYS = [
    "FSupplierId",
    "FNumber",
    "FName",
    "FShortName",
    "FForbidStatus",
    "FDocumentStatus",
    "FUseOrgId.FNumber",
    "FDescription",
    "FModifyDate",
    "FApproveDate",
]


def supplier_payload(row: dict) -> dict:
    modified = max(
        (t for t in (_kd_time(row.get("FModifyDate")), _kd_time(row.get("FApproveDate"))) if t),
        default=None,
    )
    return {
        "id": _text(row.get("FSupplierId")),
        "number": _text(row.get("FNumber")),
        "name": _text(row.get("FName")),
        "short_name": _text(row.get("FShortName")),
        "forbid_status": _text(row.get("FForbidStatus")) or "A",
        "org": _text(row.get("FUseOrgId.FNumber")),
        "description": _text(row.get("FDescription")),
        "modified": modified.isoformat() if modified else "",
    }


def jst_code_for_supplier(ctx: FlowContext, number: str) -> str:
    """M3: the Jushuitan supplier_code of a Kingdee supplier (its mapping row, else its own
    number unless another supplier's row already uses that code)."""
    from mappings.models import SupplierMapping
    from mappings.selectors import admin_path

    rows = SupplierMapping.objects.filter(integration=ctx.integration)
    code = rows.filter(supplier_number=number).values_list("jst_supplier_code", flat=True).first()
    if code:
        return code
    other = (
        rows.filter(jst_supplier_code=number)
        .exclude(supplier_number=number)
        .values_list("supplier_number", flat=True)
        .first()
    )
    if other is None:
        return number
    where = admin_path(SupplierMapping)
    reason = _("Jushuitan supplier code %(code)s already belongs to Kingdee supplier %(other)s") % {
        "code": number,
        "other": other,
    }
    raise mapping_problem(
        MappingMissing(
            _(
                "Supplier %(number)s cannot be uploaded: %(reason)s. Add a row under Mappings › "
                "supplier mappings (%(where)s) with the code to use."
            )
            % {"number": number, "reason": reason, "where": where},
            kind=MappingKind.JST_SUPPLIER,
            key=number,
            integration_id=ctx.integration.pk,
            where=where,
            reason=reason,
        )
    )


@register
class SupplierSync(FlowDefinition):
    """F9.1 suppliers (供应商) Kingdee → Jushuitan."""

    code = FlowCode.MASTER_DATA
    label = gettext_lazy("F9 Master data")
    requirement = "F9"
    source_system = System.KINGDEE
    target_system = System.JUSHUITAN
    pull_window_seconds = 24 * 3600
    reopen_synced_on_change = True

    def extract(self, ctx: FlowContext, *, start: datetime, end: datetime):
        from connectors.kingdee.client import quote

        a = quote(start.astimezone(SHANGHAI).strftime(KD_TIME))
        b = quote(window_end(end))
        filters = (
            f"FDocumentStatus = 'C' and FUseOrgId.FNumber = {quote(_org(ctx))} and "
            f"((FModifyDate >= {a} and FModifyDate < {b}) or "
            f"(FApproveDate >= {a} and FApproveDate < {b}))"
        )
        for row in ctx.kingdee.iter_bill_query(
            FORM, KEYS, filter_string=filters, order_string="FSupplierId ASC"
        ):
            payload = supplier_payload(row)
            yield SourceRecord(
                source_key=f"supplier:{payload['number']}",
                payload=payload,
                modified_at=datetime.fromisoformat(payload["modified"])
                if payload["modified"]
                else None,
                kingdee_bill_no=payload["number"],
            )

    def validate(self, ctx: FlowContext, document) -> None:
        from .base import ValidationProblem

        for key in ("number", "name"):
            if not document.source_payload.get(key):
                raise ValidationProblem(
                    _("Supplier %(number)s has no %(field)s in Kingdee.")
                    % {"number": document.source_payload.get("number"), "field": key},
                    field_name=f"F{key.title()}",
                )

    def transform(self, ctx: FlowContext, document) -> tuple[dict, str]:
        supplier = document.source_payload
        code = jst_code_for_supplier(ctx, supplier["number"])
        payload: dict[str, Any] = {
            "supplier_code": code,
            "name": supplier["name"],
            "enabled": supplier["forbid_status"] != "B",
            "remark": supplier["description"][:200],
        }
        return payload, code

    def load(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        rows = ctx.jushuitan.upload_suppliers([d.target_payload for d in documents])
        by_code = {row.key: row for row in rows}
        results: dict[int, LoadResult] = {}
        for doc in documents:
            row = by_code.get(doc.target_key)
            if row is None:
                results[doc.pk] = LoadResult(
                    problem=Problem(
                        _("Jushuitan answered without a row for supplier %(code)s.")
                        % {"code": doc.target_key},
                        error_class=ErrorClass.UNKNOWN_OUTCOME,
                        system="jushuitan",
                        stage="load",
                    ),
                    unknown=True,
                )
            elif row.ok:
                results[doc.pk] = LoadResult.landed(
                    target_id=row.remote_id, target_number=doc.target_key
                )
            else:
                results[doc.pk] = LoadResult(
                    problem=Problem(
                        _("Jushuitan refused supplier %(code)s: %(message)s")
                        % {"code": doc.target_key, "message": row.message},
                        error_class=ErrorClass.REMOTE_REJECTED,
                        subject=f"{doc.target_key}: {row.message[:80]}",
                        system="jushuitan",
                        stage="load",
                    )
                )
        return results

    def find_existing(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        found = {
            str(r.get("supplier_code")): r
            for r in ctx.jushuitan.suppliers_by_codes([d.target_key for d in documents])
        }
        results: dict[int, LoadResult] = {}
        for doc in documents:
            row = found.get(doc.target_key)
            if row is not None and str(row.get("name")) == doc.target_payload.get("name"):
                results[doc.pk] = LoadResult.landed(
                    target_id=row.get("supplier_id"), target_number=doc.target_key
                )
        return results

    def after_synced(self, ctx: FlowContext, documents) -> None:
        """M-sup: record Jushuitan's supplier_id on the mapping row (created by the 1:1 rule
        when missing) and add both codes to the KnownCode snapshot."""
        from mappings.initialise import MasterRecord, record_known_codes
        from mappings.models import SupplierMapping

        docs = list(documents)
        for doc in docs:
            number = doc.source_payload["number"]
            supplier_id = int(doc.target_id) if str(doc.target_id).isdigit() else None
            rows = SupplierMapping.objects.filter(integration=ctx.integration)
            row = rows.filter(supplier_number=number).first()
            if row is None:
                if rows.filter(jst_supplier_code=doc.target_key).exists():
                    continue
                try:
                    with transaction.atomic():
                        SupplierMapping.objects.create(
                            integration=ctx.integration,
                            source=MappingSource.RULE,
                            jst_supplier_code=doc.target_key,
                            jst_supplier_id=supplier_id,
                            supplier_number=number,
                            supplier_name=doc.source_payload.get("name", "")[:200],
                            note=_("Created by the supplier sync (F9)."),
                        )
                except IntegrityError:
                    continue
            elif supplier_id and row.jst_supplier_id != supplier_id:
                row.jst_supplier_id = supplier_id
                row.save(update_fields=["jst_supplier_id", "updated_at"])
        record_known_codes(
            integration=ctx.integration,
            system="kingdee",
            kind="supplier",
            records=[
                MasterRecord(d.source_payload["number"], d.source_payload["name"]) for d in docs
            ],
            complete=False,
        )
        record_known_codes(
            integration=ctx.integration,
            system="jushuitan",
            kind="supplier",
            records=[MasterRecord(d.target_key, d.target_payload["name"]) for d in docs],
            complete=False,
        )
