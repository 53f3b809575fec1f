"""Root URLs: admin, health, API schema and docs, flow endpoints, monitoring, sandbox."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser

from core.admin_order import install as admin_order_install
from core.views import healthz

admin.site.site_header = _("Integration Portal · Jushuitan ↔ Kingdee")
admin.site.site_title = _("Integration Portal")
admin.site.index_title = _("Administration")
admin_order_install()  # the admin home grouped around the work, library apps last

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    # The schema and its docs page are for staff (signed in): they map every endpoint and its
    # fields, which nobody outside needs (issue 16 #10; docs/security.md).
    path(
        "api/schema/",
        SpectacularAPIView.as_view(
            authentication_classes=[SessionAuthentication], permission_classes=[IsAdminUser]
        ),
        name="api-schema",
    ),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(
            url_name="api-schema",
            authentication_classes=[SessionAuthentication],
            permission_classes=[IsAdminUser],
        ),
        name="api-docs",
    ),
    path("monitoring/", include("monitoring.urls")),
    path("finance/", include("finance.urls")),
    path("", include("flows.api.urls")),
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False), name="home"),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
