"""SPM, or failing that OBR-15 (specimen source, before v2.5), → Specimen.

Identity: the specimen id SPM-2 (filler's, else placer's) in its namespace;
a specimen without one (and an OBR-15 specimen) belongs to its order, so its
id derives from the order's.
"""

from __future__ import annotations

from ..parser import Segment
from .context import Context, Resource, where
from .datatypes import (
    codeable_concept,
    codeable_concepts,
    concept_from,
    ei_identifier,
    identifier,
    number,
    quantity,
)
from .ids import HD, authority_key, unique_id
from .timestamps import date_time

__all__ = ["specimen_from_obr", "specimen_from_spm"]


def _eip_part(ctx: Context, segment: Segment, field: int, component: int) -> tuple[str, HD]:
    """One EI of an EIP (its parts are subcomponents): entity id and authority."""
    entity = ctx.value(segment, field, component, 1)
    return entity, (
        ctx.value(segment, field, component, 3),
        ctx.value(segment, field, component, 4),
        ctx.value(segment, field, component, 2),
    )


def specimen_from_spm(
    ctx: Context, spm: Segment, order_id: str, rank: int, patient_id: str | None
) -> Resource:
    """The Specimen of one SPM (``rank``: its place among its order's SPM segments)."""
    placer, placer_authority = _eip_part(ctx, spm, 2, 1)
    filler, filler_authority = _eip_part(ctx, spm, 2, 2)
    if filler:
        specimen_id = unique_id(ctx, "spc", authority_key(filler_authority, ctx), filler)
    elif placer:
        specimen_id = unique_id(ctx, "spc", "placer", authority_key(placer_authority, ctx), placer)
    else:
        specimen_id = unique_id(ctx, "spc", order_id, "SPM", str(rank))
    resource: Resource = {"resourceType": "Specimen", "id": specimen_id}
    ids = [
        i
        for i in (
            ei_identifier(ctx, placer, placer_authority, "PLAC"),
            ei_identifier(ctx, filler, filler_authority, "FILL"),
        )
        if i
    ]
    if ids:
        resource["identifier"] = ids
    accession = identifier(ctx, spm, 30)
    if accession is not None:
        resource["accessionIdentifier"] = accession
    availability = ctx.value(spm, 20).upper()
    if availability in ("Y", "N"):
        resource["status"] = "available" if availability == "Y" else "unavailable"
    kind = codeable_concept(ctx, spm, 4)
    if kind:
        resource["type"] = kind
    if patient_id:
        resource["subject"] = {"reference": f"Patient/{patient_id}"}
    received = date_time(ctx, ctx.value(spm, 18), where(spm, 18))
    if received:
        resource["receivedTime"] = received
    collection: Resource = {}
    window = ctx.padded(spm, 17, 2)
    start = date_time(ctx, window[0], where(spm, 17, 1))
    end = date_time(ctx, window[1], where(spm, 17, 2))
    if start and end:
        collection["collectedPeriod"] = {"start": start, "end": end}
    elif start:
        collection["collectedDateTime"] = start
    amount = ctx.components(spm, 12)
    if amount and number(amount[0]) is not None:
        units = [ctx.value(spm, 12, 2, s) for s in (1, 2, 3)]
        collection["quantity"] = quantity(ctx, number(amount[0]) or 0, units)
    method = codeable_concept(ctx, spm, 7)
    if method:
        collection["method"] = method
    site = codeable_concept(ctx, spm, 8)
    if site:
        collection["bodySite"] = site
    if collection:
        resource["collection"] = collection
    container = codeable_concept(ctx, spm, 27)
    if container:
        resource["container"] = [{"type": container}]
    conditions = codeable_concepts(ctx, spm, 24)
    if conditions:
        resource["condition"] = conditions
    notes = [
        {"text": text}
        for rep in range(1, ctx.repetitions(spm, 14) + 1)
        if (text := ctx.value(spm, 14, 1, 1, rep))
    ]
    if notes:
        resource["note"] = notes
    return resource


def specimen_from_obr(
    ctx: Context, obr: Segment, order_id: str, patient_id: str | None
) -> Resource | None:
    """The Specimen OBR-15 describes (source ^ additives ^ … ^ body site), or None."""
    source = [ctx.value(obr, 15, 1, s) for s in range(1, 10)]
    site = [ctx.value(obr, 15, 4, s) for s in range(1, 10)]
    kind = concept_from(ctx, source) if any(source) else None
    body_site = concept_from(ctx, site) if any(site) else None
    if kind is None and body_site is None:
        return None
    resource: Resource = {
        "resourceType": "Specimen",
        "id": unique_id(ctx, "spc", order_id, "OBR-15"),
    }
    if kind:
        resource["type"] = kind
    if patient_id:
        resource["subject"] = {"reference": f"Patient/{patient_id}"}
    received = date_time(ctx, ctx.value(obr, 14), where(obr, 14))
    if received:
        resource["receivedTime"] = received
    collection: Resource = {}
    collected = date_time(ctx, ctx.value(obr, 7), where(obr, 7))
    if collected:
        collection["collectedDateTime"] = collected
    if body_site:
        collection["bodySite"] = body_site
    if collection:
        resource["collection"] = collection
    return resource
