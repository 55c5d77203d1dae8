"""VXU^V04 (→ Immunization), RDE^O11 (→ MedicationRequest), RDS^O13 (→ MedicationDispense).

All three carry a patient group (PID, PD1, NK1, PV1, IN1, AL1 …) and then
ORDER groups that each start with an ORC. The patient group converts as in
ADT messages (without an Encounter: only the ADT feed owns the visit, these
messages point at it); each order converts to its resource, followed by what
points at it (the Observations of a vaccination).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ErrorCode
from ..parser import Segment
from .adt import patient_details, required_patient
from .context import Context, Resource, fail
from .datatypes import formatted_text
from .dispense import medication_dispense
from .encounter import encounter_id
from .ids import unique_id
from .immunization import immunization, immunization_id
from .medication import medication_request
from .observation import observation, observation_key

__all__ = ["convert_rde", "convert_rds", "convert_vxu"]


@dataclass
class _Order:
    orc: Segment
    segments: dict[str, Segment] = field(default_factory=dict)  # first of each name
    notes: list[str] = field(default_factory=list)  # NTE after the main segment
    observations: list[tuple[Segment, list[str]]] = field(default_factory=list)


def _orders(ctx: Context, main: str) -> list[_Order]:
    """The ORDER groups: ORC, then its segments up to the next ORC."""
    orders: list[_Order] = []
    last_obx: tuple[Segment, list[str]] | None = None
    for segment in ctx.message:
        name = segment.name
        if name == "ORC":
            orders.append(_Order(segment))
            last_obx = None
        elif not orders:
            continue
        elif name == "OBX":
            last_obx = (segment, [])
            orders[-1].observations.append(last_obx)
        elif name == "NTE":
            text = formatted_text(ctx, segment, 3)
            if not text:
                continue
            if last_obx is not None:
                last_obx[1].append(text)
            elif main in orders[-1].segments:
                orders[-1].notes.append(text)
        else:
            orders[-1].segments.setdefault(name, segment)
    for order in orders:
        if main not in order.segments:
            fail(
                f"the order has no {main} segment",
                str(order.orc.location),
                "",
                ErrorCode.SEGMENT_SEQUENCE_ERROR,
            )
    return orders


def _visit(ctx: Context, patient_id: str) -> str | None:
    pv1 = ctx.message.segment("PV1")
    return encounter_id(ctx, pv1, patient_id) if pv1 is not None else None


def convert_vxu(ctx: Context) -> list[Resource]:
    """A VXU^V04 message."""
    person = required_patient(ctx)
    patient_id = person["id"]
    visit = _visit(ctx, patient_id)
    resources = [person, *patient_details(ctx, patient_id, visit)]
    orders = _orders(ctx, "RXA")
    if not orders:
        fail(
            "a VXU^V04 needs an ORDER group (ORC, RXA)",
            "ORC[1]",
            "Immunization",
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )
    for order in orders:
        rxa = order.segments["RXA"]
        imm_id = immunization_id(ctx, order.orc, rxa, patient_id)
        found = [
            (
                obx,
                observation(
                    ctx,
                    obx,
                    unique_id(ctx, "obs", imm_id, *observation_key(ctx, obx)),
                    patient_id,
                    notes=notes,
                    part_of=f"Immunization/{imm_id}",
                ),
            )
            for obx, notes in order.observations
        ]
        resources.append(
            immunization(
                ctx, order.orc, rxa, order.segments.get("RXR"), patient_id, imm_id, found, visit
            )
        )
        resources += [o for _, o in found]
    return resources


def convert_rde(ctx: Context) -> list[Resource]:
    """An RDE^O11 message."""
    person = required_patient(ctx)
    patient_id = person["id"]
    visit = _visit(ctx, patient_id)
    resources = [person, *patient_details(ctx, patient_id, visit)]
    orders = _orders(ctx, "RXE")
    if not orders:
        fail(
            "an RDE^O11 needs an ORDER group (ORC, RXE)",
            "ORC[1]",
            "MedicationRequest",
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )
    for order in orders:
        s = order.segments
        resources.append(
            medication_request(
                ctx, order.orc, s["RXE"], s.get("TQ1"), s.get("RXR"), patient_id, visit, order.notes
            )
        )
    return resources


def convert_rds(ctx: Context) -> list[Resource]:
    """An RDS^O13 message."""
    person = required_patient(ctx)
    patient_id = person["id"]
    visit = _visit(ctx, patient_id)
    resources = [person, *patient_details(ctx, patient_id, visit)]
    orders = _orders(ctx, "RXD")
    if not orders:
        fail(
            "an RDS^O13 needs an ORDER group (ORC, RXD)",
            "ORC[1]",
            "MedicationDispense",
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )
    for order in orders:
        s = order.segments
        resources.append(
            medication_dispense(
                ctx, order.orc, s["RXD"], s.get("TQ1"), s.get("RXR"), patient_id, visit, order.notes
            )
        )
    return resources
