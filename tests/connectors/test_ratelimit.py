"""The shared rate limiter holds the limit with several concurrent callers (threads, and
with REDIS_URL separate processes)."""

import multiprocessing
import threading
import time
import uuid

import pytest
from django.conf import settings

from connectors.ratelimit import (
    Limiter,
    LocalLimiter,
    RateLimitTimeout,
    RedisLimiter,
    Window,
    get_limiter,
)

WINDOWS = (Window(5, 1.0), Window(12, 3.0))


class Bracketed(Limiter):
    """The limiter under test, its admissions bracketed: each slot taken is recorded as
    (before, after) the call that took it, so the admission instant lies inside. A stamp read
    after acquire() returns can lag by tens of milliseconds when CI runs three test processes
    on two cores (the thread waits for a core and the GIL), and lagging stamps make lawful
    calls look crowded; brackets never do."""

    def __init__(self, inner: Limiter) -> None:
        self.inner = inner
        self.spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def try_acquire(self, key: str, windows: tuple[Window, ...]) -> float:
        before = time.time()
        wait = self.inner.try_acquire(key, windows)
        after = time.time()
        if wait <= 0:
            with self._lock:
                self.spans.append((before, after))
        return wait

    def reset(self, key: str) -> None:
        self.inner.reset(key)


class Crowded(int):
    """A count that shows the admissions behind it when an assertion fails."""

    spans: list[tuple[float, float]]

    def __repr__(self) -> str:
        first = min(before for before, _after in self.spans)
        shown = ", ".join(f"{b - first:.4f}-{a - first:.4f}" for b, a in sorted(self.spans))
        return f"{int(self)} (admissions, s after the first: {shown})"


def _max_in_any_window(spans: list[tuple[float, float]], seconds: float) -> int:
    """Most admissions certainly inside one window of `seconds`: admissions whose brackets
    all start at or after the earliest one's start and end less than `seconds` after it."""
    count = Crowded(
        max(
            sum(1 for before, after in spans if before >= start and after < start + seconds)
            for start, _end in spans
        )
    )
    count.spans = spans
    return count


def _hammer(limiter: Limiter, key: str, callers: int, each: int) -> list[tuple[float, float]]:
    bracketed = Bracketed(limiter)

    def worker():
        for _ in range(each):
            bracketed.acquire(key, windows=WINDOWS, timeout=30)

    threads = [threading.Thread(target=worker) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return bracketed.spans


def _process_worker(url: str, key: str, each: int, out) -> None:
    limiter = Bracketed(RedisLimiter(url))
    for _ in range(each):
        limiter.acquire(key, windows=WINDOWS, timeout=30)
    for span in limiter.spans:
        out.put(span)


def test_threads_never_exceed_the_limit_together():
    """GIVEN 6 threads sharing the process limiter WHEN they make 16 calls THEN no 1-second
    window holds more than 5 calls and no 3-second window more than 12."""
    stamps = _hammer(get_limiter(), f"test:{uuid.uuid4().hex}", callers=6, each=3)
    assert len(stamps) == 18
    assert _max_in_any_window(stamps, 1.0) <= 5
    assert _max_in_any_window(stamps, 3.0) <= 12


def test_workers_of_the_configured_backend_share_one_budget():
    """GIVEN the configured backend WHEN several workers call together THEN they share one
    budget: with REDIS_URL 3 separate processes, otherwise (the embedded default, one
    process) the process-local limiter shared by threads."""
    key = f"test:{uuid.uuid4().hex}"
    if settings.REDIS_URL:
        assert isinstance(get_limiter(), RedisLimiter)
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        processes = [
            context.Process(target=_process_worker, args=(settings.REDIS_URL, key, 5, out))
            for _ in range(3)
        ]
        for process in processes:
            process.start()
        stamps = [out.get(timeout=60) for _ in range(15)]
        for process in processes:
            process.join(timeout=30)
            assert process.exitcode == 0
    else:
        assert isinstance(get_limiter(), LocalLimiter)
        stamps = _hammer(get_limiter(), key, callers=3, each=5)
    assert len(stamps) == 15
    assert _max_in_any_window(stamps, 1.0) <= 5
    assert _max_in_any_window(stamps, 3.0) <= 12


def test_acquire_gives_up_after_the_timeout():
    limiter = LocalLimiter()
    key = "test:timeout"
    for _ in range(2):
        limiter.acquire(key, windows=(Window(2, 60.0),), timeout=1)
    started = time.monotonic()
    with pytest.raises(RateLimitTimeout) as caught:
        limiter.acquire(key, windows=(Window(2, 60.0),), timeout=0.2)
    assert time.monotonic() - started < 1
    assert caught.value.retry_after > 50
