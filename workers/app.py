"""The Celery application factory.

With a Redis URL, tasks go through the broker with late acknowledgement (our
tasks are idempotent, so a redelivery after a worker dies is safe). Without
one — the embedded default — tasks run in-process, eagerly.
"""

from __future__ import annotations

from celery import Celery

__all__ = ["make_celery"]


def make_celery(redis_url: str = "") -> Celery:
    app = Celery("accord", set_as_current=False)
    if redis_url:
        app.conf.update(
            broker_url=redis_url,
            task_acks_late=True,
            task_reject_on_worker_lost=True,
            worker_prefetch_multiplier=1,
            broker_transport_options={"visibility_timeout": 3600},
            broker_connection_timeout=2,  # a gateway must not hang on a dead broker
            broker_connection_retry_on_startup=True,
            task_serializer="json",
            accept_content=["json"],
            task_ignore_result=True,
        )
    else:
        app.conf.update(task_always_eager=True, task_eager_propagates=True, broker_url="memory://")
    from workers.tasks import register_tasks

    register_tasks(app)
    return app
