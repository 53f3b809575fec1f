"""Alerting services (O2): raise alerts from rules, and deliver them to the group robots.

The engine calls one function, `alert_raise`. It stores one Alert per matching rule (or
counts a repeat on the existing one) and, once the transaction commits, asks a Celery
worker to dispatch that channel a moment later (so a burst leaves together); a beat task
every 15 seconds is the safety net. `alerts_dispatch_channel` posts queued alerts without
ever exceeding the channel's per-minute limit: few alerts go out one by one, a burst goes
out as digests that count and list every alert they carry, and whatever finds no slot this
minute stays queued for the next. Transient failures are retried with backoff and jitter;
configuration errors fail at once and alert the operators on another channel.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from connectors.dingtalk.choices import RobotKind
from connectors.dingtalk.client import CLIENTS, RobotMessage, client_for
from connectors.dingtalk.errors import RobotConfigurationError
from connectors.dingtalk.models import RobotChannel
from connectors.errors import ConnectorError, RateLimited, TransientError
from connectors.models import Integration
from core.errors import PortalError
from core.messages import gettext as _
from core.messages import to_data

from .alert_choices import (
    ALERT_DEDUPABLE,
    SEVERITY_RANK,
    AlertSeverity,
    AlertStatus,
    DeliveryKind,
    DeliveryStatus,
)
from .alert_models import Alert, AlertContact, AlertDelivery, AlertRule

logger = logging.getLogger(__name__)

# A robot's limit is counted over this window (a second more than the vendor's minute).
LIMIT_WINDOW = timedelta(seconds=61)
# At most this many alerts go out one message each in one dispatch; more is a burst.
SINGLE_MAX = 3
DIGEST_MAX_ITEMS = 200
# A delivery left "sending" this long (worker killed mid-post) is put back in the queue.
STUCK_AFTER = timedelta(minutes=5)
BACKOFF_BASE_SECONDS = 15
BACKOFF_MAX_SECONDS = 600
CONFIG_ERROR_CLASS = "RobotConfigurationError"


class AlertError(PortalError):
    default_message = gettext_noop("The alert could not be raised.")


# --- raising -------------------------------------------------------------------------------
def alert_raise(
    *,
    title: str,
    text: str,
    error_class: str,
    flow_code: str = "",
    integration_id: int | None = None,
    severity: str = "error",
    dedupe_key: str = "",
    role: str = "",
    users: Iterable[int] = (),
) -> list[Alert]:
    """Store an alert for every enabled rule that matches; return them (empty: no rule).
    `role`'s members and the `users` (ids, e.g. a material's owner) are @-mentioned through
    their alert contacts.

    A repeat with the same dedupe key (default: a digest of class, flow, integration, title
    and text) within the rule's dedupe window increases the first alert's `occurrences`
    instead of sending again. With a threshold of N in M minutes, alerts wait as `pending`
    until the N-th matching failure, then all of them are queued together. Delivery starts
    when the caller's transaction commits.
    """
    return _raise(
        title=title,
        text=text,
        error_class=error_class,
        flow_code=flow_code,
        integration_id=integration_id,
        severity=severity,
        dedupe_key=dedupe_key,
        role=role,
        users=tuple(users),
        exclude_channel_ids=frozenset(),
    )


def rules_matching(
    *,
    error_class: str,
    flow_code: str = "",
    integration_id: int | None = None,
    severity: str = "error",
) -> list[AlertRule]:
    """The enabled rules (on enabled channels) an alert with these facts matches."""
    rank = SEVERITY_RANK[AlertSeverity(severity)]
    rules = (
        AlertRule.objects.filter(enabled=True, channel__enabled=True)
        .filter(Q(integration__isnull=True) | Q(integration_id=integration_id))
        .select_related("channel")
        .order_by("pk")
    )
    return [
        rule
        for rule in rules
        if SEVERITY_RANK[AlertSeverity(rule.min_severity)] <= rank
        and _matches(rule.error_class_patterns, error_class)
        and _matches(rule.flow_code_patterns, flow_code)
    ]


def _matches(patterns: list[str], value: str) -> bool:
    return not patterns or any(fnmatchcase(value, pattern) for pattern in patterns)


def _default_key(**facts: object) -> str:
    raw = "|".join(f"{k}={facts[k]}" for k in sorted(facts))
    return "auto:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def _mentions(
    rule: AlertRule, role: str, users: tuple[int, ...] = ()
) -> tuple[list[str], list[str]]:
    """(mobiles, vendor user ids) to @ for an alert of `rule` about `role`'s problem (and
    about these users' problem, e.g. the owner of a material)."""
    channel = rule.channel
    mobiles = [*channel.at_mobile_list, *rule.mention_mobile_list]
    user_ids = list(channel.at_user_id_list)
    roles = {r for r in (rule.mention_role, role) if r}
    if roles or users:
        id_field = {
            RobotKind.DINGTALK: "dingtalk_user_id",
            RobotKind.FEISHU: "feishu_open_id",
            RobotKind.WECOM: "wecom_user_id",
        }[RobotKind(channel.kind)]
        contacts = (
            AlertContact.objects.filter(enabled=True, user__is_active=True)
            .filter(Q(user__groups__name__in=roles) | Q(user_id__in=list(users)))
            .distinct()
        )
        for contact in contacts:
            if contact.mobile and channel.kind != RobotKind.FEISHU:
                mobiles.append(contact.mobile)
            if getattr(contact, id_field):
                user_ids.append(getattr(contact, id_field))
    return list(dict.fromkeys(mobiles)), list(dict.fromkeys(user_ids))


