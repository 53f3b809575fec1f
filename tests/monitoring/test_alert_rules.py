"""Alert rules: matching, deduplication, thresholds and mentions (O2). No robot is called:
alert_raise only stores alerts; delivery is tested in test_alert_dispatch.py."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from connectors.dingtalk.models import RobotChannel
from monitoring.alerts import AlertError, alert_raise, alerts_expire_pending, rules_matching
from monitoring.choices import AlertStatus
from monitoring.models import Alert, AlertContact, AlertRule

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def channel(allow_sandbox_hosts, celery_memory_broker):
    channel = RobotChannel(
        name="finance group",
        webhook_url="https://oapi.dingtalk.com/robot/send?access_token=abc",
        secret="SECabc",
        at_mobiles="13900000000",
    )
    channel.full_clean()
    channel.save()
    return channel


def _raise(**overrides):
    facts = {
        "title": "销售出库失败 SO-1",
        "text": "缺少物料映射 SKU-GIFT-9001",
        "error_class": "MappingMissing",
        "flow_code": "F2",
    }
    facts.update(overrides)
    return alert_raise(**facts)


def test_o2_rules_match_by_class_flow_integration_and_severity(channel):
    """GIVEN rules with class patterns, flows, an integration and a minimum severity
    WHEN alerts are raised THEN exactly the matching rules store an alert."""
    from connectors.jushuitan.models import JushuitanConnection
    from connectors.kingdee.models import KingdeeConnection
    from connectors.models import Integration

    catch_all = AlertRule.objects.create(name="all errors", channel=channel)
    mapping = AlertRule.objects.create(
        name="mappings in F1/F2", channel=channel, error_classes="Mapping*", flow_codes="F1,F2"
    )
    critical = AlertRule.objects.create(
        name="critical only", channel=channel, min_severity="critical"
    )
    kingdee = KingdeeConnection.objects.create(
        name="k", server_url="https://k.example.com/k3cloud/", acct_id="1", username="u"
    )
    jushuitan_fields = {
        f.name: "x"
        for f in JushuitanConnection._meta.fields
        if f.get_internal_type() in ("CharField", "TextField") and not f.blank
    }
    jushuitan_fields["name"] = "j"
    jushuitan = JushuitanConnection.objects.create(**jushuitan_fields)
    integration = Integration.objects.create(
        name="main", code="main", kingdee=kingdee, jushuitan=jushuitan
    )
    other = Integration.objects.create(
        name="second", code="second", kingdee=kingdee, jushuitan=jushuitan
    )
    scoped = AlertRule.objects.create(name="main only", channel=channel, integration=integration)
    AlertRule.objects.create(name="disabled", channel=channel, enabled=False)

    def names(**facts):
        return {r.name for r in rules_matching(**facts)}

    assert names(error_class="MappingMissing", flow_code="F2") == {catch_all.name, mapping.name}
    assert names(error_class="MappingMissing", flow_code="F4") == {catch_all.name}
    assert names(error_class="RateLimited", flow_code="F2", severity="warning") == set()
    assert names(error_class="RateLimited", severity="critical") == {catch_all.name, critical.name}
    assert names(error_class="X", integration_id=integration.pk) == {catch_all.name, scoped.name}
    assert names(error_class="X", integration_id=other.pk) == {catch_all.name}
    alerts = _raise(integration_id=integration.pk)
    assert {a.rule.name for a in alerts} == {catch_all.name, mapping.name, scoped.name}
    assert all(a.status == AlertStatus.QUEUED and a.channel == channel for a in alerts)
    unknown = _raise(title="unknown integration", integration_id=999999)
    assert {a.integration_id for a in unknown} == {None}
    channel.enabled = False
    channel.save()
    assert _raise(title="another") == []


def test_o2_unknown_severity_is_refused(channel):
    AlertRule.objects.create(name="all", channel=channel)
    with pytest.raises(AlertError):
        _raise(severity="fatal")


def test_o2_same_key_within_the_window_is_counted_not_repeated(channel):
    """GIVEN a rule deduplicating for 30 minutes WHEN the same failure is raised three times
    THEN one alert carries occurrences=3; after the window a new alert is stored."""
    rule = AlertRule.objects.create(name="all", channel=channel, dedupe_minutes=30)
    first = _raise(dedupe_key="F2:SO-1")[0]
    _raise(dedupe_key="F2:SO-1")
    again = _raise(dedupe_key="F2:SO-1")[0]
    assert again.pk == first.pk and again.occurrences == 3
    assert Alert.objects.count() == 1
    # without an explicit key, identical facts are the same alert; different text is not
    auto = _raise(title="other")[0]
    assert _raise(title="other")[0].pk == auto.pk
    assert _raise(title="other", text="different")[0].pk != auto.pk
    Alert.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=31))
    assert _raise(dedupe_key="F2:SO-1")[0].pk != first.pk
    rule.dedupe_minutes = 0
    rule.save()
    assert _raise(title="other")[0].pk != auto.pk


def test_o2_threshold_n_failures_in_m_minutes(channel):
    """GIVEN a rule '3 failures in 10 minutes' WHEN two failures happen THEN nothing is
    queued; the third queues all three; two lone failures expire as below threshold."""
    AlertRule.objects.create(
        name="3 in 10", channel=channel, threshold_count=3, threshold_minutes=10
    )
    a = _raise(title="SO-1")[0]
    b = _raise(title="SO-2")[0]
    assert {a.status, b.status} == {AlertStatus.PENDING}
    c = _raise(title="SO-3")[0]
    assert c.status == AlertStatus.QUEUED
    assert set(Alert.objects.values_list("status", flat=True)) == {AlertStatus.QUEUED}
    d = _raise(title="SO-4")[0]
    e = _raise(title="SO-5")[0]
    assert {d.status, e.status} == {AlertStatus.PENDING}
    assert alerts_expire_pending(now=timezone.now() + timedelta(minutes=11)) == 2
    d.refresh_from_db()
    assert d.status == AlertStatus.BELOW_THRESHOLD


def test_o2_mentions_of_the_rule_the_role_and_the_channel(channel):
    """GIVEN a rule that @-mentions finance and a mobile, and the alert's own role
    (purchasing) WHEN raised THEN the members' mobiles, the rule's and the channel's are @."""
    finance, _ = Group.objects.get_or_create(name="finance")
    purchasing, _ = Group.objects.get_or_create(name="purchasing")
    alice = User.objects.create_user("alice")
    alice.groups.add(finance)
    bob = User.objects.create_user("bob")
    bob.groups.add(purchasing)
    carol = User.objects.create_user("carol")
    carol.groups.add(finance)
    AlertContact.objects.create(user=alice, mobile="13800000001", dingtalk_user_id="alice01")
    AlertContact.objects.create(user=bob, mobile="13800000002")
    AlertContact.objects.create(user=carol, mobile="13800000003", enabled=False)
    AlertRule.objects.create(
        name="finance", channel=channel, mention_role="finance", mention_mobiles="13700000000"
    )
    alert = _raise(role="purchasing")[0]
    assert alert.mention_mobiles == ["13900000000", "13700000000", "13800000001", "13800000002"]
    assert alert.mention_user_ids == ["alice01"]
    assert not alert.mention_all


def test_o2_admin_pages_and_test_alert_action(channel, admin_client):
    rule = AlertRule.objects.create(name="all", channel=channel, error_classes="Remote*")
    answer = admin_client.post(
        "/admin/monitoring/alertrule/",
        {"action": "raise_test_alert", "_selected_action": [rule.pk]},
        follow=True,
    )
    assert answer.status_code == 200
    alert = Alert.objects.get()
    assert alert.error_class == "RemoteTest" and alert.severity == "critical"
    for url in (
        "/admin/monitoring/alert/",
        f"/admin/monitoring/alert/{alert.pk}/change/",
        "/admin/monitoring/alertdelivery/",
        "/admin/monitoring/alertcontact/",
        "/admin/monitoring/alertrule/add/",
        "/admin/dingtalk/robotchannel/",
        f"/admin/dingtalk/robotchannel/{channel.pk}/change/",
    ):
        assert admin_client.get(url).status_code == 200, url
