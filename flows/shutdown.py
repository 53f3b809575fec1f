"""Graceful stop of a worker (issue 15): SIGTERM never leaves a document without an owner.

`systemctl stop`, `docker stop`, Kubernetes and Ctrl-C under honcho send SIGTERM, often to the
whole process group. Celery's main process then does its warm shutdown (stops taking tasks,
waits for the running ones), but in its prefork pool children billiard's own SIGTERM handler
raises SystemExit at once, in the middle of the batch (issue 15: the settle then wrote the
in-flight documents back as loading without a claim, and nothing took them again).

Here a pool child that gets SIGTERM while it runs a task sets a stop flag instead: the engine
takes no new batch and reads no further page, the batch in hand finishes (its write is
answered by the remote's own timeout) and the task returns. Should the batch still run after
PORTAL_STOP_GRACE_SECONDS, `WorkerStopping` is raised in it: what was in flight is settled as
"outcome unknown" (checked in the target before anything is sent again) and handed back,
workable at once. The main process passes its own SIGTERM on to its pool children, so a
SIGTERM to the main process only (`docker stop`) stops them the same way.

Set the stop timeout of the supervisor above the grace (README, Production): systemd
`TimeoutStopSec`, `docker stop -t`, Kubernetes `terminationGracePeriodSeconds`.

Sources: Celery's Workers Guide, "Stopping the worker" (docs.celeryq.dev, userguide/workers:
shutdown with TERM; the worker finishes the tasks it runs before it terminates); billiard
4.x `pool.Worker.after_fork` and `common.reset_signals` (installed after the pool
initializer, so `worker_process_init` cannot keep SIGTERM; hence the install at the first
task) and `common._shutdown_cleanup` (its handler: `sys.exit`).
"""

from __future__ import annotations

import logging
import os
import signal
import threading

from django.conf import settings

logger = logging.getLogger(__name__)

_stop = threading.Event()
_running = threading.Event()
_pool_child = threading.Event()  # set in Celery pool children only (never in tests' threads)


class WorkerStopping(BaseException):
    """Raised in a task that is still working when the stop grace has passed. A
    BaseException on purpose: no `except Exception` on the way swallows it."""


def stop_requested() -> bool:
    return _stop.is_set()


def request_stop() -> None:
    """Ask this process's engine work to stop at its next batch (tests call it directly)."""
    _stop.set()


def reset() -> None:
    _stop.clear()


def raise_if_stopping() -> None:
    """Called between pages and batches: a stopping worker reads and claims nothing more."""
    if _stop.is_set():
        raise WorkerStopping("the worker is stopping")


def _on_alarm(signum, frame) -> None:
    if _running.is_set():
        raise WorkerStopping(
            f"the worker is stopping and its task ran past {settings.PORTAL_STOP_GRACE_SECONDS} s"
        )


def _on_term(signum, frame) -> None:
    if not _running.is_set():
        # Idle between tasks: nothing to hand back; exit the way billiard's own handler does.
        from billiard.common import _shutdown_cleanup

        _shutdown_cleanup(signum, frame)
        return
    if not _stop.is_set():
        logger.warning(
            "SIGTERM: finishing the batch in hand (at most %s s), then stopping",
            settings.PORTAL_STOP_GRACE_SECONDS,
        )
        _stop.set()
        signal.setitimer(signal.ITIMER_REAL, float(settings.PORTAL_STOP_GRACE_SECONDS))


def _child_init(**_kwargs) -> None:
    """In each pool child (worker_process_init). The handlers are installed at the first task:
    billiard sets its own SIGTERM handler (sys.exit at once) after this initializer."""
    _pool_child.set()


def _install() -> None:
    if signal.getsignal(signal.SIGTERM) is not _on_term:
        signal.signal(signal.SIGTERM, _on_term)
        signal.signal(signal.SIGALRM, _on_alarm)


def _task_started(**_kwargs) -> None:
    if not _pool_child.is_set():
        return
    if _stop.is_set():
        # A stopping child was handed a new task: leave it unacknowledged (acks_late and
        # reject_on_worker_lost put it back in the queue) and go.
        os._exit(0)
    _install()
    _running.set()


def _task_finished(**_kwargs) -> None:
    if not _pool_child.is_set():
        return
    _running.clear()
    signal.setitimer(signal.ITIMER_REAL, 0)


def _main_shutting_down(**_kwargs) -> None:
    """In the main worker process: pass the warm shutdown on to the pool children."""
    import billiard.process

    for child in billiard.process.active_children():
        try:
            os.kill(child.pid, signal.SIGTERM)
        except (ProcessLookupError, TypeError):
            continue


def connect() -> None:
    """Wire the handlers to Celery's signals (FlowsConfig.ready)."""
    from celery import signals

    signals.worker_process_init.connect(_child_init, dispatch_uid="flows.shutdown.child_init")
    signals.task_prerun.connect(_task_started, dispatch_uid="flows.shutdown.task_started")
    signals.task_postrun.connect(_task_finished, dispatch_uid="flows.shutdown.task_finished")
    signals.worker_shutting_down.connect(
        _main_shutting_down, dispatch_uid="flows.shutdown.main_shutting_down"
    )
