"""F1 Material master sync (物料主数据同步): finished-goods materials of the configured Kingdee
organisation, created or modified, become (or update) SKUs of Jushuitan's item library
(docs/requirements.md F1.1–F1.4, docs/field-maps.md §4).

Source: BD_MATERIAL rows audited (`FDocumentStatus='C'`) in the use-org (default the
connection's org, e.g. 100), pulled every minute by modification / approval time, or pushed to
`POST /kdcloud/material/sync` in Kingdee's Save shape. Materials that are not finished goods
(存货类别 not in `finished_goods_categories`) are kept with the reason, never silently dropped.

Target: `/open/jushuitan/itemsku/upload` (upsert on sku_id), so a material modified after its sync
is synced again (the definition re-opens synced documents on a newer source version). Every F1.2
field is carried. Jushuitan has native fields for the name, brand and (gross) weight; it has none
for the HS code, English name, declared price, net weight or battery flag [U, docs/field-maps.md
§4], so those go where `jushuitan_fields` says (default other_1…other_4 and the label 带电) and each
document records the placement it used in `progress["placement"]`.

F1.3: the SKU is the material code (M4) unless a SKU ↔ material mapping row says otherwise. A
code Jushuitan cannot take (longer than 40 characters, characters outside `sku_pattern`) or one
that collides with another material's SKU blocks the record with a ticket to the master-data
admins; adding the mapping row releases it. F1.4: a missing required field blocks the record
and its ticket goes to the material group's owner (masterdata.MaterialOwner; default the
master-data admins), whose members (and owner user) the DingTalk alert @-mentions; completing
the field in Kingdee produces a newer version that the next pull picks up, which re-opens the
document.

Flow settings (Flow.settings JSON), all optional:
  org                        use-org number (default: the Kingdee connection's org)
  finished_goods_categories  FCategoryID numbers of finished goods (default ["CHLB05_SYS"]) [U]
  material_filter            extra FilterString ANDed to the query, e.g. "FIsSalseByNet = 1"
  kingdee_fields             {"hs_code": "F_PAEZ_HSCode", "english_name": ..., "declared_price":
                             ..., "brand": ..., "battery": ...} custom field keys
  jushuitan_fields           {"hs_code": "other_1", "english_name": "other_2", "declared_price":
                             "other_3", "net_weight": "other_4", "battery": "labels"}
  battery_label              label added / removed for the battery flag (default "带电")
  required_fields            F1.2 fields a record must carry (default all of them)
  sku_max_length, sku_pattern  what Jushuitan takes as sku_id (default 40, [A-Za-z0-9._-/#+]) [U]
  upload_batch               SKUs per upload call (default 50)
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.messages import gettext as _
from mappings.choices import MappingKind
from mappings.errors import MappingMissing

from ..choices import ErrorClass, FlowCode, System
from . import register
from .base import FlowContext, FlowDefinition, LoadResult, Problem, SourceRecord, ValidationProblem
from .kingdee_common import custom_field, mapping_problem
from .push import KEY_TEXT, NUMBER, PushEndpoint, document_schema, ref

SHANGHAI = ZoneInfo("Asia/Shanghai")
KD_TIME = "%Y-%m-%d %H:%M:%S"
FORM = "BD_MATERIAL"

# The F1.2 fields, in the order people read them, with a label for messages.
F12_FIELDS = {
    "number": "material code",
    "hs_code": "HS code",
    "english_name": "English name",
    "declared_price": "declared unit price",
    "gross_weight": "gross weight",
    "net_weight": "net weight",
    "brand": "brand",
    "battery": "contains-battery flag",
}
DEFAULT_REQUIRED = tuple(F12_FIELDS)
DEFAULT_KINGDEE_FIELDS = {
    "hs_code": "HSCode",
    "english_name": "EnName",
    "declared_price": "DeclaredPrice",
    "brand": "Brand",
    "battery": "IsBattery",
}
# Where the F1.2 fields without a native Jushuitan field go [U: docs/field-maps.md §4].
DEFAULT_JUSHUITAN_FIELDS = {
    "hs_code": "other_1",
    "english_name": "other_2",
    "declared_price": "other_3",
    "net_weight": "other_4",
    "battery": "labels",
}
NATIVE_PLACEMENT = {"number": "sku_id", "brand": "brand", "gross_weight": "weight"}
DEFAULT_SKU_PATTERN = r"[A-Za-z0-9._\-/#+]+"
WEIGHT_TO_KG = {"kg": Decimal("1"), "g": Decimal("0.001"), "t": Decimal("1000")}
WEIGHT_TO_KG["lb"] = Decimal("0.45359237")
HS_CODE = re.compile(r"\d{6,10}")


# --- normalising the two source shapes into one payload ------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        for key in ("FNumber", "fnumber", "FNUMBER", "Number"):
            if value.get(key) not in (None, ""):
                return str(value[key]).strip()
        return ""
    return str(value).strip()


def _decimal_text(value: Any) -> str:
    """A number as canonical text ('0.48', '18.5'); '' when absent; the raw text when it is
    not a number (validation then names the field)."""
    text = _text(value)
    if not text:
        return ""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    return format(number.normalize(), "f") if number else "0"


def _flag(value: Any) -> str:
    """A checkbox as '1' / '0' ('' when absent)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return "1" if value.strip().lower() in ("1", "true", "yes", "y", "是") else "0"
    return "1" if value else "0"


