"""Asking the sequencer to run once writes have committed.

A 2xx already means the version and its ledger entry are stored; anchoring
is what follows, so no request ever waits on the broker. A write only sets a
flag; one background thread per process turns the flag into an
``accord.anchor`` task at most once per ``interval`` (a task integrates
everything pending, so one per write would only add Celery round trips). If
Redis is unreachable the thread backs off and the beat sweep anchors the
entries once Redis is back. In-process (no Redis), the task runs right away.
"""

from __future__ import annotations

import logging
import os
import threading

from celery import Celery

from workers.tasks import ANCHOR

__all__ = ["TaskRequests"]

log = logging.getLogger(__name__)
MAX_BACKOFF = 5.0


class TaskRequests:
    """Coalesced requests for one idempotent drain task (anchoring, ingest)."""

    def __init__(self, celery: Celery, interval: float = 0.2, task: str = ANCHOR) -> None:
        self.celery = celery
        self.task = task
        self.interval = interval
        self.eager = bool(celery.conf.task_always_eager)
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._owner_pid = 0  # the thread must live in the process serving (after a fork)

    def after_write(self) -> None:
        if self.eager:
            try:
                self.celery.tasks[self.task].apply()
            except Exception:  # the write is durable; the next write or the sweep anchors it
                log.warning("in-process anchoring failed", exc_info=True)
            return
        self._ensure_thread()
        self._wanted.set()

    def flush(self) -> None:
        """Anchor now (in-process) or enqueue one task, for a process about to exit."""
        if self.eager:
            self.after_write()
            return
        try:
            self.celery.send_task(self.task, retry=False)
        except Exception:
            log.warning("broker unreachable; the sweep will anchor what was written", exc_info=True)

    def _ensure_thread(self) -> None:
        if self._owner_pid == os.getpid():
            return
        with self._lock:
            if self._owner_pid != os.getpid():
                threading.Thread(
                    target=self._run, name=f"accord-requests-{self.task}", daemon=True
                ).start()
                self._owner_pid = os.getpid()

    def _run(self) -> None:
        backoff = self.interval
        while True:
            self._wanted.wait()
            self._wanted.clear()
            try:
                self.celery.send_task(self.task, retry=False)
                backoff = self.interval
            except Exception:
                log.warning("broker unreachable; pending entries wait for the sweep", exc_info=True)
                backoff = min(backoff * 2, MAX_BACKOFF)
            threading.Event().wait(backoff)
