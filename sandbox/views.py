"""Control endpoint for fault injection: GET /sandbox/faults/<system>/ shows, PUT/POST sets."""

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import faults
from .models import SandboxSystem


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
