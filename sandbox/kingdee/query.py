"""ExecuteBillQuery / BillQuery: field keys and filters compiled to one indexed SQL query.

Selecting any entry field makes the query run over entry rows (one row per entry, header
values repeated), as on the real server. Filters never load documents into Python: columns
and JSON paths become Django lookups, custom header fields become `id IN (SELECT bill_id FROM
custom fields WHERE form, key, value ...)` on an index, and `.FName` filters become
`number IN (SELECT number FROM base data WHERE name ...)`.
"""

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import CharField, DecimalField, F, Q, QuerySet, lookups
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from . import bos, forms
from .filters import BoolOp, Comparison, FilterSyntaxError, Node, Not, parse, parse_order
from .models import KdBaseData, KdBill, KdBillCustomField, KdBillEntry, KdStockBalance

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_LIMIT = 10000


class UnknownField(LookupError):
    """元数据中标识为X的字段不存在 (MsgCode 9)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class UnknownForm(LookupError):
    """标识为X的业务对象不存在 (MsgCode 4)."""


class QueryParameterError(ValueError):
    """A required parameter is missing (MsgCode 8)."""


@dataclass(frozen=True)
class Col:
    """How one requested key reads from the tables."""

    key: str
    path: str = ""  # ORM path; "" for constants
    kind: str = "text"  # text | date | decimal | int | json | const
    custom: str = ""  # custom header key, filtered through KdBillCustomField
    lookup: tuple[str, str] | None = None  # (base-data form, "name" | "id") resolved after fetch
    const: Any = None
    entry_level: bool = False


_BILL_COLUMNS = {
    "fbillno": ("bill_no", "text"),
    "fdocumentstatus": ("document_status", "text"),
    "fdate": ("bill_date", "date"),
    "fcreatedate": ("created_at", "date"),
    "fmodifydate": ("modified_at", "date"),
    "fapprovedate": ("approved_at", "date"),
}
_BASE_COLUMNS = {
    "fnumber": ("number", "text"),
    "fname": ("name", "text"),
    "fdocumentstatus": ("document_status", "text"),
    "fforbidstatus": ("forbid_status", "text"),
    "fuseorgid.fnumber": ("org_number", "text"),
    "fcreateorgid.fnumber": ("org_number", "text"),
    "fcreatedate": ("created_at", "date"),
    "fmodifydate": ("modified_at", "date"),
    "fapprovedate": ("approved_at", "date"),
}
_INVENTORY_COLUMNS = {
    "fid": ("id", "int"),
    "fstockorgid.fnumber": ("org_number", "text"),
    "fownerid.fnumber": ("org_number", "text"),
    "fkeeperid.fnumber": ("org_number", "text"),
    "fstockid.fnumber": ("stock_number", "text"),
    "fmaterialid.fnumber": ("material_number", "text"),
    "fbaseqty": ("base_qty", "decimal"),
    "fqty": ("base_qty", "decimal"),
    "fbaselockqty": ("lock_qty", "decimal"),
    "fupdatetime": ("updated_at", "date"),
}
_INVENTORY_CONSTANTS = {
    "fstockstatusid.fnumber": "KCZT01_SYS",
    "fownertypeid": "BD_OwnerOrg",
    "fkeepertypeid": "BD_KeeperOrg",
    "flot.fnumber": "",
    "fstocklocid": 0,
    "fauxpropid": 0,
    "fbaseunitid.fnumber": "Pcs",
}


def _resolve_bill(spec: forms.FormSpec, key: str, entry_level: bool, custom: dict) -> Col:
    hp = "bill__" if entry_level else ""
    base, _, sub = key.partition(".")
    if key in (spec.pk_key, "fid"):
        return Col(key, hp + "id", "int")
    if key in _BILL_COLUMNS:
        path, kind = _BILL_COLUMNS[key]
        return Col(key, hp + path, kind)
    if spec.entry_key and key == f"{spec.entry_key}_fentryid":
        return Col(key, "id", "int", entry_level=True)
    if spec.entry_key and key == f"{spec.entry_key}_fseq":
        return Col(key, "seq", "int", entry_level=True)
    org_key = spec.org_key
    if key == f"{org_key}.fnumber" and base not in spec.entry:
        return Col(key, hp + "org_number", "text")
    if base in spec.header or custom.get(base) == "header":
        return _json_col(key, hp + "fields", base, sub, custom=base in custom)
    if base in spec.entry or custom.get(base) == "entry":
        columns = {
            "fmaterialid": "material_number",
            spec.stock_key: "stock_number",
            spec.dest_stock_key: "dest_stock_number",
        }
        if base in columns and base and sub in ("fnumber", "", "fname"):
            return _reference_col(key, columns[base], base, sub, entry_level=True)
        if not sub and (base == spec.qty_key or base in spec.base_qty_keys):
            return Col(key, "qty", "decimal", entry_level=True)
        col = _json_col(key, "fields", base, sub)
        return Col(**{**col.__dict__, "entry_level": True})
    raise UnknownField(key)


def _reference_col(
    key: str, path: str, base: str, sub: str, *, entry_level: bool = False, json: bool = False
) -> Col:
    target = forms.REFERENCES.get(base, "")
    kind = "json" if json else "text"
    if sub == "fnumber":
        return Col(key, path, kind, entry_level=entry_level)
    if sub in ("fname", "fdatavalue"):  # assistant data shows its value as FDataValue
        return Col(key, path, kind, lookup=(target, "name"), entry_level=entry_level)
    return Col(key, path, kind, lookup=(target, "id"), entry_level=entry_level)


def _json_col(key: str, root: str, base: str, sub: str, *, custom: bool = False) -> Col:
    if base in forms.REFERENCES and sub in ("", "fname", "fdatavalue"):
        return _reference_col(key, f"{root}__{base}__fnumber", base, sub, json=True)
    path = f"{root}__{base}" + (f"__{sub}" if sub else "")
    return Col(key, path, "json", custom=base if custom and not sub else "")


def _resolve_base(spec: forms.FormSpec, key: str, custom: dict) -> Col:
    base, _, sub = key.partition(".")
    if key in (spec.pk_key, "fmasterid", "fid"):
        return Col(key, "id", "int")
    if key in _BASE_COLUMNS:
        path, kind = _BASE_COLUMNS[key]
        return Col(key, path, kind)
    if base in spec.header or base in custom:
        return _json_col(key, "fields", base, sub)
    raise UnknownField(key)


def _resolve_inventory(key: str) -> Col:
    if key in _INVENTORY_COLUMNS:
        path, kind = _INVENTORY_COLUMNS[key]
        return Col(key, path, kind)
    if key in _INVENTORY_CONSTANTS:
        return Col(key, kind="const", const=_INVENTORY_CONSTANTS[key])
    if key in ("fstockid", "fstockid.fname"):
        return _reference_col(key, "stock_number", "fstockid", key.partition(".")[2])
    if key in ("fmaterialid", "fmaterialid.fname"):
        return _reference_col(key, "material_number", "fmaterialid", key.partition(".")[2])
    if key == "fstockorgid":
        return Col(key, "org_number", "text")
    raise UnknownField(key)


class Query:
    """One compiled ExecuteBillQuery."""

    def __init__(
        self, spec: forms.FormSpec, field_keys: list[str], filter_string: str, order_string: str
    ) -> None:
        self.spec = spec
        self.paged = False
        # Custom fields exist only once created in BOS (bos.declare); others are MsgCode 9.
        self.custom = bos.custom_fields(spec.form_id) if spec.kind != "inventory" else {}
        self.keys = [k.strip() for k in field_keys if k.strip()]
        if not self.keys:
            raise QueryParameterError("data数据包中的参数FieldKeys的值不能为空。")
        try:
            self.tree = parse(filter_string)
            self.order = parse_order(order_string)
        except FilterSyntaxError as exc:
            raise FilterSyntaxError(f"GetRealExpress error: {exc}") from exc
        wanted = [k.lower() for k in self.keys]
        used = wanted + [k for k, _ in self.order] + _fields_in(self.tree)
        self.entry_level = spec.is_bill and any(
            self._resolve(k, entry_level=True).entry_level for k in used
        )
        self.cols = [self._resolve(k, entry_level=self.entry_level) for k in wanted]

    def _resolve(self, key: str, *, entry_level: bool) -> Col:
        if self.spec.kind == "inventory":
            return _resolve_inventory(key)
        if self.spec.kind == "base":
            return _resolve_base(self.spec, key, self.custom)
        return _resolve_bill(self.spec, key, entry_level, self.custom)

    # -- building the queryset -------------------------------------------------------------
    def queryset(self) -> QuerySet:
        spec = self.spec
        if spec.kind == "inventory":
            qs = KdStockBalance.objects.all()
        elif spec.kind == "base":
            qs = KdBaseData.objects.filter(form_id=spec.form_id)
        elif self.entry_level:
            qs = KdBillEntry.objects.filter(bill__form_id=spec.form_id)
        else:
            qs = KdBill.objects.filter(form_id=spec.form_id)
        if self.tree is not None:
            qs = qs.filter(self._q(self.tree))
        ordering = []
        for key, desc in self.order:
            col = self._resolve(key, entry_level=self.entry_level)
            if col.kind == "const":
                continue
            expr = KT(col.path) if col.kind == "json" else F(col.path)
            ordering.append(expr.desc() if desc else expr.asc())
        if self.paged and not self._unique_order():
            # A real server leaves ties in an order the database picks per query, so paging
            # on a sort key that is not unique loses or repeats rows without a word
            # (docs/protocols/kingdee.md §2.6): ties here are broken at random.
            return qs.order_by(*ordering, "?")
        if self.entry_level:
            ordering += [F("bill_id").asc(), F("seq").asc(), F("id").asc()]
        else:
            ordering.append(F("id").asc())
        return qs.order_by(*ordering)

    def _unique_order(self) -> bool:
        """True when the OrderString ends in keys that identify a row: the primary key (FID,
        the form's own id), and the entry id as well when rows are entry rows."""
        named = [key for key, _desc in self.order]
        spec = self.spec
        pk = {spec.pk_key, "fid"} if spec.kind != "base" else {spec.pk_key, "fmasterid"}
        has_pk = any(key in pk for key in named)
        if not self.entry_level:
            return has_pk
        return has_pk and f"{spec.entry_key}_fentryid" in named

    def _q(self, node: Node) -> Q:
        if isinstance(node, BoolOp):
            q = self._q(node.nodes[0])
            for other in node.nodes[1:]:
                q = (q & self._q(other)) if node.op == "and" else (q | self._q(other))
            return q
        if isinstance(node, Not):
            return ~self._q(node.node)
        return self._comparison(node)

    def _comparison(self, cmp: Comparison) -> Q:
        col = self._resolve(cmp.field, entry_level=self.entry_level)
        negated = cmp.op in ("<>", "notin", "notlike", "notnull")
        op = {"<>": "=", "notin": "in", "notlike": "like", "notnull": "isnull"}.get(cmp.op, cmp.op)
        if col.kind == "const":
            hit = _const_matches(col.const, op, cmp.values)
            q = Q(pk__isnull=not hit)
            return ~q if negated else q
        if col.custom and op != "isnull":
            pk_path = "bill_id" if self.entry_level else "id"
            rows = KdBillCustomField.objects.filter(form_id=self.spec.form_id, key=col.custom)
            rows = rows.filter(self._lookup("value", "text", op, cmp.values))
            q = Q(**{f"{pk_path}__in": rows.values("bill_id")})
        elif col.lookup and col.lookup[1] == "name":
            names = KdBaseData.objects.filter(form_id=col.lookup[0])
            names = names.filter(self._lookup("name", "text", op, cmp.values))
            target = Cast(KT(col.path), CharField()) if col.kind == "json" else F(col.path)
            q = _expr_q(target, "in", names.values("number"))
        else:
            q = self._lookup(col.path, col.kind, op, cmp.values)
        return ~q if negated else q

    def _lookup(self, path: str, kind: str, op: str, values: tuple) -> Q:
        if op == "isnull":
            if kind in ("json", "text"):
                return Q(**{f"{path}__isnull": True}) | Q(**{path: ""})
            return Q(**{f"{path}__isnull": True})
        if kind == "json":
            numeric = op in (">", ">=", "<", "<=") and isinstance(values[0], Decimal)
            cast = DecimalField(max_digits=30, decimal_places=10) if numeric else CharField()
            target: Any = Cast(KT(path), cast)
            values = values if numeric else tuple(_text(v) for v in values)
            kind = "decimal" if numeric else "text"
        else:
            target = path
            values = tuple(_convert(v, kind) for v in values)
        value: Any
        if op == "like":
            lookup, value = _like(str(values[0]))
        else:
            lookup = {"=": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "in": "in"}[op]
            value = list(values) if lookup == "in" else values[0]
        if isinstance(target, str):
            return Q(**{f"{target}__{lookup}": value})
        return _expr_q(target, lookup, value)

    # -- running ---------------------------------------------------------------------------
    def rows(self, *, start_row: int = 0, limit: int = 0, top: int = 0) -> list[list]:
        self.paged = bool(start_row or limit)
        qs = self.queryset()
        selected: dict[str, Any] = {}
        for index, col in enumerate(self.cols):
            if col.kind == "const":
                continue
            if col.kind == "json":
                # Read the whole JSON column and walk it in Python: a key transform would let
                # the database turn the text "8507600090" into a number.
                root = (
                    col.path.split("__fields__")[0] + "__fields"
                    if "__fields__" in col.path
                    else "fields"
                )
                selected.setdefault(f"j_{root}", F(root))
            else:
                selected[f"c{index}"] = F(col.path)
        qs = qs.annotate(**selected) if selected else qs
        start = max(int(start_row or 0), 0)
        limit = min(int(limit or 0), MAX_LIMIT) if limit else 0
        end = start + limit if limit else None
        if top:
            end = min(end, int(top)) if end is not None else int(top)
        values = qs.values_list(*selected.keys()) if selected else qs.values_list("id")
        values = values[start:end] if end is not None else values[start:]
        return self._finish(list(values), list(selected.keys()))

    def _finish(self, raw: list[tuple], aliases: list[str]) -> list[list]:
        positions = {alias: i for i, alias in enumerate(aliases)}
        records = [
            [self._value(col, index, record, positions) for index, col in enumerate(self.cols)]
            for record in raw
        ]
        lookups: dict[tuple[str, str], dict] = {}
        needed: dict[str, set] = defaultdict(set)
        for index, col in enumerate(self.cols):
            if col.lookup:
                needed[col.lookup[0]].update(r[index] for r in records if r[index])
        for form_id, numbers in needed.items():
            rows = KdBaseData.objects.filter(form_id=form_id, number__in=numbers)
            lookups[(form_id, "name")] = dict(rows.values_list("number", "name"))
            lookups[(form_id, "id")] = dict(rows.values_list("number", "id"))
        for record in records:
            for index, col in enumerate(self.cols):
                if col.lookup:
                    default = "" if col.lookup[1] == "name" else 0
                    record[index] = lookups.get(col.lookup, {}).get(record[index], default)
                record[index] = _out(record[index])
        return records

    @staticmethod
    def _value(col: Col, index: int, record: tuple, positions: dict[str, int]) -> Any:
        if col.kind == "const":
            return col.const
        if col.kind != "json":
            return record[positions[f"c{index}"]]
        root, _, rest = col.path.partition("fields__")
        value: Any = record[positions[f"j_{root}fields"]] or {}
        for part in rest.split("__"):
            value = value.get(part) if isinstance(value, dict) else None
        return value


def _expr_q(expression: Any, lookup: str, value: Any) -> Q:
    """A Q over an expression (a cast JSON value), built from Django's lookup classes."""
    classes = {
        "exact": lookups.Exact,
        "gt": lookups.GreaterThan,
        "gte": lookups.GreaterThanOrEqual,
        "lt": lookups.LessThan,
        "lte": lookups.LessThanOrEqual,
        "in": lookups.In,
        "contains": lookups.Contains,
        "startswith": lookups.StartsWith,
        "endswith": lookups.EndsWith,
        "regex": lookups.Regex,
    }
    return Q(classes[lookup](expression, value))


def _fields_in(node: Node | None) -> list[str]:
    if node is None:
        return []
    if isinstance(node, Comparison):
        return [node.field]
    if isinstance(node, Not):
        return _fields_in(node.node)
    return [f for child in node.nodes for f in _fields_in(child)]


def _text(value: Any) -> str:
    if isinstance(value, Decimal):
        return (
            format(value.normalize(), "f")
            if value == value.to_integral()
            else str(value.normalize())
        )
    return str(value)


def _convert(value: Any, kind: str) -> Any:
    if kind == "date":
        text = str(value).strip().replace("T", " ")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise FilterSyntaxError(f"GetRealExpress error: {value!r} is not a date") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)
    if kind == "decimal":
        return Decimal(str(value))
    if kind == "int":
        try:
            return int(Decimal(str(value)))
        except ArithmeticError as exc:
            raise FilterSyntaxError(f"GetRealExpress error: {value!r} is not a number") from exc
    return _text(value)


