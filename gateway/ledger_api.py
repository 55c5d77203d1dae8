"""The ledger's public face: signed checkpoints, the verifier key and proofs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from flask import Blueprint, Response, request

from records import transparency
from records.errors import BadRequest

__all__ = ["blueprint", "signer"]

blueprint = Blueprint("ledger", __name__)


def signer() -> Any:
    from gateway.app import accord

    return accord().runtime.signer


def _store() -> Any:
    from gateway.app import accord

    return accord().store


def _int(name: str, required: bool = True) -> int | None:
    value = request.args.get(name)
    if value is None:
        if required:
            raise BadRequest(f"Query parameter {name!r} is required", expression=name)
        return None
    if not value.isdigit():
        raise BadRequest(f"{name} must be a whole number, got {value!r}", expression=name)
    return int(value)


def _text(body: str) -> Response:
    return Response(body, mimetype="text/plain", headers={"Cache-Control": "no-cache"})


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), mimetype="application/json")


def checkpoint() -> Response:
    """The latest signed checkpoint (C2SP tlog-checkpoint in a signed note)."""
    return _text(transparency.checkpoint_note(_store()))


def key() -> Response:
    """The verifier key: what anyone needs to check checkpoints offline."""
    return _text(signer().verifier_key() + "\n")


def inclusion() -> Response:
    index = _int("index")
    assert index is not None
    return _json(transparency.inclusion_proof(_store(), index, _int("size", required=False)))


def consistency() -> Response:
    first = _int("first")
    assert first is not None
    return _json(transparency.consistency_proof(_store(), first, _int("second", required=False)))


ROUTES: list[tuple[str, str, Callable[..., Any]]] = [
    ("GET", "/checkpoint", checkpoint),
    ("GET", "/key", key),
    ("GET", "/proof/inclusion", inclusion),
    ("GET", "/proof/consistency", consistency),
]

for method, path, view in ROUTES:
    blueprint.add_url_rule(path, view_func=view, methods=[method], endpoint=path)
