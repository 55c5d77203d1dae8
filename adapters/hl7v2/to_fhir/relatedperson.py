"""NK1 → RelatedPerson (next of kin and associated parties).

Identity: the patient, the relationship (NK1-3) and the person's name, not
the set id NK1-1, which only numbers the segments of one message and shifts
when a sender reorders them.
"""

from __future__ import annotations

from ..parser import Segment
from .context import Context, Resource, where
from .datatypes import addresses, codeable_concept, coding, contact_points, human_names, identifiers
from .ids import unique_id
from .terminology import GENDER, RELATIONSHIP
from .timestamps import date_time, date_value

__all__ = ["related_person"]


def related_person(ctx: Context, nk1: Segment, patient_id: str) -> Resource | None:
    """The RelatedPerson of one NK1, or None when it names nobody and no relation."""
    names = human_names(ctx, nk1, 2) + human_names(ctx, nk1, 30)
    relation = ctx.components(nk1, 3)
    relation_code = relation[0].upper() if relation else ""
    if not names and not relation_code:
        ctx.warn(where(nk1), "neither a name (NK1-2) nor a relationship (NK1-3): left out")
        return None
    first = names[0] if names else {}
    who = " ".join([first.get("family", ""), *first.get("given", [])]).strip().casefold()
    resource: Resource = {
        "resourceType": "RelatedPerson",
        "id": unique_id(ctx, "rel", patient_id, relation_code, who),
    }
    ids = identifiers(ctx, nk1, 12) + identifiers(ctx, nk1, 33)
    if ids:
        resource["identifier"] = ids
    resource["patient"] = {"reference": f"Patient/{patient_id}"}
    relationships = []
    known = RELATIONSHIP.get(relation_code)
    if known is not None:
        relationships.append(
            {
                "coding": [coding(*known)],
                **({"text": relation[1]} if len(relation) > 1 and relation[1] else {}),
            }
        )
    elif relation:
        concept = codeable_concept(ctx, nk1, 3)
        if concept:
            relationships.append(concept)
    role = codeable_concept(ctx, nk1, 7)
    if role:
        relationships.append(role)
    if relationships:
        resource["relationship"] = relationships
    if names:
        resource["name"] = names
    telecom = (
        contact_points(ctx, nk1, 5)
        + contact_points(ctx, nk1, 6, "work")
        + contact_points(ctx, nk1, 31)
    )
    telecom += contact_points(ctx, nk1, 40) + contact_points(ctx, nk1, 41)
    if telecom:
        resource["telecom"] = telecom
    sex = ctx.value(nk1, 15).upper()
    if sex in GENDER:
        resource["gender"] = GENDER[sex]
    born = date_value(ctx, ctx.value(nk1, 16), where(nk1, 16))
    if born:
        resource["birthDate"] = born
    places = addresses(ctx, nk1, 4) + addresses(ctx, nk1, 32)
    if places:
        resource["address"] = places
    start = date_time(ctx, ctx.value(nk1, 8), where(nk1, 8))
    end = date_time(ctx, ctx.value(nk1, 9), where(nk1, 9))
    if start or end:
        resource["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    language = codeable_concept(ctx, nk1, 20)
    if language:
        resource["communication"] = [{"language": language}]
    return resource
