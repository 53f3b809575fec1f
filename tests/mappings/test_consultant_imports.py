"""Issue 24 point 6: imports a consultant can use: templates with an example row and the
allowed values, errors that list the valid choices, dry runs that check codes against what
the target system listed (the M4 snapshot), alert-rule fields as choices."""

import re

import pytest
import tablib

from mappings.services import import_table

pytestmark = pytest.mark.django_db


def csv(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


def test_templates_carry_an_example_row_and_the_allowed_values(integration, admin_client):
    """GIVEN the account-mapping table WHEN its templates are downloaded THEN the csv has the
    headers and one example row (the integration's real code, a valid purpose) and the xlsx
    has the same first sheet plus a sheet listing every column's allowed values (and a third
    with the target systems' codes, empty before they were read)."""
    url = "/admin/mappings/accountmapping/template/"
    text = admin_client.get(f"{url}csv/").content.decode().splitlines()
    assert text[0] == "integration,org_number,purpose,shop_id,account_number,account_name"
    example = text[1].split(",")
    assert example[0] == integration.code and example[2] == "revenue"
    assert example[1] and example[4]  # taken from the fields' "e.g." help

    book = tablib.Databook().load(admin_client.get(f"{url}xlsx/").content, format="xlsx")
    data, guide, codes = book.sheets()
    assert data.headers[:3] == ["integration", "org_number", "purpose"] and len(data) == 1
    allowed = {row[0]: row[2] for row in guide}
    assert "tariff = " in allowed["purpose"] and "fx_gain_loss = " in allowed["purpose"]
    assert integration.code in allowed["integration"]
    assert len(codes) == 0  # nothing pulled from the systems yet: no codes to list


def test_a_wrong_choice_is_rejected_with_the_valid_values_listed(integration):
    """GIVEN an account mapping row with purpose “duty” WHEN dry-run imported THEN the error
    names the field and lists every valid purpose, e.g. tariff."""
    report = import_table(
        table="account",
        content=csv(
            "integration,org_number,purpose,shop_id,account_number,account_name",
            f"{integration.code},100,duty,,6001,Duty",
        ),
        file_format="csv",
        dry_run=True,
    )
    assert not report.ok
    message = " ".join(text for _row, text in report.row_errors)
    assert "duty" in message and "tariff" in message and "fx_gain_loss" in message


@pytest.mark.django_db(transaction=True)
def test_dry_run_checks_codes_against_the_target_systems_snapshot(demo_integration):
    """GIVEN an initialised integration (Kingdee's customers read into the snapshot) WHEN a
    shop mapping naming customer CUST-NOPE is dry-run imported THEN that row is refused,
    naming the code and Kingdee (asked again, it still has no such customer); a row naming
    CUST-AMZ-DE passes, and so does a customer created in Kingdee after the initialisation
    (Kingdee is asked about codes the snapshot lacks, and the snapshot learns them)."""
    from connectors.kingdee.client import client_for
    from mappings.models import KnownCode

    code = demo_integration.code
    bad = import_table(
        table="shop_customer",
        content=csv("integration,shop_id,customer_number", f"{code},10001,CUST-NOPE"),
        file_format="csv",
        dry_run=True,
    )
    assert not bad.ok
    errors = " ".join(text for _row, text in bad.row_errors)
    assert "CUST-NOPE" in errors and ("金蝶" in errors or "Kingdee" in errors), errors
    assert "初始化" in errors or "Initialise" in errors, errors
    good = import_table(
        table="shop_customer",
        content=csv("integration,shop_id,customer_number", f"{code},10005,CUST-AMZ-DE"),
        file_format="csv",
        dry_run=True,
    )
    assert good.ok, good.row_errors

    created = client_for(demo_integration.kingdee).save(
        "BD_Customer",
        {
            "FNumber": "CUST-NEW-24",
            "FName": "New customer",
            "FCreateOrgId": {"FNumber": "100"},
            "FUseOrgId": {"FNumber": "100"},
        },
        auto_submit_audit=True,
    )
    assert created.ok, created.errors
    later = import_table(
        table="shop_customer",
        content=csv("integration,shop_id,customer_number", f"{code},10002,CUST-NEW-24"),
        file_format="csv",
        dry_run=True,
    )
    assert later.ok, later.row_errors
    assert KnownCode.objects.filter(
        integration=demo_integration, system="kingdee", kind="customer", code="CUST-NEW-24"
    ).exists()


def test_alert_rule_fields_are_choices(admin_client):
    """GIVEN the alert rule form WHEN a rule is added with ticked error classes and flows THEN
    it stores the engine's values; a typed value that never occurs is refused."""
    from connectors.dingtalk.models import RobotChannel
    from monitoring.models import AlertRule

    channel = RobotChannel.objects.create(
        name="ops",
        kind="dingtalk",
        webhook_url="https://oapi.dingtalk.com/robot/send?access_token=x",
    )
    page = admin_client.get("/admin/monitoring/alertrule/add/").content.decode()
    assert 'type="checkbox" name="error_classes" value="missing_mapping"' in page
    assert 'type="checkbox" name="flow_codes" value="sales_outbound"' in page
    form = {
        "name": "Mapping gaps",
        "enabled": "on",
        "channel": channel.pk,
        "error_classes": ["missing_mapping", "auth"],
        "flow_codes": ["sales_outbound"],
        "min_severity": "error",
        "threshold_count": 1,
        "threshold_minutes": 10,
        "dedupe_minutes": 30,
    }
    response = admin_client.post("/admin/monitoring/alertrule/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = AlertRule.objects.get(name="Mapping gaps")
    assert (rule.error_classes, rule.flow_codes) == ("missing_mapping, auth", "sales_outbound")
    response = admin_client.post(
        "/admin/monitoring/alertrule/add/",
        {**form, "name": "Old", "error_classes": ["MappingMissing"], "flow_codes": ["F2"]},
    )
    assert response.status_code == 200 and not AlertRule.objects.filter(name="Old").exists()


def test_alert_rule_mentions_are_picked_from_the_alert_contacts(admin_client, admin_user):
    """Issue 24 point 6: GIVEN an alert contact with a mobile WHEN a rule is added THEN the
    @ mobiles are ticked from the contacts and stored; a mobile typed in that belongs to no
    contact is refused (it would @ nobody the portal knows)."""
    from connectors.dingtalk.models import RobotChannel
    from monitoring.models import AlertContact, AlertRule

    AlertContact.objects.create(user=admin_user, mobile="13800000000")
    channel = RobotChannel.objects.create(
        name="ops",
        kind="dingtalk",
        webhook_url="https://oapi.dingtalk.com/robot/send?access_token=x",
    )
    page = admin_client.get("/admin/monitoring/alertrule/add/").content.decode()
    assert 'type="checkbox" name="mention_mobiles" value="13800000000"' in page
    form = {
        "name": "Finance",
        "enabled": "on",
        "channel": channel.pk,
        "min_severity": "error",
        "threshold_count": 1,
        "threshold_minutes": 10,
        "dedupe_minutes": 30,
        "mention_mobiles": ["13800000000"],
    }
    response = admin_client.post("/admin/monitoring/alertrule/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert AlertRule.objects.get(name="Finance").mention_mobile_list == ["13800000000"]
    response = admin_client.post(
        "/admin/monitoring/alertrule/add/",
        {**form, "name": "Typed", "mention_mobiles": ["12345"]},
    )
    assert response.status_code == 200 and not AlertRule.objects.filter(name="Typed").exists()
    rule = AlertRule.objects.get(name="Finance")
    AlertRule.objects.filter(pk=rule.pk).update(mention_mobiles="13800000000 13900000000")
    page = admin_client.get(f"/admin/monitoring/alertrule/{rule.pk}/change/").content.decode()
    kept = re.search(r'<input[^>]*name="mention_mobiles" value="13900000000"[^>]*>', page)
    assert kept and "checked" in kept.group(0), "an older value stays listed and ticked"
