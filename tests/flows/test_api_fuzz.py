"""The six flow endpoints fuzzed from their OpenAPI schema (schemathesis): F1 `POST
/kdcloud/material/sync`, F2 `POST /jushuitan/order/outbound`, F3 `POST /jushuitan/order/refund`,
F4 `POST /kdcloud/purchase/inbound`, F5 `POST /kdcloud/purchase/return`, F8.3 `POST
/kdcloud/inventory/adjust`.

Requests are generated from the schema the portal serves at /api/schema/ (bodies that fit it and
bodies that do not), signed afresh for each case by an HMAC API client, and sent through the
real Django application (WSGI). Whatever arrives, the portal never answers 5xx, and every
rejection names the field (or header) at fault and says why. Accepted pushes store documents and
queue their processing on the test run's private broker (tests/fixtures/flows.py).
"""

import json
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from flows.api.authentication import signature_for, signed_headers
from flows.choices import FlowCode
from flows.models import ApiClient, SyncDocument

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "fuzz-secret-2026"

ENDPOINTS = {
    "/kdcloud/material/sync": FlowCode.MATERIAL_SYNC,
    "/jushuitan/order/outbound": FlowCode.SALES_OUTBOUND,
    "/jushuitan/order/refund": FlowCode.SALES_RETURN,
    "/kdcloud/purchase/inbound": FlowCode.PURCHASE_INBOUND,
    "/kdcloud/purchase/return": FlowCode.PURCHASE_RETURN,
    "/kdcloud/inventory/adjust": FlowCode.INVENTORY_ADJUST,
}

# Bounded and reproducible: the same examples on every run, in well under a minute.
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Beyond "no 5xx": the answers (202, 400, 401...) are the ones the schema documents, in its shape.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(autouse=True)
def _purge_queued_tasks():
    """Accepted pushes and pulls queue tasks on the run's private broker; nothing consumes them
    here, and a later test's worker must not spend its time on documents of flushed flows."""
    from integration_portal.celery import app

    yield
    app.control.purge()


@pytest.fixture
def api_client(make_integration):
    """An integration with the six flows enabled and an HMAC client whose per-minute limit
    leaves room for the fuzzing (the default 600 would throttle a fast run)."""
    from flows.services import flow_ensure

    integration = make_integration("fuzz")
    for code in ENDPOINTS.values():
        flow_ensure(integration=integration, code=code, enabled=True)
    return ApiClient.objects.create(
        name="fuzzer", secret=SECRET, integration=integration, requests_per_minute=100_000
    )


@pytest.fixture
def api_schema(client, admin_user):
    """The OpenAPI schema exactly as the portal serves it."""
    client.force_login(admin_user)
    raw = client.get("/api/schema/?format=json").json()
    client.logout()
    return schemathesis.openapi.from_dict(raw)


def _raw_body(case) -> bytes:
    """The body as sent, so the signature covers exactly these bytes."""
    if isinstance(case.body, NotSet) or case.body is None:
        return b""
    if isinstance(case.body, bytes):  # negative cases: bytes that need not be JSON at all
        return case.body
    return json.dumps(case.body, ensure_ascii=False).encode()


def _send(case, raw: bytes, headers: dict):
    from integration_portal.wsgi import application

    return case.call(
        app=application,
        data=raw,
        headers={"Content-Type": "application/json", "Accept-Language": "en", **headers},
    )


def _cases(operation):
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )


