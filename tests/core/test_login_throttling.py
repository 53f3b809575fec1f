"""Issue #12: staff login throttling (django-axes): repeated failures lock the account for that
address; a correct password then still fails until the cool-off ends."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_five_failures_lock_the_login(client):
    get_user_model().objects.create_user("clerk", password="right-pass-2026", is_staff=True)
    for _ in range(5):
        page = client.post("/admin/login/", {"username": "clerk", "password": "wrong"})
        assert page.status_code in (200, 429)
    locked = client.post("/admin/login/", {"username": "clerk", "password": "right-pass-2026"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_good_login_works(client):
    get_user_model().objects.create_user("clerk2", password="right-pass-2026", is_staff=True)
    page = client.post(
        "/admin/login/?next=/admin/", {"username": "clerk2", "password": "right-pass-2026"}
    )
    assert page.status_code == 302
