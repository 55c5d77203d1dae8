"""SQL for ``Patient/$everything``: a compartment's members as of a snapshot, then bodies.

Membership is read from the reference index: a version is a member when one of
its compartment parameters (CompartmentDefinition-patient) points at one of
the patients, plus the patients' own Patient resources. One query returns every
member's sequence number, type, id, last update, dedupe keys and whether its
care date falls in the requested window; no resource body is read. Bodies are
loaded afterwards for one page only.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, false, or_, select

from records.search.parameters import stored_as
from records.storage.schema import idx_reference, resource_version
from records.storage.search_sql import COLUMNS
from records.storage.store import StoredVersion, stored_version

__all__ = ["CareWindow", "Member", "load_versions", "members", "provenance_targeting"]

rv = resource_version
_CHUNK = 500  # bound parameters per IN list, well under SQLite's limit


@dataclass(frozen=True, slots=True)
class CareWindow:
    """``start``/``end`` as UTC sort keys (either may be open), and each type's care date."""

    low: str | None
    high: str | None
    params: Mapping[str, str]  # resource type -> its care-date search parameter


@dataclass(slots=True)
class Member:
    seq: int
    resource_type: str
    resource_id: str
    last_updated: str
    keys: list[str]
    in_window: bool  # the care date overlaps the window, or there is no care date


_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


def _quoted(names: Iterable[str]) -> str:
    """SQL literals for type and parameter names (from the R4 definitions, checked anyway)."""
    found = sorted(names)
    if not all(_NAME.match(n) for n in found):
        raise ValueError(f"not a resource type or parameter name: {found}")
    return ", ".join(f"'{n}'" for n in found)


@functools.cache
def _members_sql(
    dialect: str,
    params_by_type: tuple[tuple[str, tuple[str, ...]], ...],
    care: tuple[tuple[str, str], ...],
    low: bool,
    high: bool,
) -> str:
    """The members query for one shape of request, written once, in the driver's own
    parameter style.

    Plain SQL run on the driver's cursor rather than a Core expression: with a
    branch per compartment parameter (20-odd, over 60-odd types), building and
    cache-keying the expression, then making a Row of each of thousands of
    result rows, cost more than running the query. Each branch reads one range
    of the index ``(resource_type, param, target_id)`` per type and patient.
    The patient ids are one parameter: an array on PostgreSQL, a JSON list on
    SQLite.
    """
    if dialect == "postgresql":

        def bind(name: str) -> str:
            return f"%({name})s"

        ids = "= ANY(CAST(%(ids)s AS TEXT[]))"
    else:

        def bind(name: str) -> str:
            return f":{name}"

        ids = "IN (SELECT value FROM json_each(:ids))"
    types_by_param: dict[str, dict[str, None]] = {}
    for resource_type, params in params_by_type:
        for param in params:
            stored = stored_as(resource_type, param)  # 'patient' is read from 'subject'
            if stored.target_type in (None, "Patient"):
                for name in stored.params:
                    types_by_param.setdefault(name, {})[resource_type] = None
    branches = [
        f"SELECT seq FROM idx_reference WHERE resource_type IN ({_quoted(types)})"
        f" AND param = {_quoted([param])} AND target_id {ids} AND target_type = 'Patient'"
        for param, types in sorted(types_by_param.items())
    ]
    if any(t == "Patient" for t, _ in params_by_type):
        branches.append(
            f"SELECT seq FROM resource_version WHERE resource_type = 'Patient' AND resource_id {ids}"
        )
    in_window = "1"
    if care and (low or high):
        param = " ".join(f"WHEN {_quoted([t])} THEN {_quoted([p])}" for t, p in care)
        dated = f"d.seq = rv.seq AND d.param = CASE rv.resource_type {param} END"
        overlap = dated
        if low:
            overlap += f" AND d.high >= {bind('low')}"
        if high:
            overlap += f" AND d.low <= {bind('high')}"
        in_window = (
            f"CASE WHEN NOT EXISTS (SELECT 1 FROM idx_date d WHERE {dated})"
            f" OR EXISTS (SELECT 1 FROM idx_date d WHERE {overlap}) THEN 1 ELSE 0 END"
        )
    snap = bind("snap")
    return (
        f"SELECT rv.seq, rv.resource_type, rv.resource_id, rv.last_updated, fk.key, {in_window}"
        " FROM resource_version rv LEFT OUTER JOIN fact_key fk ON fk.seq = rv.seq"
        f" WHERE rv.seq IN ({' UNION ALL '.join(branches)})"
        f" AND rv.seq <= {snap} AND (rv.superseded_seq IS NULL OR rv.superseded_seq > {snap})"
        " AND NOT rv.deleted"
    )


