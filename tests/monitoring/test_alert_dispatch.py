"""Alert delivery to the sandbox robots (O2): within 30 s, signed, bursts aggregated within
the robot's limit with every alert accounted for, failures retried or reported."""

import re
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.alerts import (
    alert_raise,
    alerts_dispatch_channel,
    alerts_dispatch_due,
    alerts_recover_stuck,
    alerts_requeue,
)
from monitoring.choices import AlertStatus, DeliveryKind, DeliveryStatus
from monitoring.models import Alert, AlertDelivery, AlertRule
from sandbox import faults
from tests.fixtures.monitoring import DINGTALK, FEISHU, WECOM, inbox, make_channel

pytestmark = pytest.mark.django_db(transaction=True)

DONE = (AlertStatus.SENT, AlertStatus.AGGREGATED)


def _wait(predicate, *, timeout: float, lock):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with lock:
            value = predicate()
        if value:
            return value
        time.sleep(0.2)
    with lock:
        return predicate()


def _failure(number: int, **overrides):
    facts = {
        "title": f"销售出库同步失败 SO-{number:04d}",
        "text": f"金蝶拒绝单据 SO-{number:04d}: 物料 SKU-{number} 不存在。请在映射表补齐后重试。",
        "error_class": "RemoteRejected",
        "flow_code": "F2",
        "dedupe_key": f"F2:SO-{number:04d}",
    }
    facts.update(overrides)
    return alert_raise(**facts)


def _max_in_any_minute(times) -> int:
    times = sorted(times)
    return max(
        (
            sum(1 for t in times[i:] if t - start < timedelta(seconds=60))
            for i, start in enumerate(times)
        ),
        default=0,
    )


def test_o2_alert_reaches_the_robot_within_30_seconds_signed(alert_rule, alert_worker):
    """GIVEN a rule to the signed sandbox DingTalk robot and a running Celery worker
    WHEN the engine raises one alert THEN the robot receives it, with a verified signature,
    within 30 seconds, and the alert is marked sent."""
    started = time.monotonic()
    with alert_worker.db_lock:
        (alert,) = _failure(1, role="finance")
    received = _wait(
        lambda: inbox(DINGTALK["token"], accepted=True).first(),
        timeout=30,
        lock=alert_worker.db_lock,
    )
    elapsed = time.monotonic() - started
    assert received is not None, "no message reached the robot within 30 s"
    assert elapsed < 30
    assert received.signature_checked
    assert "SO-0001" in received.title and "物料 SKU-1 不存在" in received.content
    alert = _wait(
        lambda: Alert.objects.filter(pk=alert.pk, status=AlertStatus.SENT).first(),
        timeout=10,
        lock=alert_worker.db_lock,
    )
    assert alert is not None and alert.sent_at is not None
    with alert_worker.db_lock:
        delivery = AlertDelivery.objects.get(alerts=alert)
    assert delivery.status == DeliveryStatus.SENT and delivery.kind == DeliveryKind.SINGLE


@pytest.mark.usefixtures("english")
def test_o2_burst_of_200_failures_is_aggregated_within_the_robot_limit(alert_rule, alert_worker):
    """GIVEN the robot's limit of 20 messages a minute (the channel sends at most 18)
    WHEN 200 different failures are raised one after another
    THEN the robot never answers 'too fast', never gets more than 18 messages in a minute,
    and every one of the 200 alerts is delivered exactly once: listed in one digest (which
    states how many it carries) or sent alone."""
    for number in range(200):
        with alert_worker.db_lock:
            _failure(number)
    done = _wait(
        lambda: Alert.objects.filter(status__in=DONE).count() == 200,
        timeout=90,
        lock=alert_worker.db_lock,
    )
    with alert_worker.db_lock:
        statuses = Counter(Alert.objects.values_list("status", flat=True))
        assert done, f"not all alerts delivered: {statuses}"
        received = list(inbox(DINGTALK["token"]))
        accepted = [m for m in received if m.accepted]
        assert [m.errcode for m in received if not m.accepted] == []  # never 130101
        assert _max_in_any_minute([m.received_at for m in accepted]) <= 18
        assert len(accepted) < 200  # aggregated, not 200 messages
        assert any(m.title.endswith("alerts") for m in accepted)  # at least one digest
        # every alert listed exactly once across what the robot received
        listed = Counter(
            int(n) for m in accepted for n in re.findall(r"#(\d+)\)?$", m.content, re.M)
        )
        ids = set(Alert.objects.values_list("pk", flat=True))
        assert set(listed) == ids and set(listed.values()) == {1}
        # each digest states the count it lists
        for message in accepted:
            header = re.search(r"### (\d+) alerts", message.content)
            if header:
                lines = re.findall(r"^\d+\. ", message.content, re.M)
                assert int(header.group(1)) == len(lines)
        sent = AlertDelivery.objects.filter(status=DeliveryStatus.SENT)
        assert sum(d.alert_count for d in sent) == 200
        assert sent.count() == len(accepted)


