"""AL1 → AllergyIntolerance.

Identity: the patient and the allergen (AL1-3), not the set id: a patient
has one AllergyIntolerance per substance, however a sender numbers its AL1
segments. clinicalStatus is "active", as the guide assigns (constraint
ait-1 needs one, and an AL1 lists current allergies).
"""

from __future__ import annotations

from ..errors import ErrorCode
from ..parser import Segment
from .context import Context, Resource, fail, where
from .datatypes import codeable_concept
from .ids import unique_id
from .terminology import ALLERGY_CATEGORY, ALLERGY_CRITICALITY, ALLERGY_TYPE
from .timestamps import date_time

__all__ = ["allergy"]

_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"


def allergy(ctx: Context, al1: Segment, patient_id: str) -> Resource:
    """The AllergyIntolerance of one AL1. AL1-3 (the allergen) is required."""
    allergen = codeable_concept(ctx, al1, 3)
    if allergen is None:
        fail(
            "AL1-3 (allergen) is required",
            where(al1, 3),
            "AllergyIntolerance.code",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    first = allergen.get("coding", [{}])[0]
    key = (patient_id, first.get("system", ""), first.get("code", allergen.get("text", "")))
    resource: Resource = {
        "resourceType": "AllergyIntolerance",
        "id": unique_id(ctx, "alg", *key),
        "clinicalStatus": {"coding": [{"system": _CLINICAL, "code": "active"}]},
    }
    kind = ctx.value(al1, 2).upper()
    if kind in ALLERGY_TYPE:
        resource["type"] = ALLERGY_TYPE[kind]
    if kind in ALLERGY_CATEGORY:
        resource["category"] = [ALLERGY_CATEGORY[kind]]
    severity = ctx.value(al1, 4).upper()
    if severity in ALLERGY_CRITICALITY:
        resource["criticality"] = ALLERGY_CRITICALITY[severity]
    elif severity:
        ctx.warn(
            where(al1, 4),
            f"{severity!r} is not an HL7 table 0128 severity with a FHIR criticality: left out",
        )
    resource["code"] = allergen
    resource["patient"] = {"reference": f"Patient/{patient_id}"}
    identified = date_time(ctx, ctx.value(al1, 6), where(al1, 6))
    if identified:
        resource["onsetDateTime"] = identified
    manifestations = [
        {"text": text}
        for rep in range(1, ctx.repetitions(al1, 5) + 1)
        if (text := ctx.value(al1, 5, 1, 1, rep))
    ]
    if manifestations:
        resource["reaction"] = [{"manifestation": manifestations}]
    return resource