def _like(pattern: str) -> tuple[str, str]:
    inner = pattern.strip("%")
    if "%" not in inner and "_" not in inner:
        if pattern.startswith("%") and pattern.endswith("%") and len(pattern) > 1:
            return "contains", inner
        if pattern.endswith("%"):
            return "startswith", inner
        if pattern.startswith("%"):
            return "endswith", inner
        return "exact", inner
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return "regex", f"^{regex}$"


def _const_matches(const: Any, op: str, values: tuple) -> bool:
    text = _text(const)
    texts = [_text(v) for v in values]
    if op == "=":
        return text == texts[0]
    if op == "in":
        return text in texts
    if op == "isnull":
        return text == ""
    if op == "like":
        kind, pattern = _like(texts[0])
        if kind == "regex":
            return re.match(pattern, text) is not None
        return {
            "contains": pattern in text,
            "startswith": text.startswith(pattern),
            "endswith": text.endswith(pattern),
            "exact": text == pattern,
        }[kind]
    return False


def _out(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral() else float(value)
    if isinstance(value, dict):
        for key in ("fnumber", "fuserid", "fstaffnumber", "fname"):
            if key in value:
                return value[key]
    return value


def execute(data: dict) -> list[list]:
    """Run one ExecuteBillQuery `data` package; raises the errors above for the caller."""
    spec = forms.get(str(_get(data, "FormId") or ""))
    if spec is None:
        raise UnknownForm(str(_get(data, "FormId") or ""))
    keys = str(_get(data, "FieldKeys") or "").split(",")
    texts = [str(_get(data, name) or "") for name in ("FieldKeys", "FilterString", "OrderString")]
    try:
        query = Query(spec, keys, texts[1], texts[2])
    except UnknownField as exc:
        # Name the field as the caller spelled it (the real message quotes the key).
        base = exc.key.split(".")[0]
        for text in texts:
            match = re.search(rf"(?<![A-Za-z0-9_]){re.escape(base)}(?![A-Za-z0-9_])", text, re.I)
            if match:
                raise UnknownField(match.group(0)) from exc
        raise
    return query.rows(
        start_row=int(_get(data, "StartRow") or 0),
        limit=int(_get(data, "Limit") or 0),
        top=int(_get(data, "TopRowCount") or 0),
    )


def requested_keys(data: dict) -> list[str]:
    return [k.strip() for k in str(_get(data, "FieldKeys") or "").split(",") if k.strip()]


def _get(data: dict, name: str) -> Any:
    lowered = name.lower()
    for key, value in data.items():
        if key.lower() == lowered:
            return value
    return None
