"""``Patient/$everything``: one patient's unified record, from every source.

``everything(repo, ctx, patient_id, params)`` answers ``GET /Patient/{id}/$everything``
(and the POST form, whose Parameters become the same pairs). What it returns and
why:

Members
    Everything in the patient compartment, as the official
    CompartmentDefinition-patient defines it (``compartment_params``), for the
    patient and every patient linked to it (``Patient.link`` in either
    direction, followed transitively: :func:`records.storage.link_sql.linked_ids`),
    plus those Patient resources themselves. A resource that points at the
    patient only through a parameter the definition does not list (say
    ``Observation.focus``) is not a member. Only current, non-deleted versions
    count. An unknown or deleted patient, or one the access policy hides, is a
    404 like any read of an unknown resource.

One fact, once
    Versions that share a dedupe key (:mod:`records.facts`: the same business
    identifier, or the same code, time and value), directly or through others,
    are one entry. Its ``resource`` is the oldest copy (lowest sequence
    number) the caller may see, served as stored, so its ``meta.source`` and
    hash stay those of that copy and ``$verify`` still checks it. Every other
    copy is named in the entry's ``extension`` (``Bundle.entry`` is a
    BackboneElement, so this is plain R4): one ``ALSO_SOURCE`` complex extension
    per copy, with ``source`` (its ``meta.source``, a ``valueUri``) and
    ``record`` (a versioned ``valueReference`` to the copy). Patients are never
    folded; records.facts gives Provenance and AuditEvent no keys either.
    Groups are formed over the whole compartment at the snapshot, before any
    filter, so an entry's identity never depends on the filters; an entry is
    returned when any of its copies passes them.

Provenance
    Provenance naming the patient is a compartment member like any other. On
    each page, the Provenance of every copy in the page's entries (those whose
    ``target`` is one of them) is added with ``search.mode = include``, unless
    ``_type`` leaves Provenance out; included entries are not counted in
    ``total`` and may repeat on several pages.

Parameters
    ``_type``: comma-separated (may repeat: the union); an unknown type, or one
    that is never in the Patient compartment, is a 400 naming it.
    ``_since``: an instant or partial date; entries with a copy whose
    ``meta.lastUpdated`` is at or after it.
    ``start``/``end``: care dates, not record dates. A resource is in the window
    when its care date (``CARE_DATES``: one date search parameter per type,
    e.g. Observation ``date``, Condition ``onset-date``) overlaps
    ``[start, end]``; partial dates are ranges, so ``end=2020`` runs to the end
    of 2020. Resources without a care date (Patient, RelatedPerson,
    Provenance, Coverage..., or an Observation with no effective time) are
    always included: a window must not hide an undated allergy.
    ``_count``: page size, 20 by default, at most 1000 (like search).
    Anything else is a 400 naming the parameter.

Paging
    Entries are ordered by the requested Patient first, then by the sequence
    number of each entry's resource: a total order fixed by the snapshot.
    Links carry ``_snapshot`` (the sequence number of the last write when the
    first page was asked for), the linked patients as they stood then
    (``_linked``, at most ``MAX_CARRIED_LINKS`` of them; a link removed since is
    honoured, one added since is not), and a cursor: ``_after=K`` (next) or
    ``_before=K`` (previous, and ``last``). Every page therefore answers as the
    record stood at the snapshot, and walking ``next`` to the end returns each
    entry exactly once, however much is written meanwhile. ``total`` is the
    number of entries, never capped; it is left out when the access policy
    hid anything, as search does.
"""

from __future__ import annotations

import functools
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from records.access import GuardedTransaction, Repository
from records.errors import BadRequest, NotFound
from records.interactions import Context, Outcome
from records.search.extract import date_range
from records.search.parameters import compartment_params, resource_types
from records.search.query import DEFAULT_COUNT, MAX_COUNT
from records.storage.everything_sql import (
    CareWindow,
    Member,
    load_versions,
    members,
    provenance_targeting,
)
from records.storage.link_sql import linked_ids
from records.storage.store import StoredVersion

__all__ = [
    "ALSO_SOURCE",
    "CARE_DATES",
    "MAX_CARRIED_LINKS",
    "everything",
    "parameters_from_body",
]

ALSO_SOURCE = "https://accord.example/fhir/StructureDefinition/also-source"
"""Bundle.entry extension: another copy of the same fact (sub-extensions source, record)."""

MAX_CARRIED_LINKS = 100
"""Linked patients named in paging links; a larger set is read afresh on each page."""

