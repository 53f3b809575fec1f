"""The push endpoints, one per flow definition that declares one (issue 23 point 3): the six
of the brief at exactly their paths, and any flow added later at the path its definition names.
"""

from django.urls import path

from ..definitions import definitions
from .views import push_view


def push_url_name(code: str) -> str:
    """The URL name of a flow's push endpoint: push-sales-outbound, push-material-sync, ..."""
    return f"push-{code.replace('_', '-')}"


urlpatterns = [
    path(d.push.path, push_view(d.code).as_view(), name=push_url_name(d.code))
    for d in definitions()
    if d.push is not None
]
