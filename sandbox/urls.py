"""Mounts every simulator under /sandbox/ (only when PORTAL_SANDBOX_ENABLED)."""

from django.urls import include, path

from .views import fault_profile, fault_switches

urlpatterns = [
    path("faults/", fault_switches, name="sandbox-fault-switches"),
    path("faults/<str:system>/", fault_profile, name="sandbox-faults"),
    path("kingdee/", include("sandbox.kingdee.urls")),
    path("jushuitan/", include("sandbox.jushuitan.urls")),
    path("robots/", include("sandbox.robots.urls")),
    path("fx/", include("sandbox.fx.urls")),
]
