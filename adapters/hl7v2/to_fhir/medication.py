"""ORC + RXE (+ TQ1, RXR, NTE) of an RDE^O11 → MedicationRequest.

Identity: the placer order number ORC-2 (the prescriber's), else the
filler's ORC-3; the pharmacy's dispenses then point at the same id. intent
is "order": an RDE is the encoded order itself. Codings are kept as sent
(RxNorm, NDC and any alternate coding of RXE-2).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...base import stable_id
from ..errors import ErrorCode
from ..parser import Segment
from .context import Context, Resource, fail, where
from .datatypes import Decimal, codeable_concept, codeable_concepts, number, practitioner, quantity
from .dosage import dosage, order_status, priority
from .ids import authority_key, identifier_system, unique_id
from .report import order_identifiers
from .terminology import ORDER_STATUS_REQUEST
from .timestamps import date_time

__all__ = ["medication_request", "medication_request_id", "prescription_identifier"]


def _order_key(ctx: Context, orc: Segment) -> tuple[str, str, str]:
    for field, role in ((2, "placer"), (3, "filler")):
        entity = ctx.value(orc, field)
        if entity:
            authority = (
                ctx.value(orc, field, 3),
                ctx.value(orc, field, 4),
                ctx.value(orc, field, 2),
            )
            return role, authority_key(authority, ctx), entity
    fail(
        "ORC-2 (placer order number) or ORC-3 (filler order number) is required",
        where(orc, 2),
        "MedicationRequest.identifier",
        ErrorCode.REQUIRED_FIELD_MISSING,
    )


def medication_request_id(ctx: Context, orc: Segment) -> str:
    """The stable MedicationRequest id of an order: ORC-2 (placer), else ORC-3 (filler).
    One is required."""
    return stable_id("mrq", *_order_key(ctx, orc))


def prescription_identifier(ctx: Context, number_text: str) -> Resource:
    """RXE-15 / RXD-7, the prescription number, in the sender's namespace."""
    return {
        "type": {"text": "prescription number"},
        "system": identifier_system(("", "", ""), "RX", ctx),
        "value": number_text,
    }


def _amount(ctx: Context, segment: Segment, field: int, path: str) -> int | Decimal | None:
    text = ctx.value(segment, field)
    if not text:
        return None
    found = number(text)
    if found is None:
        fail(f"{text!r} is not a number", where(segment, field), path, ErrorCode.DATA_TYPE_ERROR)
    return found


def medication_request(
    ctx: Context,
    orc: Segment,
    rxe: Segment,
    tq1: Segment | None,
    rxr: Segment | None,
    patient_id: str,
    encounter_id: str | None,
    notes: Sequence[str],
) -> Resource:
    """The MedicationRequest of one RDE order. RXE-2 (the medication) is required."""
    medication = codeable_concept(ctx, rxe, 2)
    if medication is None:
        fail(
            "RXE-2 (give code) is required",
            where(rxe, 2),
            "MedicationRequest.medicationCodeableConcept",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    resource: Resource = {
        "resourceType": "MedicationRequest",
        "id": unique_id(ctx, "mrq", *_order_key(ctx, orc)),
    }
    ids = order_identifiers(ctx, None, orc)
    prescription = ctx.value(rxe, 15)
    if prescription:
        ids.append(prescription_identifier(ctx, prescription))
    if ids:
        resource["identifier"] = ids
    resource["status"] = order_status(ctx, orc, ORDER_STATUS_REQUEST, "unknown", "active")
    resource["intent"] = "order"
    urgency = priority(ctx, tq1, rxe)
    if urgency:
        resource["priority"] = urgency
    resource["medicationCodeableConcept"] = medication
    resource["subject"] = {"reference": f"Patient/{patient_id}"}
    if encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    authored = date_time(ctx, ctx.value(orc, 9), where(orc, 9))
    if authored:
        resource["authoredOn"] = authored
    requester = practitioner(ctx, orc, 12)
    if requester is not None:
        resource["requester"] = requester
    reasons = codeable_concepts(ctx, rxe, 27)
    if reasons:
        resource["reasonCode"] = reasons
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    extra: Resource = {}
    instructions = codeable_concepts(ctx, rxe, 7)
    if instructions:
        extra["additionalInstruction"] = instructions
    low = _amount(ctx, rxe, 3, "MedicationRequest.dosageInstruction.doseAndRate.doseQuantity")
    high = _amount(ctx, rxe, 4, "MedicationRequest.dosageInstruction.doseAndRate.doseRange")
    units = ctx.components(rxe, 5)
    if low is not None and high is not None and high != low:
        extra["doseAndRate"] = [
            {"doseRange": {"low": quantity(ctx, low, units), "high": quantity(ctx, high, units)}}
        ]
    elif low is not None:
        extra["doseAndRate"] = [{"doseQuantity": quantity(ctx, low, units)}]
    instruction = dosage(ctx, tq1, rxe, rxr, extra)
    if instruction:
        resource["dosageInstruction"] = [instruction]
    dispense: Resource = {}
    refills = _amount(ctx, rxe, 12, "MedicationRequest.dispenseRequest.numberOfRepeatsAllowed")
    if isinstance(refills, int) and refills >= 0:
        dispense["numberOfRepeatsAllowed"] = refills
    supply = _amount(ctx, rxe, 10, "MedicationRequest.dispenseRequest.quantity")
    if supply is not None:
        dispense["quantity"] = quantity(ctx, supply, ctx.components(rxe, 11))
    if dispense:
        resource["dispenseRequest"] = dispense
    substitution = ctx.value(rxe, 9).upper()
    if substitution in ("N", "G", "T"):
        resource["substitution"] = {"allowedBoolean": substitution != "N"}
    return resource