def members(
    conn: Connection,
    patient_ids: Sequence[str],
    params_by_type: Mapping[str, Sequence[str]],
    snapshot: int,
    care: CareWindow | None = None,
) -> list[Member]:
    """Every current member of the patients' compartment as of ``snapshot``, by seq."""
    if not patient_ids or not params_by_type:
        return []
    dialect = conn.dialect.name
    shape = tuple(sorted((t, tuple(p)) for t, p in params_by_type.items()))
    ids = sorted(set(patient_ids))
    values: dict[str, Any] = {
        "ids": ids if dialect == "postgresql" else json.dumps(ids),
        "snap": snapshot,
    }
    window: tuple[tuple[str, str], ...] = ()
    low = high = False
    if care is not None:
        window = tuple(sorted((t, p) for t, p in care.params.items() if t in params_by_type))
        low, high = care.low is not None, care.high is not None
        values.update(low=care.low, high=care.high)
    sql = _members_sql(dialect, shape, window, low, high)
    # the driver's cursor, inside this connection's transaction
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, values)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    # sorted here rather than by the database: with thousands of members and their
    # keys, PostgreSQL's sort outgrows the default work_mem and goes to disk
    found: dict[int, Member] = {}
    for seq, resource_type, resource_id, updated, key, in_window in rows:
        member = found.get(seq)
        if member is None:
            member = Member(seq, resource_type, resource_id, updated, [], bool(in_window))
            found[seq] = member
        if key is not None:
            member.keys.append(key)
    return [found[seq] for seq in sorted(found)]


_SNAP: BindParameter[int] = bindparam("snap")
_VERSIONS = select(*COLUMNS).where(rv.c.seq.in_(bindparam("seqs", expanding=True)))
_PROVENANCE = (
    select(*COLUMNS, idx_reference.c.target_type, idx_reference.c.target_id)
    .select_from(rv.join(idx_reference, idx_reference.c.seq == rv.c.seq))
    .where(
        idx_reference.c.resource_type == "Provenance",
        idx_reference.c.param == "target",
        idx_reference.c.target_id.in_(bindparam("ids", expanding=True)),
        rv.c.resource_type == "Provenance",
        rv.c.seq <= _SNAP,
        or_(rv.c.superseded_seq.is_(None), rv.c.superseded_seq > _SNAP),
        rv.c.deleted == false(),
    )
)


def load_versions(conn: Connection, seqs: Iterable[int]) -> dict[int, StoredVersion]:
    """The versions with these sequence numbers, bodies included."""
    wanted = sorted(set(seqs))
    found: dict[int, StoredVersion] = {}
    for start in range(0, len(wanted), _CHUNK):
        for row in conn.execute(_VERSIONS, {"seqs": wanted[start : start + _CHUNK]}).all():
            found[row.seq] = stored_version(row)
    return found


def provenance_targeting(
    conn: Connection, targets: Sequence[tuple[str, str]], snapshot: int
) -> list[StoredVersion]:
    """Provenance current at ``snapshot`` whose ``target`` names one of ``(type, id)``."""
    wanted = set(targets)
    ids = sorted({i for _, i in wanted})
    found: dict[int, StoredVersion] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for row in conn.execute(_PROVENANCE, {"ids": chunk, "snap": snapshot}).all():
            if (row.target_type, row.target_id) in wanted and row.seq not in found:
                found[row.seq] = stored_version(row)
    return [found[s] for s in sorted(found)]
