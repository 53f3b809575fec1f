"""Fault injection: the JSON control endpoint (GET /sandbox/faults/<system>/ shows, PUT/POST
sets) and the switches page a person uses (/sandbox/faults/)."""

import json
from dataclasses import fields

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import faults, services
from .forms import FaultProfileForm
from .models import FaultProfile, SandboxSystem

SWITCHES_PERMISSION = "sandbox.change_faultprofile"


@csrf_exempt
@require_http_methods(["GET", "PUT", "POST", "DELETE"])
def fault_profile(request, system: str):
    if system not in SandboxSystem.values:
        return JsonResponse(
            {"message": f"unknown system {system!r}", "extra": {"known": SandboxSystem.values}},
            status=404,
        )
    if request.method == "DELETE":
        from .models import FaultProfile

        FaultProfile.objects.filter(system=system).delete()
        faults.clear_cache()
    elif request.method in ("PUT", "POST"):
        try:
            settings = json.loads(request.body or b"{}")
            if not isinstance(settings, dict):
                raise ValueError("the body must be a JSON object")
            faults.set_profile(system, **settings)
        except (ValueError, ArithmeticError) as exc:
            return JsonResponse({"message": str(exc), "extra": {}}, status=400)
    faults.clear_cache()
    return JsonResponse({"system": system, "faults": faults.current(system).as_dict()})


@staff_member_required
@require_http_methods(["GET", "POST"])
def fault_switches(request: HttpRequest) -> HttpResponse:
    """The fault-injection switches of every simulated system, on one page (operators)."""
    from django.contrib import admin

    if not request.user.has_perm(SWITCHES_PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        system = request.POST.get("system", "")
        if system not in SandboxSystem.values:
            raise PermissionDenied
        label = SandboxSystem(system).label
        if "quiet" in request.POST:
            services.fault_profile_clear(system=system)
            messages.success(request, _("%(system)s behaves normally again.") % {"system": label})
            return redirect("sandbox-fault-switches")
        form = FaultProfileForm(request.POST, prefix=system)
        if form.is_valid():
            services.fault_profile_save(system=system, values=form.cleaned_data)
            messages.success(request, _("Faults of %(system)s saved.") % {"system": label})
            return redirect("sandbox-fault-switches")
        messages.error(
            request, _("Faults of %(system)s not saved: see the form.") % {"system": label}
        )
    rows = []
    for system, label in SandboxSystem.choices:
        active = faults.current(system)
        stored = FaultProfile.objects.filter(system=system).exists()
        initial = {f.name: getattr(active, f.name) for f in fields(active)}
        form = FaultProfileForm(initial=initial, prefix=system)
        if request.method == "POST" and request.POST.get("system") == system:
            form = FaultProfileForm(request.POST, prefix=system)
        rows.append(
            {
                "system": system,
                "label": label,
                "form": form,
                "quiet": active.quiet,
                "stored": stored,
            }
        )
    return render(
        request,
        "sandbox/faults.html",
        {**admin.site.each_context(request), "title": _("Sandbox fault injection"), "rows": rows},
    )
