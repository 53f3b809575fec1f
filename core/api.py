"""One DRF exception handler: every error answers {"message": ..., "extra": {...}}."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import PortalError


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE; without this the
        # caller would get Django's HTML "Bad Request" page instead of a JSON answer.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {
                "message": _(
                    "The request body is larger than %(limit)d bytes: send the documents in "
                    "smaller requests."
                )
                % {"limit": limit},
                "extra": {"field": "body", "limit": limit},
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, PortalError):
        return Response(
            exc.as_dict(), status=getattr(exc, "http_status", status.HTTP_400_BAD_REQUEST)
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ParseError):
        # A body that is no JSON: name it as the field, with the parser's reason.
        response.data = {
            "message": _("The request body is not valid JSON."),
            "extra": {"fields": {"body": [str(exc.detail)]}},
        }
    elif isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {
            "message": _("The request is invalid: see the fields listed in extra.fields."),
            "extra": {"fields": fields},
        }
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        # Exceptions may carry structured data (e.g. the header at fault) in `extra`.
        response.data = {
            "message": str(detail or exc),
            "extra": dict(getattr(exc, "extra", None) or {}),
        }
    return response
