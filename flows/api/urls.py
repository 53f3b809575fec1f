"""The six endpoints of the brief, at exactly these paths (each arrives with its flow)."""

from django.urls import path

from .views import push_view

urlpatterns = [
    path(
        "jushuitan/order/outbound",
        push_view("sales_outbound").as_view(),
        name="push-sales-outbound",
    ),
    path("jushuitan/order/refund", push_view("sales_return").as_view(), name="push-sales-return"),
    path(
        "kdcloud/material/sync",
        push_view("material_sync").as_view(),
        name="push-material-sync",
    ),
    path(
        "kdcloud/purchase/inbound",
        push_view("purchase_inbound").as_view(),
        name="push-purchase-inbound",
    ),
    path(
        "kdcloud/purchase/return",
        push_view("purchase_return").as_view(),
        name="push-purchase-return",
    ),
    path(
        "kdcloud/inventory/adjust",
        push_view("inventory_adjust").as_view(),
        name="push-inventory-adjust",
    ),
]
