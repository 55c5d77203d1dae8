"""OBR (+ ORC) → DiagnosticReport, and the order key its results hang from.

Identity: the filler order number (OBR-3, else ORC-3) in its namespace, else
the placer's (OBR-2, else ORC-2), else the message control id MSH-10 and the
OBR's rank: a corrected result (OBX-11 C) from the lab replaces the report it
corrects. The report's status is OBR-25 (table 0123); a sender that leaves it
out gets the status its results imply, with a warning.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ErrorCode
from ..parser import Segment
from .context import Context, Resource, fail, where
from .datatypes import codeable_concept, coding, ei_identifier
from .ids import HD, authority_key, unique_id
from .terminology import DIAGNOSTIC_SECTIONS, REPORT_STATUS, V2_TABLE
from .timestamps import date_time, instant

__all__ = ["diagnostic_report", "order_id", "order_identifiers"]

_DERIVED = {
    "final": "final",
    "corrected": "corrected",
    "amended": "amended",
    "preliminary": "preliminary",
    "registered": "registered",
}


def _ei(ctx: Context, segment: Segment | None, field: int) -> tuple[str, HD]:
    if segment is None:
        return "", ("", "", "")
    return ctx.value(segment, field), (
        ctx.value(segment, field, 3),
        ctx.value(segment, field, 4),
        ctx.value(segment, field, 2),
    )


def order_id(ctx: Context, obr: Segment | None, orc: Segment | None) -> tuple[str, ...]:
    """The parts of an order's stable identity (filler, else placer, else message)."""
    for role, segment_field in (("filler", ((obr, 3), (orc, 3))), ("placer", ((obr, 2), (orc, 2)))):
        for segment, field in segment_field:
            entity, authority = _ei(ctx, segment, field)
            if entity:
                return role, authority_key(authority, ctx), entity
    rank = str(obr.occurrence if obr is not None else orc.occurrence if orc is not None else 1)
    return "message", ctx.sender_key, ctx.message.control_id, rank


def order_identifiers(ctx: Context, obr: Segment | None, orc: Segment | None) -> list[Resource]:
    """The placer (PLAC) and filler (FILL) order numbers as Identifiers."""
    result = []
    for kind, fields in (("PLAC", ((obr, 2), (orc, 2))), ("FILL", ((obr, 3), (orc, 3)))):
        for segment, field in fields:
            entity, authority = _ei(ctx, segment, field)
            found = ei_identifier(ctx, entity, authority, kind)
            if found is not None:
                result.append(found)
                break
    return result


def diagnostic_report(
    ctx: Context,
    obr: Segment,
    orc: Segment | None,
    patient_id: str | None,
    encounter_id: str | None,
    results: Sequence[Resource],
    specimen_ids: Sequence[str],
    key: tuple[str, ...] | None = None,
) -> Resource:
    """The DiagnosticReport of one OBR and its results (``key``: the ``order_id`` if the
    caller has it). OBR-4 (the test) is required."""
    service = codeable_concept(ctx, obr, 4)
    if service is None:
        fail(
            "OBR-4 (universal service identifier) is required",
            where(obr, 4),
            "DiagnosticReport.code",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    resource: Resource = {
        "resourceType": "DiagnosticReport",
        "id": unique_id(ctx, "rpt", *(key or order_id(ctx, obr, orc))),
    }
    ids = order_identifiers(ctx, obr, orc)
    if ids:
        resource["identifier"] = ids
    resource["status"] = _status(ctx, obr, results)
    section = ctx.value(obr, 24).upper()
    if section:
        system = V2_TABLE + "0074" if section in DIAGNOSTIC_SECTIONS else ""
        resource["category"] = [{"coding": [coding(system, section)]}]
    resource["code"] = service
    if patient_id:
        resource["subject"] = {"reference": f"Patient/{patient_id}"}
    if encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    start = date_time(ctx, ctx.value(obr, 7), where(obr, 7))
    end = date_time(ctx, ctx.value(obr, 8), where(obr, 8))
    if start and end:
        resource["effectivePeriod"] = {"start": start, "end": end}
    elif start:
        resource["effectiveDateTime"] = start
    issued = instant(ctx, ctx.value(obr, 22), where(obr, 22))
    if issued:
        resource["issued"] = issued
    if specimen_ids:
        resource["specimen"] = [{"reference": f"Specimen/{s}"} for s in specimen_ids]
    if results:
        resource["result"] = [{"reference": f"Observation/{r['id']}"} for r in results]
    return resource


def _status(ctx: Context, obr: Segment, results: Sequence[Resource]) -> str:
    sent = ctx.value(obr, 25).upper()
    if sent:
        status = REPORT_STATUS.get(sent)
        if status is None:
            fail(
                f"{sent!r} is not an HL7 table 0123 result status",
                where(obr, 25),
                "DiagnosticReport.status",
                ErrorCode.TABLE_VALUE_NOT_FOUND,
            )
        return status
    statuses = {r["status"] for r in results}
    derived = "unknown"
    if len(statuses) == 1 and (only := next(iter(statuses))) in _DERIVED:
        derived = _DERIVED[only]
    elif statuses and statuses <= {"final", "corrected", "amended", "preliminary"}:
        derived = "partial" if "preliminary" in statuses else "final"
    ctx.warn(where(obr, 25), f"no result status: {derived!r}, from the results' statuses")
    return derived