def _kd_time(value: Any) -> datetime | None:
    text = _text(value).replace("T", " ")[:19]
    if not text:
        return None
    try:
        return datetime.strptime(text, KD_TIME).replace(tzinfo=SHANGHAI)
    except ValueError:
        try:
            return datetime.strptime(text[:10], "%Y-%m-%d").replace(tzinfo=SHANGHAI)
        except ValueError:
            return None


def window_end(end: datetime) -> str:
    """The exclusive end of a pull window as Kingdee text: rounded up to the next second, so a
    change made in the window's last second is not left to the next window's overlap."""
    moment = end.astimezone(SHANGHAI)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime(KD_TIME)


def kingdee_keys(ctx: FlowContext) -> dict[str, str]:
    """The Kingdee custom field key of each custom F1.2 field (prefix per integration)."""
    configured = ctx.setting("kingdee_fields", {}) or {}
    return {
        name: configured.get(name) or custom_field(ctx, suffix)
        for name, suffix in DEFAULT_KINGDEE_FIELDS.items()
    }


def query_keys(ctx: FlowContext) -> list[str]:
    custom = kingdee_keys(ctx)
    return [
        "FMATERIALID",
        "FNumber",
        "FName",
        "FSpecification",
        "FMaterialGroup.FNumber",
        "FCategoryID.FNumber",
        "FBaseUnitId.FNumber",
        "FBARCODE",
        "FForbidStatus",
        "FDocumentStatus",
        "FUseOrgId.FNumber",
        "FGROSSWEIGHT",
        "FNETWEIGHT",
        "FWEIGHTUNITID.FNumber",
        "FDescription",
        "FModifyDate",
        "FApproveDate",
        custom["hs_code"],
        custom["english_name"],
        custom["declared_price"],
        custom["brand"],
        custom["battery"],
    ]


