"""URLs of the FX simulator (mounted under /sandbox/fx/): the real sources' paths, each under
its source's prefix so an FxSource's base URL is /sandbox/fx/cfets or /sandbox/fx/ecb."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.health, name="sandbox-fx"),
    path(
        "cfets/r/cms/www/chinamoney/data/fx/ccpr.json",
        views.cfets_latest,
        name="sandbox-fx-cfets-latest",
    ),
    path(
        "cfets/ags/ms/cm-u-bk-ccpr/CcprHisNew",
        views.cfets_history,
        name="sandbox-fx-cfets-history",
    ),
    path("ecb/stats/eurofxref/eurofxref-daily.xml", views.ecb_daily, name="sandbox-fx-ecb-daily"),
    path(
        "ecb/stats/eurofxref/eurofxref-hist-90d.xml",
        views.ecb_history_90d,
        name="sandbox-fx-ecb-90d",
    ),
    path(
        "ecb/stats/eurofxref/eurofxref-hist.zip",
        views.ecb_history_zip,
        name="sandbox-fx-ecb-history",
    ),
]
