"""Checklist items on the systems: the system schedules, C1 connections tested live, the
preflight, and G4 Jushuitan tokens."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .base import MISSING, OK, WARN, CheckItem, _admin

REFRESH_SCHEDULE_TASK = "connectors.jushuitan.tasks.refresh_tokens"


def _schedule_state(task_path: str) -> str:
    """ "ok", "missing" or "disabled" for the declared system schedule running `task_path`."""
    from core.schedules import schedules_status

    states = [state for entry, state in schedules_status() if entry["task"] == task_path]
    return states[0] if states else "missing"


def check_schedules(integration) -> CheckItem:
    """Issue 24 point 1: every system schedule the apps declare is installed and enabled."""
    from core.schedules import schedules_status

    title = _("Schedules: system periodic tasks installed and enabled")
    status = schedules_status()
    missing = [entry["name"] for entry, state in status if state == "missing"]
    disabled = [entry["name"] for entry, state in status if state == "disabled"]
    fix = _admin("django_celery_beat_periodictask_changelist")
    if missing or disabled:
        details = [_("missing: %(name)s") % {"name": name} for name in missing] + [
            _("disabled: %(name)s") % {"name": name} for name in disabled
        ]
        return CheckItem(
            "S1",
            title,
            MISSING,
            _(
                "%(m)d system schedules are missing and %(d)d disabled: what they do (token "
                "refresh, FX fetch, sweeps, alerts, purges, checks) does not happen."
            )
            % {"m": len(missing), "d": len(disabled)},
            details=details,
            fix_url=fix,
            fix_label=_(
                "Enable them under Periodic tasks; missing ones come back with "
                "`manage.py migrate` or `manage.py setup_schedules`"
            ),
            role="operator",
        )
    return CheckItem(
        "S1",
        title,
        OK,
        _("All %(n)d system schedules are installed and enabled.") % {"n": len(status)},
    )


def check_g4_tokens(integration) -> CheckItem:
    connection = integration.jushuitan
    title = _("G4 Shop authorisation tokens fresh")
    now = timezone.now()
    fix = reverse("admin:jushuitan_jushuitanconnection_change", args=[connection.pk])
    if not connection.access_token or connection.token_expires_at is None:
        return CheckItem(
            "G4",
            title,
            MISSING,
            _("No access token yet."),
            fix_url=fix,
            fix_label=_("Refresh token now"),
            role="operator",
        )
    if connection.token_expires_at <= now:
        return CheckItem(
            "G4",
            title,
            MISSING,
            _("The access token has expired."),
            fix_url=fix,
            fix_label=_("Refresh token now"),
            role="operator",
        )
    margin = timedelta(hours=connection.refresh_before_hours)
    if connection.token_error or connection.token_expires_at - now < margin:
        return CheckItem(
            "G4",
            title,
            WARN,
            _("The token expires at %(at)s and was not refreshed yet: %(error)s")
            % {
                "at": timezone.localtime(connection.token_expires_at).strftime("%Y-%m-%d %H:%M"),
                "error": connection.token_error or "-",
            },
            fix_url=fix,
            fix_label=_("Refresh token now"),
            role="operator",
        )
    valid_until = timezone.localtime(connection.token_expires_at).strftime("%Y-%m-%d %H:%M")
    schedule = _schedule_state(REFRESH_SCHEDULE_TASK)
    if schedule != "ok":
        # Only say "refreshed automatically" when the refresh schedule really runs.
        return CheckItem(
            "G4",
            title,
            WARN,
            _(
                "Valid until %(at)s, but the token refresh schedule is %(state)s: nothing "
                "refreshes it before it expires."
            )
            % {
                "at": valid_until,
                "state": _("missing") if schedule == "missing" else _("disabled"),
            },
            fix_url=_admin("django_celery_beat_periodictask_changelist"),
            fix_label=_("Enable the schedule 'Jushuitan: keep tokens fresh'"),
            role="operator",
        )
    return CheckItem(
        "G4",
        title,
        OK,
        _("Valid until %(at)s; refreshed automatically every %(m)d minutes.")
        % {"at": valid_until, "m": _token_refresh_minutes()},
    )


def _token_refresh_minutes() -> int:
    from django_celery_beat.models import PeriodicTask

    task = (
        PeriodicTask.objects.filter(task=REFRESH_SCHEDULE_TASK).select_related("interval").first()
    )
    if task is None or task.interval is None:
        return 0
    seconds = task.interval.every * {"days": 86400, "hours": 3600, "minutes": 60}.get(
        task.interval.period, 1
    )
    return seconds // 60


# --- issue 24 point 3: what can be known before the first order ------------------------------


def check_connections(integration) -> CheckItem:
    """C1: both connections passed their live test, and nothing changed since."""
    title = _("C1 Connections tested live (Kingdee and Jushuitan)")
    rows = []
    bad = False
    for label, connection, admin_name in (
        (_("Kingdee"), integration.kingdee, "kingdee_kingdeeconnection_change"),
        (_("Jushuitan"), integration.jushuitan, "jushuitan_jushuitanconnection_change"),
    ):
        at = connection.last_checked_at
        if at is None:
            bad = True
            rows.append(_("%(system)s: never tested") % {"system": label})
            continue
        when = timezone.localtime(at).strftime("%Y-%m-%d %H:%M")
        changed = admin_name.startswith("kingdee") and connection.updated_at > at
        if not connection.last_check_ok:
            bad = True
            rows.append(
                _("%(system)s: failed at %(at)s: %(message)s")
                % {"system": label, "at": when, "message": connection.last_check_message}
            )
        elif changed:
            bad = True
            rows.append(
                _("%(system)s: the connection was changed after its last test (%(at)s)")
                % {"system": label, "at": when}
            )
        else:
            rows.append(
                _("%(system)s: passed at %(at)s: %(message)s")
                % {"system": label, "at": when, "message": connection.last_check_message}
            )
    fix = reverse("monitoring:checklist") + f"#integration-{integration.pk}"
    if bad:
        return CheckItem(
            "C1",
            title,
            MISSING,
            _("A connection is untested, failed its test or changed since."),
            details=rows,
            fix_url=fix,
            fix_label=_("Fix the credentials, then 'Test both connections now'"),
            role="operator",
        )
    return CheckItem("C1", title, OK, _("Both connections passed."), details=rows)


def check_preflight(integration) -> CheckItem:
    """P1: the latest preflight of each system (the runner of connectors.preflight)."""
    from connectors.preflight import checks_of, preflight_latest, providers

    title = _("P1 Preflight of each system")
    systems = sorted(providers()) or ["kingdee", "jushuitan"]
    details, status = [], OK
    for system in systems:
        run = preflight_latest(integration=integration, system=system)
        if run is None:
            status = MISSING
            details.append(_("%(system)s: no preflight has been run yet") % {"system": system})
            continue
        when = timezone.localtime(run.finished_at).strftime("%Y-%m-%d %H:%M")
        failed = [c for c in checks_of(run) if c.system == system and not c.ok and not c.info]
        if not failed:
            passed = sum(1 for c in checks_of(run) if c.system == system and c.ok)
            details.append(
                _("%(system)s: %(n)d checks passed at %(at)s")
                % {"system": system, "n": passed, "at": when}
            )
            continue
        status = MISSING
        details.append(
            _("%(system)s: %(n)d checks failed at %(at)s")
            % {"system": system, "n": len(failed), "at": when}
        )
        for check in failed:
            details.append(
                _("✗ %(title)s: %(detail)s → %(fix)s")
                % {"title": check.title, "detail": check.detail or "-", "fix": check.fix or "-"}
            )
    summary = (
        _("Every system's latest preflight passed.")
        if status == OK
        else _("A preflight is missing or failed: flows of that system must not be enabled.")
    )
    return CheckItem(
        "P1",
        title,
        status,
        summary,
        details=details,
        fix_url=reverse("monitoring:checklist") + f"#integration-{integration.pk}",
        fix_label=_("Run the preflight now (button below)"),
        role="operator",
    )