def material_payload(ctx: FlowContext, row: dict) -> dict:
    """One material in the portal's canonical shape, from a query row (dotted keys) or a
    pushed Save model (both lower-cased and flattened by the caller)."""
    custom = {name: key.lower() for name, key in kingdee_keys(ctx).items()}

    def get(*keys: str) -> Any:
        for key in keys:
            if key in row and row[key] not in (None, ""):
                return row[key]
        return None

    modified = max(
        (t for t in (_kd_time(get("fmodifydate")), _kd_time(get("fapprovedate"))) if t),
        default=None,
    )
    return {
        "id": _text(get("fmaterialid")),
        "number": _text(get("fnumber")),
        "name": _text(get("fname")),
        "specification": _text(get("fspecification")),
        "group": _text(get("fmaterialgroup.fnumber", "fmaterialgroup")),
        "category": _text(get("fcategoryid.fnumber", "fcategoryid")),
        "unit": _text(get("fbaseunitid.fnumber", "fbaseunitid")),
        "barcode": _text(get("fbarcode")),
        "forbid_status": _text(get("fforbidstatus")) or "A",
        "document_status": _text(get("fdocumentstatus")),
        "org": _text(get("fuseorgid.fnumber", "fuseorgid")),
        "gross_weight": _decimal_text(get("fgrossweight")),
        "net_weight": _decimal_text(get("fnetweight")),
        "weight_unit": _text(get("fweightunitid.fnumber", "fweightunitid")) or "kg",
        "description": _text(get("fdescription")),
        "hs_code": _text(get(custom["hs_code"])),
        "english_name": _text(get(custom["english_name"])),
        "declared_price": _decimal_text(get(custom["declared_price"])),
        "brand": _text(get(custom["brand"])),
        "battery": _flag(row.get(custom["battery"])),
        "modified": modified.isoformat() if modified else "",
    }


def _flatten_model(model: dict) -> dict:
    """A pushed Save model: keys lower-cased, sub-heads (SubHeadEntity, SubHeadEntity1...)
    flattened into the header, as Kingdee itself stores them."""
    flat: dict[str, Any] = {}
    for key, value in model.items():
        low = str(key).lower()
        if low.startswith("subheadentity") and isinstance(value, dict):
            flat.update({str(k).lower(): v for k, v in value.items()})
        else:
            flat[low] = value
    return flat


def _finished_goods(ctx: FlowContext) -> set[str]:
    return {str(c) for c in ctx.setting("finished_goods_categories", ["CHLB05_SYS"])}


def _org(ctx: FlowContext) -> str:
    return str(ctx.setting("org", "") or ctx.integration.kingdee.org_number or "100")


def material_record(ctx: FlowContext, payload: dict) -> SourceRecord:
    """A material as a source record, with the reason when it is kept but not synced."""
    reason = ""
    categories = _finished_goods(ctx)
    if payload["org"] and payload["org"] != _org(ctx):
        reason = _("material of organisation %(org)s, not %(ours)s") % {
            "org": payload["org"],
            "ours": _org(ctx),
        }
    elif payload["document_status"] and payload["document_status"] != "C":
        reason = _("material not audited (status %(status)s)") % {
            "status": payload["document_status"]
        }
    elif categories and payload["category"] not in categories:
        reason = _("not a finished good (inventory category %(category)s)") % {
            "category": payload["category"] or "-"
        }
    return SourceRecord(
        source_key=f"material:{payload['number']}",
        payload=payload,
        modified_at=datetime.fromisoformat(payload["modified"]) if payload["modified"] else None,
        kingdee_bill_no=payload["number"],
        skus=[payload["number"]],
        filter_reason=reason,
    )


# --- F1.3: the SKU a material becomes ---------------------------------------------------------


