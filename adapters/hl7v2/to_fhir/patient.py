"""PID (+ PD1) → Patient, and MRG → the two Patients of a merge (ADT^A40).

The Patient id comes from one PID-3 identifier: the first typed MR (medical
record number), else the first with a value, in the namespace of its
assigning authority (PID-3.4, else MSH-4, else the feed). The type is not
part of the id, so a sender that types its MRN in one message and not in
the next still updates the same Patient.

Race, ethnicity and religion (PID-10, -17, -22) are left out: the V2-to-FHIR
guide maps them to realm-specific extensions (US Core and others).
"""

from __future__ import annotations

from ...base import stable_id
from ..errors import ErrorCode
from ..parser import Segment
from .context import Context, Resource, fail, where
from .datatypes import (
    addresses,
    codeable_concept,
    contact_points,
    human_names,
    identifier,
    identifiers,
    number,
    practitioner,
)
from .ids import HD, authority_key, identifier_system
from .terminology import GENDER, V2_TABLE
from .timestamps import date_time, date_value, has_zone

__all__ = ["merged_patient", "patient", "patient_id_from"]

_BIRTH_TIME = "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
_MOTHERS_MAIDEN_NAME = "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName"


def patient_id_from(ctx: Context, segment: Segment, field: int) -> str | None:
    """The stable Patient id for the patient a CX list (PID-3, MRG-1) names, or None."""
    chosen = 0
    for rep in range(1, ctx.repetitions(segment, field) + 1):
        if not ctx.value(segment, field, 1, 1, rep):
            continue
        if ctx.value(segment, field, 5, 1, rep).upper() == "MR":
            chosen = rep
            break
        chosen = chosen or rep
    if not chosen:
        return None
    authority: HD = (
        ctx.value(segment, field, 4, 2, chosen),
        ctx.value(segment, field, 4, 3, chosen),
        ctx.value(segment, field, 4, 1, chosen),
    )
    return stable_id("pat", authority_key(authority, ctx), ctx.value(segment, field, 1, 1, chosen))


def patient(ctx: Context, pid: Segment, pd1: Segment | None) -> Resource:
    """The Patient of a PID segment (and its PD1). PID-3 is required."""
    patient_id = patient_id_from(ctx, pid, 3)
    if patient_id is None:
        fail(
            "PID-3 (patient identifier list) has no identifier",
            where(pid, 3),
            "Patient.identifier",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    has = ctx.filled(pid, 41)
    resource: Resource = {"resourceType": "Patient", "id": patient_id}
    mother = ctx.value(pid, 6)
    if mother:
        resource["extension"] = [{"url": _MOTHERS_MAIDEN_NAME, "valueString": mother}]
    ids = [i for f in (2, 3, 4) if has[f] for i in identifiers(ctx, pid, f)]
    ssn = ctx.value(pid, 19)
    if ssn:  # deprecated since v2.3.1: the country, hence the system, is not stated
        ids.append(
            {
                "type": {"coding": [{"system": V2_TABLE + "0203", "code": "SS"}]},
                "system": identifier_system(("", "", ""), "SS", ctx),
                "value": ssn,
            }
        )
    resource["identifier"] = _unique(ids)

    names = [n for f in (5, 9) if has[f] for n in human_names(ctx, pid, f)]
    if names:
        resource["name"] = names
    telecom = [
        point
        for f, use in ((13, "home"), (14, "work"), (40, ""))
        if has[f]
        for point in contact_points(ctx, pid, f, use)
    ]
    if telecom:
        resource["telecom"] = telecom

    sex = ctx.value(pid, 8).upper()
    if sex:
        gender = GENDER.get(sex)
        if gender is None:
            ctx.warn(where(pid, 8), f"{sex!r} is not an HL7 table 0001 sex: gender left out")
        else:
            resource["gender"] = gender
    born = ctx.value(pid, 7)
    birth_date = date_value(ctx, born, where(pid, 7))
    if birth_date:
        resource["birthDate"] = birth_date
        if len(born) > 8 and has_zone(ctx, born):  # the guide's patient-birthTime extension
            birth_time = date_time(ctx, born, where(pid, 7))
            if birth_time:
                resource["_birthDate"] = {
                    "extension": [{"url": _BIRTH_TIME, "valueDateTime": birth_time}]
                }
    died = date_time(ctx, ctx.value(pid, 29), where(pid, 29)) if has[29] else None
    if died:
        resource["deceasedDateTime"] = died
    elif ctx.value(pid, 30).upper() in ("Y", "N"):
        resource["deceasedBoolean"] = ctx.value(pid, 30).upper() == "Y"

    home = addresses(ctx, pid, 11) if has[11] else []
    county = ctx.value(pid, 12)
    if county and len(home) == 1 and "district" not in home[0]:
        home[0]["district"] = county
    if home:
        resource["address"] = home
    marital = codeable_concept(ctx, pid, 16) if has[16] else None
    if marital:
        resource["maritalStatus"] = marital
    order = number(ctx.value(pid, 25))
    if isinstance(order, int) and order > 0:
        resource["multipleBirthInteger"] = order
    elif ctx.value(pid, 24).upper() in ("Y", "N"):
        resource["multipleBirthBoolean"] = ctx.value(pid, 24).upper() == "Y"
    language = codeable_concept(ctx, pid, 15) if has[15] else None
    if language:
        resource["communication"] = [{"language": language}]
    if pd1 is not None:
        doctors = [
            d for r in range(1, ctx.repetitions(pd1, 4) + 1) if (d := practitioner(ctx, pd1, 4, r))
        ]
        if doctors:
            resource["generalPractitioner"] = doctors
    return resource


def merged_patient(ctx: Context, mrg: Segment, survivor: Resource) -> Resource:
    """The non-surviving Patient of a merge (MRG-1), inactive and ``replaced-by`` the
    survivor; the survivor gets the matching ``replaces`` link. MRG-1 is required."""
    merged_id = patient_id_from(ctx, mrg, 1)
    if merged_id is None:
        fail(
            "MRG-1 (prior patient identifier list) has no identifier",
            where(mrg, 1),
            "Patient.link.other",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    if merged_id == survivor["id"]:
        fail(
            "MRG-1 names the surviving patient itself",
            where(mrg, 1),
            "Patient.link.other",
            ErrorCode.DATA_TYPE_ERROR,
        )
    if "active" not in survivor:  # "replaces": this is the current, active record
        fields = list(survivor.items())
        at = next(
            i
            for i, (k, _) in enumerate(fields)
            if k not in ("resourceType", "id", "extension", "identifier")
        )
        survivor.clear()
        survivor.update([*fields[:at], ("active", True), *fields[at:]])
    survivor.setdefault("link", []).append(
        {"other": {"reference": f"Patient/{merged_id}"}, "type": "replaces"}
    )
    merged: Resource = {"resourceType": "Patient", "id": merged_id}
    ids = [i for r in range(1, ctx.repetitions(mrg, 1) + 1) if (i := identifier(ctx, mrg, 1, r))]
    merged["identifier"] = _unique(ids)
    merged["active"] = False
    names = human_names(ctx, mrg, 7)
    if names:
        merged["name"] = names
    merged["link"] = [{"other": {"reference": f"Patient/{survivor['id']}"}, "type": "replaced-by"}]
    return merged


def _unique(found: list[Resource]) -> list[Resource]:
    """Identifiers without repeats (PID-2 often repeats PID-3)."""
    seen = set()
    result = []
    for item in found:
        key = (item.get("system"), item.get("value"))
        if key not in seen:
            seen.add(key)
            result.append(item)
    return result
