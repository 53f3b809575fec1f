"""The shared rate limiter holds the limit with several concurrent callers (threads, and
with REDIS_URL separate processes)."""

import multiprocessing
import threading
import time
import uuid

import pytest
from django.conf import settings

from connectors.ratelimit import (
    LocalLimiter,
    RateLimitTimeout,
    RedisLimiter,
    Window,
    get_limiter,
)

WINDOWS = (Window(5, 1.0), Window(12, 3.0))


# Stamps are read after acquire() returns, so each lags its admission by the time the thread
# waits for the GIL and the stamp lock: tens of milliseconds when CI runs three test processes
# on two cores. Windows shortened by this much still catch a limiter that ignores a window or
# admits a call more than 50 ms early.
JITTER = 0.05


def _max_in_any_window(stamps: list[float], seconds: float) -> int:
    stamps = sorted(stamps)
    best = 0
    left = 0
    for right, moment in enumerate(stamps):
        while moment - stamps[left] >= seconds - JITTER:
            left += 1
        best = max(best, right - left + 1)
    return best


def _hammer(limiter, key: str, callers: int, each: int) -> list[float]:
    stamps: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(each):
            limiter.acquire(key, windows=WINDOWS, timeout=30)
            with lock:
                stamps.append(time.time())

    threads = [threading.Thread(target=worker) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stamps


def _process_worker(url: str, key: str, each: int, out) -> None:
    limiter = RedisLimiter(url)
    for _ in range(each):
        limiter.acquire(key, windows=WINDOWS, timeout=30)
        out.put(time.time())


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
