"""Asking the sequencer to run once writes have committed.

A 2xx already means the version and its ledger entry are stored; anchoring
is what follows. Each process enqueues ``accord.anchor`` at most once per
``interval`` (one task integrates everything pending, so one per write would
only add Celery round trips), with a trailing, delayed task so the last write
of a burst is not left for the sweep. If Redis is unreachable the write
stands and the beat sweep anchors it later. In-process (no Redis), the task
runs right away.
"""

from __future__ import annotations

import logging
import threading
import time

from celery import Celery

from workers.tasks import ANCHOR

__all__ = ["AnchorRequests"]

log = logging.getLogger(__name__)


class AnchorRequests:
    def __init__(self, celery: Celery, interval: float = 0.2) -> None:
        self.celery = celery
        self.interval = interval
        self.eager = bool(celery.conf.task_always_eager)
        self._lock = threading.Lock()
        self._next_allowed = 0.0
        self._trailing = False

    def after_write(self) -> None:
        try:
            if self.eager:
                self.celery.tasks[ANCHOR].apply()
                return
            now = time.monotonic()
            with self._lock:
                if now >= self._next_allowed:
                    self._next_allowed = now + self.interval
                    self._trailing = False
                    countdown = 0.0
                elif not self._trailing:
                    self._trailing = True
                    countdown = self._next_allowed - now
                else:
                    return
            self.celery.send_task(ANCHOR, countdown=countdown or None, retry=False)
        except Exception:  # the write is durable; the sweep will anchor it
            log.warning("could not request anchoring; the sweep will pick it up", exc_info=True)
