"""What every operations page shares: staff login, a permission, the admin's look."""

from collections.abc import Callable
from functools import wraps

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


def operations_view(permission: str) -> Callable:
    """Staff login (redirects to the admin login) plus one Django permission."""

    def decorate(view: Callable) -> Callable:
        @staff_member_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            if not request.user.has_perm(permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def page_context(request: HttpRequest, *, title: str, **extra) -> dict:
    """The admin's context (site header, nav sidebar) so the pages look like one product."""
    return {**admin.site.each_context(request), "title": title, **extra}
