"""S3: Kingdee connections are configured in the admin; "test connection" reports clearly."""

import pytest
from django.contrib.auth import get_user_model

from connectors.kingdee.models import KingdeeAuthMode, KingdeeConnection

pytestmark = pytest.mark.django_db(transaction=True)


def _run_action(client, connection, **headers):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(admin)
    return client.post(
        "/admin/kingdee/kingdeeconnection/",
        {"action": "test_connection", "_selected_action": [connection.pk]},
        follow=True,
        headers=headers,
    )


def test_test_connection_action_reports_success(client, kingdee_connection):
    """GIVEN a connection to the sandbox WHEN the admin runs "test connection" THEN it reports
    the warehouses it could read and stores the result."""
    kingdee_connection.auth_mode = KingdeeAuthMode.LOGIN_BY_APP_SECRET
    kingdee_connection.save()
    answer = _run_action(client, kingdee_connection)
    text = answer.content.decode()
    assert "3" in text and kingdee_connection.name in text
    kingdee_connection.refresh_from_db()
    assert kingdee_connection.last_check_ok is True
    assert "3" in kingdee_connection.last_check_message


def test_test_connection_action_reports_bad_credentials(client, kingdee_connection):
    """GIVEN a wrong app secret WHEN tested THEN an error message says what to check."""
    kingdee_connection.app_secret = "e" * 32
    kingdee_connection.save()
    _run_action(client, kingdee_connection, **{"Accept-Language": "en"})
    stored = KingdeeConnection.objects.get(pk=kingdee_connection.pk)
    assert stored.last_check_ok is False
    assert "app secret" in stored.last_check_message
    assert stored.app_secret == "e" * 32  # the secret stays encrypted and intact
