"""Celery application and tasks. Tasks are thin shims over one records/ledger call."""

from workers.app import make_celery

__all__ = ["make_celery"]
