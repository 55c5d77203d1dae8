"""ORU^R01: results → Observation per OBX, DiagnosticReport per OBR, Specimen per SPM.

The message is first read into its groups (the v2.5 ORU_R01 structure:
PATIENT_RESULT { PATIENT { PID PD1 VISIT { PV1 PV2 } } ORDER_OBSERVATION {
ORC OBR NTE* OBSERVATION { OBX NTE* }* SPECIMEN { SPM OBX* }* }* }*), then
each group is converted. Resources come out referenced-first: Patient,
Specimens, Observations, then the DiagnosticReport listing them.

An NTE after an OBX is that Observation's note; NTEs elsewhere have no FHIR
R4 home on a DiagnosticReport and are left out. The OBX of a SPECIMEN group
describe the specimen: they become Observations of it, not report results.
Observations inherit OBR-7 as their effective time when OBX-14 is empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...base import stable_id
from ..errors import ErrorCode, Location
from ..parser import Segment
from .context import Context, Resource, fail, where
from .datatypes import formatted_text
from .encounter import encounter_id
from .ids import unique_id
from .observation import observation, observation_key
from .patient import patient
from .report import diagnostic_report, order_id
from .specimen import specimen_from_obr, specimen_from_spm
from .timestamps import date_time

__all__ = ["convert_oru"]


@dataclass
class _Result:
    obx: Segment
    notes: list[str] = field(default_factory=list)
    specimen: Segment | None = None  # the SPM whose group it is in, if any


@dataclass
class _Order:
    orc: Segment | None
    obr: Segment | None
    results: list[_Result] = field(default_factory=list)
    specimens: list[Segment] = field(default_factory=list)


@dataclass
class _PatientResult:
    pid: Segment | None  # None: results sent without a PATIENT group (optional in ORU_R01)
    pd1: Segment | None = None
    pv1: Segment | None = None
    orders: list[_Order] = field(default_factory=list)


def _groups(ctx: Context) -> list[_PatientResult]:
    groups: list[_PatientResult] = []
    order: _Order | None = None
    pending_orc: Segment | None = None
    last: _Result | None = None
    for segment in ctx.message:
        name = segment.name
        if name == "PID":
            groups.append(_PatientResult(segment))
            order, pending_orc, last = None, None, None
            continue
        elif not groups and name in ("ORC", "OBR", "OBX", "SPM"):
            ctx.warn(
                str(segment.location),
                "results without a PID (the PATIENT group is "
                "optional in ORU^R01): they have no subject",
            )
            groups.append(_PatientResult(None))
        if not groups:
            continue
        if name == "PD1":
            groups[-1].pd1 = segment
        elif name == "PV1":
            groups[-1].pv1 = segment
        elif name == "ORC":
            pending_orc, last = segment, None
        elif name == "OBR":
            order = _Order(pending_orc, segment)
            groups[-1].orders.append(order)
            pending_orc, last = None, None
        elif name == "OBX":
            if order is None:  # results without an OBR: Observations without a report
                order = _Order(pending_orc, None)
                groups[-1].orders.append(order)
            last = _Result(segment, specimen=order.specimens[-1] if order.specimens else None)
            order.results.append(last)
        elif name == "NTE" and last is not None:
            text = formatted_text(ctx, segment, 3)
            if text:
                last.notes.append(text)
        elif name == "SPM" and order is not None:
            order.specimens.append(segment)
            last = None
    return groups


def convert_oru(ctx: Context) -> list[Resource]:
    """An ORU^R01 message."""
    resources: list[Resource] = []
    patients: set[str] = set()
    groups = _groups(ctx)
    if not groups:
        fail(
            "no PID and no results: nothing to convert",
            str(Location("PID")),
            "Patient",
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )
    for group in groups:
        patient_id = None
        if group.pid is not None:
            person = patient(ctx, group.pid, group.pd1)
            patient_id = person["id"]
            if patient_id not in patients:
                patients.add(patient_id)
                resources.append(person)
        visit = None
        if group.pv1 is not None and patient_id is not None:
            visit = encounter_id(ctx, group.pv1, patient_id)
        for order in group.orders:
            resources += _order(ctx, order, patient_id, visit)
    return resources


def _order(
    ctx: Context, order: _Order, patient_id: str | None, visit: str | None
) -> list[Resource]:
    key = order_id(ctx, order.obr, order.orc)
    order_key = stable_id("ord", *key)
    specimens: list[Resource] = []
    by_segment: dict[int, str] = {}
    for rank, spm in enumerate(order.specimens, 1):
        found = specimen_from_spm(ctx, spm, order_key, rank, patient_id)
        specimens.append(found)
        by_segment[spm.position] = found["id"]
    if not specimens and order.obr is not None:
        from_obr = specimen_from_obr(ctx, order.obr, order_key, patient_id)
        if from_obr is not None:
            specimens.append(from_obr)
    default_specimen = specimens[0]["id"] if len(specimens) == 1 else None
    obr = order.obr
    effective = date_time(ctx, ctx.value(obr, 7), where(obr, 7)) if obr is not None else None
    results: list[Resource] = []
    about_specimens: list[Resource] = []
    for result in order.results:
        obs_id = unique_id(ctx, "obs", *key, *observation_key(ctx, result.obx))
        specimen_id = (
            by_segment.get(result.specimen.position)
            if result.specimen is not None
            else default_specimen
        )
        found = observation(
            ctx,
            result.obx,
            obs_id,
            patient_id,
            encounter_id=visit,
            effective=effective,
            notes=result.notes,
            specimen_id=specimen_id,
        )
        (about_specimens if result.specimen is not None else results).append(found)
    resources: list[Resource] = [*specimens, *results, *about_specimens]
    if order.obr is not None:
        resources.append(
            diagnostic_report(
                ctx,
                order.obr,
                order.orc,
                patient_id,
                visit,
                results,
                [s["id"] for s in specimens],
                key,
            )
        )
    return resources