CARE_DATES: dict[str, str] = {
    "Account": "period",
    "AdverseEvent": "date",
    "AllergyIntolerance": "date",
    "Appointment": "date",
    "AuditEvent": "date",
    "Basic": "created",
    "CarePlan": "date",
    "CareTeam": "date",
    "ChargeItem": "occurrence",
    "Claim": "created",
    "ClaimResponse": "created",
    "ClinicalImpression": "date",
    "Communication": "sent",
    "CommunicationRequest": "authored",
    "Composition": "date",
    "Condition": "onset-date",
    "Consent": "date",
    "CoverageEligibilityRequest": "created",
    "CoverageEligibilityResponse": "created",
    "DetectedIssue": "identified",
    "DeviceRequest": "authored-on",
    "DiagnosticReport": "date",
    "DocumentManifest": "created",
    "DocumentReference": "period",
    "Encounter": "date",
    "EpisodeOfCare": "date",
    "ExplanationOfBenefit": "created",
    "FamilyMemberHistory": "date",
    "Flag": "date",
    "Goal": "start-date",
    "ImagingStudy": "started",
    "Immunization": "date",
    "ImmunizationEvaluation": "date",
    "ImmunizationRecommendation": "date",
    "Invoice": "date",
    "List": "date",
    "MeasureReport": "date",
    "Media": "created",
    "MedicationAdministration": "effective-time",
    "MedicationDispense": "whenhandedover",
    "MedicationRequest": "authoredon",
    "MedicationStatement": "effective",
    "NutritionOrder": "datetime",
    "Observation": "date",
    "Procedure": "date",
    "QuestionnaireResponse": "authored",
    "RequestGroup": "authored",
    "ResearchSubject": "date",
    "RiskAssessment": "date",
    "Schedule": "date",
    "ServiceRequest": "authored",
    "Specimen": "collected",
    "SupplyRequest": "date",
    "VisionPrescription": "datewritten",
}
"""The date search parameter that says when the care happened (or was ordered), per type.

Types in the compartment but not listed here have no care date: Patient,
Person, RelatedPerson, Provenance, Coverage, Group, BodyStructure, ..."""

_PARAMS = frozenset(
    {
        "_type",
        "_since",
        "start",
        "end",
        "_count",
        "_snapshot",
        "_after",
        "_before",
        "_linked",
        "_format",
        "_pretty",
    }
)
_ONCE = _PARAMS - {"_type", "_format", "_pretty"}


@functools.cache
def compartment_types() -> dict[str, tuple[str, ...]]:
    """Resource type -> the parameters putting it in the Patient compartment."""
    found = {t: compartment_params("Patient", t) for t in sorted(resource_types())}
    return {t: params for t, params in found.items() if params}


@dataclass(slots=True)
class _Query:
    types: list[str] | None = None
    since: str | None = None  # raw, for links
    since_key: str | None = None
    start: str | None = None
    end: str | None = None
    window: tuple[str | None, str | None] | None = None
    count: int = DEFAULT_COUNT
    snapshot: int | None = None
    after: int | None = None
    before: int | None = None
    linked: list[str] | None = None
    echo: list[tuple[str, str]] = field(default_factory=list)


