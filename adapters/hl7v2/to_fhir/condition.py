"""DG1 → Condition (an encounter diagnosis).

A code without CWE.3 takes its system from DG1-2 (diagnosis coding method,
deprecated since v2.3 but the only place older senders name it).

Identity: the patient, the visit (when it has one) and the diagnosis code:
the same code diagnosed in another visit is another Condition, while the set
id DG1-1 only numbers the segments of one message.
"""

from __future__ import annotations

from ..errors import ErrorCode
from ..parser import Segment
from .context import Context, Resource, fail, where
from .datatypes import codeable_concept, coding, practitioner
from .ids import unique_id
from .terminology import system_uri
from .timestamps import date_time

__all__ = ["condition"]

_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def condition(ctx: Context, dg1: Segment, patient_id: str, encounter_id: str | None) -> Resource:
    """The Condition of one DG1. A code (DG1-3) or a description (DG1-4) is required."""
    # DG1-2, the coding method (deprecated, but what older senders name the system with)
    method = ctx.value(dg1, 2)
    diagnosis = codeable_concept(ctx, dg1, 3, default_system=system_uri(method) if method else "")
    description = ctx.value(dg1, 4)
    if diagnosis is None and not description:
        fail(
            "DG1-3 (diagnosis code) is required",
            where(dg1, 3),
            "Condition.code",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    diagnosis = diagnosis or {}
    if description and "text" not in diagnosis:
        diagnosis["text"] = description
    first = diagnosis.get("coding", [{}])[0]
    key = (
        patient_id,
        encounter_id or "",
        first.get("system", ""),
        first.get("code", diagnosis.get("text", "")),
    )
    resource: Resource = {"resourceType": "Condition", "id": unique_id(ctx, "cnd", *key)}
    if ctx.value(dg1, 21).upper() == "D":
        resource["verificationStatus"] = {"coding": [coding(_VERIFICATION, "entered-in-error")]}
    resource["category"] = [
        {"coding": [coding(_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")]}
    ]
    resource["code"] = diagnosis
    resource["subject"] = {"reference": f"Patient/{patient_id}"}
    if encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    onset = date_time(ctx, ctx.value(dg1, 5), where(dg1, 5))
    if onset:
        resource["onsetDateTime"] = onset
    recorded = date_time(ctx, ctx.value(dg1, 19), where(dg1, 19))
    if recorded:
        resource["recordedDate"] = recorded
    asserter = practitioner(ctx, dg1, 16)
    if asserter is not None:
        resource["asserter"] = asserter
    return resource
