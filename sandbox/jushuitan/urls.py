"""URLs of the simulator (mounted under /sandbox/ by sandbox.urls): every path of the open
API goes to one view, which answers code 190 for paths the API does not have."""

from django.urls import path

from .views import endpoint

urlpatterns = [
    path("<path:path>", endpoint, name="sandbox-jushuitan"),
]
