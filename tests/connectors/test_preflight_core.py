"""Preflight runner (K3 go-live; checks come from each system's `preflight` module)."""

import pytest
from django.core.management import call_command

from connectors import preflight
from connectors.preflight import Check, preflight_failures, preflight_run


@pytest.fixture
def fake_system():
    calls = []

    @preflight.provider("fake")
    def good(integration):
        calls.append(integration.pk)
        yield Check(system="fake", key="fake.login", title="login", ok=True)
        yield Check(
            system="fake",
            key="fake.form.X",
            title="form X",
            ok=False,
            flows=("f_one",),
            detail="MsgCode 9",
            fix="create it",
        )
        yield Check(system="fake", key="fake.shops", title="shops", ok=False, info=True)

    @preflight.provider("fake")
    def broken(integration):
        raise RuntimeError("boom")

    yield calls
    preflight._PROVIDERS.pop("fake", None)


@pytest.mark.django_db
def test_run_stores_every_check_and_a_crash_is_a_failure(integration, fake_system):
    """GIVEN a provider that finds a missing form and one that crashes
    WHEN the preflight runs THEN the run fails, keeps the remote detail and the fix, and the
    crash is a failed check naming the exception, never a pass."""
    run = preflight_run(integration=integration, systems=["fake"], requested_by="tester")
    assert fake_system == [integration.pk]
    assert run.ok is False and run.finished_at is not None
    keys = {row["key"]: row for row in run.results}
    assert keys["fake.form.X"]["detail"] == "MsgCode 9"
    assert keys["fake.provider.broken"]["ok"] is False
    assert "RuntimeError: boom" in keys["fake.provider.broken"]["detail"]
    gating = preflight_failures(integration=integration, system="fake", flow_code="f_one")
    assert {c.key for c in gating} == {"fake.form.X", "fake.provider.broken"}
    other = preflight_failures(integration=integration, system="fake", flow_code="f_two")
    assert {c.key for c in other} == {"fake.provider.broken"}  # info rows never gate


@pytest.mark.django_db
def test_never_run_counts_as_a_failure(integration):
    gating = preflight_failures(integration=integration, system="nowhere", flow_code="x")
    assert [c.key for c in gating] == ["nowhere.never_run"]


@pytest.mark.django_db
def test_command_exits_non_zero_on_failure(integration, fake_system, capsys):
    with pytest.raises(SystemExit) as stop:
        call_command("preflight", integration=integration.code, system=["fake"])
    assert stop.value.code == 1
    out = capsys.readouterr().out
    assert "[FAIL] fake fake.form.X" in out and "→ create it" in out