def _raise(
    *,
    title: str,
    text: str,
    error_class: str,
    flow_code: str,
    integration_id: int | None,
    severity: str,
    dedupe_key: str,
    role: str,
    exclude_channel_ids: frozenset[int],
    users: tuple[int, ...] = (),
) -> list[Alert]:
    try:
        severity = AlertSeverity(severity)
    except ValueError as exc:
        raise AlertError(
            f"Unknown alert severity {severity!r}.", known=list(AlertSeverity.values)
        ) from exc
    if integration_id is not None and not Integration.objects.filter(pk=integration_id).exists():
        # A wrong id must not break the caller's transaction (foreign key): alert anyway.
        logger.warning("alert raised for unknown integration %s", integration_id)
        integration_id = None
    key = dedupe_key or _default_key(
        error_class=error_class,
        flow=flow_code,
        integration=integration_id,
        title=title,
        text=text,
    )
    matched = [
        rule
        for rule in rules_matching(
            error_class=error_class,
            flow_code=flow_code,
            integration_id=integration_id,
            severity=severity,
        )
        if rule.channel_id not in exclude_channel_ids
    ]
    if not matched:
        return []
    now = timezone.now()
    alerts: list[Alert] = []
    to_dispatch: set[int] = set()
    # No row lock here: the caller's transaction may be long (a whole batch) and a lock on a
    # rule would serialise every worker behind it. Two workers raising the same key in the
    # same instant may each store an alert: a duplicate message at worst, never a lost one.
    with transaction.atomic():
        for rule in matched:
            alert = _raise_for_rule(
                rule=rule,
                now=now,
                key=key,
                title=title,
                text=text,
                error_class=error_class,
                flow_code=flow_code,
                integration_id=integration_id,
                severity=severity,
                role=role,
                users=users,
            )
            if alert.status == AlertStatus.QUEUED:
                to_dispatch.add(alert.channel_id)
            alerts.append(alert)
        for channel_id in sorted(to_dispatch):
            transaction.on_commit(lambda cid=channel_id: _enqueue_dispatch(channel_id=cid))
    return alerts


def _raise_for_rule(*, rule: AlertRule, now: datetime, key: str, **facts) -> Alert:
    existing = None
    if rule.dedupe_minutes:
        existing = (
            Alert.objects.filter(
                rule=rule,
                dedupe_key=key,
                status__in=ALERT_DEDUPABLE,
                created_at__gte=now - timedelta(minutes=rule.dedupe_minutes),
            )
            .order_by("-created_at", "-pk")
            .first()
        )
    if existing is not None:
        Alert.objects.filter(pk=existing.pk).update(
            occurrences=F("occurrences") + 1, last_seen_at=now
        )
        alert = existing
    else:
        mobiles, user_ids = _mentions(rule, facts["role"], facts.get("users", ()))
        alert = Alert.objects.create(
            rule=rule,
            channel=rule.channel,
            title=facts["title"][:200],
            text=facts["text"],
            title_data=to_data(facts["title"]),
            text_data=to_data(facts["text"]),
            error_class=facts["error_class"][:100],
            flow_code=facts["flow_code"][:50],
            integration_id=facts["integration_id"],
            severity=facts["severity"],
            role=facts["role"],
            dedupe_key=key[:200],
            status=AlertStatus.PENDING if rule.threshold_count > 1 else AlertStatus.QUEUED,
            last_seen_at=now,
            mention_mobiles=mobiles,
            mention_user_ids=user_ids,
            mention_all=rule.mention_all or rule.channel.at_all,
            next_attempt_at=now,
        )
    if rule.threshold_count > 1:
        # N failures in M minutes: the N-th pending one releases all of them together.
        pending = Alert.objects.filter(
            rule=rule,
            status=AlertStatus.PENDING,
            created_at__gte=now - timedelta(minutes=rule.threshold_minutes),
        )
        count = pending.aggregate(total=Sum("occurrences"))["total"] or 0
        if count >= rule.threshold_count:
            pending.update(status=AlertStatus.QUEUED, next_attempt_at=now)
    alert.refresh_from_db()
    return alert


