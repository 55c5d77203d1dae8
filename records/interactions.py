"""The FHIR RESTful interactions, one function each, framework-free.

Each takes a :class:`~records.access.Repository` (already bound to the
principal's policy), a :class:`Context` and plain arguments, and returns an
:class:`Outcome`: status, JSON body bytes and headers. The HTTP layer is a
verb+path table over these functions. Stored bytes are served as they are
(``orjson.Fragment``), never re-serialised.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson

from records import fhirjson
from records.access import GuardedTransaction, Repository
from records.anchoring import entry_bytes
from records.errors import (
    BadRequest,
    Conflict,
    FHIRError,
    Gone,
    NotFound,
    PreconditionFailed,
)
from records.facts import fact_keys
from records.linking import keep_stored
from records.matching import PatientLinks, change_links
from records.mpi import Thresholds
from records.search.extract import date_range, index_entries
from records.search.parameters import parameters_for
from records.search.query import MAX_COUNT, ReferenceValue, SearchQuery, parse_search
from records.storage import link_sql
from records.storage.search_sql import HistoryQuery
from records.storage.store import DuplicateVersion, NewVersion, StoredVersion
from records.validation import check_resource_type, validate_resource

__all__ = [
    "Context",
    "Outcome",
    "Writer",
    "Written",
    "create",
    "delete",
    "history",
    "process_bundle",
    "read",
    "search",
    "update",
    "vread",
]


@dataclass(frozen=True, slots=True)
class Context:
    """What an interaction needs to know about the request beyond its arguments."""

    base: str  # e.g. http://127.0.0.1:8080/fhir
    source: str  # meta.source for what this request writes
    prefer_return: str = "representation"  # representation | minimal | OperationOutcome
    thresholds: Thresholds | None = None  # master patient index; None: the configured ones


@dataclass(slots=True)
class Outcome:
    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


# -- helpers -----------------------------------------------------------------


def _now() -> tuple[str, str]:
    """(meta.lastUpdated instant, its 26-character UTC sort key)."""
    instant = datetime.now(UTC).isoformat(timespec="microseconds")
    return instant, instant[:26]


def _instant(key: str) -> str:
    return key + "+00:00"


def _http_date(key: str) -> str:
    return format_datetime(datetime.fromisoformat(_instant(key)), usegmt=True)


def _version_headers(ctx: Context, v: StoredVersion | NewVersion) -> dict[str, str]:
    return {
        "ETag": f'W/"{v.version_id}"',
        "Last-Modified": _http_date(v.last_updated),
        "Content-Location": f"{ctx.base}/{v.resource_type}/{v.resource_id}/_history/{v.version_id}",
    }


def _parse_etag(value: str) -> int:
    tag = value.strip()
    tag = tag.removeprefix("W/").strip('"')
    try:
        return int(tag)
    except ValueError:
        raise BadRequest(f'If-Match must be a version ETag like W/"3", got {value!r}') from None


def _outcome_body(severity: str, code: str, text: str) -> bytes:
    return orjson.dumps(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": text}],
        }
    )


# -- read side ---------------------------------------------------------------


def read(repo: Repository, ctx: Context, resource_type: str, resource_id: str) -> Outcome:
    check_resource_type(resource_type)
    v = repo.read_once(lambda g: g.visible(g.tx.current(resource_type, resource_id)))
    if v is None:
        raise NotFound(f"{resource_type}/{resource_id} is not known")
    if v.deleted:
        raise Gone(f"{resource_type}/{resource_id} was deleted", headers=_version_headers(ctx, v))
    return Outcome(200, v.data, _version_headers(ctx, v))


def vread(
    repo: Repository, ctx: Context, resource_type: str, resource_id: str, version_id: str
) -> Outcome:
    check_resource_type(resource_type)
    if not version_id.isdigit():
        raise NotFound(f"{resource_type}/{resource_id} has no version {version_id!r}")
    v = repo.read_once(
        lambda g: g.visible(g.tx.version(resource_type, resource_id, int(version_id)))
    )
    if v is None:
        raise NotFound(f"{resource_type}/{resource_id} has no version {version_id}")
    if v.deleted:
        raise Gone(f"Version {version_id} of {resource_type}/{resource_id} is a deletion")
    return Outcome(200, v.data, _version_headers(ctx, v))


def search(
    repo: Repository, ctx: Context, resource_type: str, params: list[tuple[str, str]]
) -> Outcome:
    check_resource_type(resource_type)
    query = parse_search(resource_type, params)
    with repo.read() as g:
        _follow_patient_links(g, query)
        query.snapshot = query.snapshot or g.tx.high_water_mark()
        total, rows = g.tx.search(query)
        rows = g.visible_all(rows)
        hide_total = g.filtered
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None and not hide_total:
        bundle["total"] = total
    if query.summary_count:
        return Outcome(200, orjson.dumps(bundle))
    bundle["link"] = _page_links(ctx, query, total, len(rows))
    bundle["entry"] = [
        {
            "fullUrl": f"{ctx.base}/{v.resource_type}/{v.resource_id}",
            "resource": orjson.Fragment(v.data or b"null"),
            "search": {"mode": "match"},
        }
        for v in rows
    ]
    return Outcome(200, orjson.dumps(bundle))


def _follow_patient_links(g: GuardedTransaction, query: SearchQuery) -> None:
    """A reference search to a Patient covers every Patient linked to it.

    ``Observation?patient=A`` finds B's observations too when A and B are
    linked (one person, two sources): the same rule as ``Patient/$everything``,
    for every reference parameter of every type. Reads are not widened.
    """
    definitions = parameters_for(query.resource_type)
    for i, criterion in enumerate(query.criteria):
        if criterion.kind != "reference" or criterion.modifier not in (None, "Patient"):
            continue
        targets = definitions[criterion.param].targets
        values: list[Any] = []
        for value in criterion.values:
            values.append(value)
            if value.target_type == "Patient" or (
                value.target_type is None and "Patient" in targets
            ):
                others = link_sql.linked_ids(g.tx.conn, value.target_id)[1:]
                values += [ReferenceValue("Patient", other) for other in others]
        query.criteria[i] = replace(criterion, values=tuple(values))


def _page_links(
    ctx: Context, q: SearchQuery, total: int | None, page_size: int
) -> list[dict[str, str]]:
    assert q.snapshot is not None
    links = [{"relation": "self", "url": q.link(ctx.base, offset=q.offset, snapshot=q.snapshot)}]
    links.append({"relation": "first", "url": q.link(ctx.base, offset=0, snapshot=q.snapshot)})
    more = (q.offset + q.count < total) if total is not None else page_size >= q.count
    if q.count and more:
        url = q.link(ctx.base, offset=q.offset + q.count, snapshot=q.snapshot)
        links.append({"relation": "next", "url": url})
    if q.offset > 0:
        url = q.link(ctx.base, offset=max(0, q.offset - q.count), snapshot=q.snapshot)
        links.append({"relation": "previous", "url": url})
    return links


def history(
    repo: Repository,
    ctx: Context,
    resource_type: str | None,
    resource_id: str | None,
    params: list[tuple[str, str]],
) -> Outcome:
    """Instance, type or system history, newest first, paged on a fixed snapshot."""
    if resource_type:
        check_resource_type(resource_type)
    args = dict(params)
    unknown = set(args) - {"_count", "_since", "_offset", "_snapshot", "_format"}
    if unknown:
        raise BadRequest(f"Unsupported history parameter(s): {', '.join(sorted(unknown))}")
    try:
        count = min(int(args.get("_count", 20)), MAX_COUNT)
        offset = int(args.get("_offset", 0))
        snapshot = int(args["_snapshot"]) if "_snapshot" in args else None
        since = date_range(args["_since"])[0] if "_since" in args else None
    except ValueError as exc:
        raise BadRequest(f"Invalid history parameter: {exc}") from None
    with repo.read() as g:
        snapshot = snapshot or g.tx.high_water_mark()
        q = HistoryQuery(resource_type, resource_id, since, snapshot, count, offset)
        total, rows = g.tx.history(q)
        if resource_id and total == 0:
            raise NotFound(f"{resource_type}/{resource_id} is not known")
        rows = g.visible_all(rows)
        hide_total = g.filtered
    if resource_id and not rows and offset == 0:
        raise NotFound(f"{resource_type}/{resource_id} is not known")
    path = "/".join(p for p in (resource_type, resource_id) if p)
    base_url = f"{ctx.base}/{path}/_history" if path else f"{ctx.base}/_history"

    def link(off: int) -> str:
        qs = f"_count={count}&_offset={off}&_snapshot={snapshot}"
        if "_since" in args:
            qs += f"&_since={args['_since']}"
        return f"{base_url}?{qs}"

    links = [{"relation": "self", "url": link(offset)}]
    if offset + count < total:
        links.append({"relation": "next", "url": link(offset + count)})
    if offset > 0:
        links.append({"relation": "previous", "url": link(max(0, offset - count))})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "history"}
    if not hide_total:
        bundle["total"] = total
    bundle["link"] = links
    bundle["entry"] = [_history_entry(ctx, v) for v in rows]
    return Outcome(200, orjson.dumps(bundle))


def _history_entry(ctx: Context, v: StoredVersion) -> dict[str, Any]:
    method = {"create": "POST", "update": "PUT", "delete": "DELETE"}[v.method]
    status = {"create": "201 Created", "update": "200 OK", "delete": "204 No Content"}[v.method]
    entry: dict[str, Any] = {"fullUrl": f"{ctx.base}/{v.resource_type}/{v.resource_id}"}
    if v.data is not None:
        entry["resource"] = orjson.Fragment(v.data)
    url = v.resource_type if method == "POST" else f"{v.resource_type}/{v.resource_id}"
    entry["request"] = {"method": method, "url": url}
    entry["response"] = {
        "status": status,
        "etag": f'W/"{v.version_id}"',
        "lastModified": _instant(v.last_updated),
    }
    return entry


# -- write side --------------------------------------------------------------


class _Unread:
    """Marker: the current version has not been read yet (read it, under a lock)."""


UNREAD = _Unread()


@dataclass(slots=True)
class Written:
    """What one write did: the version it made (or found), and the HTTP status."""

    status: int
    version: NewVersion | StoredVersion


LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"


class Writer:
    """Collects the versions of one database transaction and writes them at once."""

    def __init__(self, g: GuardedTransaction, ctx: Context, validated: bool = False) -> None:
        self.g = g
        self.ctx = ctx
        self.validated = validated  # resources were validated before the transaction began
        self.instant, self.key = _now()
        self.pending: list[NewVersion] = []
        self.touched: set[tuple[str, str]] = set()
        self.keeps_stored = False  # feeds: a Patient update keeps what it leaves out
        self.matching = True  # match written Patients against the master patient index
        self.patient_links = PatientLinks(self)

    def _claim(self, resource_type: str, resource_id: str) -> None:
        if (resource_type, resource_id) in self.touched:
            raise BadRequest(f"{resource_type}/{resource_id} appears twice in one transaction")
        self.touched.add((resource_type, resource_id))

    def _version(
        self,
        resource_type: str,
        resource_id: str,
        resource: dict[str, Any] | None,
        previous: StoredVersion | None,
        method: str,
    ) -> NewVersion:
        version_id = previous.version_id + 1 if previous else 1
        data = index = None
        facts: list[str] = []
        if resource is not None:
            meta = dict(resource.get("meta") or {})
            meta["versionId"] = str(version_id)
            meta["lastUpdated"] = self.instant
            meta["source"] = self.ctx.source
            # resourceType, id and meta first, as every FHIR server writes them
            rest = {k: v for k, v in resource.items() if k not in ("resourceType", "id", "meta")}
            resource.clear()
            resource.update(resourceType=resource_type, id=resource_id, meta=meta, **rest)
            data = fhirjson.dumps(resource)
            index = index_entries(resource)
            facts = fact_keys(resource)
        entry = entry_bytes(
            resource_type,
            resource_id,
            version_id,
            self.instant,
            method,
            self.ctx.source,
            data,
            resource,
        )
        v = NewVersion(
            resource_type,
            resource_id,
            version_id,
            self.key,
            method,
            data,
            index,
            previous.seq if previous else None,
            self.ctx.source,
            entry,
            facts,
        )
        self.pending.append(v)
        return v

    def _find(self, resource_type: str, condition: str) -> list[StoredVersion]:
        """Resources matching a conditional-create/update query, serialised per condition."""
        params = parse_qsl(condition, keep_blank_values=True)
        if not params:
            raise BadRequest(f"Empty condition for {resource_type}")
        query = parse_search(resource_type, params)
        query.count, query.total = 2, "none"
        self.g.tx.lock(f"{resource_type}?{sorted(params)}")
        query.snapshot = self.g.tx.high_water_mark()
        return self.g.tx.search(query)[1]

    def existing(self, resource_type: str, condition: str) -> StoredVersion | None:
        """The one resource an If-None-Exist condition matches, or None; 412 if several."""
        found = self._find(resource_type, condition)
        if len(found) > 1:
            raise PreconditionFailed(
                f"If-None-Exist '{condition}' matches more than one {resource_type}"
            )
        return found[0] if found else None

    def create(
        self,
        resource_type: str,
        resource: Any,
        if_none_exist: str | None = None,
        new_id: str | None = None,
    ) -> Written:
        check_resource_type(resource_type)
        if not self.validated:
            validate_resource(resource, resource_type)
        self.g.check_write(resource_type, resource)
        if if_none_exist:
            found = self.existing(resource_type, if_none_exist)
            if found is not None:
                return Written(200, found)
        resource_id = new_id or str(uuid.uuid4())
        self._claim(resource_type, resource_id)
        return self._written(201, resource_type, resource_id, resource, None, "create")

    def update(
        self,
        resource_type: str,
        resource_id: str,
        resource: Any,
        if_match: str | None = None,
        current: StoredVersion | _Unread | None = UNREAD,
    ) -> Written:
        check_resource_type(resource_type)
        if not self.validated:
            validate_resource(resource, resource_type)
        body_id = resource.get("id")
        if body_id is None:
            raise BadRequest(
                "An update must carry the resource id", expression=f"{resource_type}.id"
            )
        if body_id != resource_id:
            raise BadRequest(
                f"Resource id {body_id!r} does not match the URL's id {resource_id!r}",
                expression=f"{resource_type}.id",
            )
        self.g.check_write(resource_type, resource)
        self._claim(resource_type, resource_id)
        if isinstance(current, _Unread):
            self.g.tx.lock(f"{resource_type}/{resource_id}")
            current = self.g.tx.current(resource_type, resource_id)
        if if_match is not None:
            wanted = _parse_etag(if_match)
            have = current.version_id if current and not current.deleted else None
            if have != wanted:
                raise PreconditionFailed(
                    f'If-Match W/"{wanted}" does not match the current version '
                    + (
                        f'W/"{have}"'
                        if have
                        else f"(none: {resource_type}/{resource_id} does not exist)"
                    )
                )
        if current is not None and not current.deleted:
            if resource_type == "Patient" and self.keeps_stored and current.data is not None:
                keep_stored(resource, orjson.loads(current.data))
            if _same_content(current.data, resource):
                unchanged = Written(200, current)
                if resource_type == "Patient":
                    self.patient_links.written[resource_id] = unchanged
                return unchanged
            return self._written(200, resource_type, resource_id, resource, current, "update")
        return self._written(201, resource_type, resource_id, resource, current, "create")

    def _written(
        self,
        status: int,
        resource_type: str,
        resource_id: str,
        resource: dict[str, Any],
        current: StoredVersion | None,
        method: str,
    ) -> Written:
        """A new version; a Patient is matched first, so its links are in the version."""
        if resource_type != "Patient":
            return Written(
                status, self._version(resource_type, resource_id, resource, current, method)
            )
        self.patient_links.before(resource_id, resource, self.matching)
        written = Written(status, self._version("Patient", resource_id, resource, current, method))
        self.patient_links.after(resource_id, written)
        return written

    def provenance(
        self,
        activity: str,
        changed: Sequence[Written | None],
        who: str,
        on_behalf_of: str | None = None,
    ) -> None:
        """A Provenance for a change of Patient links: which versions, what kind, who.

        The server's own record of what it did, so not subject to the writer's policy.
        """
        targets = [
            {"reference": f"Patient/{x.version.resource_id}/_history/{x.version.version_id}"}
            for x in changed
            if x is not None
        ]
        if not targets:
            return
        agent: dict[str, Any] = {"who": {"display": who}}
        if on_behalf_of is not None:
            agent["onBehalfOf"] = {"display": on_behalf_of}
        provenance_id = str(uuid.uuid4())
        self._claim("Provenance", provenance_id)
        resource = {
            "resourceType": "Provenance",
            "target": targets,
            "recorded": self.instant,
            "activity": {"coding": [{"system": LIFECYCLE, "code": activity}]},
            "agent": [agent],
        }
        self._version("Provenance", provenance_id, resource, None, "create")

    @contextmanager
    def acting_as(self, source: str | None) -> Iterator[None]:
        """Versions made inside keep ``source`` as their meta.source (link changes)."""
        ctx = self.ctx
        self.ctx = replace(ctx, source=source or ctx.source)
        try:
            yield
        finally:
            self.ctx = ctx

    def relink(
        self,
        patient_id: str,
        other_id: str,
        link_type: str | None,
        changes: dict[str, Any],
    ) -> Written | None:
        """State (or, with no type, drop) a Patient's link to another, as a new version.

        ``changes`` sets other elements too (None removes one). A link changes who
        the record is joined to, not where it came from: the version keeps its
        meta.source, and a Provenance says who changed the links. A Patient this
        transaction already wrote has its version rebuilt instead.
        """
        if ("Patient", patient_id) in self.touched:
            return self.patient_links.restate(patient_id, other_id, link_type, changes)
        self.g.tx.lock(f"Patient/{patient_id}")
        current = self.g.tx.current("Patient", patient_id)
        if current is None or current.data is None:
            raise NotFound(f"Patient/{patient_id} is not known")
        patient = change_links(orjson.loads(current.data), other_id, link_type, changes)
        matching, self.matching = self.matching, False
        try:
            with self.acting_as(current.source):
                return self.update("Patient", patient_id, patient, current=current)
        finally:
            self.matching = matching

    def update_many(self, resources: list[dict[str, Any]]) -> list[Written]:
        """Updates of many resources: one lock statement and a few reads for all of them."""
        keys = [(r["resourceType"], r["id"]) for r in resources]
        self.g.tx.lock_many([f"{t}/{i}" for t, i in keys])
        currents = self.g.tx.current_many(keys)
        return [
            self.update(t, i, r, current=currents.get((t, i)))
            for (t, i), r in zip(keys, resources, strict=True)
        ]

    def conditional_update(
        self, resource_type: str, condition: str, resource: Any, if_match: str | None = None
    ) -> Written:
        check_resource_type(resource_type)
        found = self._find(resource_type, condition)
        if len(found) > 1:
            raise PreconditionFailed(
                f"Condition '{condition}' matches more than one {resource_type}"
            )
        if not isinstance(resource, dict):
            validate_resource(resource, resource_type)
        if found:
            target = found[0].resource_id
            if resource.get("id") not in (None, target):
                raise BadRequest(
                    f"Resource id {resource.get('id')!r} does not match the resource the condition found"
                )
        else:
            target = resource.get("id") or str(uuid.uuid4())
        resource["id"] = target
        return self.update(resource_type, target, resource, if_match)

    def delete(self, resource_type: str, resource_id: str) -> Written:
        check_resource_type(resource_type)
        self._claim(resource_type, resource_id)
        self.g.check_write(resource_type, None)
        self.g.tx.lock(f"{resource_type}/{resource_id}")
        current = self.g.visible(self.g.tx.current(resource_type, resource_id))
        if current is None:
            raise NotFound(f"{resource_type}/{resource_id} is not known")
        if current.deleted:
            return Written(204, current)
        if resource_type == "Patient":
            self.patient_links.deleted(resource_id)
        return Written(204, self._version(resource_type, resource_id, None, current, "delete"))

    def flush(self) -> None:
        self.patient_links.settle()
        try:
            self.g.tx.write(self.pending)
        except DuplicateVersion:
            raise Conflict("A concurrent write changed the same resource; retry") from None
        self.pending = []


def _same_content(stored: bytes | None, resource: dict[str, Any]) -> bool:
    """True when an update would change nothing but meta.versionId/lastUpdated/source."""
    if stored is None:
        return False

    def essence(r: dict[str, Any]) -> bytes:
        r = dict(r)
        meta = {
            k: v
            for k, v in (r.pop("meta", None) or {}).items()
            if k not in ("versionId", "lastUpdated", "source")
        }
        r.pop("id", None)
        if meta:
            r["meta"] = meta
        return fhirjson.dumps(r)

    return essence(fhirjson.loads(stored)) == essence(resource)


def _write_outcome(ctx: Context, written: Written) -> Outcome:
    v = written.version
    headers = _version_headers(ctx, v)
    if written.status == 204:
        return Outcome(204, None, {"ETag": headers["ETag"]})
    headers["Location"] = headers.pop("Content-Location")
    if ctx.prefer_return == "minimal":
        return Outcome(written.status, None, headers)
    if ctx.prefer_return == "OperationOutcome":
        text = f"{v.resource_type}/{v.resource_id} version {v.version_id} stored"
        return Outcome(written.status, _outcome_body("information", "informational", text), headers)
    return Outcome(written.status, v.data, headers)


def create(
    repo: Repository,
    ctx: Context,
    resource_type: str,
    resource: Any,
    if_none_exist: str | None = None,
) -> Outcome:
    with repo.write() as g:
        w = Writer(g, ctx)
        written = w.create(resource_type, resource, if_none_exist)
        w.flush()
    return _write_outcome(ctx, written)


def update(
    repo: Repository,
    ctx: Context,
    resource_type: str,
    resource_id: str,
    resource: Any,
    if_match: str | None = None,
) -> Outcome:
    with repo.write() as g:
        w = Writer(g, ctx)
        written = w.update(resource_type, resource_id, resource, if_match)
        w.flush()
    return _write_outcome(ctx, written)


def conditional_update(
    repo: Repository,
    ctx: Context,
    resource_type: str,
    condition: str,
    resource: Any,
    if_match: str | None = None,
) -> Outcome:
    with repo.write() as g:
        w = Writer(g, ctx)
        written = w.conditional_update(resource_type, condition, resource, if_match)
        w.flush()
    return _write_outcome(ctx, written)


def delete(repo: Repository, ctx: Context, resource_type: str, resource_id: str) -> Outcome:
    with repo.write() as g:
        w = Writer(g, ctx)
        written = w.delete(resource_type, resource_id)
        w.flush()
    return _write_outcome(ctx, written)


# -- batch and transaction ----------------------------------------------------

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


def process_bundle(repo: Repository, ctx: Context, bundle: Any) -> Outcome:
    """POST [base] with a batch or transaction Bundle.

    The Bundle itself is never stored, so only its shape is checked here; each
    entry's resource is validated once, on its own, before any lock is taken.
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest("POST to the base takes a Bundle", expression="Bundle")
    if not isinstance(bundle.get("entry", []), list) or not all(
        isinstance(e, dict) for e in bundle.get("entry", [])
    ):
        raise BadRequest("Bundle.entry must be a list of objects", expression="Bundle.entry")
    kind = bundle.get("type")
    if kind not in ("batch", "transaction"):
        raise BadRequest(
            f"Bundle.type must be batch or transaction to POST to the base, got {kind!r}",
            expression="Bundle.type",
        )
    entries = bundle.get("entry") or []
    for i, entry in enumerate(entries):
        request = entry.get("request")
        if not request or request.get("method") not in _ORDER or not request.get("url"):
            raise BadRequest(
                f"Bundle.entry[{i}].request needs a method (GET POST PUT DELETE) and a url",
                expression=f"Bundle.entry[{i}].request",
            )
    if kind == "transaction":
        responses = _transaction(repo, ctx, entries)
    else:
        responses = [_batch_entry(repo, ctx, i, e) for i, e in enumerate(entries)]
    body = {"resourceType": "Bundle", "type": f"{kind}-response", "entry": responses}
    return Outcome(200, orjson.dumps(body))


