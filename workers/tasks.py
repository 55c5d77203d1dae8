"""Celery tasks: thin shims over one records/ledger call each.

``accord.anchor`` integrates every pending ledger entry and signs a
checkpoint. It is idempotent, so it runs with late acknowledgement, is
retried on database trouble, and also runs on a beat schedule as the sweep
that picks up entries left pending while Redis was down or a worker died.

``accord.ingest`` converts and stores what waits in the inbox, then anchors
it. Feeds come first: while messages keep arriving, it stores them before
anchoring (the raw messages are durable already, the ledger entries wait in
the outbox), for at most :data:`FEEDS_FIRST_SECONDS` at a time.

With ``ACCORD_PROFILE_DIR`` set, each task run is profiled (cProfile) and
its statistics written there, one file per run: how to see where a worker's
time goes under real load.
"""

from __future__ import annotations

import cProfile
import gc
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from celery import Celery, Task

from records.ingest import process_pending
from records.sequencer import integrate_pending
from records.settings import Settings
from records.storage import DatabaseUnavailable
from workers.runtime import Runtime, runtime_from_settings

__all__ = ["ANCHOR", "FEEDS_FIRST_SECONDS", "INGEST", "register_tasks", "runtime"]

ANCHOR = "accord.anchor"
INGEST = "accord.ingest"
FEEDS_FIRST_SECONDS = 5.0
T = TypeVar("T")


def runtime(app: Celery) -> Runtime:
    """The process's runtime: the gateway's when in-process, else built from the environment."""
    current: Runtime | None = getattr(app, "accord_runtime", None)
    if current is None:
        current = runtime_from_settings(Settings())
        app.accord_runtime = current
        # A worker's modules, schemas and compiled plans live as long as it does:
        # out of the collector's way, its full passes no longer walk them.
        gc.freeze()
    return current


def profiled(name: str, work: Callable[[], T]) -> T:
    """``work()``; under cProfile, its statistics saved, if ACCORD_PROFILE_DIR is set."""
    folder = os.environ.get("ACCORD_PROFILE_DIR")
    if not folder:
        return work()
    profile = cProfile.Profile()
    try:
        return profile.runcall(work)
    finally:
        Path(folder).mkdir(parents=True, exist_ok=True)
        profile.dump_stats(Path(folder) / f"{name}-{os.getpid()}-{time.time():.3f}.prof")


def ingest_then_anchor(rt: Runtime, keep_for: float = FEEDS_FIRST_SECONDS) -> int:
    """Store what the inbox holds, and what arrives meanwhile (for a while), then anchor it."""
    handled = process_pending(rt.store, keep_for=keep_for)
    if handled:
        integrate_pending(rt.store, rt.signer, rt.origin)
    return handled


# Both tasks: acknowledged after they ran (a killed worker's task is redelivered), retried
# while the database is down, no result kept. Each app (gateway, test) keeps its own
# task and runtime (shared=False).
_DURABLE: dict[str, Any] = {
    "shared": False,
    "bind": True,
    "acks_late": True,
    "autoretry_for": (DatabaseUnavailable,),
    "retry_backoff": True,
    "retry_backoff_max": 30,
    "max_retries": None,
    "ignore_result": True,
}


def register_tasks(app: Celery) -> None:
    @app.task(name=ANCHOR, **_DURABLE)  # type: ignore[untyped-decorator]
    def anchor(self: Task[Any, Any]) -> int:
        rt = runtime(self.app)
        return profiled(
            "anchor", lambda: integrate_pending(rt.store, rt.signer, rt.origin).appended
        )

    @app.task(name=INGEST, **_DURABLE)  # type: ignore[untyped-decorator]
    def ingest(self: Task[Any, Any]) -> int:
        rt = runtime(self.app)
        # in-process (the embedded default), a request runs this: it takes what waits, no more
        keep_for = 0.0 if self.app.conf.task_always_eager else FEEDS_FIRST_SECONDS
        return profiled("ingest", lambda: ingest_then_anchor(rt, keep_for))

    sweep = Settings().anchor_sweep_seconds
    app.conf.beat_schedule = {
        "anchor-sweep": {"task": ANCHOR, "schedule": sweep},
        "ingest-sweep": {"task": INGEST, "schedule": sweep},
    }
