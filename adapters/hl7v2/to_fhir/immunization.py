"""ORC + RXA + RXR (VXU^V04) → Immunization.

Identity: the filler order number ORC-3 (what an immunization registry keys
updates and deletions on), else the patient, the administration time RXA-3
and the vaccine RXA-5. Status follows the guide: RXA-21 D is
entered-in-error, else RXA-20 (CP/PA completed, RE/NA not-done), completed
when empty.

The order's OBX segments become Observations ``partOf`` the Immunization (the
guide's VXU map); two of them also fill Immunization elements, as the CDC
guide has them: 64994-7 programEligibility and 30963-3 fundingSource. RXA-9
NIP001 code 00 (new record) is primarySource true, 01-08 (historical, from
another source) false with the source in reportOrigin.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ErrorCode
from ..parser import Segment
from .context import Context, Resource, fail, where
from .datatypes import (
    codeable_concept,
    codeable_concepts,
    coding,
    concept_from,
    number,
    practitioner,
    quantity,
)
from .ids import authority_key, unique_id
from .report import order_identifiers
from .terminology import IMMUNIZATION_STATUS, V2_TABLE
from .timestamps import date_time, date_value, parse_dtm

__all__ = ["immunization", "immunization_id"]

_FUNCTION = V2_TABLE + "0443"
_ELIGIBILITY = "64994-7"
_FUNDING = "30963-3"


def immunization_id(ctx: Context, orc: Segment | None, rxa: Segment, patient_id: str) -> str:
    """The stable Immunization id: ORC-3, else patient + RXA-3 + RXA-5 (made unique
    within the message, as every id is)."""
    if orc is not None and ctx.value(orc, 3):
        authority = (ctx.value(orc, 3, 3), ctx.value(orc, 3, 4), ctx.value(orc, 3, 2))
        return unique_id(ctx, "imm", authority_key(authority, ctx), ctx.value(orc, 3))
    vaccine = ctx.padded(rxa, 5, 3)
    return unique_id(ctx, "imm", patient_id, ctx.value(rxa, 3), vaccine[2].upper(), vaccine[0])


def immunization(
    ctx: Context,
    orc: Segment | None,
    rxa: Segment,
    rxr: Segment | None,
    patient_id: str,
    resource_id: str,
    observations: Sequence[tuple[Segment, Resource]] = (),
    encounter_id: str | None = None,
) -> Resource:
    """The Immunization (id ``resource_id``, see ``immunization_id``) of one VXU order
    and its OBX. RXA-3 (when) and RXA-5 (what) are required."""
    vaccine = codeable_concept(ctx, rxa, 5)
    if vaccine is None:
        fail(
            "RXA-5 (administered code) is required",
            where(rxa, 5),
            "Immunization.vaccineCode",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    given = ctx.value(rxa, 3)
    if not given:
        fail(
            "RXA-3 (date/time start of administration) is required",
            where(rxa, 3),
            "Immunization.occurrenceDateTime",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    if parse_dtm(given) is None:
        fail(
            f"{given!r} is not an HL7 date/time",
            where(rxa, 3),
            "Immunization.occurrenceDateTime",
            ErrorCode.DATA_TYPE_ERROR,
        )
    resource: Resource = {
        "resourceType": "Immunization",
        "id": resource_id,
    }
    ids = order_identifiers(ctx, None, orc)
    if ids:
        resource["identifier"] = ids
    resource["status"] = _status(ctx, rxa)
    refusal = codeable_concept(ctx, rxa, 18)
    if refusal and resource["status"] == "not-done":
        resource["statusReason"] = refusal
    resource["vaccineCode"] = vaccine
    resource["patient"] = {"reference": f"Patient/{patient_id}"}
    if encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    resource["occurrenceDateTime"] = date_time(ctx, given, where(rxa, 3))
    recorded = date_time(ctx, ctx.value(rxa, 22), where(rxa, 22))
    if recorded:
        resource["recorded"] = recorded
    origin = ctx.padded(rxa, 9, 3)
    if origin[2].upper() == "NIP001" and origin[0].isdigit():
        resource["primarySource"] = origin[0] == "00"
        if origin[0] != "00":
            resource["reportOrigin"] = codeable_concept(ctx, rxa, 9)
    maker = ctx.padded(rxa, 17, 3)
    if maker[0] or maker[1]:
        manufacturer: Resource = {"type": "Organization"}
        if maker[0]:
            system = concept_from(ctx, maker) or {}
            manufacturer["identifier"] = {
                **({"system": s} if (s := system.get("coding", [{}])[0].get("system")) else {}),
                "value": maker[0],
            }
        if maker[1]:
            manufacturer["display"] = maker[1]
        resource["manufacturer"] = manufacturer
    lot = ctx.value(rxa, 15)
    if lot:
        resource["lotNumber"] = lot
    expires = date_value(ctx, ctx.value(rxa, 16), where(rxa, 16))
    if expires:
        resource["expirationDate"] = expires
    if rxr is not None:
        site = codeable_concept(ctx, rxr, 2)
        if site:
            resource["site"] = site
        route = codeable_concept(ctx, rxr, 1)
        if route:
            resource["route"] = route
    amount = ctx.value(rxa, 6)
    if amount and amount != "999":  # 999: amount unknown (CDC guide)
        dose = number(amount)
        if dose is None:
            fail(
                f"{amount!r} is not a number",
                where(rxa, 6),
                "Immunization.doseQuantity.value",
                ErrorCode.DATA_TYPE_ERROR,
            )
        resource["doseQuantity"] = quantity(ctx, dose, ctx.components(rxa, 7))
    performers = _performers(ctx, rxa, orc)
    if performers:
        resource["performer"] = performers
    reasons = codeable_concepts(ctx, rxa, 19)
    if reasons:
        resource["reasonCode"] = reasons
    eligibility = [
        o["valueCodeableConcept"]
        for s, o in observations
        if _loinc(o) == _ELIGIBILITY and "valueCodeableConcept" in o
    ]
    if eligibility:
        resource["programEligibility"] = eligibility
    funding = [
        o["valueCodeableConcept"]
        for s, o in observations
        if _loinc(o) == _FUNDING and "valueCodeableConcept" in o
    ]
    if funding:
        resource["fundingSource"] = funding[0]
    return resource


def _loinc(observation: Resource) -> str:
    for found in observation["code"].get("coding", ()):
        if found.get("system") == "http://loinc.org":
            return str(found.get("code", ""))
    return ""


def _status(ctx: Context, rxa: Segment) -> str:
    if ctx.value(rxa, 21).upper() == "D":
        return "entered-in-error"
    completion = ctx.value(rxa, 20).upper()
    if not completion:
        return "completed"
    status = IMMUNIZATION_STATUS.get(completion)
    if status is None:
        fail(
            f"{completion!r} is not an HL7 table 0322 completion status",
            where(rxa, 20),
            "Immunization.status",
            ErrorCode.TABLE_VALUE_NOT_FOUND,
        )
    return status


def _performers(ctx: Context, rxa: Segment, orc: Segment | None) -> list[Resource]:
    """RXA-10 administering (AP) and ORC-12 ordering (OP) providers."""
    result = []
    for segment, field, function in ((rxa, 10, "AP"), (orc, 12, "OP")):
        if segment is None:
            continue
        for rep in range(1, ctx.repetitions(segment, field) + 1):
            actor = practitioner(ctx, segment, field, rep)
            if actor is not None:
                result.append(
                    {"function": {"coding": [coding(_FUNCTION, function)]}, "actor": actor}
                )
    return result