def _transaction(repo: Repository, ctx: Context, entries: list[Any]) -> list[dict[str, Any]]:
    order = sorted(range(len(entries)), key=lambda i: _ORDER[entries[i]["request"]["method"]])
    responses: list[dict[str, Any] | None] = [None] * len(entries)
    results: dict[int, Written] = {}
    reads: list[int] = []
    # Validation is the costliest step: do it before taking the write lock, so
    # that concurrent transactions validate in parallel and serialise only on SQL.
    for i, entry in enumerate(entries):
        if entry["request"]["method"] in ("POST", "PUT"):
            try:
                validate_resource(entry.get("resource"), _entry_type(i, entry))
            except FHIRError as exc:
                _locate(exc, i)
                raise
    with repo.write() as g:
        w = Writer(g, ctx, validated=True)
        # Resolve conditional creates and assign ids to the others first, so that
        # every urn:uuid reference can be rewritten before anything is validated.
        ids: dict[str, str] = {}
        found: dict[int, StoredVersion] = {}
        for i, entry in enumerate(entries):
            request = entry["request"]
            if request["method"] != "POST":
                continue
            resource_type = _entry_type(i, entry)
            try:
                match = (
                    w.existing(resource_type, request["ifNoneExist"])
                    if request.get("ifNoneExist")
                    else None
                )
            except FHIRError as exc:
                _locate(exc, i)
                raise
            if match is not None:
                found[i] = match
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str) and full_url.startswith("urn:"):
                rid = match.resource_id if match else str(uuid.uuid4())
                ids[full_url] = f"{resource_type}/{rid}"
        for i in order:
            entry = entries[i]
            method = entry["request"]["method"]
            if method in ("GET", "HEAD"):
                reads.append(i)
                continue
            try:
                results[i] = (
                    Written(200, found[i]) if i in found else _entry_write(w, i, entry, ids, True)
                )
            except FHIRError as exc:
                _locate(exc, i)
                raise
        w.flush()
    for i, written in results.items():
        responses[i] = _entry_response(ctx, written)
    for i in reads:
        responses[i] = _batch_entry(repo, ctx, i, entries[i])
    return [r for r in responses if r is not None]


