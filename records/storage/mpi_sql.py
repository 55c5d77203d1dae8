"""SQL for the master patient index: match features and blocking keys of each patient."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from sqlalchemy import Connection, Select, bindparam, func, select, union_all
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from records.storage.schema import mpi_block, mpi_entry

__all__ = ["candidates", "delete_entry", "insert_entries", "put_entry"]


def put_entry(conn: Connection, patient_id: str, features: str, keys: Iterable[str]) -> None:
    """Insert or replace one patient's features, and replace its blocking keys with ``keys``."""
    insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    upsert = insert(mpi_entry).values(patient_id=patient_id, features=features)
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[mpi_entry.c.patient_id], set_={"features": features}
        )
    )
    conn.execute(mpi_block.delete().where(mpi_block.c.patient_id == patient_id))
    rows = [{"key": key, "patient_id": patient_id} for key in sorted(set(keys))]
    if rows:
        conn.execute(mpi_block.insert(), rows)


def delete_entry(conn: Connection, patient_id: str) -> None:
    conn.execute(mpi_block.delete().where(mpi_block.c.patient_id == patient_id))
    conn.execute(mpi_entry.delete().where(mpi_entry.c.patient_id == patient_id))


def insert_entries(conn: Connection, entries: Sequence[tuple[str, str, Iterable[str]]]) -> None:
    """Bulk insert of new patients ``(patient_id, features, keys)``: an index built from scratch."""
    conn.execute(mpi_entry.insert(), [{"patient_id": p, "features": f} for p, f, _ in entries])
    blocks = [{"key": k, "patient_id": p} for p, _, keys in entries for k in set(keys)]
    if blocks:
        conn.execute(mpi_block.insert(), blocks)


def candidates(
    conn: Connection, keys: Sequence[str], exclude: str, per_key: int, limit: int
) -> list[tuple[str, str]]:
    """``(patient_id, features)`` of up to ``limit`` patients sharing a key with ``keys``.

    Those sharing the most keys come first. Each key contributes at most
    ``per_key`` patients: a key that has grown into a crowd (a clinic's phone
    number typed for every walk-in) costs a bounded read, not a scan.
    """
    if not keys:
        return []
    params: dict[str, object] = {f"k{i}": key for i, key in enumerate(keys)}
    params.update(exclude=exclude, per_key=per_key, limit=limit)
    return [(str(p), str(f)) for p, f in conn.execute(_candidates_query(len(keys)), params)]


@cache
def _candidates_query(count: int) -> Select[str, str]:
    """Built once per number of keys, so SQLAlchemy's statement cache serves every call."""
    per_key = [
        select(mpi_block.c.patient_id)
        .where(
            mpi_block.c.key == bindparam(f"k{i}"), mpi_block.c.patient_id != bindparam("exclude")
        )
        .limit(bindparam("per_key"))
        .subquery()
        for i in range(count)
    ]
    hits = (
        per_key[0]
        if count == 1
        else union_all(*(select(s.c.patient_id) for s in per_key)).subquery()
    )
    shared = func.count().label("shared")
    ranked = (
        select(hits.c.patient_id, shared)
        .group_by(hits.c.patient_id)
        .order_by(shared.desc(), hits.c.patient_id)
        .limit(bindparam("limit"))
        .subquery()
    )
    return (
        select(mpi_entry.c.patient_id, mpi_entry.c.features)
        .join(ranked, ranked.c.patient_id == mpi_entry.c.patient_id)
        .order_by(ranked.c.shared.desc(), ranked.c.patient_id)
    )