def test_o2_transient_failure_is_retried_then_delivered(alert_rule):
    """GIVEN the robot answering HTTP 500 WHEN the alert is dispatched THEN it goes back to
    the queue with a backoff; once the robot recovers the retry delivers it."""
    faults.set_profile("robots", error_rate=1)
    (alert,) = _failure(7)
    report = alerts_dispatch_channel(channel_id=alert.channel_id)
    assert report.retrying == 1 and report.delivered == 0
    alert.refresh_from_db()
    assert alert.status == AlertStatus.QUEUED and alert.attempts == 1
    assert alert.next_attempt_at > timezone.now() + timedelta(seconds=10)
    assert "500" in alert.last_error
    assert alerts_dispatch_channel(channel_id=alert.channel_id).messages == 0  # not yet due
    faults.set_profile("robots")
    Alert.objects.filter(pk=alert.pk).update(next_attempt_at=timezone.now())
    assert alerts_dispatch_channel(channel_id=alert.channel_id).delivered == 1
    alert.refresh_from_db()
    assert alert.status == AlertStatus.SENT and alert.attempts == 2
    assert inbox(DINGTALK["token"], accepted=True).count() == 1


def test_o2_gives_up_after_the_maximum_attempts(alert_rule, settings):
    settings.ALERT_MAX_ATTEMPTS = 2
    faults.set_profile("robots", error_rate=1)
    (alert,) = _failure(8)
    for _ in range(2):
        Alert.objects.filter(pk=alert.pk).update(next_attempt_at=timezone.now())
        alerts_dispatch_channel(channel_id=alert.channel_id)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.FAILED and alert.attempts == 2
    assert alerts_requeue(alert_ids=[alert.pk]) == 1  # a person can send it again
    faults.set_profile("robots")
    alerts_dispatch_channel(channel_id=alert.channel_id)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.SENT


def test_o2_robot_saying_too_fast_throttles_the_channel_nothing_lost(alert_rule):
    """GIVEN the robot answers 130101 WHEN dispatching THEN the channel pauses 10 minutes,
    the alert stays queued for then, and nothing else is posted meanwhile."""
    faults.set_profile("robots", rate_limit_rate=1)
    (alert,) = _failure(9)
    report = alerts_dispatch_channel(channel_id=alert.channel_id)
    assert report.retrying == 1 and report.wake_at is not None
    alert.refresh_from_db()
    channel = alert.channel
    assert alert.status == AlertStatus.QUEUED
    assert channel.throttled_until > timezone.now() + timedelta(minutes=9)
    assert alert.next_attempt_at == channel.throttled_until
    faults.set_profile("robots")
    _failure(10)
    assert alerts_dispatch_channel(channel_id=channel.pk).messages == 0  # still throttled
    assert inbox(DINGTALK["token"]).count() == 1


