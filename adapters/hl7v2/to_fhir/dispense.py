"""ORC + RXD (+ TQ1, RXR, NTE) of an RDS^O13 → MedicationDispense.

Identity: the prescription number RXD-7 and the dispense time RXD-3 (one
prescription is dispensed many times). The authorizing prescription is the
MedicationRequest id the RDE^O11 of the same order gets (ORC-2, else ORC-3)
plus its order numbers, so the link holds whichever message arrives first.
Lot, expiry and manufacturer (RXD-18/19/20) belong to the product: they go
in a contained Medication, the only place FHIR R4 has for them.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ErrorCode
from ..parser import Segment
from .context import Context, Resource, fail, where
from .datatypes import codeable_concept, coding, concept_from, number, practitioner, quantity
from .dosage import dosage, order_status
from .ids import unique_id
from .medication import medication_request_id, prescription_identifier
from .report import order_identifiers
from .terminology import ORDER_STATUS_DISPENSE
from .timestamps import date_time

__all__ = ["medication_dispense"]

_SUBSTITUTION = "http://terminology.hl7.org/CodeSystem/v3-substanceAdminSubstitution"


def medication_dispense(
    ctx: Context,
    orc: Segment | None,
    rxd: Segment,
    tq1: Segment | None,
    rxr: Segment | None,
    patient_id: str,
    encounter_id: str | None,
    notes: Sequence[str],
) -> Resource:
    """The MedicationDispense of one RDS order. RXD-2 (what) and RXD-7 (the
    prescription number) are required."""
    medication = codeable_concept(ctx, rxd, 2)
    if medication is None:
        fail(
            "RXD-2 (dispense/give code) is required",
            where(rxd, 2),
            "MedicationDispense.medicationCodeableConcept",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    prescription = ctx.value(rxd, 7)
    if not prescription:
        fail(
            "RXD-7 (prescription number) is required",
            where(rxd, 7),
            "MedicationDispense.identifier",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    handed_over = ctx.value(rxd, 3)
    resource: Resource = {
        "resourceType": "MedicationDispense",
        "id": unique_id(ctx, "mdd", ctx.sender_key, prescription, handed_over),
    }
    product = _product(ctx, rxd, medication)
    if product is not None:
        resource["contained"] = [product]
    resource["identifier"] = [prescription_identifier(ctx, prescription)]
    resource["status"] = order_status(ctx, orc, ORDER_STATUS_DISPENSE, "completed")
    if product is not None:
        resource["medicationReference"] = {"reference": "#medication"}
    else:
        resource["medicationCodeableConcept"] = medication
    resource["subject"] = {"reference": f"Patient/{patient_id}"}
    if encounter_id:
        resource["context"] = {"reference": f"Encounter/{encounter_id}"}
    pharmacist = practitioner(ctx, rxd, 10)
    if pharmacist is not None:
        resource["performer"] = [{"actor": pharmacist}]
    if orc is not None and (ctx.value(orc, 2) or ctx.value(orc, 3)):
        resource["authorizingPrescription"] = [
            {
                "reference": f"MedicationRequest/{medication_request_id(ctx, orc)}",
                "identifier": order_identifiers(ctx, None, orc)[0],
            }
        ]
    amount = ctx.value(rxd, 4)
    if amount:
        found = number(amount)
        if found is None:
            fail(
                f"{amount!r} is not a number",
                where(rxd, 4),
                "MedicationDispense.quantity.value",
                ErrorCode.DATA_TYPE_ERROR,
            )
        resource["quantity"] = quantity(ctx, found, ctx.components(rxd, 5))
    when = date_time(ctx, handed_over, where(rxd, 3))
    if when:
        resource["whenHandedOver"] = when
    texts = list(notes) + [
        t for rep in range(1, ctx.repetitions(rxd, 9) + 1) if (t := ctx.value(rxd, 9, 1, 1, rep))
    ]
    if texts:
        resource["note"] = [{"text": text} for text in texts]
    instruction = dosage(ctx, tq1, None, rxr)
    if instruction:
        resource["dosageInstruction"] = [instruction]
    substituted = ctx.value(rxd, 11).upper()
    if substituted == "N":
        resource["substitution"] = {"wasSubstituted": False}
    elif substituted in ("G", "T"):
        kind = "G" if substituted == "G" else "TE"
        resource["substitution"] = {
            "wasSubstituted": True,
            "type": {"coding": [coding(_SUBSTITUTION, kind)]},
        }
    return resource


def _product(ctx: Context, rxd: Segment, medication: Resource) -> Resource | None:
    """A contained Medication for what only the product knows: lot, expiry, maker."""
    lot = ctx.value(rxd, 18)
    expires = date_time(ctx, ctx.value(rxd, 19), where(rxd, 19))
    maker = ctx.components(rxd, 20)
    if not (lot or expires or maker):
        return None
    product: Resource = {"resourceType": "Medication", "id": "medication", "code": medication}
    if maker:
        concept = concept_from(ctx, maker) or {}
        first = concept.get("coding", [{}])[0]
        manufacturer: Resource = {"type": "Organization"}
        if first.get("code"):
            manufacturer["identifier"] = {
                k: v for k, v in (("system", first.get("system")), ("value", first["code"])) if v
            }
        display = first.get("display") or concept.get("text")
        if display:
            manufacturer["display"] = display
        product["manufacturer"] = manufacturer
    form = codeable_concept(ctx, rxd, 6)
    if form:
        product["form"] = form
    batch = {k: v for k, v in (("lotNumber", lot), ("expirationDate", expires)) if v}
    if batch:
        product["batch"] = batch
    return product
