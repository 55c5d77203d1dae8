"""HTTP plumbing shared by the blueprints: content types, bodies, the one error handler."""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from records.errors import (
    BadRequest,
    FHIRError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from records.storage import DatabaseUnavailable
from records.validation import parse_json

__all__ = ["FHIR_JSON", "fhir_response", "install_error_handlers", "json_body"]

FHIR_JSON = "application/fhir+json; charset=utf-8"
ACCEPTED_BODY_TYPES = {"application/fhir+json", "application/json", "application/json+fhir"}


def json_body(req: Request) -> Any:
    """The request's JSON body, after the content-type and size checks."""
    mimetype = req.mimetype
    if mimetype not in ACCEPTED_BODY_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type must be application/fhir+json, got {req.content_type or 'none'!r}"
        )
    try:
        data = req.get_data(cache=False)
    except RequestEntityTooLarge:
        raise _too_large(req) from None
    if not data:
        raise BadRequest("The request has no body")
    return parse_json(data)


def _too_large(req: Request) -> PayloadTooLarge:
    limit = req.max_content_length
    return PayloadTooLarge(f"The body is larger than the limit of {limit} bytes")


def fhir_response(
    status: int, body: bytes | None, headers: dict[str, str] | None = None
) -> Response:
    response = Response(body or b"", status=status, headers=headers or {})
    if body is not None:
        response.headers["Content-Type"] = FHIR_JSON
    return response


def install_error_handlers(app: Flask) -> None:
    """Exceptions become an OperationOutcome here and nowhere else."""

    @app.errorhandler(FHIRError)
    def _fhir_error(exc: FHIRError) -> Response:
        import orjson

        return fhir_response(exc.status, orjson.dumps(exc.operation_outcome()), exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        mapped: FHIRError
        if isinstance(exc, RequestEntityTooLarge):
            mapped = _too_large(request)
        elif exc.code == 404:
            mapped = NotFound(f"No such endpoint: {request.method} {request.path}")
        elif exc.code == 405:
            mapped = MethodNotAllowed(f"{request.method} is not allowed on {request.path}")
        else:
            error = FHIRError(exc.description or exc.name)
            error.status = exc.code or 500
            mapped = error
        response = _fhir_error(mapped)
        if exc.code == 405 and exc.get_headers():
            for key, value in exc.get_headers():
                if key.lower() == "allow":
                    response.headers["Allow"] = value
        return response

    @app.errorhandler(DatabaseUnavailable)
    def _database_down(exc: DatabaseUnavailable) -> Response:
        import orjson

        app.logger.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "transient",
                    "diagnostics": "The database is unavailable; nothing was stored. Retry.",
                }
            ],
        }
        return fhir_response(503, orjson.dumps(outcome), {"Retry-After": "1"})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        import orjson

        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "fatal", "code": "exception", "diagnostics": "Internal error"}],
        }
        return fhir_response(500, orjson.dumps(outcome))