def assert_rejection_is_clear(response) -> None:
    """A 4xx says which field (or header) and why: a message, and for a 400 every entry of
    extra.fields names its field with a non-empty reason (documents: index, field, message)."""
    body = response.json()
    assert body["message"], response.text
    if response.status_code != 400:
        assert body["extra"].get("field"), response.text
        return
    fields = body["extra"]["fields"]
    assert fields, response.text
    for name, reasons in fields.items():
        assert name and reasons, response.text
        if name == "documents":
            for rejected in reasons:
                assert isinstance(rejected["index"], int), response.text
                assert rejected["field"] and rejected["message"], response.text
        else:
            assert all(isinstance(r, str) and r for r in reasons), response.text


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_signed_fuzzed_pushes_never_fail_and_reject_clearly(path, api_schema, api_client):
    """F1.1 F2.1 F3.1 F4.1 F5.1 F8.3: GIVEN requests generated from the endpoint's schema,
    valid and invalid, each signed afresh by an HMAC client WHEN sent to the portal THEN no
    answer is a 5xx, every answer is documented in the schema, an accepted push answers 202
    with its stored documents, and every rejection names the field and the reason."""
    operation = api_schema[path]["POST"]
    seen: set[int] = set()

    @FUZZ
    @given(case=_cases(operation))
    def run(case):
        raw = _raw_body(case)
        headers = signed_headers(
            client_key=api_client.key_id, secret=SECRET, method="POST", path=path, body=raw
        )
        # The replay guard refuses a signature seen before: an identical case generated twice
        # within a second would be signed alike, so its nonce (the timestamp) moves on.
        while headers["X-Portal-Signature"] in seen:
            headers["X-Portal-Timestamp"] = str(int(headers["X-Portal-Timestamp"]) - 1)
            headers["X-Portal-Signature"] = signature_for(
                secret=SECRET,
                timestamp=headers["X-Portal-Timestamp"],
                method="POST",
                path=path,
                body=raw,
            )
        seen.add(headers["X-Portal-Signature"])
        response = _send(case, raw, headers)
        case.validate_response(response, checks=CHECKS)
        if response.status_code == 202:
            answer = response.json()
            assert answer["flow"] == ENDPOINTS[path]
            stored = SyncDocument.objects.filter(pk__in=answer["documents"]).count()
            assert stored == len(answer["documents"]) == answer["accepted"]
        else:
            assert response.status_code in (400, 413), response.text
            assert_rejection_is_clear(response)

    run()


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_unsigned_or_badly_signed_fuzzed_pushes_are_refused_saying_why(
    path, api_schema, api_client
):
    """S3 / F1.1 F2.1 F3.1 F4.1 F5.1 F8.3 (authentication): GIVEN generated requests without a
    signature, with a forged one, a stale or malformed timestamp or an unknown key WHEN sent
    THEN the answer is 401 naming the header at fault, never a 5xx, and nothing is stored."""
    operation = api_schema[path]["POST"]

    def spoil(kind: str, headers: dict) -> dict:
        if kind == "generated":  # the header values schemathesis made up for the scheme
            return {}
        if kind == "unsigned":  # blank headers replace any the case carries
            return dict.fromkeys(headers, "")
        if kind == "forged":
            return {**headers, "X-Portal-Signature": "0" * 64}
        if kind == "stale":
            return {**headers, "X-Portal-Timestamp": str(int(time.time()) - 3600)}
        if kind == "not-a-number":
            return {**headers, "X-Portal-Timestamp": "yesterday"}
        if kind == "no-signature":
            return {k: v for k, v in headers.items() if k != "X-Portal-Signature"}
        return {**headers, "X-Portal-Key": "no-such-key"}

    kinds = st.sampled_from(
        ["unsigned", "generated", "forged", "stale", "not-a-number", "no-signature", "unknown-key"]
    )

    @settings(FUZZ, max_examples=20)
    @given(case=operation.as_strategy(GenerationMode.POSITIVE), kind=kinds)
    def run(case, kind):
        raw = _raw_body(case)
        headers = signed_headers(
            client_key=api_client.key_id, secret=SECRET, method="POST", path=path, body=raw
        )
        response = _send(case, raw, spoil(kind, headers))
        case.validate_response(response, checks=CHECKS)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"][0].startswith("HMAC-SHA256")
        body = response.json()
        assert body["message"], response.text
        assert body["extra"]["field"].startswith("X-Portal-"), response.text

    run()
    assert not SyncDocument.objects.exists()


# --- The fixes the fuzzing led to ------------------------------------------------------------


def _post(client, api_client, path: str, raw: bytes, content_type: str = "application/json"):
    headers = signed_headers(
        client_key=api_client.key_id, secret=SECRET, method="POST", path=path, body=raw
    )
    return client.generic(
        "POST", path, raw, content_type=content_type, headers={**headers, "Accept-Language": "en"}
    )


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_every_schema_example_is_accepted(path, api_schema, api_client, client):
    """F1.1 F2.1 F3.1 F4.1 F5.1 F8.3: GIVEN the example document the schema shows for an
    endpoint WHEN it is pushed THEN it is accepted (202): the sales-outbound example used to be a
    sales-out row without o_id, which the endpoint refuses."""
    body = api_schema.raw_schema["paths"][path]["post"]["requestBody"]["content"]
    example = body["application/json"]["examples"]["Document"]["value"]
    answer = _post(client, api_client, path, json.dumps(example).encode())
    assert answer.status_code == 202, answer.content
    assert answer.json()["accepted"] == 1


