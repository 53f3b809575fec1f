"""The flow endpoints: accept pushed documents (or an empty body: pull now), answer 202."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.models import Integration

from .. import services
from ..definitions import definition_for
from ..definitions.push import PushEndpoint
from ..models import Flow
from .authentication import ApiClientPrincipal, HmacAuthentication
from .schema import MAX_ITEMS, push_body


class AcceptedSerializer(serializers.Serializer):
    flow = serializers.CharField(help_text="Flow code, e.g. sales_outbound")
    accepted = serializers.IntegerField(help_text="Documents stored and queued")
    documents = serializers.ListField(
        child=serializers.IntegerField(), help_text="SyncDocument ids"
    )
    pull = serializers.BooleanField(help_text="True when an empty body asked for an immediate pull")


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    extra = serializers.DictField()


class DocumentsRejected(exceptions.ValidationError):
    """400 listing the rejected documents as they are: DRF would turn every value of a
    ValidationError into a string, the index and extra data included."""

    def __init__(self, rejected: list[dict]) -> None:
        super().__init__()
        self.detail = {"documents": rejected}


class CanPushDocuments(permissions.BasePermission):
    """Signed API clients, or staff allowed to change sync documents."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if isinstance(user, ApiClientPrincipal):
            return True
        return bool(user and user.is_authenticated and user.has_perm("flows.change_syncdocument"))


class FlowPushView(APIView):
    flow_code: str = ""
    authentication_classes = (HmacAuthentication, SessionAuthentication)
    permission_classes = (CanPushDocuments,)
    parser_classes = (JSONParser,)  # documents are JSON; the signature covers the raw body

    def permission_denied(self, request, message=None, code=None):
        if request.authenticators and not request.successful_authenticator:
            # DRF's own "credentials were not provided" does not say which ones.
            error = exceptions.NotAuthenticated(
                _(
                    "Sign the request: send the X-Portal-Key, X-Portal-Timestamp and "
                    "X-Portal-Signature headers (or log in as staff)."
                )
            )
            error.extra = {"field": "X-Portal-Key"}
            raise error
        super().permission_denied(request, message=message, code=code)

    def _integration(self, request) -> Integration:
        if isinstance(request.user, ApiClientPrincipal):
            return request.user.client.integration
        code = request.query_params.get("integration")
        integrations = Integration.objects.filter(enabled=True)
        if code:
            found = integrations.filter(code=code).first()
            if found is None:
                raise exceptions.ValidationError(
                    {"integration": [_("No enabled integration %(code)s.") % {"code": code}]}
                )
            return found
        if integrations.count() != 1:
            raise exceptions.ValidationError(
                {
                    "integration": [
                        _("Name the integration (?integration=<code>): there are %(n)d.")
                        % {"n": integrations.count()}
                    ]
                }
            )
        return integrations.get()

    def _flow(self, integration: Integration) -> Flow:
        flow = (
            Flow.objects.select_related("integration")
            .filter(integration=integration, code=self.flow_code)
            .first()
        )
        if flow is None or not flow.enabled:
            raise exceptions.ValidationError(
                {
                    "flow": [
                        _("The flow %(flow)s is not enabled for integration %(integration)s.")
                        % {"flow": self.flow_code, "integration": integration.code}
                    ]
                }
            )
        return flow

    def post(self, request, *args, **kwargs):
        integration = self._integration(request)
        flow = self._flow(integration)
        body = request.data
        if body in (None, "", {}, []):
            services.pull_now(flow=flow)
            return Response(
                {"flow": flow.code, "accepted": 0, "documents": [], "pull": True},
                status=status.HTTP_202_ACCEPTED,
            )
        items = body if isinstance(body, list) else [body]
        if not all(isinstance(item, dict) for item in items):
            raise exceptions.ValidationError(
                {"body": [_("Send a JSON object or an array of objects.")]}
            )
        if len(items) > MAX_ITEMS:
            raise exceptions.ValidationError(
                {"body": [_("At most %(n)d documents per request.") % {"n": MAX_ITEMS}]}
            )
        ids, rejected = services.push_validate_and_accept(flow=flow, items=items)
        if rejected:
            raise DocumentsRejected(rejected)
        return Response(
            {"flow": flow.code, "accepted": len(ids), "documents": ids, "pull": False},
            status=status.HTTP_202_ACCEPTED,
        )


def push_schema(*, flow_code: str, endpoint: PushEndpoint):
    """The OpenAPI operation of one endpoint: its document shape, answers and example."""
    return extend_schema(
        operation_id=f"push_{flow_code}",
        summary=endpoint.summary,
        description=endpoint.description
        + "\n\nAuthentication: HMAC headers `X-Portal-Key`, `X-Portal-Timestamp`, "
        "`X-Portal-Signature` = hex HMAC-SHA256(secret, timestamp\\nMETHOD\\npath\\nsha256(body)), "
        "or a staff session. An empty body asks for an immediate pull. All documents of a "
        "request are validated first; if one is invalid nothing is stored and the 400 names it.",
        request={"application/json": push_body(endpoint.body)},
        parameters=[
            OpenApiParameter(
                "integration", str, description="Integration code (staff sessions only)"
            )
        ],
        responses={
            202: AcceptedSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="Invalid documents; extra.fields names them"
            ),
            401: OpenApiResponse(ErrorSerializer, description="Missing or bad signature"),
            403: OpenApiResponse(ErrorSerializer, description="Not allowed"),
            413: OpenApiResponse(
                ErrorSerializer, description="Body over the size limit; extra.limit gives it"
            ),
            429: OpenApiResponse(ErrorSerializer, description="Client rate limit"),
        },
        examples=[OpenApiExample("document", value=endpoint.example, request_only=True)],
        tags=["flows"],
    )


def push_view(flow_code: str) -> type[FlowPushView]:
    """The view of a flow's push endpoint, documented from its definition's `push`."""
    endpoint = definition_for(flow_code).push
    if endpoint is None:
        raise LookupError(f"the flow {flow_code} declares no push endpoint")

    def post(self, request, *args, **kwargs):
        return FlowPushView.post(self, request, *args, **kwargs)

    schema = push_schema(flow_code=flow_code, endpoint=endpoint)
    name = f"{flow_code.title().replace('_', '')}PushView"
    return type(name, (FlowPushView,), {"flow_code": flow_code, "post": schema(post)})
