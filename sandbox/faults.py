"""Fault injection for the simulators.

A simulator asks `faults.current(system)` once per call and then `faults.roll(rate)` at
each decision point. Profiles live in FaultProfile rows (admin, or the control endpoint
/sandbox/faults/<system>/); when a system has no row, PORTAL_SANDBOX_FAULTS_<SYSTEM>
(JSON, e.g. '{"error_rate": 0.2, "latency_ms": 50}') gives the run's defaults.
Profiles are cached for a second per process so faults cost no query per call.
"""

import json
import os
import random
import threading
import time
from dataclasses import dataclass, fields
from decimal import Decimal

_CACHE_SECONDS = 1.0
_lock = threading.Lock()
_cache: dict[str, tuple[float, "Faults"]] = {}
_rng = random.Random()


@dataclass(frozen=True)
class Faults:
    error_rate: Decimal = Decimal("0")
    busy_rate: Decimal = Decimal("0")
    timeout_after_commit_rate: Decimal = Decimal("0")
    stall_seconds: Decimal = Decimal("35")
    session_expiry_rate: Decimal = Decimal("0")
    rate_limit_rate: Decimal = Decimal("0")
    latency_ms: int = 0
    latency_jitter_ms: int = 0

    @classmethod
    def from_mapping(cls, data: dict) -> "Faults":
        known = {f.name: f.type for f in fields(cls)}
        values = {}
        for name, value in data.items():
            if name not in known:
                raise ValueError(f"unknown fault setting {name!r}; known: {sorted(known)}")
            values[name] = int(value) if name.startswith("latency") else Decimal(str(value))
        return cls(**values)

    def as_dict(self) -> dict:
        def text(value):
            return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)

        return {f.name: text(getattr(self, f.name)) for f in fields(self)}

    @property
    def quiet(self) -> bool:
        return self == Faults(stall_seconds=self.stall_seconds)


def _from_env(system: str) -> Faults:
    raw = os.environ.get(f"PORTAL_SANDBOX_FAULTS_{system.upper()}", "")
    return Faults.from_mapping(json.loads(raw)) if raw else Faults()


def current(system: str) -> Faults:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(system)
        if hit and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
    from .models import FaultProfile

    row = FaultProfile.objects.filter(system=system).values().first()
    if row is None:
        faults = _from_env(system)
    else:
        faults = Faults.from_mapping({f.name: row[f.name] for f in fields(Faults) if f.name in row})
    with _lock:
        _cache[system] = (now, faults)
    return faults


def set_profile(system: str, **settings) -> Faults:
    """Store a profile (used by tests, benchmarks and the control endpoint)."""
    from .models import FaultProfile

    faults = Faults.from_mapping(settings)
    FaultProfile.objects.update_or_create(system=system, defaults=faults.__dict__)
    clear_cache()
    return faults


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def roll(rate: Decimal) -> bool:
    return rate > 0 and _rng.random() < float(rate)


def delay(faults: Faults) -> None:
    """Sleep the added latency of this call, if any."""
    extra = faults.latency_ms + (
        _rng.randint(0, faults.latency_jitter_ms) if faults.latency_jitter_ms else 0
    )
    if extra:
        time.sleep(extra / 1000)


def stall(faults: Faults) -> None:
    """Hold a committed answer past the client's timeout (the client cannot know it landed)."""
    time.sleep(float(faults.stall_seconds))
