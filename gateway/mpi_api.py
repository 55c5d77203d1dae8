"""The master patient index's review queue: ``GET /mpi/candidates``, accept or reject one.

A candidate is a pair of Patients the matcher found alike but not alike
enough to link on its own. A reviewer sees both records as they are now and
the weight each field contributed, then decides. Accepting links them (new
Patient versions, anchored, with a Provenance naming the reviewer);
rejecting keeps them apart for good.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Response, request

from gateway.auth import resolve_principal
from gateway.fhir_api import request_context
from records import identity
from records.access import Repository
from records.errors import BadRequest, NotFound

__all__ = ["blueprint"]

blueprint = Blueprint("mpi", __name__)
MAX_ID = 2**63 - 1


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), status=200, mimetype="application/json")


def _int(name: str, default: int, highest: int) -> int:
    raw = request.args.get(name, str(default))
    if not (raw.isascii() and raw.isdigit()) or int(raw) > highest:
        raise BadRequest(f"'{name}' must be a whole number from 0 to {highest}", expression=name)
    return int(raw)


def candidates() -> Response:
    from gateway.app import accord

    repo = Repository(accord().store, resolve_principal(request), accord().policy)
    status = request.args.get("status", "pending")
    count = _int("_count", 20, 200)
    offset = _int("_offset", 0, 10**9)
    return _json(identity.list_candidates(repo, status, count, offset))


def _decide(candidate_id: int, accept: bool) -> Response:
    repo, ctx = request_context()
    if candidate_id > MAX_ID:
        raise NotFound(f"No match candidate {candidate_id}")
    return _json(identity.decide_candidate(repo, ctx, candidate_id, accept))


def accept(candidate_id: int) -> Response:
    return _decide(candidate_id, True)


def reject(candidate_id: int) -> Response:
    return _decide(candidate_id, False)


blueprint.add_url_rule("/candidates", view_func=candidates, methods=["GET"])
blueprint.add_url_rule("/candidates/<int:candidate_id>/accept", view_func=accept, methods=["POST"])
blueprint.add_url_rule("/candidates/<int:candidate_id>/reject", view_func=reject, methods=["POST"])
