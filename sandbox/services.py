"""Writes of the sandbox's control pages (fault injection)."""

from __future__ import annotations

from . import faults
from .models import FaultProfile


def fault_profile_save(*, system: str, values: dict) -> faults.Faults:
    """Store the fault switches of one simulated system (takes effect within a second)."""
    return faults.set_profile(system, **values)


def fault_profile_clear(*, system: str) -> faults.Faults:
    """Forget the stored switches: the system behaves as PORTAL_SANDBOX_FAULTS_<SYSTEM> says
    (quiet when unset)."""
    FaultProfile.objects.filter(system=system).delete()
    faults.clear_cache()
    return faults.current(system)