def _enqueue_dispatch(*, channel_id: int, countdown: float | None = None) -> None:
    """Ask a worker to dispatch `channel_id`; never raises (the beat task is the net)."""
    from .tasks import alerts_dispatch

    if countdown is None:
        # One dispatch per channel per delay: the alerts raised meanwhile go out with it.
        countdown = max(1, math.ceil(settings.ALERT_DISPATCH_DELAY_SECONDS))
        try:
            if not cache.add(f"monitoring:alerts:dispatch:{channel_id}", 1, timeout=countdown):
                return
        except Exception:
            logger.warning("alert dispatch debounce unavailable (cache)", exc_info=True)
    try:
        alerts_dispatch.apply_async(kwargs={"channel_id": channel_id}, countdown=countdown)
    except Exception:
        logger.warning(
            "could not enqueue the alert dispatch of channel %s; the 15-second safety net "
            "will send it",
            channel_id,
            exc_info=True,
        )


# --- delivering ----------------------------------------------------------------------------
@dataclass
class DispatchReport:
    """What one dispatch of one channel did."""

    channel_id: int
    messages: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: int = 0
    wake_at: datetime | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class _Planned:
    delivery_id: int
    alert_ids: list[int]
    message: RobotMessage
    kind: str


def alerts_dispatch_channel(*, channel_id: int) -> DispatchReport:
    """Post the due alerts of one channel within its limit; reschedule what must wait."""
    report = DispatchReport(channel_id=channel_id)
    # Issue 20 point 4: posted in the channel's language.
    language = (
        RobotChannel.objects.filter(pk=channel_id).values_list("language", flat=True).first()
        or settings.LANGUAGE_CODE
    )
    with translation.override(language):
        while True:
            planned = _reserve(channel_id=channel_id, report=report)
            if not planned:
                break
            channel = RobotChannel.objects.get(pk=channel_id)
            for item in planned:
                _deliver(channel=channel, item=item, report=report)
            if report.wake_at is not None:
                break  # throttled: the rest waits for the wake-up
    if report.wake_at is not None:
        delay = max((report.wake_at - timezone.now()).total_seconds(), 1.0)
        _enqueue_dispatch(channel_id=channel_id, countdown=delay)
    return report


def _reserve(*, channel_id: int, report: DispatchReport) -> list[_Planned]:
    """Take slots of the channel's per-minute limit for the due alerts (short transaction)."""
    with transaction.atomic():
        channel = RobotChannel.objects.select_for_update().filter(pk=channel_id).first()
        if channel is None or not channel.enabled:
            return []
        now = timezone.now()
        due_q = Alert.objects.filter(
            channel=channel, status=AlertStatus.QUEUED, next_attempt_at__lte=now
        )
        if channel.throttled_until and channel.throttled_until > now:
            report.waiting = due_q.count()
            report.wake_at = channel.throttled_until
            return []
        due = list(due_q.order_by("created_at", "pk")[: DIGEST_MAX_ITEMS * 20])
        if not due:
            return []
        limit = channel.effective_limit_per_minute
        window = AlertDelivery.objects.filter(channel=channel).filter(
            Q(reserved_at__gte=now - LIMIT_WINDOW) | Q(posted_at__gte=now - LIMIT_WINDOW)
        )
        used = window.count()
        free = limit - used
        if free <= 0:
            oldest = window.order_by("reserved_at").values_list("reserved_at", flat=True).first()
            report.waiting = due_q.count()
            report.wake_at = (oldest or now) + LIMIT_WINDOW
            return []
        if len(due) <= SINGLE_MAX and used + len(due) <= limit // 2:
            packs = [[alert] for alert in due]
        else:
            packs = _pack(channel=channel, alerts=due, max_packs=free)
        planned: list[_Planned] = []
        for pack in packs:
            kind = DeliveryKind.SINGLE if len(pack) == 1 else DeliveryKind.DIGEST
            message = (
                _single_message(pack[0])
                if kind == DeliveryKind.SINGLE
                else _digest_message(pack, limit=limit)
            )
            delivery = AlertDelivery.objects.create(
                channel=channel,
                kind=kind,
                alert_count=len(pack),
                title=message.title[:200],
                text=message.markdown,
                reserved_at=now,
            )
            ids = [alert.pk for alert in pack]
            delivery.alerts.set(ids)
            Alert.objects.filter(pk__in=ids).update(
                status=AlertStatus.SENDING, attempts=F("attempts") + 1
            )
            planned.append(_Planned(delivery.pk, ids, message, kind))
        left = len(due) - sum(len(p) for p in packs)
        if left:
            report.waiting = left
        return planned