def test_rejected_documents_keep_their_index_a_number(api_client, client):
    """F2.1: GIVEN an array whose second order has no o_id WHEN pushed THEN the 400 names
    documents[].field o_id with index 1 as a JSON number (it used to be the string "1")."""
    raw = json.dumps(
        [{"o_id": 1, "so_id": "A-1", "shop_id": 1}, {"so_id": "A-2", "shop_id": 1}]
    ).encode()
    answer = _post(client, api_client, "/jushuitan/order/outbound", raw)
    assert answer.status_code == 400
    (rejected,) = answer.json()["extra"]["fields"]["documents"]
    assert rejected["index"] == 1 and rejected["field"] == "o_id" and rejected["message"]


def test_a_body_that_is_no_json_is_named_as_the_field(api_client, client):
    """F4.1: GIVEN a signed body that is not JSON WHEN pushed THEN 400 names the field body
    with the parser's reason."""
    answer = _post(client, api_client, "/kdcloud/purchase/inbound", b"{not json")
    assert answer.status_code == 400
    body = answer.json()
    assert body["message"] == "The request body is not valid JSON."
    assert body["extra"]["fields"]["body"][0]


def test_a_body_over_the_size_limit_is_refused_in_json(api_client, client, settings):
    """F4.1: GIVEN a signed body larger than DATA_UPLOAD_MAX_MEMORY_SIZE WHEN pushed THEN 413
    in the portal's JSON shape, naming the body and the limit (Django alone would answer its
    HTML "Bad Request" page), and nothing is stored."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    raw = json.dumps([{"FBillNo": "CGRK-" + "9" * 2000}]).encode()
    answer = _post(client, api_client, "/kdcloud/purchase/inbound", raw)
    assert answer.status_code == 413, answer.content
    body = answer.json()
    assert body["message"].startswith("The request body is larger than 1000 bytes")
    assert body["extra"] == {"field": "body", "limit": 1000}
    assert not SyncDocument.objects.exists()


def test_only_json_bodies_are_taken(api_client, client):
    """F1.1: GIVEN a form-encoded body (the schema documents JSON only) WHEN pushed THEN 415
    saying which media type was refused, never a parse of form fields as a document."""
    answer = _post(
        client,
        api_client,
        "/kdcloud/material/sync",
        b"FNumber=X",
        "application/x-www-form-urlencoded",
    )
    assert answer.status_code == 415
    assert "application/x-www-form-urlencoded" in answer.json()["message"]


def test_unsigned_call_names_the_missing_headers(api_client, client):
    """S3 / F2.1: GIVEN no signature and no staff session WHEN pushed THEN 401 names the
    X-Portal-* headers (DRF said only "credentials were not provided")."""
    answer = client.post(
        "/jushuitan/order/outbound", {}, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert answer.status_code == 401
    body = answer.json()
    assert "X-Portal-Signature" in body["message"] and body["extra"]["field"] == "X-Portal-Key"


def test_schema_documents_the_bodies_and_the_three_signing_headers(api_schema):
    """F1.1 F2.1 F3.1 F4.1 F5.1 F8.3 / S3: every endpoint documents its document shape with
    its required keys (one object or an array; no body = pull) and the HMAC headers."""
    raw = api_schema.raw_schema
    schemes = raw["components"]["securitySchemes"]
    assert {schemes[n]["name"] for n in ("PortalKey", "PortalTimestamp", "PortalSignature")} == {
        "X-Portal-Key",
        "X-Portal-Timestamp",
        "X-Portal-Signature",
    }
    required = {
        "/kdcloud/material/sync": {"FNumber", "FName"},
        "/jushuitan/order/outbound": {"o_id", "so_id", "shop_id"},
        "/jushuitan/order/refund": {"as_id", "so_id", "shop_id"},
        "/kdcloud/purchase/inbound": {"FBillNo", "FInStockEntry"},
        "/kdcloud/purchase/return": {"FBillNo", "FPURMRBENTRY"},
        "/kdcloud/inventory/adjust": {"FBillNo", "FEntity"},
    }
    for path, keys in required.items():
        operation = raw["paths"][path]["post"]
        assert {"PortalKey": [], "PortalTimestamp": [], "PortalSignature": []} in operation[
            "security"
        ]
        body = operation["requestBody"]
        assert not body.get("required") and list(body["content"]) == ["application/json"]
        one, many = body["content"]["application/json"]["schema"]["oneOf"]
        assert set(one["required"]) == keys and many["items"] == one
