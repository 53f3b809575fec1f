"""Issue 16 #7, #9, #10: signed push calls. A signature is normalised before the replay store
(case variants of a used signature are the same signature), every failed signature gets one
answer (no probing which keys exist), and an API client never has an empty or weak secret."""

import json

import pytest

from flows.api.authentication import signed_headers
from flows.choices import FlowCode
from flows.models import ApiClient

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/kdcloud/inventory/adjust"
SECRET = "Pz7-w1K9qXe4Rt2Lm8Vb5Nc3Hd6Jf0Gs1Ya4Uo"


@pytest.fixture(autouse=True)
def _purge_queued_tasks():
    """An accepted empty push queues a pull on the run's private broker: drop it after."""
    from integration_portal.celery import app

    yield
    app.control.purge()


@pytest.fixture
def api(make_integration):
    from flows.services import flow_ensure

    integration = make_integration("sig")
    flow_ensure(integration=integration, code=FlowCode.INVENTORY_ADJUST, enabled=True)
    return ApiClient.objects.create(name="plug-in", integration=integration, secret=SECRET)


def _post(client, headers: dict, body: bytes = b""):
    return client.post(
        PATH,
        data=body,
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()},
    )


def _signed(api, secret=SECRET, body=b""):
    return signed_headers(client_key=api.key_id, secret=secret, method="POST", path=PATH, body=body)


def test_replay_in_any_letter_case_is_refused(client, api):
    """Issue 16 #7: GIVEN a signed push that was accepted WHEN the same request is sent again
    with the signature upper-cased, mixed-case or padded with spaces THEN each is refused as a
    replay (401), because the signature is normalised before the replay store."""
    headers = _signed(api)
    first = _post(client, headers)
    assert first.status_code == 202, first.content
    signature = headers["X-Portal-Signature"]
    variants = [
        signature,
        signature.upper(),
        "".join(c.upper() if i % 2 else c for i, c in enumerate(signature)),
        f"  {signature.upper()} ",
    ]
    for variant in variants:
        again = _post(client, {**headers, "X-Portal-Signature": variant})
        assert again.status_code == 401, (variant, again.content)
        assert "replay" in again.json()["message"]


def test_every_failed_signature_gets_the_same_answer(client, api):
    """Issue 16 #10: GIVEN an unknown key, a disabled key, a wrong signature and signatures of
    the wrong shape (too short, not hex, not ASCII) WHEN each is sent THEN every answer is the
    same 401 with the same message and the same header named: nobody learns which keys exist."""
    disabled = ApiClient.objects.create(
        name="old plug-in", integration=api.integration, secret=SECRET, enabled=False
    )
    good = _signed(api)
    cases = {
        "unknown key": {**good, "X-Portal-Key": "no-such-key"},
        "disabled key": _signed(disabled),
        "wrong signature": {**good, "X-Portal-Signature": "0" * 64},
        "wrong secret": _signed(api, secret=SECRET[::-1]),
        "too short": {**good, "X-Portal-Signature": good["X-Portal-Signature"][:40]},
        "not hex": {**good, "X-Portal-Signature": "z" * 64},
        "not ascii": {**good, "X-Portal-Signature": "é" * 64},
    }
    answers = {name: _post(client, headers) for name, headers in cases.items()}
    bodies = {name: (a.status_code, a.json()) for name, a in answers.items()}
    assert len({json.dumps(b, sort_keys=True) for b in bodies.values()}) == 1, bodies
    status, body = bodies["unknown key"]
    assert status == 401
    assert body["extra"] == {"field": "X-Portal-Signature"}
    # The genuine request still goes through: none of the refusals used up its signature.
    assert _post(client, good).status_code == 202


def test_no_api_client_without_a_strong_secret(client, api):
    """Issue 16 #9: GIVEN an API client created with an empty secret THEN it gets a generated
    strong one (never ''), and calls signed with '' are refused; a row whose secret was emptied
    behind the portal's back is refused too, with the same answer as any bad signature."""
    blank = ApiClient.objects.create(name="blank", integration=api.integration, secret="")
    blank.refresh_from_db()
    assert len(blank.secret) >= 32
    assert _post(client, _signed(blank, secret="")).status_code == 401

    ApiClient.objects.filter(pk=blank.pk).update(secret="")  # a legacy row: stored empty
    blank.refresh_from_db()
    assert blank.secret == ""
    refused = _post(client, _signed(blank, secret=""))
    assert refused.status_code == 401
    assert refused.json()["extra"] == {"field": "X-Portal-Signature"}


def test_operators_set_generate_and_rotate_secrets_in_the_admin(client, api):
    """Issue 16 #1/#9: GIVEN the operator in the admin WHEN an API client is added with a weak
    secret THEN the form refuses it naming the rule; WHEN added with the secret left blank THEN
    a strong one is generated and shown once (never cached), and the change page afterwards
    shows no secret; WHEN the secret is rotated THEN the new one is shown once, works, and the
    old one is refused."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from core.roles import Role

    operator = get_user_model().objects.create_user("ops-admin", is_staff=True)
    operator.groups.set([Group.objects.get(name=Role.OPERATOR)])
    client.force_login(operator)
    form = {
        "name": "new plug-in",
        "integration": api.integration_id,
        "enabled": "on",
        "requests_per_minute": 600,
    }
    weak = client.post(
        "/admin/flows/apiclient/add/", {**form, "secret": "hook-secret"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert weak.status_code == 200
    assert "at least 32 characters" in weak.content.decode()
    assert not ApiClient.objects.filter(name="new plug-in").exists()

    added = client.post("/admin/flows/apiclient/add/", {**form, "secret": ""})
    assert added.status_code == 200 and "no-store" in added["Cache-Control"]
    created = ApiClient.objects.get(name="new plug-in")
    assert len(created.secret) >= 32 and created.secret in added.content.decode()
    change_page = client.get(f"/admin/flows/apiclient/{created.pk}/change/").content.decode()
    assert created.secret not in change_page

    old = api.secret
    rotated = client.post(
        "/admin/flows/apiclient/",
        {"action": "rotate_secret", "_selected_action": [api.pk], "index": "0"},
    )
    api.refresh_from_db()
    assert api.secret != old and api.secret in rotated.content.decode()
    client.logout()
    assert _post(client, _signed(api, secret=old)).status_code == 401
    assert _post(client, _signed(api, secret=api.secret)).status_code == 202