def _severity_label(severity: str) -> str:
    return str(AlertSeverity(severity).label)


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def _single_message(alert: Alert) -> RobotMessage:
    facts = [
        f"- {_('Severity')}: {_severity_label(alert.severity)}",
        f"- {_('Error class')}: {alert.error_class}",
    ]
    if alert.flow_code:
        facts.append(f"- {_('Flow')}: {alert.flow_code}")
    if alert.integration_id:
        facts.append(f"- {_('Integration')}: {alert.integration}")
    if alert.occurrences > 1:
        facts.append(
            f"- {_('Occurrences')}: {alert.occurrences} "
            f"({_local(alert.created_at)} – {_local(alert.last_seen_at)})"
        )
    else:
        facts.append(f"- {_('At')}: {_local(alert.created_at)}")
    facts.append(f"- {_('Alert')}: #{alert.pk}")
    title = f"[{_severity_label(alert.severity)}] {alert.title_text}"
    body = f"### {title}\n\n{alert.text_shown}\n\n" + "\n".join(facts)
    return RobotMessage(
        title=title,
        markdown=body,
        mobiles=tuple(alert.mention_mobiles),
        user_ids=tuple(alert.mention_user_ids),
        at_all=alert.mention_all,
    )


def _digest_line(number: int, alert: Alert) -> str:
    parts = [alert.error_class]
    if alert.flow_code:
        parts.append(alert.flow_code)
    if alert.occurrences > 1:
        parts.append(f"×{alert.occurrences}")
    parts.append(timezone.localtime(alert.created_at).strftime("%H:%M:%S"))
    title = alert.title_text
    title = title if len(title) <= 120 else title[:119] + "…"
    return (
        f"{number}. [{_severity_label(alert.severity)}] {title} — {' · '.join(parts)} (#{alert.pk})"
    )


def _digest_header(count: int, occurrences: int, limit: int) -> str:
    return _(
        "### %(count)s alerts (%(occurrences)s occurrences)\n\n"
        "Merged into one message so the robot's limit of %(limit)s messages a minute is "
        "kept. Every alert is listed:\n"
    ) % {"count": count, "occurrences": occurrences, "limit": limit}


def _pack(*, channel: RobotChannel, alerts: list[Alert], max_packs: int) -> list[list[Alert]]:
    """Split `alerts` into at most `max_packs` digests that each fit one robot message."""
    budget = CLIENTS[channel.kind].digest_budget
    header = len(_digest_header(99999, 999999, 100).encode())
    packs: list[list[Alert]] = []
    current: list[Alert] = []
    size = header
    for alert in alerts:
        line = len(_digest_line(len(current) + 1, alert).encode()) + 1
        if current and (size + line > budget or len(current) >= DIGEST_MAX_ITEMS):
            packs.append(current)
            if len(packs) >= max_packs:
                return packs
            current, size = [], header
        current.append(alert)
        size += line
    if current:
        packs.append(current)
    return packs[:max_packs]


