"""Prometheus metrics: documents by flow and state, remote calls and errors by system, backlog.

Protected: a logged-in staff user, or `Authorization: Bearer <PORTAL_METRICS_TOKEN>`.
Figures are read from the database at scrape time, so every web process answers the same.
"""

import hmac
import logging
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from flows.choices import TERMINAL_STATES

from .. import selectors


def _authorised(request: HttpRequest) -> bool:
    user = request.user
    if user.is_authenticated and user.is_active and user.is_staff:
        return True
    token = settings.PORTAL_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())
    return False


logger = logging.getLogger(__name__)


class PortalCollector:
    """Collects the portal's figures on each scrape."""

    def collect(self):
        now = timezone.now()
        documents = GaugeMetricFamily(
            "portal_documents",
            "Sync documents by integration, flow and state.",
            labels=["integration", "flow", "state"],
        )
        backlog = GaugeMetricFamily(
            "portal_backlog_documents",
            "Documents not yet synced, ignored or filtered, by integration and flow.",
            labels=["integration", "flow"],
        )
        per_flow: dict[tuple[str, str], int] = {}
        for integration, flow, state, n in selectors.metrics_documents_by_state():
            documents.add_metric([integration, flow, state], n)
            if state not in TERMINAL_STATES:
                per_flow[(integration, flow)] = per_flow.get((integration, flow), 0) + n
        flows = selectors.metrics_flows()
        paused = GaugeMetricFamily(
            "portal_flow_paused",
            "1 while the circuit breaker pauses the flow.",
            labels=["integration", "flow"],
        )
        for flow in flows:
            key = (flow.integration.code, flow.code)
            backlog.add_metric(list(key), per_flow.get(key, 0))
            paused.add_metric(list(key), 1 if flow.paused_until and flow.paused_until > now else 0)
        workable = GaugeMetricFamily(
            "portal_workable_documents",
            "Documents the engine may claim now (loading without a live claim included).",
            labels=["integration", "flow"],
        )
        stuck = GaugeMetricFamily(
            "portal_stuck_documents",
            "Documents the watchdog calls stuck (in progress past the flow's bound, retry "
            "overdue).",
            labels=["integration", "flow"],
        )
        for integration, flow, n_workable, n_stuck in selectors.metrics_documents_flow_health(
            now=now
        ):
            workable.add_metric([integration, flow], n_workable)
            stuck.add_metric([integration, flow], n_stuck)
        yield documents
        yield backlog
        yield paused
        yield workable
        yield stuck
        # Issue 15: beat and the workers (the watchdog needs both, so silence is checked here).
        from flows.watchdog import last_signs, silence_check

        try:
            silence_check(now=now)
        except Exception:  # a scrape never fails on it
            logger.warning("silence check failed", exc_info=True)
        seen = GaugeMetricFamily(
            "portal_process_last_seen_seconds",
            "Seconds since beat / the workers last showed a sign of life.",
            labels=["process"],
        )
        for name, at in last_signs().items():
            if at is not None:
                seen.add_metric([name], (now - at).total_seconds())
        yield seen
        for window, delta in (("1h", timedelta(hours=1)), ("24h", timedelta(days=1))):
            calls = GaugeMetricFamily(
                f"portal_remote_calls_{window}",
                f"Remote calls in the last {window}, by system.",
                labels=["system"],
            )
            errors = GaugeMetricFamily(
                f"portal_remote_call_errors_{window}",
                f"Remote calls that failed (HTTP >= 400 or an error) in the last {window}.",
                labels=["system"],
            )
            for system, n, failed in selectors.metrics_remote_calls(since=now - delta):
                calls.add_metric([system], n)
                errors.add_metric([system], failed)
            yield calls
            yield errors
        tickets = GaugeMetricFamily(
            "portal_open_tickets", "Open exception tickets by queue (role).", labels=["role"]
        )
        for role, n in selectors.metrics_open_tickets():
            tickets.add_metric([role], n)
        yield tickets
        queued = _queue_length()
        if queued is not None:
            yield GaugeMetricFamily(
                "portal_queue_length",
                "Celery tasks waiting in the broker's default queue.",
                value=queued,
            )
        yield GaugeMetricFamily(
            "portal_error_events_1h",
            "Error events recorded in the last hour.",
            value=selectors.metrics_error_events(since=now - timedelta(hours=1)),
        )


def _queue_length() -> int | None:
    """Tasks waiting in the Redis broker's default queue (None for other brokers)."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        return int(client.llen("celery"))
    except redis.RedisError:
        return None


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _authorised(request):
        response = HttpResponse(
            "Unauthorized: log in as staff or send the bearer token.\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = 'Bearer realm="portal metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PortalCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
