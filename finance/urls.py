"""Finance pages, mounted at /finance/: reconciliation trend and exports, export chain."""

from django.urls import path

from . import views

app_name = "finance"

urlpatterns = [
    path("reconciliation/", views.reconciliation_trend, name="reconciliation"),
    path("reconciliation/<int:pk>/", views.reconciliation_detail, name="reconciliation-run"),
    path(
        "reconciliation/<int:pk>/mismatches.<slug:fmt>",
        views.reconciliation_export,
        name="reconciliation-export",
    ),
    path("export-chain/", views.export_chain, name="export-chain"),
    path("declarations/import/", views.declarations_import, name="declarations-import"),
    path("declarations/template.xlsx", views.declarations_template, name="declarations-template"),
    path("fx-differences/export/", views.fx_differences_export, name="fx-differences-export"),
    path("stock-counts/export/", views.stock_counts_export, name="stock-counts-export"),
]