def _digest_message(alerts: list[Alert], *, limit: int) -> RobotMessage:
    occurrences = sum(alert.occurrences for alert in alerts)
    worst = max(alerts, key=lambda a: SEVERITY_RANK[AlertSeverity(a.severity)])
    lines = [_digest_line(number, alert) for number, alert in enumerate(alerts, start=1)]
    body = _digest_header(len(alerts), occurrences, limit) + "\n" + "\n".join(lines)
    title = _("[%(severity)s] %(count)s alerts") % {
        "severity": _severity_label(worst.severity),
        "count": len(alerts),
    }
    mobiles = dict.fromkeys(m for a in alerts for m in a.mention_mobiles)
    user_ids = dict.fromkeys(u for a in alerts for u in a.mention_user_ids)
    return RobotMessage(
        title=title,
        markdown=body,
        mobiles=tuple(mobiles),
        user_ids=tuple(user_ids),
        at_all=any(a.mention_all for a in alerts),
    )


def _backoff_seconds(attempts: int) -> float:
    base = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    return base * random.uniform(0.8, 1.2)


def _deliver(*, channel: RobotChannel, item: _Planned, report: DispatchReport) -> None:
    AlertDelivery.objects.filter(pk=item.delivery_id).update(posted_at=timezone.now())
    report.messages += 1
    try:
        client_for(channel).send(item.message)
    except RateLimited as exc:
        retry_at = timezone.now() + timedelta(seconds=exc.retry_after or BACKOFF_MAX_SECONDS)
        RobotChannel.objects.filter(pk=channel.pk).update(throttled_until=retry_at)
        _failed_attempt(item=item, exc=exc, retry_at=retry_at, report=report)
        report.wake_at = retry_at
    except TransientError as exc:
        _failed_attempt(item=item, exc=exc, retry_at=None, report=report)
    except ConnectorError as exc:
        # The robot refused (configuration, message): retrying the same post cannot help.
        _give_up(item=item, exc=exc, report=report)
        if isinstance(exc, RobotConfigurationError):
            _alert_operators(channel=channel, exc=exc, item=item)
    except PortalError as exc:  # e.g. the stored secret cannot be decrypted
        _give_up(item=item, exc=exc, report=report)
    except Exception as exc:  # a bug must not leave alerts stuck in "sending"
        logger.exception("alert delivery %s failed unexpectedly", item.delivery_id)
        _failed_attempt(item=item, exc=exc, retry_at=None, report=report)
    else:
        now = timezone.now()
        AlertDelivery.objects.filter(pk=item.delivery_id).update(
            status=DeliveryStatus.SENT, finished_at=now
        )
        final = AlertStatus.SENT if item.kind == DeliveryKind.SINGLE else AlertStatus.AGGREGATED
        Alert.objects.filter(pk__in=item.alert_ids).update(
            status=final, sent_at=now, next_attempt_at=None, last_error=""
        )
        report.delivered += len(item.alert_ids)


def _describe(exc: Exception) -> tuple[str, str]:
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc)
    return ("" if code is None else str(code)), f"{exc.__class__.__name__}: {message}"


def _failed_attempt(
    *, item: _Planned, exc: Exception, retry_at: datetime | None, report: DispatchReport
) -> None:
    code, text = _describe(exc)
    now = timezone.now()
    AlertDelivery.objects.filter(pk=item.delivery_id).update(
        status=DeliveryStatus.FAILED, finished_at=now, error_code=code, error=text
    )
    for alert in Alert.objects.filter(pk__in=item.alert_ids):
        if alert.attempts >= settings.ALERT_MAX_ATTEMPTS:
            alert.status, alert.next_attempt_at = AlertStatus.FAILED, None
            report.failed += 1
        else:
            alert.status = AlertStatus.QUEUED
            alert.next_attempt_at = retry_at or now + timedelta(
                seconds=_backoff_seconds(alert.attempts)
            )
            report.retrying += 1
        alert.last_error = text
        alert.save(update_fields=["status", "next_attempt_at", "last_error", "updated_at"])
    report.errors.append(text)
    if retry_at is None:
        soonest = min(
            (
                a.next_attempt_at
                for a in Alert.objects.filter(pk__in=item.alert_ids)
                if a.next_attempt_at
            ),
            default=None,
        )
        if soonest is not None:
            _enqueue_dispatch(
                channel_id=report.channel_id,
                countdown=max((soonest - now).total_seconds(), 1.0),
            )


def _give_up(*, item: _Planned, exc: Exception, report: DispatchReport) -> None:
    code, text = _describe(exc)
    now = timezone.now()
    AlertDelivery.objects.filter(pk=item.delivery_id).update(
        status=DeliveryStatus.FAILED, finished_at=now, error_code=code, error=text
    )
    Alert.objects.filter(pk__in=item.alert_ids).update(
        status=AlertStatus.FAILED, next_attempt_at=None, last_error=text
    )
    report.failed += len(item.alert_ids)
    report.errors.append(text)


