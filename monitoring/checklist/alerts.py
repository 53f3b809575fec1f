"""Checklist item R1: enabled alert rules, none that can never match."""

from __future__ import annotations

from django.utils.translation import gettext as _

from flows.choices import flow_choices

from .base import MISSING, OK, CheckItem, _admin


def alert_rule_problems(rule) -> list[str]:
    """Why an alert rule can never match (empty: it can)."""
    from fnmatch import fnmatchcase

    from monitoring.choices import alert_error_classes

    problems = []
    classes = set(alert_error_classes())
    for field_name, values, label in (
        ("error_classes", classes, _("error class")),
        ("flow_codes", {code for code, _label in flow_choices()}, _("flow")),
    ):
        for pattern in [p.strip() for p in (getattr(rule, field_name) or "").split(",")]:
            if pattern and not any(fnmatchcase(v, pattern) for v in values):
                problems.append(
                    _("%(label)s “%(value)s” matches nothing (valid: %(valid)s)")
                    % {"label": label, "value": pattern, "valid": ", ".join(sorted(values))}
                )
    return problems


def check_alert_rules(integration) -> CheckItem:
    """R1: at least one enabled alert rule, and none that can never match."""
    from django.db.models import Q

    from monitoring.models import AlertRule

    title = _("R1 Alert rules that can match")
    rules = list(
        AlertRule.objects.filter(enabled=True).filter(
            Q(integration=integration) | Q(integration__isnull=True)
        )
    )
    fix = _admin("monitoring_alertrule_changelist")
    if not rules:
        return CheckItem(
            "R1",
            title,
            MISSING,
            _("No enabled alert rule covers this integration: failures alert nobody."),
            fix_url=fix,
            fix_label=_("Add an alert rule"),
            role="operator",
        )
    details = [f"{rule.name}: {problem}" for rule in rules for problem in alert_rule_problems(rule)]
    if details:
        return CheckItem(
            "R1",
            title,
            MISSING,
            _("Some alert rules name values that never occur, so they never alert."),
            details=details,
            fix_url=fix,
            fix_label=_("Correct the alert rules"),
            role="operator",
        )
    return CheckItem(
        "R1", title, OK, _("%(n)d enabled alert rules; all can match.") % {"n": len(rules)}
    )
