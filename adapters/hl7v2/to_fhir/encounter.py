"""PV1 (+ PV2) → Encounter, for the ADT events that own the visit.

Identity: the visit number PV1-19 in its authority's namespace; without one,
the patient and the admit time PV1-44. With neither, a visit has no identity
that a later A08 or A03 could find again, so no Encounter is made (a
warning says so) rather than a new one per message.

Status, in order: a discharge time (PV1-45) or A03 means finished (the
guide's PV1 map); A01 is in-progress; A04 is arrived (the guide's event map
says planned, but v2 defines A04 as "the patient has arrived or checked
in"); otherwise (A08) the patient class decides as the guide's PV1 map does:
P planned, U unknown, anything else in-progress.

Lab, vaccination and pharmacy messages only point at the visit
(``encounter_reference``): they must not overwrite what the ADT feed says
about it (status, period, location).
"""

from __future__ import annotations

from ...base import stable_id
from ..errors import ErrorCode
from ..parser import Segment
from .context import Context, Resource, fail, where
from .datatypes import codeable_concept, coding, identifier, practitioner
from .ids import HD, authority_key
from .terminology import ENCOUNTER_CLASS, ENCOUNTER_STATUS_BY_CLASS, V2_TABLE
from .timestamps import date_time

__all__ = ["encounter", "encounter_id"]

_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
# PV1 field → (v3 ParticipationType code, display), in the guide's order.
_PARTICIPANTS = (
    (7, "ATND", "attender"),
    (8, "REF", "referrer"),
    (9, "CON", "consultant"),
    (17, "ADM", "admitter"),
)


def encounter_id(ctx: Context, pv1: Segment, patient_id: str) -> str | None:
    """The stable Encounter id of a visit, or None when the visit has no identity."""
    visit = ctx.value(pv1, 19)
    if visit:
        authority: HD = (ctx.value(pv1, 19, 4, 2), ctx.value(pv1, 19, 4, 3), ctx.value(pv1, 19, 4))
        return stable_id("enc", authority_key(authority, ctx), visit)
    admitted = ctx.value(pv1, 44)
    if admitted:
        return stable_id("enc", patient_id, admitted)
    return None


def _status(ctx: Context, pv1: Segment, trigger: str) -> str:
    if ctx.value(pv1, 45) or trigger == "A03":
        return "finished"
    if trigger == "A01":
        return "in-progress"
    if trigger == "A04":
        return "arrived"
    return ENCOUNTER_STATUS_BY_CLASS.get(ctx.value(pv1, 2).upper(), "in-progress")


def encounter(
    ctx: Context, pv1: Segment, pv2: Segment | None, patient_id: str, trigger: str
) -> Resource | None:
    """The Encounter of an ADT event's PV1/PV2; None (with a warning) without identity.
    PV1-2 (patient class) is required: FHIR's Encounter.class is."""
    encounter_key = encounter_id(ctx, pv1, patient_id)
    if encounter_key is None:
        ctx.warn(
            where(pv1),
            "neither a visit number (PV1-19) nor an admit time (PV1-44): "
            "the visit has no stable identity, no Encounter made",
        )
        return None
    patient_class = ctx.value(pv1, 2).upper()
    if not patient_class:
        fail(
            "PV1-2 (patient class) is required",
            where(pv1, 2),
            "Encounter.class",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    known = ENCOUNTER_CLASS.get(patient_class)
    if known is None:
        fail(
            f"{patient_class!r} is not an HL7 table 0004 patient class",
            where(pv1, 2),
            "Encounter.class",
            ErrorCode.TABLE_VALUE_NOT_FOUND,
        )
    resource: Resource = {"resourceType": "Encounter", "id": encounter_key}
    visit = identifier(ctx, pv1, 19)
    if visit is not None:
        kind = {"coding": [coding(V2_TABLE + "0203", "VN")], "text": "visit number"}
        resource["identifier"] = [{"type": kind, **{k: v for k, v in visit.items() if k != "type"}}]
    resource["status"] = _status(ctx, pv1, trigger)
    resource["class"] = coding(*known)
    admission_type = codeable_concept(ctx, pv1, 4)
    if admission_type:
        resource["type"] = [admission_type]
    service = codeable_concept(ctx, pv1, 10)
    if pv2 is not None:
        priority = codeable_concept(ctx, pv2, 25)
        if priority:
            resource["priority"] = priority
    resource["subject"] = {"reference": f"Patient/{patient_id}"}
    participants = []
    for field, role, display in _PARTICIPANTS:
        for rep in range(1, ctx.repetitions(pv1, field) + 1):
            who = practitioner(ctx, pv1, field, rep)
            if who is not None:
                participants.append(
                    {
                        "type": [{"coding": [coding(_PARTICIPATION, role, display)]}],
                        "individual": who,
                    }
                )
    if participants:
        resource["participant"] = participants
    start = date_time(ctx, ctx.value(pv1, 44), where(pv1, 44))
    end = date_time(ctx, ctx.value(pv1, 45), where(pv1, 45))
    if start or end:
        resource["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    if pv2 is not None:
        reasons = [
            c
            for rep in range(1, ctx.repetitions(pv2, 3) + 1)
            if (c := codeable_concept(ctx, pv2, 3, rep))
        ]
        if reasons:
            resource["reasonCode"] = reasons
    hospitalization = _hospitalization(ctx, pv1)
    if hospitalization:
        resource["hospitalization"] = hospitalization
    location = _location(ctx, pv1)
    if location:
        resource["location"] = [location]
    if service:
        resource["serviceType"] = service
    return _ordered(resource)


def _hospitalization(ctx: Context, pv1: Segment) -> Resource:
    result: Resource = {}
    admit_source = codeable_concept(ctx, pv1, 14)
    if admit_source:
        result["admitSource"] = admit_source
    readmission = codeable_concept(ctx, pv1, 13)
    if readmission:
        result["reAdmission"] = readmission
    disposition = codeable_concept(ctx, pv1, 36)
    if disposition:
        result["dischargeDisposition"] = disposition
    return result


def _location(ctx: Context, pv1: Segment) -> Resource | None:
    """PV1-3 (point of care ^ room ^ bed ^ facility) as a logical location reference:
    the guide makes Location resources, but a v2 message cannot own them."""
    parts = ctx.padded(pv1, 3, 4)
    display = ", ".join(p for p in (parts[3], parts[0], parts[1], parts[2]) if p)
    if not display:
        return None
    status = "planned" if ctx.value(pv1, 2).upper() == "P" else "active"
    return {"location": {"display": display}, "status": status}


_ORDER = (
    "resourceType",
    "id",
    "identifier",
    "status",
    "class",
    "type",
    "serviceType",
    "priority",
    "subject",
    "participant",
    "period",
    "reasonCode",
    "hospitalization",
    "location",
)


def _ordered(resource: Resource) -> Resource:
    """Elements in FHIR's order, so the JSON reads like every other server's."""
    return {key: resource[key] for key in _ORDER if key in resource}