def _entry_type(i: int, entry: Any) -> str:
    url: str = entry["request"]["url"].split("?")[0].strip("/")
    resource_type = url.split("/")[0]
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        raise BadRequest(
            f"Bundle.entry[{i}] has no resource", expression=f"Bundle.entry[{i}].resource"
        )
    if resource.get("resourceType") != resource_type:
        raise BadRequest(
            f"Bundle.entry[{i}].resource is a {resource.get('resourceType')!r}, the url says {resource_type!r}",
            expression=f"Bundle.entry[{i}].resource.resourceType",
        )
    return resource_type


def _rewrite_references(node: Any, ids: dict[str, str]) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value in ids:
                node[key] = ids[value]
            else:
                _rewrite_references(value, ids)
    elif isinstance(node, list):
        for item in node:
            _rewrite_references(item, ids)
    return node


def _entry_write(
    w: Writer, i: int, entry: Any, ids: dict[str, str], conditions_checked: bool = False
) -> Written:
    request = entry["request"]
    method = request["method"]
    url: str = request["url"].strip("/")
    path, _, condition = url.partition("?")
    parts = path.split("/")
    if method == "DELETE":
        if len(parts) != 2:
            raise BadRequest(f"Bundle.entry[{i}]: DELETE needs Type/id, got {url!r}")
        return w.delete(parts[0], parts[1])
    resource_type = _entry_type(i, entry)
    resource = _rewrite_references(entry["resource"], ids)
    if method == "POST":
        full_url = entry.get("fullUrl")
        new_id = ids[full_url].split("/", 1)[1] if full_url in ids else None
        if_none_exist = None if conditions_checked else request.get("ifNoneExist")
        return w.create(resource_type, resource, if_none_exist, new_id)
    if method in ("PUT", "PATCH"):
        if method == "PATCH":
            raise BadRequest(f"Bundle.entry[{i}]: PATCH is not supported")
        if condition:
            return w.conditional_update(resource_type, condition, resource, request.get("ifMatch"))
        if len(parts) != 2:
            raise BadRequest(f"Bundle.entry[{i}]: PUT needs Type/id, got {url!r}")
        return w.update(resource_type, parts[1], resource, request.get("ifMatch"))
    raise BadRequest(f"Bundle.entry[{i}]: method {method} is not supported")