def test_o2_configuration_error_fails_and_alerts_operators_elsewhere(
    alert_rule, robot_channel, live_server, sandbox_feishu_robot
):
    """GIVEN a DingTalk channel whose secret is wrong and a Feishu channel for the operators
    WHEN an alert is dispatched THEN it fails at once (not retried) and a critical alert
    about the broken channel reaches the operators' robot."""
    operators = make_channel(live_server, "feishu", FEISHU["token"], FEISHU["secret"])
    AlertRule.objects.create(
        name="robot problems", channel=operators, error_classes="RobotConfigurationError"
    )
    robot_channel.secret = "SECwrong"
    robot_channel.save()
    (alert,) = _failure(11)
    report = alerts_dispatch_channel(channel_id=robot_channel.pk)
    assert report.failed == 1 and report.retrying == 0
    alert.refresh_from_db()
    assert alert.status == AlertStatus.FAILED and "310000" in alert.last_error
    operator_alert = Alert.objects.get(channel=operators)
    assert operator_alert.severity == "critical"
    alerts_dispatch_channel(channel_id=operators.pk)
    received = inbox(FEISHU["token"], accepted=True).get()
    assert robot_channel.name in received.title


def test_o2_safety_net_sends_alerts_whose_enqueue_was_lost(alert_rule, monkeypatch):
    """GIVEN the broker refuses the enqueue WHEN an alert is raised THEN raising still
    succeeds, and the beat safety net delivers it."""
    from monitoring import tasks

    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.alerts_dispatch, "apply_async", broken)
    (alert,) = _failure(12)
    assert alert.status == AlertStatus.QUEUED
    reports = alerts_dispatch_due()
    assert [r.delivered for r in reports] == [1]
    assert inbox(DINGTALK["token"], accepted=True).count() == 1


def test_o2_stuck_deliveries_are_put_back_in_the_queue(alert_rule):
    """GIVEN a worker killed while posting (delivery left 'sending') WHEN the safety net
    runs 5 minutes later THEN its alerts are queued again and delivered."""
    (alert,) = _failure(13)
    delivery = AlertDelivery.objects.create(
        channel=alert.channel,
        kind=DeliveryKind.SINGLE,
        alert_count=1,
        title="x",
        text="x",
        reserved_at=timezone.now() - timedelta(minutes=6),
    )
    delivery.alerts.add(alert)
    Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.SENDING)
    assert alerts_recover_stuck() == 1
    alerts_dispatch_due()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.SENT


def test_o2_channel_limit_is_shared_by_every_dispatch(alert_rule, robot_channel):
    """GIVEN a channel limited to 4 messages a minute that already sent 4
    WHEN more alerts are due THEN nothing is posted and a wake-up is planned."""
    robot_channel.limit_per_minute = 4
    robot_channel.save()
    for number in range(4):
        _failure(100 + number)
        alerts_dispatch_channel(channel_id=robot_channel.pk)
    assert inbox(DINGTALK["token"], accepted=True).count() == 4
    _failure(200)
    report = alerts_dispatch_channel(channel_id=robot_channel.pk)
    assert report.messages == 0 and report.waiting == 1
    assert report.wake_at is not None and report.wake_at > timezone.now()


def test_o2_wecom_digests_fit_the_text_limit_and_list_everything(
    wecom_channel, celery_memory_broker
):
    """GIVEN a WeCom channel that @-mentions a mobile (so messages go as text, <= 2048 bytes)
    WHEN 40 failures are dispatched together THEN they leave as several digests, none cut
    short, that together list all 40 alerts once."""
    wecom_channel.at_mobiles = "13800000000"
    wecom_channel.save()
    AlertRule.objects.create(name="wecom", channel=wecom_channel)
    for number in range(40):
        _failure(300 + number)
    report = alerts_dispatch_channel(channel_id=wecom_channel.pk)
    assert report.delivered == 40 and 1 < report.messages <= 18
    accepted = list(inbox(WECOM["token"], accepted=True))
    assert len(accepted) == report.messages
    assert all(m.msgtype == "text" and m.at_mobiles == ["13800000000"] for m in accepted)
    assert not any(m.content.endswith("…") for m in accepted)
    listed = Counter(int(n) for m in accepted for n in re.findall(r"#(\d+)\)?$", m.content, re.M))
    assert set(listed) == set(Alert.objects.values_list("pk", flat=True))
    assert set(listed.values()) == {1}
