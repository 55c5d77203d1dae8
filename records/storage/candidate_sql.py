"""SQL for the master patient index's review queue (table ``mpi_candidate``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from records.storage.schema import mpi_candidate

__all__ = [
    "decide",
    "get",
    "list_candidates",
    "pair_status",
    "queue",
    "record_decision",
    "rejected_peers",
]

c = mpi_candidate


def _pair(a: str, b: str) -> tuple[str, str]:
    """A pair is stored once, in sorted order: (A, B) and (B, A) are the same question."""
    return (a, b) if a <= b else (b, a)


def queue(conn: Connection, a: str, b: str, score: float, detail: str, now: str) -> bool:
    """Ask a person about ``a`` and ``b``, unless the pair was asked before (any status)."""
    first, second = _pair(a, b)
    if pair_status(conn, first, second) is not None:
        return False
    conn.execute(
        c.insert().values(
            patient_id=first,
            other_id=second,
            score=score,
            detail=detail,
            status="pending",
            created_at=now,
        )
    )
    return True


def pair_status(conn: Connection, a: str, b: str) -> str | None:
    first, second = _pair(a, b)
    row = conn.execute(
        select(c.c.status).where(c.c.patient_id == first, c.c.other_id == second)
    ).first()
    return str(row[0]) if row else None


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


def decide(conn: Connection, candidate_id: int, status: str, by: str, now: str) -> None:
    conn.execute(
        update(c).where(c.c.id == candidate_id).values(status=status, decided_by=by, decided_at=now)
    )


def record_decision(conn: Connection, a: str, b: str, status: str, by: str, now: str) -> None:
    """Record a person's decision on a pair that was never queued (e.g. an unmerge)."""
    first, second = _pair(a, b)
    existing = conn.execute(
        select(c.c.id).where(c.c.patient_id == first, c.c.other_id == second)
    ).first()
    if existing is not None:
        decide(conn, int(existing[0]), status, by, now)
        return
    conn.execute(
        c.insert().values(
            patient_id=first,
            other_id=second,
            score=0.0,
            detail="{}",
            status=status,
            created_at=now,
            decided_at=now,
            decided_by=by,
        )
    )