def _entry_response(ctx: Context, written: Written) -> dict[str, Any]:
    v = written.version
    status = {200: "200 OK", 201: "201 Created", 204: "204 No Content"}[written.status]
    response: dict[str, Any] = {"status": status, "etag": f'W/"{v.version_id}"'}
    response["lastModified"] = _instant(v.last_updated)
    if written.status != 204:
        response["location"] = f"{v.resource_type}/{v.resource_id}/_history/{v.version_id}"
    return {"response": response}


def _locate(exc: FHIRError, i: int) -> None:
    """Prefix every issue with the entry it came from, so the sender can find it."""
    from records.errors import Issue

    exc.issues = [
        Issue(
            f"Bundle.entry[{i}]: {issue.diagnostics}",
            issue.code,
            issue.severity,
            tuple(
                f"Bundle.entry[{i}].resource.{e.split('.', 1)[1]}"
                if "." in e
                else f"Bundle.entry[{i}]"
                for e in issue.expression
            )
            or (f"Bundle.entry[{i}]",),
        )
        for issue in exc.issues
    ]


def _batch_entry(repo: Repository, ctx: Context, i: int, entry: Any) -> dict[str, Any]:
    """One batch entry, in its own transaction; a failure becomes its response."""
    request = entry["request"]
    method = request["method"]
    url: str = request["url"].strip("/")
    path, _, query = url.partition("?")
    parts = path.split("/")
    try:
        if method in ("GET", "HEAD"):
            params = parse_qsl(query, keep_blank_values=True)
            if len(parts) == 1:
                out = search(repo, ctx, parts[0], params)
            elif len(parts) == 2:
                out = read(repo, ctx, parts[0], parts[1])
            elif len(parts) == 3 and parts[2] == "_history":
                out = history(repo, ctx, parts[0], parts[1], params)
            elif len(parts) == 4 and parts[2] == "_history":
                out = vread(repo, ctx, parts[0], parts[1], parts[3])
            else:
                raise BadRequest(f"Bundle.entry[{i}]: cannot GET {url!r}")
            response: dict[str, Any] = {"status": f"{out.status} OK"}
            if "ETag" in out.headers:
                response["etag"] = out.headers["ETag"]
            result: dict[str, Any] = {"response": response}
            if out.body is not None and method == "GET":
                result["resource"] = orjson.Fragment(out.body)
            return result
        with repo.write() as g:
            w = Writer(g, ctx)
            written = _entry_write(w, i, entry, {})
            w.flush()
        return _entry_response(ctx, written)
    except FHIRError as exc:
        _locate(exc, i)
        return {
            "response": {
                "status": f"{exc.status}",
                "outcome": exc.operation_outcome(),
            }
        }


