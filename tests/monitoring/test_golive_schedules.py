"""Issue 24 point 1: schedules are part of the install (a plain `migrate` creates every
system schedule the apps declare, keeping admin edits) and the go-live checklist lists the
missing or disabled ones; G4 says "refreshed automatically" only when that is true."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.schedules import declared_schedules
from monitoring.checklist import checklist_for

pytestmark = pytest.mark.django_db(transaction=True)


def by_code(integration):
    return {item.code: item for item in checklist_for(integration=integration)}


def test_plain_migrate_installs_every_system_schedule_and_keeps_admin_edits():
    """GIVEN a portal whose periodic tasks were all deleted and one edited in the admin (5 min,
    disabled) WHEN `manage.py migrate` runs (no demo, no setup_schedules) THEN every declared
    system schedule exists again, exactly once, and the admin edit survives."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    declared = {entry["name"] for entry in declared_schedules()}
    assert {"Jushuitan: keep tokens fresh", "flows: sweep due documents"} <= declared
    assert set(PeriodicTask.objects.values_list("name", flat=True)) >= declared  # test DB's own
    PeriodicTask.objects.exclude(name="monitoring: purge events past the retention").delete()
    purge = PeriodicTask.objects.get(name="monitoring: purge events past the retention")
    purge.interval, _ = IntervalSchedule.objects.get_or_create(every=300, period="seconds")
    purge.enabled = False
    purge.save()

    call_command("migrate", verbosity=0, interactive=False)

    names = list(PeriodicTask.objects.values_list("name", flat=True))
    assert declared <= set(names)
    assert all(names.count(name) == 1 for name in declared)
    purge.refresh_from_db()
    assert (purge.interval.every, purge.enabled) == (300, False)


@pytest.mark.usefixtures("english")
def test_checklist_lists_missing_and_disabled_schedules_and_g4_tells_the_truth(
    make_integration, admin_client
):
    """GIVEN an install where the token refresh is disabled and the FX fetch deleted WHEN the
    checklist is read THEN S1 is missing and names both; G4 (token valid) no longer claims the
    token refreshes automatically; once both are back S1 and G4 pass."""
    from django_celery_beat.models import PeriodicTask

    from connectors.jushuitan.models import JushuitanConnection

    integration = make_integration()
    JushuitanConnection.objects.filter(pk=integration.jushuitan_id).update(
        access_token="t", token_expires_at=timezone.now() + timedelta(days=20)
    )
    integration.refresh_from_db()
    assert by_code(integration)["S1"].status == "ok"
    assert "refreshed automatically every 30 minutes" in by_code(integration)["G4"].summary

    PeriodicTask.objects.filter(name="Jushuitan: keep tokens fresh").update(enabled=False)
    PeriodicTask.objects.filter(name="Fetch exchange rates (PBOC central parity)").delete()
    items = by_code(integration)
    assert items["S1"].status == "missing"
    assert "disabled: Jushuitan: keep tokens fresh" in items["S1"].details
    assert "missing: Fetch exchange rates (PBOC central parity)" in items["S1"].details
    assert items["S1"].fix_url == "/admin/django_celery_beat/periodictask/"
    assert items["G4"].status == "warning"
    assert "automatically" not in items["G4"].summary
    assert "nothing refreshes it" in items["G4"].summary
    page = admin_client.get("/monitoring/checklist/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-code="S1"' in page and "Fetch exchange rates (PBOC central parity)" in page

    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    PeriodicTask.objects.filter(name="Jushuitan: keep tokens fresh").update(enabled=True)
    items = by_code(integration)
    assert items["S1"].status == "ok" and items["G4"].status == "ok"
