"""The go-live checklist's item, its statuses and shared helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse

OK, WARN, MISSING = "ok", "warning", "missing"


CANARY_DAYS = 3


RECENT_DAYS = 30


@dataclass
class CheckItem:
    code: str
    title: str
    status: str
    summary: str
    details: list[str] = field(default_factory=list)
    fix_url: str = ""
    fix_label: str = ""
    role: str = ""  # the role that fixes it (core.roles.Role), shown next to the link

    @property
    def ok(self) -> bool:
        return self.status == OK


def _admin(name: str) -> str:
    return reverse(f"admin:{name}")