# -- feeds ---------------------------------------------------------------------


def store_resources(
    g: GuardedTransaction,
    ctx: Context,
    resources: list[dict[str, Any]],
    prepared: Prepared | None = None,
) -> list[Written]:
    """Store an adapter's resources as updates with their deterministic ids (PUT semantics).

    Adapter output is validated by the adapters' own test suites (golden files
    and fuzzing against R4B and the official schema), so it is not validated
    again here: validation once, not on every message. ``prepared``: first
    versions computed ahead by :func:`prepare_resources` (for these resources,
    with this ``ctx``), used for those that turn out to be new.
    """
    w = _FeedWriter(g, ctx, prepared)
    written = w.update_many(resources)
    w.flush()
    return written


@dataclass(slots=True)
class Prepared:
    """First versions of a feed's resources, computed before its transaction."""

    instant: str
    key: str
    versions: dict[tuple[str, str], tuple[dict[str, Any], NewVersion]]


def prepare_resources(ctx: Context, resources: list[dict[str, Any]]) -> Prepared:
    """Version 1 of each resource (Patients aside: they are matched as they are written),
    serialised, indexed and hashed, outside any transaction: a feed's worker computes
    the next group's while the database stores the current one. Nothing is read."""
    w = _FeedWriter(None, ctx, None)
    versions: dict[tuple[str, str], tuple[dict[str, Any], NewVersion]] = {}
    for resource in resources:
        if resource["resourceType"] != "Patient":
            v = w._version(resource["resourceType"], resource["id"], resource, None, "create")
            versions[(v.resource_type, v.resource_id)] = (resource, v)
    return Prepared(w.instant, w.key, versions)


