"""SQL for the master patient index's review queue (table ``mpi_candidate``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from records.storage.schema import mpi_candidate

__all__ = [
    "any_rejected",
    "decide",
    "drop_pending",
    "get",
    "list_candidates",
    "queue",
    "record_decision",
    "rejected_peers",
]

c = mpi_candidate


def _pair(a: str, b: str) -> tuple[str, str]:
    """A pair is stored once, in sorted order: (A, B) and (B, A) are the same question."""
    return (a, b) if a <= b else (b, a)


def _insert(conn: Connection) -> Any:
    return postgresql_insert(c) if conn.dialect.name == "postgresql" else sqlite_insert(c)


def queue(conn: Connection, a: str, b: str, score: float, detail: str, now: str) -> bool:
    """Ask a person about ``a`` and ``b``, unless the pair was asked before (any status)."""
    first, second = _pair(a, b)
    statement = (
        _insert(conn)
        .values(
            patient_id=first,
            other_id=second,
            score=score,
            detail=detail,
            status="pending",
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["patient_id", "other_id"])
    )
    return bool(conn.execute(statement).rowcount)


def rejected_peers(conn: Connection, patient_id: str) -> set[str]:
    """Patients a person decided are not ``patient_id``: never linked automatically again."""
    rows = conn.execute(
        select(c.c.patient_id, c.c.other_id).where(
            c.c.status == "rejected",
            or_(c.c.patient_id == patient_id, c.c.other_id == patient_id),
        )
    )
    return {b if a == patient_id else a for a, b in rows}


def list_candidates(
    conn: Connection, status: str, limit: int, offset: int
) -> tuple[int, list[Any]]:
    total = conn.execute(select(func.count()).select_from(c).where(c.c.status == status))
    rows = conn.execute(
        select(c).where(c.c.status == status).order_by(c.c.id).limit(limit).offset(offset)
    )
    return int(total.scalar_one()), list(rows)


def get(conn: Connection, candidate_id: int) -> Any:
    return conn.execute(select(c).where(c.c.id == candidate_id)).first()


def record_decision(conn: Connection, a: str, b: str, status: str, by: str, now: str) -> None:
    """Record a person's decision on a pair, queued or not (a merge, an unmerge)."""
    first, second = _pair(a, b)
    statement = _insert(conn).values(
        patient_id=first,
        other_id=second,
        score=0.0,
        detail="{}",
        status=status,
        created_at=now,
        decided_at=now,
        decided_by=by,
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["patient_id", "other_id"],
            set_={"status": status, "decided_at": now, "decided_by": by},
        )
    )


def any_rejected(conn: Connection, these: Collection[str], those: Collection[str]) -> bool:
    """Whether a person kept any of ``these`` apart from any of ``those``."""
    a, b = sorted(these), sorted(those)
    row = conn.execute(
        select(c.c.id)
        .where(
            c.c.status == "rejected",
            or_(
                and_(c.c.patient_id.in_(a), c.c.other_id.in_(b)),
                and_(c.c.patient_id.in_(b), c.c.other_id.in_(a)),
            ),
        )
        .limit(1)
    ).first()
    return row is not None


def drop_pending(conn: Connection, patient_id: str) -> None:
    """A deleted Patient has nothing left to review."""
    conn.execute(
        c.delete().where(
            c.c.status == "pending",
            or_(c.c.patient_id == patient_id, c.c.other_id == patient_id),
        )
    )


def decide(conn: Connection, candidate_id: int, status: str, by: str, now: str) -> bool:
    """Decide a pending candidate; False when it was decided meanwhile."""
    result = conn.execute(
        update(c)
        .where(c.c.id == candidate_id, c.c.status == "pending")
        .values(status=status, decided_by=by, decided_at=now)
    )
    return bool(result.rowcount)
