"""Bulk import / export of every mapping table (django-import-export; xlsx and csv).

Imports are all or nothing: they run in one transaction that rolls back when any row is
invalid (per-row errors are reported; the admin shows them in its dry-run preview). Rows are
matched on their natural key (never the database id), existing rows are loaded once, the
unique rules are checked in memory, and rows are written in batches with their history (M8),
so 10,000 rows take seconds. Imported rows become explicit (source); rows identical to what
is stored are skipped and keep their source. A resource given a `progress` callback reports
the rows processed as it goes (the admin's progress bar).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets
from simple_history.utils import bulk_create_with_history, get_history_manager_for_model

from connectors.models import Integration
from core.exports import neutralise, restore

from . import import_checks
from .choices import CodeKind, MappingSource, MasterKind, RateSource, System
from .models import (
    AccountMapping,
    CodeMapping,
    ExchangeRate,
    MaterialMapping,
    ShopCustomerMapping,
    SupplierMapping,
    TaxTemplate,
    WarehouseMapping,
)

_NOT_TEXT_WIDGETS = (
    widgets.NumberWidget,
    widgets.DateWidget,
    widgets.DateTimeWidget,
    widgets.TimeWidget,
    widgets.DurationWidget,
    widgets.BooleanWidget,
)


class CodeWidget(widgets.CharWidget):
    """A code cell: spreadsheets turn 10005 into 10005.0; codes are text, trimmed."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return "" if value is None else str(value).strip()


class UpperCodeWidget(CodeWidget):
    def clean(self, value, row=None, **kwargs):
        return super().clean(value, row, **kwargs).upper()


class IntegrationWidget(widgets.ForeignKeyWidget):
    """The integration by its code (e.g. main), looked up once per import."""

    def __init__(self) -> None:
        super().__init__(Integration, field="code")
        self._cache: dict[str, Integration | None] = {}

    def clean(self, value, row=None, **kwargs):
        code = CodeWidget().clean(value)
        if not code:
            raise ValueError(_("The integration code is required, e.g. main."))
        if code not in self._cache:
            self._cache[code] = Integration.objects.filter(code=code).first()
        if self._cache[code] is None:
            raise ValueError(_("No integration has the code “%(code)s”.") % {"code": code})
        return self._cache[code]

    def render(self, value, obj=None, **kwargs):
        return value.code if value else ""


def _key_part(value):
    if isinstance(value, Integration):
        return value.pk
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def _list_valid_choices(instance, errors: dict) -> None:
    """A value outside a field's choices is rejected with the valid values listed (value and
    label), not only "not a valid choice"."""
    for name in list(errors):
        field = next((f for f in instance._meta.fields if f.name == name), None)
        if field is None or not field.choices:
            continue
        valid = [value for value, _label in field.flatchoices]
        if getattr(instance, field.attname, None) in valid:
            continue
        errors[name] = [
            _("“%(value)s” is not one of the allowed values: %(valid)s")
            % {
                "value": getattr(instance, field.attname, ""),
                "valid": "; ".join(f"{v} ({label})" for v, label in field.flatchoices),
            }
        ]