class _FeedWriter(Writer):
    """The writer of :func:`store_resources`: takes the prepared first version of each
    resource it finds new (the same instant, the same bytes) in :meth:`update_many`,
    computes the others."""

    def __init__(
        self, g: GuardedTransaction | None, ctx: Context, prepared: Prepared | None
    ) -> None:
        super().__init__(g, ctx, validated=True)  # type: ignore[arg-type]
        self.keeps_stored = True
        self.ahead = prepared.versions if prepared is not None else {}
        if prepared is not None:
            self.instant, self.key = prepared.instant, prepared.key

    def update_many(self, resources: list[dict[str, Any]]) -> list[Written]:
        """As :meth:`Writer.update_many`, but optimistic: only Patients are locked.

        A group holds up to ten thousand resources, and PostgreSQL's shared lock
        table holds about 6,400 locks by default: two workers each locking a whole
        group ran out of shared memory. Versions are unique per (type, id,
        versionId), so a concurrent write of the same resource fails this
        transaction with a Conflict instead, and its messages are redone alone
        (:func:`records.ingest.process`). Patients keep their locks: matching
        reads and links other Patients under them.

        A resource that is new and was prepared ahead takes its prepared version
        directly (a feed's common case). What :meth:`Writer.update` would check
        still holds: the id is the resource's own, the policy allows the write,
        and no resource is written twice.
        """
        keys = [(r["resourceType"], r["id"]) for r in resources]
        patients = [key for key in keys if key[0] == "Patient"]
        self.g.tx.lock_many([f"{t}/{i}" for t, i in patients])
        currents = self.g.tx.current_many(keys)
        ahead, touched, pending = self.ahead, self.touched, self.pending
        written: list[Written] = []
        for key, resource in zip(keys, resources, strict=True):
            current = currents.get(key)
            found = ahead.get(key) if current is None else None
            if found is not None and found[0] is resource and key not in touched:
                self.g.check_write(key[0], resource)
                del ahead[key]
                touched.add(key)
                pending.append(found[1])
                written.append(Written(201, found[1]))
            else:
                written.append(self.update(key[0], key[1], resource, current=current))
        return written