def _whole(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got '{value}'", expression=name) from None
    if number < 0:
        raise BadRequest(f"{name} must not be negative", expression=name)
    return number


def _date(name: str, value: str) -> tuple[str, str]:
    try:
        return date_range(value)
    except ValueError as exc:
        raise BadRequest(f"Invalid {name}: {exc}", expression=name) from None


def _parse(params: list[tuple[str, str]]) -> _Query:
    q = _Query()
    seen: set[str] = set()
    for name, value in params:
        if name not in _PARAMS:
            raise BadRequest(
                f"Unknown parameter '{name}' for Patient/$everything"
                " (known: _type, _since, start, end, _count)",
                expression=name,
            )
        if name in _ONCE:
            if name in seen:
                raise BadRequest(f"Parameter '{name}' is given more than once", expression=name)
            seen.add(name)
        if name == "_type":
            q.types = (q.types or []) + _types(value)
        elif name == "_since":
            q.since, q.since_key = value, _date(name, value)[0]
        elif name == "start":
            q.start = value
        elif name == "end":
            q.end = value
        elif name == "_count":
            q.count = min(_whole(name, value), MAX_COUNT)
        elif name == "_snapshot":
            q.snapshot = _whole(name, value)
        elif name == "_after":
            q.after = _whole(name, value)
        elif name == "_before":
            q.before = _whole(name, value)
        elif name == "_linked":
            q.linked = [p for p in value.split(",") if p]
    if q.after is not None and q.before is not None:
        raise BadRequest("_after and _before cannot be used together", expression="_before")
    if q.start is not None or q.end is not None:
        low = _date("start", q.start)[0] if q.start is not None else None
        high = _date("end", q.end)[1] if q.end is not None else None
        if low is not None and high is not None and low > high:
            raise BadRequest(f"start ({q.start}) is after end ({q.end})", expression="start")
        q.window = (low, high)
    if q.types is not None:
        q.types = list(dict.fromkeys(q.types))
    return q


def _types(value: str) -> list[str]:
    found = [t.strip() for t in value.split(",")]
    if not all(found):
        raise BadRequest(f"_type has an empty resource type: '{value}'", expression="_type")
    for t in found:
        if t not in resource_types():
            raise BadRequest(f"Unknown resource type '{t}' in _type", expression="_type")
        if t not in compartment_types():
            raise BadRequest(
                f"{t} is never in the Patient compartment, so $everything has none to return",
                expression="_type",
            )
    return found


def parameters_from_body(body: Any) -> list[tuple[str, str]]:
    """The (name, value) pairs of a ``Parameters`` resource posted to ``$everything``."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("POST $everything takes a Parameters resource", expression="Parameters")
    pairs: list[tuple[str, str]] = []
    for i, p in enumerate(body.get("parameter") or []):
        where = f"Parameters.parameter[{i}]"
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            raise BadRequest(f"{where} needs a name", expression=where)
        values = [v for k, v in p.items() if k.startswith("value")]
        if len(values) != 1 or not isinstance(values[0], str | int) or isinstance(values[0], bool):
            raise BadRequest(f"{where} needs one simple value[x]", expression=where)
        pairs.append((p["name"], str(values[0])))
    return pairs


# -- grouping ------------------------------------------------------------------


def _groups(rows: list[Member]) -> list[list[Member]]:
    """Members sharing a dedupe key, transitively, in the order of their lowest seq
    (``rows`` come in seq order); each group starts with that member."""
    parent: dict[int, int] = {}  # only members that share a key with another

    def root(i: int) -> int:
        while (up := parent.get(i, i)) != i:
            parent[i] = parent.get(up, up)
            i = up
        return i

    owner: dict[str, int] = {}
    for i, m in enumerate(rows):
        if not m.keys or m.resource_type == "Patient":
            continue
        for key in m.keys:
            j = owner.setdefault(key, i)
            if j != i:
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    if not parent:
        return [[m] for m in rows]
    groups: dict[int, list[Member]] = {}
    for i, m in enumerate(rows):  # each group's root is its first member
        groups.setdefault(root(i) if i in parent else i, []).append(m)
    return list(groups.values())


def _key(group: list[Member], patient_id: str) -> int:
    """The entry's place in the order: the requested Patient first, then by seq."""
    first = group[0]
    if first.resource_type == "Patient" and first.resource_id == patient_id:
        return 0
    return first.seq


def _passes(group: list[Member], since: str | None) -> bool:
    return any(m.in_window and (since is None or m.last_updated >= since) for m in group)


# -- the interaction -----------------------------------------------------------


def everything(
    repo: Repository, ctx: Context, patient_id: str, params: list[tuple[str, str]]
) -> Outcome:
    q = _parse(params)
    wanted = compartment_types()
    if q.types is not None:
        wanted = {t: wanted[t] for t in q.types}
    care = None
    if q.window is not None:
        care = CareWindow(
            q.window[0], q.window[1], {t: CARE_DATES[t] for t in wanted if t in CARE_DATES}
        )
    with repo.read() as g:
        patient = g.visible(g.tx.current("Patient", patient_id))
        if patient is None or patient.deleted:
            raise NotFound(f"Patient/{patient_id} is not known")
        snapshot = q.snapshot or g.tx.high_water_mark()
        linked = linked_ids(g.tx.conn, patient_id)
        if q.linked is not None:
            carried = set(q.linked)
            linked = [p for p in linked if p == patient_id or p in carried]
        rows = members(g.tx.conn, linked, wanted, snapshot, care)
        groups = _groups(rows)
        if q.since_key is not None or q.window is not None:
            groups = [grp for grp in groups if _passes(grp, q.since_key)]
        keys = [_key(grp, patient_id) for grp in groups]
        if 0 in keys:  # the requested Patient goes first; the rest are in seq order already
            first = keys.index(0)
            keys.insert(0, keys.pop(first))
            groups.insert(0, groups.pop(first))
        start, stop = _window(keys, q)
        entries = _entries(g, ctx, groups[start:stop], q, snapshot)
        hide_total = g.filtered
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if not hide_total:
        bundle["total"] = len(keys)
    bundle["link"] = _links(ctx, patient_id, q, snapshot, linked, keys, start, stop)
    bundle["entry"] = entries
    return Outcome(200, orjson.dumps(bundle))


def _window(keys: list[int], q: _Query) -> tuple[int, int]:
    """The slice of the ordered entries this page shows, from its cursor."""
    if q.after is not None:
        start = bisect_right(keys, q.after)
        return start, min(len(keys), start + q.count)
    if q.before is not None:
        stop = bisect_left(keys, q.before)
        return max(0, stop - q.count), stop
    return 0, min(len(keys), q.count)


def _entries(
    g: GuardedTransaction, ctx: Context, page: list[list[Member]], q: _Query, snapshot: int
) -> list[dict[str, Any]]:
    """The page's entries (each the first copy the caller may see, naming the others),
    then the Provenance of what they show."""
    versions = load_versions(g.tx.conn, (m.seq for grp in page for m in grp))
    seen = {v.seq for v in g.visible_all([versions[s] for s in sorted(versions)])}
    entries: list[dict[str, Any]] = []
    copies: list[StoredVersion] = []
    for grp in page:
        shown = [versions[m.seq] for m in grp if m.seq in seen]
        if shown:
            entries.append(_entry(ctx, shown[0], shown[1:]))
            copies += shown
    if copies and (q.types is None or "Provenance" in q.types):
        matched = {v.seq for v in copies}
        # not the Patients: what names them is in the compartment already (and a
        # feed's Provenance names the Patient of every message it converted)
        targets = [(v.resource_type, v.resource_id) for v in copies if v.resource_type != "Patient"]
        found = provenance_targeting(g.tx.conn, targets, snapshot)
        for v in g.visible_all([p for p in found if p.seq not in matched]):
            entries.append(_entry(ctx, v, [], mode="include"))
    return entries


def _entry(
    ctx: Context, v: StoredVersion, others: list[StoredVersion], mode: str = "match"
) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if others:
        entry["extension"] = [_also(o) for o in others]
    entry["fullUrl"] = f"{ctx.base}/{v.resource_type}/{v.resource_id}"
    entry["resource"] = orjson.Fragment(v.data or b"null")
    entry["search"] = {"mode": mode}
    return entry


def _also(v: StoredVersion) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if v.source:
        parts.append({"url": "source", "valueUri": v.source})
    reference = f"{v.resource_type}/{v.resource_id}/_history/{v.version_id}"
    parts.append({"url": "record", "valueReference": {"reference": reference}})
    return {"url": ALSO_SOURCE, "extension": parts}


def _links(
    ctx: Context,
    patient_id: str,
    q: _Query,
    snapshot: int,
    linked: list[str],
    keys: list[int],
    start: int,
    stop: int,
) -> list[dict[str, str]]:
    fixed: list[tuple[str, str]] = []
    if q.types is not None:
        fixed.append(("_type", ",".join(q.types)))
    for name, value in (("_since", q.since), ("start", q.start), ("end", q.end)):
        if value is not None:
            fixed.append((name, value))
    fixed += [("_count", str(q.count)), ("_snapshot", str(snapshot))]
    if len(linked) <= MAX_CARRIED_LINKS:
        fixed.append(("_linked", ",".join(linked)))
    base = f"{ctx.base}/Patient/{quote(patient_id, safe='')}/$everything"

    def url(cursor: tuple[str, int] | None) -> str:
        pairs = fixed + ([(cursor[0], str(cursor[1]))] if cursor else [])
        return f"{base}?{urlencode(pairs, safe=',')}"

    self_cursor = (
        ("_after", q.after)
        if q.after is not None
        else ("_before", q.before)
        if q.before is not None
        else None
    )
    links = [{"relation": "self", "url": url(self_cursor)}, {"relation": "first", "url": url(None)}]
    if q.count:
        if start > 0:
            first_key = keys[start] if start < len(keys) else snapshot + 1
            links.append({"relation": "previous", "url": url(("_before", first_key))})
        if stop < len(keys):
            links.append({"relation": "next", "url": url(("_after", keys[stop - 1]))})
        links.append({"relation": "last", "url": url(("_before", snapshot + 1))})
    return links
