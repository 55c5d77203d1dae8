"""The FHIR REST API: a verb+path table over :mod:`records.interactions`."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import orjson
from flask import Blueprint, Response, request

from gateway.auth import resolve_principal
from gateway.capability import capability_statement
from gateway.http import fhir_response, json_body
from records import interactions as fhir
from records.access import Repository
from records.errors import NotAcceptable
from records.everything import everything, parameters_from_body
from records.linking import thresholds

__all__ = ["blueprint"]

blueprint = Blueprint("fhir", __name__)

ACCEPTABLE = (
    "application/fhir+json",
    "application/json",
    "application/json+fhir",
    "*/*",
    "application/*",
)


def _base() -> str:
    from gateway.app import accord

    configured = accord().settings.base_url
    return (
        configured.rstrip("/") + "/fhir" if configured else request.host_url.rstrip("/") + "/fhir"
    )


def request_context() -> tuple[Repository, fhir.Context]:
    """The repository and interaction context of the current request."""
    from gateway.app import accord

    _check_accept()
    ext = accord()
    principal = resolve_principal(request)
    repo = Repository(ext.store, principal, ext.policy)
    prefer = request.headers.get("Prefer", "")
    returns = "representation"
    for part in prefer.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "return" and value in ("minimal", "representation", "OperationOutcome"):
            returns = value
    source = f"urn:accord:principal:{principal.subject}"
    return repo, fhir.Context(_base(), source, returns, thresholds(ext.settings))


def _check_accept() -> None:
    fmt = request.args.get("_format")
    if fmt and not any(t in fmt for t in ("json", "JSON")):
        raise NotAcceptable(f"_format={fmt} is not supported: this server speaks JSON only")
    accept = request.headers.get("Accept", "")
    if accept and not any(t in accept for t in ACCEPTABLE):
        raise NotAcceptable(
            f"Cannot answer in {accept!r}: this server speaks application/fhir+json"
        )


def _reply(outcome: fhir.Outcome) -> Response:
    return fhir_response(outcome.status, outcome.body, outcome.headers)


def _params() -> list[tuple[str, str]]:
    return list(request.args.items(multi=True))


# -- handlers ------------------------------------------------------------------


def metadata() -> Response:
    _check_accept()
    return fhir_response(200, _capability_bytes(_base()))


@cache
def _capability_bytes(base: str) -> bytes:
    return orjson.dumps(capability_statement(base))


def system_bundle() -> Response:
    repo, ctx = request_context()
    return _reply(fhir.process_bundle(repo, ctx, json_body(request)))


def system_history() -> Response:
    repo, ctx = request_context()
    return _reply(fhir.history(repo, ctx, None, None, _params()))


def type_search(resource_type: str) -> Response:
    repo, ctx = request_context()
    return _reply(fhir.search(repo, ctx, resource_type, _params()))


def type_search_post(resource_type: str) -> Response:
    repo, ctx = request_context()
    if request.mimetype != "application/x-www-form-urlencoded":
        from records.errors import UnsupportedMediaType

        raise UnsupportedMediaType("POST _search takes application/x-www-form-urlencoded")
    params = _params() + list(request.form.items(multi=True))
    return _reply(fhir.search(repo, ctx, resource_type, params))


def type_create(resource_type: str) -> Response:
    repo, ctx = request_context()
    body = json_body(request)
    return _reply(fhir.create(repo, ctx, resource_type, body, request.headers.get("If-None-Exist")))


def type_conditional_update(resource_type: str) -> Response:
    repo, ctx = request_context()
    body = json_body(request)
    condition = request.query_string.decode()
    if not condition:
        from records.errors import MethodNotAllowed

        raise MethodNotAllowed(f"PUT {resource_type} needs an id or a search condition")
    out = fhir.conditional_update(
        repo, ctx, resource_type, condition, body, request.headers.get("If-Match")
    )
    return _reply(out)


def type_history(resource_type: str) -> Response:
    repo, ctx = request_context()
    return _reply(fhir.history(repo, ctx, resource_type, None, _params()))


def patient_everything(resource_id: str) -> Response:
    """Patient/$everything: the unified record of a patient and every linked patient."""
    repo, ctx = request_context()
    params = _params()
    if request.method == "POST":
        params += parameters_from_body(json_body(request))
    return _reply(everything(repo, ctx, resource_id, params))


def instance_read(resource_type: str, resource_id: str) -> Response:
    repo, ctx = request_context()
    return _reply(fhir.read(repo, ctx, resource_type, resource_id))


def instance_update(resource_type: str, resource_id: str) -> Response:
    repo, ctx = request_context()
    body = json_body(request)
    return _reply(
        fhir.update(repo, ctx, resource_type, resource_id, body, request.headers.get("If-Match"))
    )


def instance_delete(resource_type: str, resource_id: str) -> Response:
    repo, ctx = request_context()
    return _reply(fhir.delete(repo, ctx, resource_type, resource_id))


def instance_history(resource_type: str, resource_id: str) -> Response:
    repo, ctx = request_context()
    return _reply(fhir.history(repo, ctx, resource_type, resource_id, _params()))


def instance_vread(resource_type: str, resource_id: str, version_id: str) -> Response:
    repo, ctx = request_context()
    return _reply(fhir.vread(repo, ctx, resource_type, resource_id, version_id))


def instance_verify(resource_type: str, resource_id: str, version_id: str) -> Response:
    """$verify: the version's ledger entry, audit path and checkpoint, checkable offline."""
    from gateway.ledger_api import signer
    from records.transparency import verify_version

    repo, _ = request_context()
    body = verify_version(repo, signer().verifier, resource_type, resource_id, version_id)
    return fhir_response(200, body)


def patient_merge() -> Response:
    """Patient/$merge: the source Patient becomes inactive and replaced-by the target."""
    from records import identity

    repo, ctx = request_context()
    return _reply(identity.merge(repo, ctx, json_body(request)))


def patient_unmerge() -> Response:
    """Patient/$unmerge: undo a merge or link; the pair is never linked automatically again."""
    from records import identity

    repo, ctx = request_context()
    return _reply(identity.unmerge(repo, ctx, json_body(request)))


ROUTES: list[tuple[str, str, Callable[..., Any]]] = [
    ("POST", "/Patient/$merge", patient_merge),
    ("POST", "/Patient/$unmerge", patient_unmerge),
    ("GET", "/metadata", metadata),
    ("POST", "/", system_bundle),
    ("GET", "/_history", system_history),
    ("GET", "/<resource_type>", type_search),
    ("POST", "/<resource_type>/_search", type_search_post),
    ("POST", "/<resource_type>", type_create),
    ("PUT", "/<resource_type>", type_conditional_update),
    ("GET", "/<resource_type>/_history", type_history),
    ("GET", "/<resource_type>/<resource_id>", instance_read),
    ("PUT", "/<resource_type>/<resource_id>", instance_update),
    ("DELETE", "/<resource_type>/<resource_id>", instance_delete),
    ("GET", "/<resource_type>/<resource_id>/_history", instance_history),
    ("GET", "/<resource_type>/<resource_id>/_history/<version_id>", instance_vread),
    ("GET", "/<resource_type>/<resource_id>/_history/<version_id>/$verify", instance_verify),
    ("GET", "/Patient/<resource_id>/$everything", patient_everything),
    ("POST", "/Patient/<resource_id>/$everything", patient_everything),
]

for method, path, view in ROUTES:
    blueprint.add_url_rule(path, view_func=view, methods=[method], endpoint=f"{method} {path}")
blueprint.add_url_rule("", view_func=system_bundle, methods=["POST"], endpoint="POST base")
