from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.fields import new_secret
from core.messages import localize

from . import services
from .definitions.base import Problem
from .journal import journal
from .models import (
    ApiClient,
    Flow,
    FlowPreflightOverride,
    ShadowRun,
    StockHold,
    SyncDocument,
    Watermark,
)


def _scope_choices(integration, system_kinds) -> list[tuple[str, str]]:
    from mappings.models import KnownCode

    rows = KnownCode.objects.filter(kind__in=[kind for _system, kind in system_kinds])
    rows = rows.filter(system__in=[system for system, _kind in system_kinds])
    if integration is not None:
        rows = rows.filter(integration=integration)
    seen: dict[str, str] = {}
    for system, code, name in rows.order_by("system", "code").values_list("system", "code", "name"):
        label = {"jushuitan": _("Jushuitan"), "kingdee": _("Kingdee")}.get(system, system)
        seen.setdefault(code, f"{code} {name} ({label})".strip())
    return list(seen.items())


class FlowAdminForm(forms.ModelForm):
    """Switching a flow on passes the preflight gate (services.flow_enable): with failures
    gating it, the form names them and asks for an override reason, which is recorded."""

    preflight_override = forms.CharField(
        label=_("Preflight override reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Only to enable the flow although the preflight still fails for it, e.g. "
            "'field created in BOS, preflight re-run tonight'. Recorded with your name."
        ),
    )

    canary_shops = forms.MultipleChoiceField(
        label=_("canary shops"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("G6: tick one shop for the canary; none ticked syncs every shop."),
    )
    canary_warehouses = forms.MultipleChoiceField(
        label=_("canary warehouses"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("G6: tick one warehouse for the canary; none ticked syncs every warehouse."),
    )

    class Meta:
        model = Flow
        fields = (
            "integration",
            "code",
            "enabled",
            "batch_size",
            "poll_seconds",
            "canary_shops",
            "canary_warehouses",
            "canary_since",
            "settings",
            "paused_until",
            "consecutive_failures",
            "last_run_at",
            "last_success_at",
            "last_error",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        integration = getattr(self.instance, "integration", None) if self.instance.pk else None
        for name, system_kinds in (
            ("canary_shops", [("jushuitan", "shop")]),
            ("canary_warehouses", [("jushuitan", "warehouse"), ("kingdee", "warehouse")]),
        ):
            choices = _scope_choices(integration, system_kinds)
            current = [str(v) for v in (getattr(self.instance, name, None) or [])]
            known = {code for code, _label in choices}
            self.fields[name].choices = choices + [(v, v) for v in current if v not in known]
            self.initial[name] = current

    def clean_canary_shops(self):
        return list(self.cleaned_data["canary_shops"])

    def clean_canary_warehouses(self):
        return list(self.cleaned_data["canary_warehouses"])

    def enabling(self) -> bool:
        was = bool(self.instance.pk and Flow.objects.filter(pk=self.instance.pk, enabled=True))
        return bool(self.cleaned_data.get("enabled")) and not was

    def clean(self):
        data = super().clean()
        self.settings_failures = []
        if not data.get("integration") or not data.get("code"):
            return data
        if self.instance.pk and "settings" in self.changed_data:
            # Opt-ins that need a preflight proof (F8.2 revaluation = propose).
            probe = Flow(pk=self.instance.pk, integration=data["integration"], code=data["code"])
            self.settings_failures = services.flow_settings_gate(
                flow=probe, settings=data.get("settings") or {}
            )
            if self.settings_failures and not (data.get("preflight_override") or "").strip():
                raise ValidationError(
                    services.flow_settings_refusal(flow=probe, failures=self.settings_failures)
                )
        if not self.enabling():
            return data
        probe = Flow(
            integration=data["integration"], code=data["code"], settings=data.get("settings") or {}
        )
        failures = services.flow_gate_failures(flow=probe)
        if failures and not (data.get("preflight_override") or "").strip():
            lines = [f"{c.title}: {c.detail}" + (f" → {c.fix}" if c.fix else "") for c in failures]
            raise ValidationError(
                [
                    _(
                        "The preflight has %(n)d failure(s) for this flow; fix them and run the "
                        "preflight again, or give an override reason."
                    )
                    % {"n": len(failures)},
                    *lines[:20],
                ]
            )
        return data


class WatermarkInline(admin.StackedInline):
    model = Watermark
    can_delete = False
    extra = 0
    # Where the pull stands: moved by the engine only (issue 24 point 7).
    readonly_fields = ("cursor", "last_catchup_at", "catchup_ts")


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = (
        "integration",
        "code",
        "enabled",
        "poll_seconds",
        "batch_size",
        "paused_until",
        "last_run_at",
        "last_success_at",
        "last_idle_at",
    )
    list_filter = ("enabled", "integration", "code")
    list_select_related = ("integration",)
    inlines = (WatermarkInline,)
    actions = ("run_now", "resume", "shadow")
    form = FlowAdminForm
    # Kept by the engine and the circuit breaker; people read them (issue 24 point 7).
    readonly_fields = (
        "canary_since",
        "paused_until",
        "consecutive_failures",
        "last_run_at",
        "last_success_at",
        "last_idle_at",
        "last_error",
    )

    @admin.action(
        description=_("Map-only dry run over the last 7 days (writes nothing)"),
        permissions=["change"],
    )
    def shadow(self, request, queryset):
        from .shadow import shadow_run_queue

        runs = [
            shadow_run_queue(flow=flow, days=7, requested_by=request.user.get_username())
            for flow in queryset
        ]
        if len(runs) == 1:
            return HttpResponseRedirect(
                reverse("admin:flows_flow_shadow", args=[runs[0].flow_id, runs[0].pk])
            )
        for run in runs:
            self.message_user(
                request,
                format_html(
                    '{}: <a href="{}">{}</a>',
                    run.flow,
                    reverse("admin:flows_flow_shadow", args=[run.flow_id, run.pk]),
                    _("map-only dry run report"),
                ),
            )
        return None

    def get_urls(self):
        return [
            path(
                "<int:flow_id>/shadow/<int:run_id>/",
                self.admin_site.admin_view(self.shadow_view),
                name="flows_flow_shadow",
            ),
            *super().get_urls(),
        ]

    def shadow_view(self, request, flow_id: int, run_id: int):
        from .models import ShadowRun

        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(ShadowRun, pk=run_id, flow_id=flow_id)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Map-only dry run: %(flow)s") % {"flow": run.flow},
            "run": run,
            "opts": self.model._meta,
            "blocked": [d for d in run.documents if d["outcome"] == "would_block"],
            "writing": [d for d in run.documents if d["outcome"] == "would_write"],
            "others": [
                d for d in run.documents if d["outcome"] not in ("would_block", "would_write")
            ],
        }
        return TemplateResponse(request, "admin/flows/shadow_run.html", context)

    @admin.action(description=_("Resume paused flows"), permissions=["change"])
    def resume(self, request, queryset):
        resumed = sum(services.flow_resume(flow=flow, user=request.user) for flow in queryset)
        self.message_user(request, _("%(n)d flows resumed.") % {"n": resumed})

    @admin.action(description=_("Pull and process now"), permissions=("change",))
    def run_now(self, request, queryset):
        for flow in queryset:
            services.pull_now(flow=flow)
        self.message_user(request, _("%(n)d flows queued.") % {"n": queryset.count()})

    def save_model(self, request, obj, form, change):
        if {"canary_shops", "canary_warehouses"} & set(form.changed_data):
            obj.canary_since = (
                timezone.now() if (obj.canary_shops or obj.canary_warehouses) else None
            )
        enabling = form.enabling()
        if enabling:
            obj.enabled = False  # switched on below, through the preflight gate
        if change and getattr(form, "settings_failures", None):
            # clean() accepted them with an override reason: record it (flow_settings_update).
            services.flow_settings_update(
                flow=Flow.objects.get(pk=obj.pk),
                settings=obj.settings,
                user=request.user,
                override_reason=form.cleaned_data.get("preflight_override", ""),
            )
        super().save_model(request, obj, form, change)
        if enabling:
            services.flow_enable(
                flow=obj,
                user=request.user,
                override_reason=form.cleaned_data.get("preflight_override", ""),
            )
        services.flow_schedule_ensure(flow=obj)


@admin.register(FlowPreflightOverride)
class FlowPreflightOverrideAdmin(admin.ModelAdmin):
    list_display = ("flow", "username", "created_at", "reason")
    list_filter = ("flow__code",)
    readonly_fields = (
        "flow",
        "user",
        "username",
        "reason",
        "failures",
        "preflight_runs",
        "created_at",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StuckFilter(admin.SimpleListFilter):
    """Issue 15: the documents the watchdog calls stuck (the board's "Stuck" figure)."""

    title = _("stuck (watchdog)")
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return (("1", _("Stuck: should have moved by now")),)

    def queryset(self, request, queryset):
        if self.value() != "1":
            return queryset
        return queryset & SyncDocument.objects.stuck_any(timezone.now())


@admin.register(SyncDocument)
class SyncDocumentAdmin(admin.ModelAdmin):
    list_display = (
        "source_key",
        "flow",
        "state",
        "platform_order_no",
        "kingdee_bill_no",
        "last_error_class",
        "attempts",
        "updated_at",
        "progress_note",
    )
    list_filter = ("state", StuckFilter, "flow__code", "last_error_class", "integration")
    search_fields = ("=platform_order_no", "=kingdee_bill_no", "=source_key", "=sku_keys__sku")
    list_select_related = ("flow", "flow__integration")
    readonly_fields = (
        "integration",
        "flow",
        "source_system",
        "source_key",
        "idempotency_key",
        "source_modified_at",
        "source_payload",
        "state",
        "attempts",
        "retries",
        "next_attempt_at",
        "outcome_unknown",
        "target_key",
        "target_id",
        "last_error_class",
        "last_error_code",
        "last_error_shown",
        "last_error_stage",
        "filter_reason",
        "synced_at",
        "platform_order_no",
        "kingdee_bill_no",
        "progress_note",
    )
    exclude = ("claim_token", "claimed_until", "progress", "last_error_message")
    actions = ("retry", "ignore")

    @admin.display(description=_("error message"))
    def last_error_shown(self, obj: SyncDocument) -> str:
        """Issue 20 point 4: the error in the reader's language when it is a portal message."""
        return localize(obj.last_error_message)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The work-queue rule of the ticket pages (the journal's document_can_act):
        # a queue role changes only documents with an open ticket in its own queue.
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or journal().document_can_act(user=request.user, document=obj)

    def _in_my_queues(self, request, queryset):
        """The selected documents this user may act on; the others are named and skipped."""
        allowed = []
        for doc in queryset:
            if journal().document_can_act(user=request.user, document=doc):
                allowed.append(doc)
            else:
                self.message_user(
                    request,
                    _("%(doc)s: not in your work queue; left unchanged.") % {"doc": doc},
                    messages.WARNING,
                )
        return allowed

    def save_model(self, request, obj, form, change):
        # Editing the target payload here is edit-and-retry.
        if "target_payload" in form.changed_data:
            try:
                services.document_retry(
                    document=obj, user=request.user, target_payload=obj.target_payload
                )
            except Problem as problem:
                self.message_user(request, problem.message, messages.ERROR)
            return
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Retry"), permissions=("change",))
    def retry(self, request, queryset):
        done = 0
        for doc in self._in_my_queues(request, queryset):
            try:
                services.document_retry(document=doc, user=request.user)
                done += 1
            except Problem as problem:
                self.message_user(request, f"{doc}: {problem.message}", messages.WARNING)
        self.message_user(request, _("%(n)d documents queued for retry.") % {"n": done})

    @admin.action(description=_("Ignore (reason: ignored in the admin)"), permissions=("change",))
    def ignore(self, request, queryset):
        done = 0
        for doc in self._in_my_queues(request, queryset):
            try:
                services.document_ignore(
                    document=doc, user=request.user, reason=str(_("ignored in the admin"))
                )
                done += 1
            except Problem as problem:
                self.message_user(request, f"{doc}: {problem.message}", messages.WARNING)
        self.message_user(request, _("%(n)d documents ignored.") % {"n": done})


@admin.register(StockHold)
class StockHoldAdmin(admin.ModelAdmin):
    list_display = (
        "material_number",
        "stock_number",
        "quantity",
        "status",
        "document",
        "created_at",
    )
    list_filter = ("status", "integration")
    search_fields = ("material_number", "document__platform_order_no")
    list_select_related = ("document",)


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """The signing secret is never shown (only whether it is set). A blank secret on a new
    client is generated; a new secret, generated or rotated, is shown once on its own page."""

    list_display = ("name", "key_id", "integration", "enabled", "requests_per_minute")
    list_filter = ("enabled", "integration")
    search_fields = ("name", "key_id")
    readonly_fields = ("key_id",)
    actions = ("rotate_secret",)

    def save_model(self, request, obj, form, change):
        generated = not obj.secret
        if generated:
            obj.secret = new_secret()
        super().save_model(request, obj, form, change)
        if generated:
            request._portal_new_secrets = [(obj, obj.secret)]

    def response_add(self, request, obj, post_url_continue=None):
        shown = getattr(request, "_portal_new_secrets", None)
        if shown:
            return self._show_once(request, shown)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description=_("Rotate the signing secret"), permissions=("change",))
    def rotate_secret(self, request, queryset):
        shown = [
            (client, services.api_client_secret_rotate(api_client=client)) for client in queryset
        ]
        return self._show_once(request, shown)

    def _show_once(self, request, shown):
        """The new secrets, on a page of their own that is never cached or stored."""
        response = TemplateResponse(
            request,
            "admin/flows/apiclient/new_secret.html",
            {
                **self.admin_site.each_context(request),
                "title": _("New signing secret"),
                "opts": self.opts,
                "shown": shown,
            },
        )
        response["Cache-Control"] = "no-store"
        return response


@admin.register(ShadowRun)
class ShadowRunAdmin(admin.ModelAdmin):
    """Map-only dry runs, newest first; each opens its report (runs day after day compare)."""

    list_display = ("flow", "started_at", "days", "totals", "report")
    list_filter = ("flow__code", "flow__integration")
    list_select_related = ("flow", "flow__integration")

    @admin.display(description=_("report"))
    def report(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:flows_flow_shadow", args=[obj.flow_id, obj.pk]),
            _("open"),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
