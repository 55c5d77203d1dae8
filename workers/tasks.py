"""Celery tasks: thin shims over one records/ledger call each.

``accord.anchor`` integrates every pending ledger entry and signs a
checkpoint. It is idempotent, so it runs with late acknowledgement, is
retried on database trouble, and also runs on a beat schedule as the sweep
that picks up entries left pending while Redis was down or a worker died.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task

from records.ingest import process_pending
from records.sequencer import integrate_pending
from records.settings import Settings
from records.storage import DatabaseUnavailable
from workers.runtime import Runtime, runtime_from_settings

__all__ = ["ANCHOR", "INGEST", "register_tasks", "runtime"]

ANCHOR = "accord.anchor"
INGEST = "accord.ingest"


def runtime(app: Celery) -> Runtime:
    """The process's runtime: the gateway's when in-process, else built from the environment."""
    current: Runtime | None = getattr(app, "accord_runtime", None)
    if current is None:
        current = runtime_from_settings(Settings())
        app.accord_runtime = current
    return current


def register_tasks(app: Celery) -> None:
    @app.task(  # type: ignore[untyped-decorator]
        name=ANCHOR,
        shared=False,  # each app (gateway, test) keeps its own task and runtime
        bind=True,
        acks_late=True,
        autoretry_for=(DatabaseUnavailable,),
        retry_backoff=True,
        retry_backoff_max=30,
        max_retries=None,
        ignore_result=True,
    )
    def anchor(self: Task[Any, Any]) -> int:
        rt = runtime(self.app)
        return integrate_pending(rt.store, rt.signer, rt.origin).appended

    @app.task(  # type: ignore[untyped-decorator]
        name=INGEST,
        shared=False,
        bind=True,
        acks_late=True,
        autoretry_for=(DatabaseUnavailable,),
        retry_backoff=True,
        retry_backoff_max=30,
        max_retries=None,
        ignore_result=True,
    )
    def ingest(self: Task[Any, Any]) -> int:
        rt = runtime(self.app)
        handled = process_pending(rt.store)
        if handled:
            integrate_pending(rt.store, rt.signer, rt.origin)
        return handled

    sweep = Settings().anchor_sweep_seconds
    app.conf.beat_schedule = {
        "anchor-sweep": {"task": ANCHOR, "schedule": sweep},
        "ingest-sweep": {"task": INGEST, "schedule": sweep},
    }
