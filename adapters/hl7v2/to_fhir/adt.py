"""ADT messages: A01, A03, A04, A08 (visit events), A28, A31 (person only), A40 (merge).

A visit event gives the Patient, the Encounter (see encounter.py) and what
hangs from them: RelatedPerson (NK1), AllergyIntolerance (AL1), Condition
(DG1), Coverage (IN1). A28/A31 add or update a person: their PV1 is a
placeholder, so no Encounter. A40 gives, for each PID/MRG pair, the
surviving Patient with a ``replaces`` link and the merged one, inactive,
``replaced-by`` the survivor.
"""

from __future__ import annotations

from typing import NoReturn

from ..errors import ErrorCode, Location
from ..parser import Segment
from .allergy import allergy
from .condition import condition
from .context import Context, Resource, fail, where
from .coverage import coverage
from .encounter import encounter
from .patient import merged_patient, patient, patient_id_from
from .relatedperson import related_person

__all__ = ["convert_adt", "convert_merge", "patient_details"]

VISIT_EVENTS = frozenset({"A01", "A03", "A04", "A08"})


def patient_details(ctx: Context, patient_id: str, encounter_id: str | None) -> list[Resource]:
    """The resources of a message's patient group beside the Patient itself:
    NK1, AL1, DG1 and IN1 segments, in that order."""
    message = ctx.message
    result: list[Resource] = []
    for nk1 in message.segments("NK1"):
        person = related_person(ctx, nk1, patient_id)
        if person is not None:
            result.append(person)
    result += [allergy(ctx, al1, patient_id) for al1 in message.segments("AL1")]
    result += [condition(ctx, dg1, patient_id, encounter_id) for dg1 in message.segments("DG1")]
    result += [coverage(ctx, in1, patient_id) for in1 in message.segments("IN1")]
    return result


def required_patient(ctx: Context) -> Resource:
    """The Patient of the message's (first) PID; a message without PID is refused."""
    pid = ctx.message.segment("PID")
    if pid is None:
        fail(
            "the PID segment is required",
            str(Location("PID")),
            "Patient",
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )
    return patient(ctx, pid, ctx.message.segment("PD1"))


def convert_adt(ctx: Context, trigger: str) -> list[Resource]:
    """An ADT visit or person event (A01, A03, A04, A08, A28, A31)."""
    person = required_patient(ctx)
    resources = [person]
    encounter_id = None
    pv1 = ctx.message.segment("PV1")
    if trigger in VISIT_EVENTS and pv1 is not None:
        visit = encounter(ctx, pv1, ctx.message.segment("PV2"), person["id"], trigger)
        if visit is not None:
            resources.append(visit)
            encounter_id = visit["id"]
    return resources + patient_details(ctx, person["id"], encounter_id)


def convert_merge(ctx: Context) -> list[Resource]:
    """ADT^A40: each PID (the survivor) with the MRG that follows it (the merged)."""
    survivors: dict[str, Resource] = {}
    merged: dict[str, Resource] = {}
    current: Resource | None = None
    segments = ctx.message.segments()
    for index, segment in enumerate(segments):
        if segment.name == "PID":
            after = segments[index + 1] if index + 1 < len(segments) else None
            found = patient(
                ctx, segment, after if after is not None and after.name == "PD1" else None
            )
            if found["id"] in merged:
                _both(segment, 3)
            current = survivors.setdefault(found["id"], found)
        elif segment.name == "MRG":
            if current is None:
                fail(
                    "MRG before any PID: nothing survives the merge",
                    str(segment.location),
                    "Patient.link",
                    ErrorCode.SEGMENT_SEQUENCE_ERROR,
                )
            merged_id = patient_id_from(ctx, segment, 1)
            if merged_id in survivors and merged_id != current["id"]:
                _both(segment, 1)
            if merged_id is not None and merged_id in merged:
                ctx.warn(
                    str(segment.location),
                    "MRG-1 names a patient already merged in this message: left out",
                )
                continue
            found_merged = merged_patient(ctx, segment, current)
            merged[found_merged["id"]] = found_merged
    if not survivors:
        fail(
            "the PID segment is required",
            str(Location("PID")),
            "Patient",
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )
    if not merged:
        fail(
            "the MRG segment is required in a merge",
            str(Location("MRG")),
            "Patient.link",
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )
    return [*survivors.values(), *merged.values()]


def _both(segment: Segment, field: int) -> NoReturn:
    fail(
        "a patient both survives and is merged away in this message",
        where(segment, field),
        "Patient.link",
        ErrorCode.DUPLICATE_KEY_IDENTIFIER,
    )
