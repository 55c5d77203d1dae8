"""Module-level Celery app for the ``celery`` command line (``-A workers.celery_main:app``).

Built from the environment, like the gateway; importing it connects to nothing.
"""

import os

from workers.app import make_celery

app = make_celery(os.environ.get("REDIS_URL", ""))
