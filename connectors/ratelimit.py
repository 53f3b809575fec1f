"""A rate limiter shared by every worker: Redis when settings.REDIS_URL is set, else per process.

Limits are sliding windows ("at most N calls in any W seconds"), several per key (e.g.
Jushuitan's 5/s and 100/min). `acquire()` blocks until every window of the key has room,
or raises RateLimitTimeout. The Redis variant keeps one sorted set per window and decides
in a Lua script using the Redis server's clock, so workers on several machines (with
drifting clocks) share one budget. Windows are held `GUARD_SECONDS` longer than they say.
"""

from __future__ import annotations

import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.utils.translation import gettext_noop

from .errors import RateLimited

# Every window is held this much longer than it says. Between taking a slot and the request
# reaching the remote, a thread can wait for a core (and Redis stamps a slot with the time its
# command began, which can trail the real time by milliseconds on a busy machine), so calls
# spaced exactly one window apart can arrive a little closer together. 25 ms costs 2.4% of a
# 1-second limit's bursts and 0.04% of a 1-minute limit.
GUARD_SECONDS = 0.025


@dataclass(frozen=True)
class Window:
    """At most `calls` calls in any `seconds` seconds."""

    calls: int
    seconds: float

    @property
    def held(self) -> float:
        """The span the limiter holds: the window plus the guard."""
        return self.seconds + GUARD_SECONDS


class RateLimitTimeout(RateLimited):
    default_message = gettext_noop("Waited too long for a free slot under the rate limit.")


class Limiter(ABC):
    """Interface: `try_acquire` returns 0 when a slot was taken, else the seconds to wait."""

    @abstractmethod
    def try_acquire(self, key: str, windows: tuple[Window, ...]) -> float:
        """Take a slot (return 0) or say how many seconds until one is free."""

    def acquire(self, key: str, *, windows: tuple[Window, ...], timeout: float = 30.0) -> None:
        """Block until a call under `key` is allowed by every window, at most `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            wait = self.try_acquire(key, windows)
            if wait <= 0:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or wait > remaining + 0.001:
                raise RateLimitTimeout(key=key, retry_after=wait, timeout=timeout)
            time.sleep(min(wait, remaining))

    @abstractmethod
    def reset(self, key: str) -> None:
        """Forget every call recorded under `key`."""


class LocalLimiter(Limiter):
    """Process-local sliding windows (the embedded default: one process, many threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, Window], deque[float]] = {}

    def try_acquire(self, key: str, windows: tuple[Window, ...]) -> float:
        now = time.monotonic()
        with self._lock:
            wait = 0.0
            logs = []
            for window in windows:
                log = self._calls.setdefault((key, window), deque())
                while log and log[0] <= now - window.held:
                    log.popleft()
                if len(log) >= window.calls:
                    wait = max(wait, log[0] + window.held - now)
                logs.append(log)
            if wait > 0:
                return wait
            for log in logs:
                log.append(now)
            return 0.0

    def reset(self, key: str) -> None:
        with self._lock:
            for bucket in [k for k in self._calls if k[0] == key]:
                del self._calls[bucket]


# KEYS: one sorted set per window. ARGV: member, then (calls, milliseconds) per window.
# Returns 0 when the call was recorded in every window, else the milliseconds to wait.
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local calls = tonumber(ARGV[2 * i])
  local span = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  if redis.call('ZCARD', key) >= calls then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + span - now
    if w < 1 then w = 1 end
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local span = tonumber(ARGV[2 * i + 1])
  redis.call('ZADD', key, now, ARGV[1] .. ':' .. now)
  redis.call('PEXPIRE', key, span + 1000)
end
return 0
"""


class RedisLimiter(Limiter):
    """Sliding windows in Redis sorted sets, shared by every process using the same Redis."""

    def __init__(self, url: str, namespace: str = "portal") -> None:
        import redis

        self.prefix = f"{namespace}:ratelimit:"
        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_LUA)

    def _keys(self, key: str, windows: tuple[Window, ...]) -> list[str]:
        return [f"{self.prefix}{key}:{w.calls}/{w.seconds}" for w in windows]

    def try_acquire(self, key: str, windows: tuple[Window, ...]) -> float:
        args: list = [uuid.uuid4().hex]
        for window in windows:
            args += [window.calls, round(window.held * 1000)]
        wait_ms = int(self._script(keys=self._keys(key, windows), args=args))
        return wait_ms / 1000

    def reset(self, key: str) -> None:
        for found in self._redis.scan_iter(match=f"{self.prefix}{key}:*"):
            self._redis.delete(found)


@lru_cache(maxsize=4)
def _limiter_for(url: str, namespace: str) -> Limiter:
    return RedisLimiter(url, namespace) if url else LocalLimiter()


def get_limiter() -> Limiter:
    """The limiter of this process: Redis-backed when REDIS_URL is set (keys under
    PORTAL_KEY_PREFIX)."""
    return _limiter_for(settings.REDIS_URL or "", settings.PORTAL_KEY_PREFIX)
