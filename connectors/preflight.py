"""Preflight: prove a tenant before go-live (G-checklist, `manage.py preflight`, the
"Run preflight" buttons on the connections).

Each external system contributes checks from its own `<app>/preflight.py` module, which
registers one or more providers with `@provider("kingdee")`. A provider takes the Integration
and yields `Check` rows: login, the forms and field keys the enabled flows use, the base data
they reference, the endpoints they call. This module runs them, never lets a provider's crash
pass for a success (it becomes a failed check naming the exception), and stores the run, so
the checklist, the guided setup and the flow switch read one record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from core.messages import gettext as _

from .models import Integration, PreflightRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One check of a preflight.

    `key` is stable across runs (e.g. "kingdee.field.SAL_OUTSTOCK.F_PAEZ_PlatformOrderNo") so
    results can be compared; `title` says what was checked and `fix` what a person does when it
    fails, both in the reader's language; `detail` is the remote system's exact answer.
    `flows` names the flow codes the check gates (empty: every flow of `system`). An
    informational row (`info=True`, e.g. shipments found per source) never fails a run.
    """

    system: str
    key: str
    title: str
    ok: bool
    detail: str = ""
    fix: str = ""
    flows: tuple[str, ...] = ()
    info: bool = False

    def gates(self, flow_code: str) -> bool:
        return not self.ok and not self.info and (not self.flows or flow_code in self.flows)


Provider = Callable[[Integration], Iterable[Check]]
_PROVIDERS: dict[str, list[Provider]] = {}
_discovered = False


def provider(system: str) -> Callable[[Provider], Provider]:
    """Register a provider of checks for `system` (decorator)."""

    def register(fn: Provider) -> Provider:
        _PROVIDERS.setdefault(system, [])
        if fn not in _PROVIDERS[system]:
            _PROVIDERS[system].append(fn)
        return fn

    return register


def providers() -> dict[str, list[Provider]]:
    global _discovered
    if not _discovered:
        autodiscover_modules("preflight")
        _discovered = True
    return _PROVIDERS


def preflight_run(
    *, integration: Integration, systems: Iterable[str] | None = None, requested_by: str = ""
) -> PreflightRun:
    """Run every registered provider of `systems` (all when None) and store the run."""
    wanted = sorted(set(systems) if systems else set(providers()))
    run = PreflightRun.objects.create(
        integration=integration, systems=",".join(wanted), requested_by=requested_by
    )
    checks: list[Check] = []
    for system in wanted:
        for fn in providers().get(system, []):
            try:
                checks.extend(fn(integration))
            except Exception as exc:  # a crashing provider is a failed check, never a pass
                logger.exception("preflight provider %s failed", fn.__qualname__)
                checks.append(
                    Check(
                        system=system,
                        key=f"{system}.provider.{fn.__name__}",
                        title=_("Preflight check %(name)s could not run") % {"name": fn.__name__},
                        ok=False,
                        detail=f"{type(exc).__name__}: {exc}",
                        fix=_("Read the detail, fix the connection settings and run it again."),
                    )
                )
    run.results = [asdict(check) for check in checks]
    run.ok = all(check.ok or check.info for check in checks)
    run.finished_at = timezone.now()
    run.save(update_fields=["results", "ok", "finished_at", "updated_at"])
    return run


def checks_of(run: PreflightRun) -> list[Check]:
    return [Check(**{**row, "flows": tuple(row.get("flows") or ())}) for row in run.results]


def preflight_latest(*, integration: Integration, system: str | None = None) -> PreflightRun | None:
    """The newest finished run that covered `system` (any system when None)."""
    runs = PreflightRun.objects.filter(integration=integration, finished_at__isnull=False)
    for run in runs.order_by("-created_at")[:20]:
        covered = run.systems.split(",") if run.systems else []
        if system is None or system in covered:
            return run
    return None


def preflight_failures(*, integration: Integration, system: str, flow_code: str) -> list[Check]:
    """The failed checks of the latest run of `system` that gate `flow_code`; a system never
    checked counts as one failure ("no preflight yet")."""
    run = preflight_latest(integration=integration, system=system)
    if run is None:
        return [
            Check(
                system=system,
                key=f"{system}.never_run",
                title=_("No preflight has been run yet"),
                ok=False,
                fix=_("Run the preflight on the connection or with `manage.py preflight`."),
            )
        ]
    return [check for check in checks_of(run) if check.gates(flow_code)]
