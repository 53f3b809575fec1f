"""The go-live checklist (上线 checklist, G1–G6): each item checked against the live
configuration, saying what is missing and where to fix it."""

from __future__ import annotations

from .alerts import alert_rule_problems, check_alert_rules
from .base import CANARY_DAYS, MISSING, OK, RECENT_DAYS, WARN, CheckItem
from .connections import (
    REFRESH_SCHEDULE_TASK,
    check_connections,
    check_g4_tokens,
    check_preflight,
    check_schedules,
)
from .cutover import (
    SHOP_FLOWS,
    canary_too_wide,
    check_g2_opening_inventory,
    check_g5_accounts,
    check_g6_canary,
)
from .master_data import (
    check_currency_codes,
    check_g1_mappings,
    check_g3_tax_templates,
    one_side_codes,
)

CHECKS = (
    check_schedules,
    check_connections,
    check_g1_mappings,
    check_currency_codes,
    check_g2_opening_inventory,
    check_g3_tax_templates,
    check_g4_tokens,
    check_g5_accounts,
    check_alert_rules,
    check_preflight,
    check_g6_canary,
)


def checklist_for(*, integration) -> list[CheckItem]:
    return [check(integration) for check in CHECKS]


__all__ = [
    "CANARY_DAYS",
    "CHECKS",
    "MISSING",
    "OK",
    "RECENT_DAYS",
    "REFRESH_SCHEDULE_TASK",
    "SHOP_FLOWS",
    "WARN",
    "CheckItem",
    "alert_rule_problems",
    "canary_too_wide",
    "check_alert_rules",
    "check_connections",
    "check_currency_codes",
    "check_g1_mappings",
    "check_g2_opening_inventory",
    "check_g3_tax_templates",
    "check_g4_tokens",
    "check_g5_accounts",
    "check_g6_canary",
    "check_preflight",
    "check_schedules",
    "checklist_for",
    "one_side_codes",
]
