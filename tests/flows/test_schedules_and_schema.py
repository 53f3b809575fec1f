"""Schedules are created idempotently (admin edits survive); the flow endpoints are documented
in the OpenAPI schema with their authentication."""

import pytest
import yaml

from core.schedules import schedules_setup
from flows.services import flow_ensure, flow_schedule_name

pytestmark = pytest.mark.django_db


def test_schedules_are_idempotent_and_keep_admin_edits(make_integration):
    """GIVEN a flow schedule an operator changed to 5 minutes and disabled WHEN the setup runs
    again THEN the edit survives and no duplicate task appears."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    flow = flow_ensure(integration=make_integration(), code="sales_outbound", enabled=True)
    task = PeriodicTask.objects.get(name=flow_schedule_name(flow))
    assert task.interval.every == 60
    task.interval, _ = IntervalSchedule.objects.get_or_create(every=300, period="seconds")
    task.enabled = False
    task.save()
    flow_ensure(integration=flow.integration, code="sales_outbound")
    schedules_setup()
    created, _kept = schedules_setup()
    assert created == 0
    task.refresh_from_db()
    assert (task.interval.every, task.enabled) == (300, False)
    assert PeriodicTask.objects.filter(name=flow_schedule_name(flow)).count() == 1
    assert PeriodicTask.objects.filter(task="flows.tasks.sweep").count() == 1


def test_openapi_schema_documents_the_endpoints(admin_client):
    schema = yaml.safe_load(admin_client.get("/api/schema/").content)
    for path in ("/jushuitan/order/outbound", "/jushuitan/order/refund"):
        operation = schema["paths"][path]["post"]
        assert {"202", "400", "401"} <= set(operation["responses"])
        # One requirement: the three signing headers together.
        assert any("PortalSignature" in entry for entry in operation["security"])
    schemes = schema["components"]["securitySchemes"]
    assert {"PortalKey", "PortalTimestamp", "PortalSignature"} <= set(schemes)
    assert admin_client.get("/api/docs/").status_code == 200
