"""Issue 23 point 3: a FlowDefinition is the only thing a new flow registers. A flow defined
here, in the test, by one definition gets its push URL (reverse, and a POST that reaches its
ingest), its operation in the OpenAPI schema (path and request body), its Flow.code choice
(full_clean accepts it, the admin and the ticket filters list it, no migration) and its poll
interval; the six endpoints of the brief stay where they are."""

import importlib
import json

import pytest
from django.conf import settings
from django.urls import clear_url_caches, reverse

from flows.choices import FlowCode, System, flow_choices
from flows.definitions import register_for_tests, unregister_for_tests
from flows.definitions.base import FlowDefinition, LoadResult, SourceRecord, ValidationProblem
from flows.definitions.push import KEY_TEXT, PushEndpoint, document_schema

pytestmark = pytest.mark.django_db

PROBE = "registry_probe"
PROBE_PATH = "probe/registry/push"


class RegistryProbe(FlowDefinition):
    """The whole of a new flow: code, label, requirement, poll default, push endpoint, stages."""

    code = PROBE
    label = "F99 Registry probe"
    requirement = "F99"
    source_system = System.JUSHUITAN
    target_system = System.KINGDEE
    pullable = False
    poll_seconds = 300
    push = PushEndpoint(
        path=PROBE_PATH,
        summary="Push probes (F99 registry probe)",
        description="Probe documents of the registry test.",
        body=document_schema(
            "RegistryProbe",
            {"probe_no": {**KEY_TEXT, "description": "Probe no."}},
            ["probe_no"],
            "A probe document.",
        ),
        example={"probe_no": "P-1"},
    )

    def parse_push(self, ctx, item: dict) -> SourceRecord:
        if not item.get("probe_no"):
            raise ValidationProblem("probe_no is required.", field_name="probe_no")
        return SourceRecord(source_key=f"probe:{item['probe_no']}", payload=item)

    def transform(self, ctx, document) -> tuple[dict, str]:
        number = document.source_payload["probe_no"]
        return {"no": number}, number

    def load(self, ctx, documents) -> dict[int, LoadResult]:
        return {d.pk: LoadResult.landed(target_number=d.target_key) for d in documents}


def _reload_urlconf() -> None:
    """Rebuild the URLs from the registry, as a process starting with the flow would."""
    import flows.api.urls

    importlib.reload(flows.api.urls)
    importlib.reload(importlib.import_module(settings.ROOT_URLCONF))
    clear_url_caches()


@pytest.fixture
def probe_flow():
    register_for_tests(RegistryProbe())
    _reload_urlconf()
    yield RegistryProbe
    unregister_for_tests(PROBE)
    _reload_urlconf()


@pytest.fixture
def queued(monkeypatch):
    """The documents a push queues for processing (nothing is sent to a broker)."""
    calls: list[tuple[int, list[int]]] = []
    monkeypatch.setattr(
        "flows.services._enqueue", lambda flow_id, ids: calls.append((flow_id, ids))
    )
    return calls


def test_a_registered_flow_gets_its_url_and_a_push_reaches_its_ingest(
    probe_flow, make_integration, admin_client, queued
):
    """Issue 23 point 3: GIVEN a flow registered by its definition alone WHEN its push URL is
    reversed and a document is posted to it THEN the URL is the definition's path, the document
    is stored as a SyncDocument of that flow and queued, a document without its key is refused
    naming the field, and the new flow row polls at the definition's interval."""
    from flows.models import SyncDocument
    from flows.services import flow_ensure

    flow = flow_ensure(integration=make_integration("probe"), code=PROBE, enabled=True)
    assert flow.poll_seconds == 300
    url = reverse("push-registry-probe")
    assert url == f"/{PROBE_PATH}"

    answer = admin_client.post(
        f"{url}?integration=probe",
        data=json.dumps({"probe_no": "P-1"}),
        content_type="application/json",
    )
    assert answer.status_code == 202, answer.content
    document = SyncDocument.objects.get(flow=flow)
    assert (document.source_key, document.source_payload) == ("probe:P-1", {"probe_no": "P-1"})
    assert answer.json()["documents"] == [document.pk]
    assert queued == [(flow.pk, [document.pk])]

    refused = admin_client.post(
        f"{url}?integration=probe",
        data=json.dumps({"other": 1}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert refused.status_code == 400
    assert refused.json()["extra"]["fields"]["documents"][0]["field"] == "probe_no"
    assert SyncDocument.objects.filter(flow=flow).count() == 1


def test_a_registered_flow_is_in_the_openapi_schema(probe_flow, admin_client):
    """Issue 23 point 3: GIVEN the flow registered WHEN the OpenAPI schema is generated THEN it
    has the flow's path with its operation and request body (one document or an array), next
    to the six endpoints of the brief."""
    schema = admin_client.get("/api/schema/?format=json").json()
    operation = schema["paths"][f"/{PROBE_PATH}"]["post"]
    assert operation["operationId"] == f"push_{PROBE}"
    assert operation["summary"] == "Push probes (F99 registry probe)"
    one, many = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert one["title"] == "RegistryProbe" and one["required"] == ["probe_no"]
    assert many["items"] == one
    for path in (
        "/kdcloud/material/sync",
        "/jushuitan/order/outbound",
        "/jushuitan/order/refund",
        "/kdcloud/purchase/inbound",
        "/kdcloud/purchase/return",
        "/kdcloud/inventory/adjust",
    ):
        assert "post" in schema["paths"][path]


def test_a_registered_flow_is_a_choice_of_flow_code(probe_flow, make_integration, admin_client):
    """Issue 23 point 3: GIVEN the flow registered (no FlowCode member, no migration) WHEN a
    Flow row with its code is validated, shown and filtered THEN full_clean accepts it, its
    label is its display, and the admin's and the ticket page's flow filters list it; an
    unregistered code is still refused."""
    from django.core.exceptions import ValidationError

    from flows.models import Flow
    from monitoring.forms import TicketFilterForm

    assert (PROBE, "F99 Registry probe") in flow_choices()
    # The shipped flows keep their values, labels and order (F1 … F9), the new one after them.
    shipped = [(code, str(label)) for code, label in flow_choices() if code in FlowCode.values]
    assert shipped == [(code, str(label)) for code, label in FlowCode.choices]
    integration = make_integration("choices")
    flow = Flow(integration=integration, code=PROBE)
    flow.full_clean()
    flow.save()
    assert flow.get_code_display() == "F99 Registry probe"
    with pytest.raises(ValidationError) as refused:
        Flow(integration=integration, code="no_such_flow").full_clean()
    assert "code" in refused.value.message_dict

    assert PROBE in dict(TicketFilterForm().fields["flow"].choices)
    changelist = admin_client.get("/admin/flows/flow/")
    assert changelist.status_code == 200
    assert f"code__exact={PROBE}" in changelist.content.decode()


def test_unregistered_test_flows_leave_no_url_behind(probe_flow):
    """The fixture's clean-up: after unregistering, the URL and the choice are gone again."""
    from django.urls import NoReverseMatch

    unregister_for_tests(PROBE)
    _reload_urlconf()
    assert PROBE not in dict(flow_choices())
    with pytest.raises(NoReverseMatch):
        reverse("push-registry-probe")
