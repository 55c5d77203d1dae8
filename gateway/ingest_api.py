"""Feed endpoints: HL7 v2 over HTTP, pharmacy and wearables; the inbox and its dead letters.

Each feed authenticates as itself with ``Authorization: Bearer <token>``
(``accord source add NAME`` issues one). A 2xx (or an HL7 AA) means the raw
message is committed; conversion follows (in-process on the embedded
default, else a Celery task).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from flask import Blueprint, Response, request

from adapters.base import collector_paused
from gateway.http import ACCEPTED_BODY_TYPES
from records import ingest
from records.errors import BadRequest, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType

__all__ = ["blueprint"]

blueprint = Blueprint("ingest", __name__)

HL7_TYPES = {"x-application/hl7-v2+er7", "application/hl7-v2", "text/plain", "application/edi-hl7"}
XML_TYPES = {"application/xml", "text/xml"}
MAX_READINGS = 10_000


def _ext() -> Any:
    from gateway.app import accord

    return accord()


def _source() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Feeds authenticate with 'Authorization: Bearer <source token>'",
            headers={"WWW-Authenticate": 'Bearer realm="accord-ingest"'},
        )
    source = ingest.source_for_token(_ext().store, token.strip())
    if source is None:
        raise Unauthorized(
            "Unknown source token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    return source


def _body() -> bytes:
    data = request.get_data(cache=False)
    if not data:
        raise BadRequest("The request has no body")
    return data


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def hl7v2() -> Response:
    """ER7 in, ACK(s) out: as ER7, or with ``Accept: application/json`` as a JSON summary."""
    source = _source()
    if request.mimetype not in HL7_TYPES:
        raise UnsupportedMediaType(
            f"HL7 v2 takes x-application/hl7-v2+er7, got {request.content_type!r}"
        )
    results = ingest.receive_hl7v2(_ext().store, source, _body())
    acks = "".join(r.ack for r in results)
    if "json" in request.headers.get("Accept", ""):
        return _json(
            {
                "ack": acks,
                "messages": [
                    {
                        "controlId": r.control_id,
                        "ack": r.code,
                        "messageId": r.message_id,
                        "error": r.error,
                        "warnings": r.warnings,
                    }
                    for r in results
                ],
            }
        )
    return Response(acks, mimetype="x-application/hl7-v2+er7")


def _receipt_response(receipt: ingest.Receipt) -> Response:
    body: dict[str, Any] = {
        "messageId": receipt.message_id,
        "status": receipt.status,
        "duplicate": receipt.duplicate,
    }
    conversion = receipt.conversion
    if conversion is not None:
        body["resources"] = len(conversion.resources)
        body["rejected"] = [
            {"index": r.index, "reason": r.reason, "location": r.location}
            for r in conversion.rejected
        ]
        body["warnings"] = conversion.warnings
    if receipt.status == "failed":
        body["error"] = receipt.error
        return _json(body, 422)
    return _json(body, 202)


def pharmacy() -> Response:
    """NCPDP SCRIPT 2017071 XML (NewRx, RxFill) or a CSV dispense file."""
    source = _source()
    if request.mimetype in XML_TYPES:
        kind = "ncpdp"
    elif request.mimetype == "text/csv":
        kind = "dispense-csv"
    else:
        raise UnsupportedMediaType(
            f"Pharmacy feeds take application/xml or text/csv, got {request.content_type!r}"
        )
    return _receipt_response(ingest.receive(_ext().store, source, kind, _body()))


def wearables() -> Response:
    """``{"userId": "...", "dataPoints": [...]}``: up to 10,000 Open mHealth data points.

    The body is kept exactly as posted (its SHA-256 is the message's identity,
    a re-post is a duplicate) and read once, with orjson: the conversion reads
    numbers as doubles whatever their spelling, and the spelling stays in the
    kept bytes. Reading 10,000 points makes a million objects and frees none,
    so the cyclic collector is paused meanwhile (it would scan them all, often)
    and they are freed before it resumes.
    """
    source = _source()
    if request.mimetype not in ACCEPTED_BODY_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got {request.content_type or 'none'!r}"
        )
    body = _body()
    if b"\\u0000" in body:
        raise BadRequest("Strings cannot contain the character U+0000")
    with collector_paused():
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"Malformed JSON: {exc}") from None
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("userId"), str)
            or not payload["userId"]
        ):
            raise BadRequest(
                "The body needs a userId (the user's id at your service)", expression="userId"
            )
        points = payload.get("dataPoints")
        if not isinstance(points, list):
            raise BadRequest("dataPoints must be a list of data points", expression="dataPoints")
        if len(points) > MAX_READINGS:
            raise PayloadTooLarge(
                f"{len(points)} data points; a batch holds at most {MAX_READINGS}"
            )
        receipt = ingest.receive(
            _ext().store,
            source,
            "wearables",
            body,
            {"userId": payload["userId"]},
            parsed=payload,
        )
        response = _receipt_response(receipt)
        # Freed while the collector is still paused: all of it is new since the pause,
        # so the first collection after it would otherwise walk every object.
        del payload, points, receipt
    return response


def messages() -> Response:
    """This source's messages, newest first; ``?status=failed`` lists the dead letters."""
    source = _source()
    status = request.args.get("status")
    if status not in (None, "received", "converted", "failed"):
        raise BadRequest("status is received, converted or failed", expression="status")
    try:
        count = min(int(request.args.get("_count", 50)), 500)
        offset = int(request.args.get("_offset", 0))
    except ValueError:
        raise BadRequest("_count and _offset are whole numbers") from None
    total, rows = ingest.list_messages(_ext().store, source, status, count, offset)
    return _json({"total": total, "messages": rows})


def retry(message_id: int) -> Response:
    """Send a failed message through conversion again (after a mapping fix)."""
    source = _source()
    status = ingest.retry(_ext().store, source, message_id)
    if status == "missing":
        raise NotFound(f"No message {message_id} from this source")
    if status != "received":
        raise BadRequest(f"Message {message_id} is {status}, not failed")
    return _json({"messageId": message_id, "status": status}, 202)


ROUTES: list[tuple[str, str, Callable[..., Any]]] = [
    ("POST", "/hl7v2", hl7v2),
    ("POST", "/pharmacy", pharmacy),
    ("POST", "/wearables", wearables),
    ("GET", "/messages", messages),
    ("POST", "/messages/<int:message_id>/retry", retry),
]

for method, path, view in ROUTES:
    blueprint.add_url_rule(path, view_func=view, methods=[method], endpoint=path)