def sku_for_new_material(ctx: FlowContext, number: str) -> str:
    """The Jushuitan sku_id of a material: its SKU ↔ material mapping row (the code-mapping
    table for codes Jushuitan cannot take), else the material code itself (M4 1:1 rule) when
    Jushuitan can take it and no other material already maps to it."""
    from mappings.models import KnownCode, MaterialMapping
    from mappings.selectors import admin_path

    integration = ctx.integration
    row = (
        MaterialMapping.objects.filter(integration=integration, material_number=number)
        .values_list("sku_id", flat=True)
        .first()
    )
    if row:
        return row
    max_length = int(ctx.setting("sku_max_length", 40))
    pattern = ctx.setting("sku_pattern", DEFAULT_SKU_PATTERN)
    reason = ""
    if len(number) > max_length:
        reason = _("the code has %(n)d characters; Jushuitan takes at most %(max)d") % {
            "n": len(number),
            "max": max_length,
        }
    elif not re.fullmatch(pattern, number):
        bad = sorted({c for c in number if not re.fullmatch(pattern, c)})
        reason = _("Jushuitan does not take the characters %(chars)s in a SKU") % {
            "chars": " ".join(repr(c) for c in bad)
        }
    else:
        clash = (
            MaterialMapping.objects.filter(integration=integration, sku_id=number)
            .exclude(material_number=number)
            .values_list("material_number", flat=True)
            .first()
        )
        if clash:
            reason = _("SKU %(sku)s already belongs to material %(other)s") % {
                "sku": number,
                "other": clash,
            }
        else:
            lookalike = (
                KnownCode.objects.filter(
                    integration=integration, system="jushuitan", kind="sku", code__iexact=number
                )
                .exclude(code=number)
                .values_list("code", flat=True)
                .first()
            )
            if lookalike:
                reason = _(
                    "Jushuitan already has SKU %(other)s, which differs only in letter case"
                ) % {"other": lookalike}
    if not reason:
        return number
    where = admin_path(MaterialMapping)
    message = _(
        "Material %(number)s cannot become a Jushuitan SKU as it is: %(reason)s. Add a row "
        "under Mappings › SKU ↔ material mappings (%(where)s) giving the SKU to use; the "
        "record is released when the row is saved."
    ) % {"number": number, "reason": reason, "where": where}
    raise mapping_problem(
        MappingMissing(
            message,
            kind=MappingKind.SKU,
            key=number,
            integration_id=integration.pk,
            where=where,
            reason=reason,
        )
    )


# --- building the Jushuitan item ------------------------------------------------------------


def _weight_kg(value: str, unit: str) -> str:
    factor = WEIGHT_TO_KG.get(unit.lower(), Decimal("1"))
    kg = (Decimal(value) * factor).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return format(kg.normalize(), "f") if kg else "0"


def placement(ctx: FlowContext) -> dict[str, str]:
    """Where each F1.2 field lands in the Jushuitan item (recorded on every document)."""
    configured = {**DEFAULT_JUSHUITAN_FIELDS, **(ctx.setting("jushuitan_fields", {}) or {})}
    return {**NATIVE_PLACEMENT, **configured}


def jushuitan_item(ctx: FlowContext, material: dict, sku: str) -> dict:
    """The itemsku upload element of one material (docs/field-maps.md §4)."""
    where = placement(ctx)
    label = ctx.setting("battery_label", "带电")
    item: dict[str, Any] = {
        "sku_id": sku,
        "i_id": sku,
        "name": material["name"],
        "properties_value": material["specification"][:100],
        "unit": material["unit"],
        "item_type": "成品",
        "enabled": -1 if material["forbid_status"] == "B" else 1,
        "brand": material["brand"],
        "weight": _weight_kg(material["gross_weight"], material["weight_unit"]),
        "remark": material["description"][:200],
    }
    if material["barcode"]:
        item["sku_code"] = material["barcode"]
    values = {
        "hs_code": material["hs_code"],
        "english_name": material["english_name"],
        "declared_price": material["declared_price"],
        "net_weight": _weight_kg(material["net_weight"], material["weight_unit"]),
    }
    for name, value in values.items():
        item[where[name]] = value
    battery = material["battery"] == "1"
    if where["battery"] == "labels":
        item["labels" if battery else "deletedlabels"] = [label]
    else:
        item[where["battery"]] = "1" if battery else "0"
    return item


