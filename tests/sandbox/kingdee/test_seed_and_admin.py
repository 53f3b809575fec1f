"""The demo seed (idempotent, by command) and the read-only admin of the simulated Kingdee."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from sandbox import demo_catalogue as demo
from sandbox.kingdee import services
from sandbox.kingdee.models import KdBaseData, KdBill, KdStockBalance

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent_and_keeps_posted_stock():
    """F9.1: GIVEN the demo catalogue WHEN seeded twice THEN one record per number, and stock
    changed since the first seed is not reset."""
    first = services.seed_demo()
    assert first["materials"] == len(demo.MATERIALS) and first["balances"] == len(
        demo.OPENING_STOCK
    )
    KdStockBalance.objects.filter(stock_number="20001", material_number="SKU-PB-1001").update(
        base_qty=7
    )
    call_command("sandbox_kingdee_seed")
    assert KdBaseData.objects.filter(form_id="BD_MATERIAL").count() == len(demo.MATERIALS)
    assert KdBaseData.objects.filter(form_id="BD_Customer", number="CUST-AMZ-DE").exists()
    assert (
        KdStockBalance.objects.get(stock_number="20001", material_number="SKU-PB-1001").base_qty
        == 7
    )
    lamp = KdBaseData.objects.get(form_id="BD_MATERIAL", number="SKU-LAMP-1501")
    assert lamp.fields["f_paez_hscode"] == ""  # F1.4: planted missing HS code
    call_command("sandbox_kingdee_seed", "--reset")
    assert (
        KdStockBalance.objects.get(stock_number="20001", material_number="SKU-PB-1001").base_qty
        == 500
    )


def test_admin_shows_simulated_documents_read_only(client):
    services.seed_demo()
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")
    client.force_login(admin)
    KdBill.objects.create(form_id="SAL_OUTSTOCK", bill_no="XSCKD000001", org_number="100")
    for name in ("kdbill", "kdbasedata", "kdstockbalance", "kdsession", "kdnumbersequence"):
        answer = client.get(f"/admin/sandbox_kingdee/{name}/")
        assert answer.status_code == 200, name
    bill = KdBill.objects.get()
    assert client.get(f"/admin/sandbox_kingdee/kdbill/{bill.pk}/change/").status_code == 200
    assert client.get("/admin/sandbox_kingdee/kdbill/add/").status_code == 403