def _alert_operators(*, channel: RobotChannel, exc: Exception, item: _Planned) -> None:
    """A robot refused its configuration: tell the operators on any other channel."""
    if Alert.objects.filter(pk__in=item.alert_ids, error_class=CONFIG_ERROR_CLASS).exists():
        return  # never bounce configuration alerts between two broken channels
    try:
        _raise(
            title=_("Robot channel %(name)s rejects its configuration") % {"name": channel.name},
            text=_(
                "%(count)s alert(s) could not be posted: %(error)s\n\nFix the webhook URL, "
                "secret or keyword of the channel in the admin, then use "
                '"Send a test message".'
            )
            % {"count": len(item.alert_ids), "error": getattr(exc, "message", exc)},
            error_class=CONFIG_ERROR_CLASS,
            flow_code="",
            integration_id=None,
            severity=AlertSeverity.CRITICAL,
            dedupe_key=f"robot-config:{channel.pk}",
            role="operator",
            exclude_channel_ids=frozenset({channel.pk}),
        )
    except Exception:
        logger.exception("could not raise the operator alert for channel %s", channel.pk)


def alerts_requeue(*, alert_ids: list[int]) -> int:
    """Send failed or waiting alerts again now (admin); returns how many were queued."""
    now = timezone.now()
    retryable = Alert.objects.filter(
        pk__in=alert_ids, status__in=(AlertStatus.FAILED, AlertStatus.QUEUED)
    )
    channel_ids = set(retryable.values_list("channel_id", flat=True))
    count = retryable.update(status=AlertStatus.QUEUED, next_attempt_at=now, attempts=0)
    for channel_id in sorted(channel_ids):
        transaction.on_commit(lambda cid=channel_id: _enqueue_dispatch(channel_id=cid, countdown=0))
    return count


# --- housekeeping (the beat safety net) -----------------------------------------------------
def alerts_expire_pending(*, now: datetime | None = None) -> int:
    """Pending alerts whose threshold window closed without N failures: recorded, not sent."""
    now = now or timezone.now()
    expired = 0
    rules = AlertRule.objects.filter(alerts__status=AlertStatus.PENDING).distinct()
    for rule in rules:
        expired += Alert.objects.filter(
            rule=rule,
            status=AlertStatus.PENDING,
            created_at__lt=now - timedelta(minutes=rule.threshold_minutes),
        ).update(status=AlertStatus.BELOW_THRESHOLD, next_attempt_at=None)
    # A pending alert whose rule was deleted can never reach a threshold.
    expired += Alert.objects.filter(rule__isnull=True, status=AlertStatus.PENDING).update(
        status=AlertStatus.BELOW_THRESHOLD, next_attempt_at=None
    )
    return expired


def alerts_recover_stuck(*, now: datetime | None = None) -> int:
    """Deliveries left "sending" by a killed worker: their alerts go back to the queue."""
    now = now or timezone.now()
    stuck = AlertDelivery.objects.filter(
        status=DeliveryStatus.SENDING, reserved_at__lt=now - STUCK_AFTER
    )
    recovered = 0
    for delivery in stuck:
        with transaction.atomic():
            if not AlertDelivery.objects.filter(
                pk=delivery.pk, status=DeliveryStatus.SENDING
            ).update(status=DeliveryStatus.FAILED, finished_at=now, error="worker lost"):
                continue
            recovered += Alert.objects.filter(
                deliveries=delivery, status=AlertStatus.SENDING
            ).update(status=AlertStatus.QUEUED, next_attempt_at=now)
    return recovered


def alerts_dispatch_due() -> list[DispatchReport]:
    """The safety net: housekeeping, then every channel with due alerts, one at a time."""
    alerts_expire_pending()
    alerts_recover_stuck()
    now = timezone.now()
    channel_ids = (
        Alert.objects.filter(status=AlertStatus.QUEUED, next_attempt_at__lte=now)
        .values_list("channel_id", flat=True)
        .distinct()
    )
    reports = []
    for channel_id in sorted(set(channel_ids)):
        try:
            reports.append(alerts_dispatch_channel(channel_id=channel_id))
        except Exception:
            # One broken channel never stops the others.
            logger.exception("dispatching the alerts of channel %s failed", channel_id)
    return reports
