"""Resolving who is asking. Until bearer-token authentication lands, everyone is anonymous."""

from __future__ import annotations

from flask import Request

from records.access import ANONYMOUS, Principal

__all__ = ["resolve_principal"]


def resolve_principal(req: Request) -> Principal:
    """The principal behind ``req``: the one place authentication will plug in."""
    return ANONYMOUS
