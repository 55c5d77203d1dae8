"""IN1 → Coverage.

Identity: the patient and the plan, company and policy (IN1-2, -3, -36); the
set id IN1-1 is the coverage's priority this time, which changes. The payor
is a logical reference (IN1-3 company id, IN1-4 name): FHIR requires one,
and a v2 message cannot own an Organization. Status is "active": IN1 lists
the coverages in force.
"""

from __future__ import annotations

from ..errors import ErrorCode
from ..parser import Segment
from .context import Context, Resource, fail, where
from .datatypes import codeable_concept, coding, identifier
from .ids import identifier_system, unique_id
from .terminology import RELATIONSHIP
from .timestamps import date_time

__all__ = ["coverage"]

_SUBSCRIBER = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
_SUBSCRIBER_CODES = {
    "SEL": "self",
    "SPO": "spouse",
    "CHD": "child",
    "PAR": "parent",
    "MTH": "parent",
    "FTH": "parent",
    "DOM": "common",
}


def coverage(ctx: Context, in1: Segment, patient_id: str) -> Resource:
    """The Coverage of one IN1. The insurance company (IN1-3 or IN1-4) is required."""
    plan = ctx.value(in1, 2)
    company = identifier(ctx, in1, 3)
    company_name = ctx.value(in1, 4)
    if company is None and not company_name:
        fail(
            "IN1-3 (insurance company id) is required",
            where(in1, 3),
            "Coverage.payor",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    policy = ctx.value(in1, 36)
    parts = (
        (plan, ctx.value(in1, 3), policy) if (plan or policy or company) else (ctx.value(in1, 1),)
    )
    resource: Resource = {
        "resourceType": "Coverage",
        "id": unique_id(ctx, "cov", patient_id, *parts),
    }
    # Plans and policy numbers are numbered by the insurer: its id (or name) is their namespace.
    insurer = (company["value"] if company else company_name) or ctx.sender_key
    ids = [
        {
            "type": {"text": text},
            "system": identifier_system(("", "", insurer), kind, ctx),
            "value": number,
        }
        for text, kind, number in (
            ("health plan", "plan", plan),
            ("policy number", "policy", policy),
        )
        if number
    ]
    if ids:
        resource["identifier"] = ids
    resource["status"] = "active"
    plan_type = codeable_concept(ctx, in1, 15)
    if plan_type:
        resource["type"] = plan_type
    relation = ctx.components(in1, 17)
    relation_code = relation[0].upper() if relation else ""
    if relation_code == "SEL":
        resource["subscriber"] = {"reference": f"Patient/{patient_id}"}
    insured_id = ctx.value(in1, 49)
    if insured_id:
        resource["subscriberId"] = insured_id
    resource["beneficiary"] = {"reference": f"Patient/{patient_id}"}
    if relation_code in _SUBSCRIBER_CODES:
        resource["relationship"] = {
            "coding": [coding(_SUBSCRIBER, _SUBSCRIBER_CODES[relation_code])]
        }
    elif relation_code in RELATIONSHIP:
        resource["relationship"] = {
            "coding": [coding(_SUBSCRIBER, "other")],
            "text": RELATIONSHIP[relation_code][2],
        }
    elif relation:
        concept = codeable_concept(ctx, in1, 17)
        if concept:
            resource["relationship"] = concept
    start = date_time(ctx, ctx.value(in1, 12), where(in1, 12))
    end = date_time(ctx, ctx.value(in1, 13), where(in1, 13))
    if start or end:
        resource["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    payor: Resource = {"type": "Organization"}
    if company is not None:
        payor["identifier"] = company
    if company_name:
        payor["display"] = company_name
    resource["payor"] = [payor]
    return resource