class NaturalKeyResource(resources.ModelResource):
    """Base of the mapping resources: natural-key matching, in-memory unique checks, batched
    writes with history, all-or-nothing."""

    #: other unique field sets besides the natural key (import_id_fields)
    also_unique: tuple[tuple[str, ...], ...] = ()
    #: attributes set on every imported (new or changed) row
    imported_values: dict = {}
    #: the field that scopes the preload (e.g. integration)
    scope_field = "integration"
    #: rows between two progress reports
    progress_every = 100
    #: field -> (system, KnownCode kind): the code must exist in that system's snapshot
    #: (M4, taken at initialisation) when one exists (issue 24: a dry run checks the codes)
    snapshot_checks: dict[str, tuple[str, str]] = {}
    #: (field, {value of that field: more snapshot checks}), e.g. a code mapping's kind
    snapshot_checks_by: tuple[str, dict[str, dict[str, tuple[str, str]]]] | None = None

    def __init__(self, *, progress: Callable[[int, int], None] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._progress = progress
        self._total = 0
        self._existing: dict[tuple, object] = {}
        self._unique: dict[tuple[str, ...], dict[tuple, tuple]] = {}
        self._seen: dict[tuple, int] = {}
        self._user = None
        self._row_number = 0
        self._snapshots: dict[tuple[int, str, str], dict | None] = {}
        self._troubles: dict[tuple[int, str], str] = {}

    # --- loading ----------------------------------------------------------------------
    def _key_of_instance(self, instance, names) -> tuple:
        parts = []
        for name in names:
            if name == "integration":
                parts.append(instance.integration_id)
            else:
                parts.append(_key_part(getattr(instance, name)))
        return tuple(parts)

    def _scope_queryset(self, dataset):
        model = self._meta.model
        if self.scope_field == "integration" and "integration" in dataset.headers:
            codes = {CodeWidget().clean(v) for v in dataset["integration"]}
            return model.objects.filter(integration__code__in=codes).select_related("integration")
        if self.scope_field and self.scope_field in dataset.headers:
            values = {UpperCodeWidget().clean(v) for v in dataset[self.scope_field]}
            return model.objects.filter(**{f"{self.scope_field}__in": values})
        return model.objects.all()

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        # Cells our exports quoted against formula injection ('=x) are read back as written.
        for index, row in enumerate(dataset):
            if any(restore(value) is not value for value in row):
                dataset[index] = tuple(restore(value) for value in row)
        self._total = len(dataset)
        self._report_progress(0)
        user = kwargs.get("user")
        self._user = user if getattr(user, "is_authenticated", False) else None
        key_names = tuple(self._meta.import_id_fields)
        self._existing = {}
        self._unique = {names: {} for names in self.also_unique}
        self._seen = {}
        for instance in self._scope_queryset(dataset):
            key = self._key_of_instance(instance, key_names)
            self._existing[key] = instance
            for names in self.also_unique:
                self._unique[names][self._key_of_instance(instance, names)] = key

    def before_import_row(self, row, **kwargs):
        super().before_import_row(row, **kwargs)
        self._row_number = kwargs.get("row_number", 0)
        if (self._row_number - 1) % self.progress_every == 0:
            self._report_progress(self._row_number - 1)

    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
        self._report_progress(self._total)

    def _report_progress(self, processed: int) -> None:
        if self._progress is not None:
            self._progress(processed, self._total)

    def export_field(self, field, instance, **kwargs):
        """Text cells are neutralised against formula injection (core.exports); numbers,
        dates and booleans are left to their widgets."""
        value = super().export_field(field, instance, **kwargs)
        if isinstance(field.widget, _NOT_TEXT_WIDGETS):
            return value
        return neutralise(value)

    def get_instance(self, instance_loader, row):
        parts = []
        for name in self._meta.import_id_fields:
            try:
                parts.append(_key_part(self.fields[name].clean(row)))
            except (ValueError, KeyError, ValidationError):
                return None
        return self._existing.get(tuple(parts))

    # --- validating -------------------------------------------------------------------
    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        errors = dict(import_validation_errors or {})
        # Field validation only: uniqueness is checked below against the rows loaded once, and
        # the integration was resolved by its widget (no query per row for either).
        try:
            instance.full_clean(
                exclude={*errors, "integration"},
                validate_unique=False,
                validate_constraints=False,
            )
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        _list_valid_choices(instance, errors)
        self._check_snapshots(instance, errors)
        if not errors:
            key = self._key_of_instance(instance, self._meta.import_id_fields)
            if key in self._seen:
                errors["__all__"] = [
                    _("The same key is already on row %(row)s of this file.")
                    % {"row": self._seen[key]}
                ]
            else:
                self._seen[key] = self._row_number
                for names in self.also_unique:
                    value = self._key_of_instance(instance, names)
                    owner = self._unique[names].get(value)
                    if owner is not None and owner != key:
                        errors[names[-1]] = [
                            _("“%(value)s” is already used by another row.")
                            % {"value": getattr(instance, names[-1])}
                        ]
                    else:
                        self._unique[names][value] = key
        if errors:
            raise ValidationError(errors)

    # --- the target system's snapshot (mappings.import_checks) -------------------------
    def snapshot_checks_for(self, value_of) -> dict[str, tuple[str, str]]:
        """The snapshot checks of one row (`value_of(field)` reads it): the fixed ones and,
        for a table whose column meaning depends on a kind, those of the row's kind."""
        checks = dict(self.snapshot_checks)
        if self.snapshot_checks_by is not None:
            field_name, by_value = self.snapshot_checks_by
            checks.update(by_value.get(str(value_of(field_name) or "").strip(), {}))
        return checks

    def snapshot_mismatch(self, instance, name: str, known) -> str | None:
        """A detail of the snapshot's code that contradicts the row (override per table)."""
        return None

    def _check_snapshots(self, instance, errors: dict) -> None:
        checks = self.snapshot_checks_for(lambda n: getattr(instance, n, ""))
        for name, (system, kind) in checks.items():
            value = _key_part(getattr(instance, name, ""))
            if name in errors or not value or not instance.integration_id:
                continue
            known = self._snapshot(instance.integration_id, system, kind)
            if known is None:
                continue
            if value in known:
                mismatch = self.snapshot_mismatch(instance, name, known[value])
                if mismatch:
                    errors[name] = [mismatch]
                continue
            trouble = self._troubles.get((instance.integration_id, kind), "")
            if trouble and system == System.KINGDEE:
                errors[name] = [import_checks.unreachable_message(value=value, trouble=trouble)]
                continue
            errors[name] = [
                import_checks.unknown_code_message(
                    value=value, system=system, kind=kind, known=known
                )
            ]

    def snapshot_prepare(self, dataset) -> None:
        """Before importing: ask Kingdee about the file's codes its snapshot lacks (created
        since the initialisation); those it has join the snapshot, and a Kingdee that cannot
        be asked is remembered, so the rows name it instead of calling the code unknown."""
        from connectors.errors import ConnectorError
        from connectors.models import Integration

        self._troubles: dict[tuple[int, str], str] = {}
        if "integration" not in dataset.headers:
            return
        codes = {CodeWidget().clean(v) for v in dataset["integration"]} - {""}
        for integration in Integration.objects.filter(code__in=codes).select_related("kingdee"):
            wanted = self._kingdee_codes_wanted(dataset, integration.code)
            for kind, values in wanted.items():
                known = self._snapshot(integration.pk, System.KINGDEE, kind)
                missing = sorted(values - set(known)) if known is not None else []
                try:
                    self._kingdee_confirm(integration, kind, missing)
                except ConnectorError as exc:
                    self._troubles[(integration.pk, kind)] = str(exc.message)

    def _kingdee_codes_wanted(self, dataset, integration_code: str) -> dict[str, set[str]]:
        """The Kingdee codes of one integration's rows, by snapshot kind."""
        wanted: dict[str, set[str]] = {}
        for row in dataset.dict:
            if CodeWidget().clean(row.get("integration")) != integration_code:
                continue
            for name, (system, kind) in self.snapshot_checks_for(row.get).items():
                value = _key_part(CodeWidget().clean(row.get(name)))
                if system == System.KINGDEE and value:
                    wanted.setdefault(kind, set()).add(value)
        return wanted

    def _kingdee_confirm(self, integration, kind: str, missing: list[str]) -> None:
        from .sources import kingdee_codes_confirm

        known = self._snapshots[(integration.pk, System.KINGDEE, kind)]
        for start in range(0, len(missing), 500):
            found = kingdee_codes_confirm(
                integration=integration, kind=kind, codes=missing[start : start + 500]
            )
            # what Kingdee confirmed joins the snapshot (with its details) for this file
            if found:
                known.update(
                    import_checks.snapshot_codes(integration.pk, System.KINGDEE, kind, only=found)
                    or {}
                )

    def _snapshot(self, integration_id: int, system: str, kind: str):
        """The codes `system` listed for `kind` (None when it never listed any)."""
        key = (integration_id, system, kind)
        if key not in self._snapshots:
            self._snapshots[key] = import_checks.snapshot_codes(integration_id, system, kind)
        return self._snapshots[key]

    # --- saving -----------------------------------------------------------------------
    def before_save_instance(self, instance, row, **kwargs):
        for name, value in self.imported_values.items():
            setattr(instance, name, value)
        if hasattr(instance, "updated_at"):
            instance.updated_at = timezone.now()

    def get_bulk_update_fields(self):
        model_fields = {f.name for f in self._meta.model._meta.concrete_fields}
        names = [
            field.attribute
            for name, field in self.fields.items()
            if name not in self._meta.import_id_fields
            and not field.readonly
            and field.attribute in model_fields
        ]
        names.extend(n for n in self.imported_values if n not in names)
        if "updated_at" in model_fields:
            names.append("updated_at")
        return names

    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        if self.create_instances and (using_transactions or not dry_run):
            try:
                bulk_create_with_history(
                    self.create_instances,
                    self._meta.model,
                    batch_size=batch_size,
                    default_user=self._user,
                    default_change_reason="import",
                )
            except Exception as exc:  # reported as a base error: the import rolls back
                self.handle_import_error(result, exc, raise_errors)
            finally:
                self.create_instances.clear()

    def bulk_update(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        """One prepared UPDATE executed for every changed row, then their history rows in
        bulk (Django's bulk_update builds CASE expressions that cost ~2 ms a row)."""
        if self.update_instances and (using_transactions or not dry_run):
            try:
                self._execute_updates()
            except Exception as exc:  # reported as a base error: the import rolls back
                self.handle_import_error(result, exc, raise_errors)
            finally:
                self.update_instances.clear()

    def _execute_updates(self) -> None:
        model = self._meta.model
        model_fields = [model._meta.get_field(name) for name in self.get_bulk_update_fields()]
        connection = connections[self.get_db_connection_name()]
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(f.column)} = %s" for f in model_fields)
        sql = (
            f"UPDATE {quote(model._meta.db_table)} SET {assignments} "  # noqa: S608
            f"WHERE {quote(model._meta.pk.column)} = %s"
        )
        params = [
            [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in model_fields]
            + [obj.pk]
            for obj in self.update_instances
        ]
        with transaction.atomic(using=connection.alias, savepoint=False):
            with connection.cursor() as cursor:
                cursor.executemany(sql, params)
            get_history_manager_for_model(model).bulk_history_create(
                self.update_instances,
                batch_size=self._meta.batch_size,
                update=True,
                default_user=self._user,
                default_change_reason="import",
            )

    def import_data(
        self,
        dataset,
        dry_run=False,
        raise_errors=False,
        use_transactions=None,
        collect_failed_rows=False,
        rollback_on_validation_errors=False,
        **kwargs,
    ):
        # Nothing half-imported: an invalid row rolls the whole file back.
        return super().import_data(
            dataset,
            dry_run=dry_run,
            raise_errors=raise_errors,
            use_transactions=True,
            collect_failed_rows=collect_failed_rows,
            rollback_on_validation_errors=True,
            **kwargs,
        )

    class Meta:
        use_bulk = True
        batch_size = 1000
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        skip_html_diff = True


def _integration_field() -> fields.Field:
    return fields.Field(
        attribute="integration", column_name="integration", widget=IntegrationWidget()
    )


def _code(attribute: str) -> fields.Field:
    return fields.Field(attribute=attribute, column_name=attribute, widget=CodeWidget())


def _source_field() -> fields.Field:
    return fields.Field(attribute="source", column_name="source", readonly=True)


class ShopCustomerMappingResource(NaturalKeyResource):
    snapshot_checks = {
        "shop_id": (System.JUSHUITAN, MasterKind.SHOP),
        "customer_number": (System.KINGDEE, MasterKind.CUSTOMER),
    }
    integration = _integration_field()
    shop_id = _code("shop_id")
    customer_number = _code("customer_number")
    source = _source_field()
    imported_values = {"source": MappingSource.EXPLICIT}

    class Meta(NaturalKeyResource.Meta):
        model = ShopCustomerMapping
        import_id_fields = ("integration", "shop_id")
        fields = (
            "integration",
            "shop_id",
            "shop_name",
            "customer_number",
            "sale_org_number",
            "settle_currency",
            "note",
            "source",
        )
        export_order = fields


class WarehouseMappingResource(NaturalKeyResource):
    snapshot_checks = {
        "wms_co_id": (System.JUSHUITAN, MasterKind.WAREHOUSE),
        "stock_number": (System.KINGDEE, MasterKind.WAREHOUSE),
    }
    integration = _integration_field()
    wms_co_id = _code("wms_co_id")
    stock_number = _code("stock_number")
    source = _source_field()
    imported_values = {"source": MappingSource.EXPLICIT}

    class Meta(NaturalKeyResource.Meta):
        model = WarehouseMapping
        import_id_fields = ("integration", "wms_co_id", "wh_id")
        fields = (
            "integration",
            "wms_co_id",
            "wh_id",
            "warehouse_name",
            "stock_number",
            "stock_org_number",
            "note",
            "source",
        )
        export_order = fields


class SupplierMappingResource(NaturalKeyResource):
    # Jushuitan's suppliers are read only where Kingdee has the code (a partial snapshot).
    snapshot_checks = {"supplier_number": (System.KINGDEE, MasterKind.SUPPLIER)}
    integration = _integration_field()
    jst_supplier_code = _code("jst_supplier_code")
    supplier_number = _code("supplier_number")
    source = _source_field()
    imported_values = {"source": MappingSource.EXPLICIT}
    also_unique = (("integration", "supplier_number"),)

    class Meta(NaturalKeyResource.Meta):
        model = SupplierMapping
        import_id_fields = ("integration", "jst_supplier_code")
        fields = (
            "integration",
            "jst_supplier_code",
            "jst_supplier_id",
            "supplier_number",
            "supplier_name",
            "note",
            "source",
        )
        export_order = fields


class MaterialMappingResource(NaturalKeyResource):
    # Jushuitan's SKUs are read partly (Kingdee's codes, recent changes): Kingdee only.
    snapshot_checks = {"material_number": (System.KINGDEE, MasterKind.MATERIAL)}
    integration = _integration_field()
    sku_id = _code("sku_id")
    material_number = _code("material_number")
    source = _source_field()
    imported_values = {"source": MappingSource.EXPLICIT}
    also_unique = (("integration", "material_number"),)

    class Meta(NaturalKeyResource.Meta):
        model = MaterialMapping
        import_id_fields = ("integration", "sku_id")
        fields = (
            "integration",
            "sku_id",
            "material_number",
            "material_name",
            "unit_factor",
            "note",
            "source",
        )
        export_order = fields


class CodeMappingResource(NaturalKeyResource):
    # A currency row names a Kingdee currency (BD_Currency) of the same ISO code.
    snapshot_checks_by = (
        "kind",
        {CodeKind.CURRENCY: {"kingdee_code": (System.KINGDEE, MasterKind.CURRENCY)}},
    )
    integration = _integration_field()
    jushuitan_code = _code("jushuitan_code")
    kingdee_code = _code("kingdee_code")
    source = _source_field()
    imported_values = {"source": MappingSource.EXPLICIT}

    class Meta(NaturalKeyResource.Meta):
        model = CodeMapping
        import_id_fields = ("integration", "kind", "jushuitan_code")
        fields = ("integration", "kind", "jushuitan_code", "kingdee_code", "note", "source")
        export_order = fields

    def snapshot_mismatch(self, instance, name, known):
        if instance.kind != CodeKind.CURRENCY:
            return None
        return import_checks.currency_mismatch(
            iso=instance.jushuitan_code, number=instance.kingdee_code, known=known
        )


class TaxTemplateResource(NaturalKeyResource):
    snapshot_checks = {"kingdee_tax_number": (System.KINGDEE, MasterKind.TAX_RATE)}
    integration = _integration_field()
    country = fields.Field(attribute="country", column_name="country", widget=UpperCodeWidget())
    hs_prefix = _code("hs_prefix")

    class Meta(NaturalKeyResource.Meta):
        model = TaxTemplate
        import_id_fields = ("integration", "country", "hs_prefix", "effective_from")
        fields = (
            "integration",
            "country",
            "hs_prefix",
            "effective_from",
            "effective_to",
            "name",
            "kingdee_tax_number",
            "vat_rate",
            "duty_rate",
            "refund_rate",
        )
        export_order = fields

    def snapshot_mismatch(self, instance, name, known):
        return import_checks.tax_rate_mismatch(
            rate=instance.vat_rate, number=instance.kingdee_tax_number, known=known
        )


class AccountMappingResource(NaturalKeyResource):
    snapshot_checks = {
        "account_number": (System.KINGDEE, MasterKind.ACCOUNT),
        "shop_id": (System.JUSHUITAN, MasterKind.SHOP),
    }
    integration = _integration_field()
    org_number = _code("org_number")
    shop_id = _code("shop_id")
    account_number = _code("account_number")

    class Meta(NaturalKeyResource.Meta):
        model = AccountMapping
        import_id_fields = ("integration", "org_number", "purpose", "shop_id")
        fields = (
            "integration",
            "org_number",
            "purpose",
            "shop_id",
            "account_number",
            "account_name",
        )
        export_order = fields


class ExchangeRateResource(NaturalKeyResource):
    """Rates imported by finance are manual overrides: fetches never overwrite them."""

    currency = fields.Field(attribute="currency", column_name="currency", widget=UpperCodeWidget())
    source = _source_field()
    scope_field = "currency"
    imported_values = {"source": RateSource.IMPORT, "manual_override": True}

    class Meta(NaturalKeyResource.Meta):
        model = ExchangeRate
        import_id_fields = ("currency", "rate_date", "rate_type")
        fields = (
            "currency",
            "rate_date",
            "rate_type",
            "rate",
            "quote_unit",
            "inverse",
            "note",
            "source",
        )
        export_order = fields


RESOURCES: dict[str, type[NaturalKeyResource]] = {
    "shop_customer": ShopCustomerMappingResource,
    "warehouse": WarehouseMappingResource,
    "supplier": SupplierMappingResource,
    "material": MaterialMappingResource,
    "code": CodeMappingResource,
    "tax_template": TaxTemplateResource,
    "account": AccountMappingResource,
    "exchange_rate": ExchangeRateResource,
}