def _problem_for_row(doc, message: str) -> Problem:
    return Problem(
        _("Jushuitan refused SKU %(sku)s: %(message)s")
        % {"sku": doc.target_key, "message": message},
        error_class=ErrorClass.REMOTE_REJECTED,
        subject=f"{doc.target_key}: {message[:80]}",
        system="jushuitan",
        stage="load",
    )


# The push endpoint (docs/requirements.md F1.1): Kingdee pushes BD_MATERIAL Save models.
PUSH = PushEndpoint(
    path="kdcloud/material/sync",
    summary="Push new or modified materials (F1 material master sync)",
    description=(
        "Kingdee BD_MATERIAL models (the Save shape: FNumber, FName, FMaterialGroup, "
        "SubHeadEntity{FCategoryID, FGROSSWEIGHT, FNETWEIGHT, FWEIGHTUNITID}, and the custom "
        "fields F_PAEZ_HSCode, F_PAEZ_EnName, F_PAEZ_DeclaredPrice, F_PAEZ_Brand, "
        "F_PAEZ_IsBattery), one object or an array, become SKUs of Jushuitan's item library. "
        "FNumber and FName are required."
    ),
    body=document_schema(
        "KingdeeMaterial",
        {
            "FNumber": {**KEY_TEXT, "description": "Material code (物料编码) = Jushuitan SKU"},
            "FName": {"type": "string", "minLength": 1, "maxLength": 255},
            "FMaterialGroup": ref("Material group"),
            "FUseOrgId": ref("Use organisation, e.g. 100"),
            "FModifyDate": {"type": "string", "example": "2026-11-28 10:15:00"},
            "F_PAEZ_HSCode": {"type": "string", "description": "HS code (海关编码)"},
            "F_PAEZ_EnName": {"type": "string"},
            "F_PAEZ_DeclaredPrice": NUMBER,
            "F_PAEZ_Brand": {"type": "string"},
            "F_PAEZ_IsBattery": {"type": "boolean"},
            "SubHeadEntity": {
                "type": "object",
                "properties": {
                    "FCategoryID": ref("Material category, CHLB05_SYS = finished goods"),
                    "FBaseUnitId": ref("Base unit"),
                    "FGROSSWEIGHT": NUMBER,
                    "FNETWEIGHT": NUMBER,
                    "FWEIGHTUNITID": ref("Weight unit"),
                },
            },
        },
        ["FNumber", "FName"],
        'A Kingdee BD_MATERIAL Save model (or {"Model": {...}}); FNumber and FName are required.',
    ),
    example={
        "FNumber": "SKU-PB-2001",
        "FName": "30000mAh 充电宝",
        "FMaterialGroup": {"FNumber": "FG"},
        "FUseOrgId": {"FNumber": "100"},
        "FModifyDate": "2026-11-28 10:15:00",
        "F_PAEZ_HSCode": "8507600090",
        "F_PAEZ_EnName": "30000mAh Power Bank",
        "F_PAEZ_DeclaredPrice": 24.5,
        "F_PAEZ_Brand": "VoltPeak",
        "F_PAEZ_IsBattery": True,
        "SubHeadEntity": {
            "FCategoryID": {"FNumber": "CHLB05_SYS"},
            "FBaseUnitId": {"FNumber": "Pcs"},
            "FGROSSWEIGHT": 0.62,
            "FNETWEIGHT": 0.55,
            "FWEIGHTUNITID": {"FNumber": "kg"},
        },
    },
)


@register
class MaterialSync(FlowDefinition):
    code = FlowCode.MATERIAL_SYNC
    label = gettext_lazy("F1 Material master sync")
    requirement = "F1"
    push = PUSH
    source_system = System.KINGDEE
    target_system = System.JUSHUITAN
    pull_window_seconds = 24 * 3600
    reopen_synced_on_change = True

    # --- extract ------------------------------------------------------------------------
    def extract(self, ctx: FlowContext, *, start, end):
        from connectors.kingdee.client import quote

        a = quote(start.astimezone(SHANGHAI).strftime(KD_TIME))
        b = quote(window_end(end))
        filters = [
            "FDocumentStatus = 'C'",
            f"FUseOrgId.FNumber = {quote(_org(ctx))}",
            f"((FModifyDate >= {a} and FModifyDate < {b}) or "
            f"(FApproveDate >= {a} and FApproveDate < {b}))",
        ]
        extra = str(ctx.setting("material_filter", "") or "").strip()
        if extra:
            filters.append(f"({extra})")
        keys = query_keys(ctx)
        rows = ctx.kingdee.iter_bill_query(
            FORM, keys, filter_string=" and ".join(filters), order_string="FMATERIALID ASC"
        )
        for row in rows:
            lowered = {str(k).lower(): v for k, v in row.items()}
            yield material_record(ctx, material_payload(ctx, lowered))

    def parse_push(self, ctx: FlowContext, item: dict) -> SourceRecord:
        model = item.get("Model") if isinstance(item.get("Model"), dict) else item
        flat = _flatten_model(model)
        for key, label in (("fnumber", "FNumber"), ("fname", "FName")):
            if not _text(flat.get(key)):
                raise ValidationProblem(
                    _("%(field)s is required (a Kingdee BD_MATERIAL model).") % {"field": label},
                    field_name=label,
                )
        payload = material_payload(ctx, flat)
        if not payload["modified"]:
            payload["modified"] = (
                timezone.now().astimezone(SHANGHAI).replace(microsecond=0).isoformat()
            )
        return material_record(ctx, payload)

    # --- validate -----------------------------------------------------------------------
    def validate(self, ctx: FlowContext, document) -> None:
        from masterdata.selectors import material_owner_for

        material = document.source_payload
        required = [f for f in ctx.setting("required_fields", DEFAULT_REQUIRED) if f in F12_FIELDS]
        custom = kingdee_keys(ctx)
        kd_key = {
            **custom,
            "number": "FNumber",
            "gross_weight": "FGROSSWEIGHT",
            "net_weight": "FNETWEIGHT",
        }
        missing = [f for f in required if material.get(f) in (None, "")]
        invalid: list[tuple[str, str]] = []
        for name in ("declared_price", "gross_weight", "net_weight"):
            value = material.get(name)
            if value in (None, "") or name in missing:
                continue
            try:
                number = Decimal(value)
            except InvalidOperation:
                invalid.append((name, _("%(value)r is not a number") % {"value": value}))
                continue
            if number <= 0 and name in required:
                invalid.append((name, _("must be more than 0, is %(value)s") % {"value": value}))
        if material.get("hs_code") and not HS_CODE.fullmatch(material["hs_code"]):
            invalid.append(
                ("hs_code", _("%(value)r is not 6 to 10 digits") % {"value": material["hs_code"]})
            )
        if not missing and not any(n in ("gross_weight", "net_weight") for n, _m in invalid):
            gross, net = material.get("gross_weight"), material.get("net_weight")
            if gross and net and Decimal(net) > Decimal(gross):
                invalid.append(
                    ("net_weight", _("is more than the gross weight %(gross)s") % {"gross": gross})
                )
        if not missing and not invalid:
            return
        owner = material_owner_for(
            integration_id=ctx.integration.pk, material_group=material.get("group", "")
        )
        parts = [
            _("no %(label)s (%(key)s)") % {"label": _(F12_FIELDS[f]), "key": kd_key[f]}
            for f in missing
        ] + [
            _("%(label)s (%(key)s) %(problem)s")
            % {"label": _(F12_FIELDS[f]), "key": kd_key[f], "problem": p}
            for f, p in invalid
        ]
        names = [kd_key[f] for f in missing] + [kd_key[f] for f, _p in invalid]
        message = _(
            "Material %(number)s (%(name)s) cannot go to Jushuitan: %(problems)s. Complete it "
            "in Kingdee (物料 %(number)s) and audit it; the next pull picks the change up and "
            "syncs the material."
        ) % {
            "number": material.get("number"),
            "name": material.get("name"),
            "problems": "; ".join(parts),
        }
        raise ValidationProblem(
            message,
            field_name=names[0],
            missing=bool(missing),
            subject=f"{material.get('number')}: {', '.join(names)}"[:120],
            stage="validate",
            role=owner.role,
            mention_users=list(owner.user_ids),
            material_group=material.get("group", ""),
            fields=names,
        )

    # --- map and transform ----------------------------------------------------------------
    def transform(self, ctx: FlowContext, document) -> tuple[dict, str]:
        material = document.source_payload
        sku = sku_for_new_material(ctx, material["number"])
        item = jushuitan_item(ctx, material, sku)
        document.progress = {
            **(document.progress or {}),
            "placement": {name: placement(ctx)[name] for name in F12_FIELDS},
        }
        return item, sku

    # --- load -------------------------------------------------------------------------------
    def load(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        items = [doc.target_payload for doc in documents]
        rows = ctx.jushuitan.upload_skus(items, batch=int(ctx.setting("upload_batch", 50)))
        by_sku = {row.key: row for row in rows}
        results: dict[int, LoadResult] = {}
        for doc in documents:
            row = by_sku.get(doc.target_key)
            if row is None:
                results[doc.pk] = LoadResult(
                    problem=Problem(
                        _("Jushuitan answered without a row for SKU %(sku)s.")
                        % {"sku": doc.target_key},
                        error_class=ErrorClass.UNKNOWN_OUTCOME,
                        system="jushuitan",
                        stage="load",
                    ),
                    unknown=True,
                )
            elif row.ok:
                results[doc.pk] = LoadResult.landed(
                    target_id=doc.target_key, target_number=doc.target_key
                )
            else:
                results[doc.pk] = LoadResult(problem=_problem_for_row(doc, row.message))
        return results

    def find_existing(self, ctx: FlowContext, documents) -> dict[int, LoadResult]:
        """An upload whose answer was lost: the SKU counts as landed when Jushuitan holds it
        with the values sent; otherwise it is sent again (the upload is an upsert)."""
        found = {
            str(r.get("sku_id")): r
            for r in ctx.jushuitan.skus_by_ids([d.target_key for d in documents if d.target_key])
        }
        results: dict[int, LoadResult] = {}
        for doc in documents:
            row = found.get(doc.target_key)
            if row is not None and _holds(row, doc.target_payload):
                results[doc.pk] = LoadResult.landed(
                    target_id=doc.target_key, target_number=doc.target_key
                )
        return results

    def after_synced(self, ctx: FlowContext, documents) -> None:
        """New materials become mappable by the 1:1 rule (M4): both codes join the snapshot."""
        from mappings.initialise import MasterRecord, record_known_codes

        docs = list(documents)
        record_known_codes(
            integration=ctx.integration,
            system="kingdee",
            kind="material",
            records=[
                MasterRecord(d.source_payload["number"], d.source_payload.get("name", ""))
                for d in docs
            ],
            complete=False,
        )
        record_known_codes(
            integration=ctx.integration,
            system="jushuitan",
            kind="sku",
            records=[MasterRecord(d.target_key, d.target_payload.get("name", "")) for d in docs],
            complete=False,
        )


def _same(a: Any, b: Any) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except (InvalidOperation, ValueError):
        return str(a).strip() == str(b).strip()


def _holds(row: dict, item: dict) -> bool:
    """Does the Jushuitan SKU row carry what the item sets?"""
    labels = row.get("labels") or []
    if isinstance(labels, str):
        labels = [x for x in labels.split(",") if x]
    for key, value in item.items():
        if key == "labels":
            if not set(value) <= set(labels):
                return False
        elif key == "deletedlabels":
            if set(value) & set(labels):
                return False
        elif key in row and not _same(row.get(key), value):
            return False
    return True
