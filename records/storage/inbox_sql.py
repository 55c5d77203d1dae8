"""SQL for feed sources and the ingest inbox."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from records.storage.schema import inbox_message, ingest_source

__all__ = [
    "add_source",
    "insert_message",
    "list_messages",
    "load_message",
    "load_messages",
    "mark_message",
    "mark_messages",
    "pending_sizes",
    "pending_sources",
    "source_for_token",
    "statuses",
]

m = inbox_message
_LISTED = (
    m.c.id,
    m.c.source,
    m.c.kind,
    m.c.received_at,
    m.c.sha256,
    m.c.status,
    m.c.error,
    m.c.attempts,
    m.c.summary,
)


def add_source(conn: Connection, name: str, token_sha256: str, now: str) -> bool:
    """Register a source; False if the name is taken."""
    try:
        with conn.begin_nested():
            conn.execute(
                ingest_source.insert().values(name=name, token_sha256=token_sha256, created_at=now)
            )
    except IntegrityError:
        return False
    return True


def source_for_token(conn: Connection, token_sha256: str) -> str | None:
    name = conn.execute(
        select(ingest_source.c.name).where(ingest_source.c.token_sha256 == token_sha256)
    ).scalar()
    return str(name) if name is not None else None


def insert_message(conn: Connection, row: dict[str, Any]) -> tuple[int, bool]:
    """Store a raw message; (id, duplicate). The same bytes from the same source are stored once."""
    new_id = conn.execute(_insert_statement(conn.dialect.name), row).scalar()
    if new_id is not None:
        return int(new_id), False
    existing = conn.execute(_EXISTING, row).scalar_one()
    return int(existing), True


@functools.cache
def _insert_statement(dialect: str) -> Any:
    """Built once per dialect: constructing and compiling it per message cost more than
    the insert (an MLLP listener answers each message only after this)."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    values: dict[str, Any] = {c.name: bindparam(c.name) for c in m.columns if c.name != "id"}
    return insert(m).values(values).on_conflict_do_nothing().returning(m.c.id)


_EXISTING = select(m.c.id).where(
    m.c.source == bindparam("source"),
    m.c.kind == bindparam("kind"),
    m.c.sha256 == bindparam("sha256"),
)


def load_message(conn: Connection, message_id: int) -> Any:
    return conn.execute(select(m).where(m.c.id == message_id)).first()


def load_messages(conn: Connection, ids: list[int]) -> list[Any]:
    return list(conn.execute(select(m).where(m.c.id.in_(ids)).order_by(m.c.id)))


def statuses(conn: Connection, ids: list[int]) -> dict[int, str]:
    """The status of each message (not its body: a wearables batch is megabytes)."""
    return {
        int(i): str(status)
        for i, status in conn.execute(select(m.c.id, m.c.status).where(m.c.id.in_(ids)))
    }


def mark_message(
    conn: Connection,
    message_id: int,
    status: str,
    error: str | None = None,
    summary: str | None = None,
) -> None:
    conn.execute(
        update(m)
        .where(m.c.id == message_id)
        .values(status=status, error=error, summary=summary, attempts=m.c.attempts + 1)
    )


def mark_messages(conn: Connection, marks: list[tuple[int, str, str | None, str | None]]) -> None:
    """:func:`mark_message` for many messages, ``(id, status, error, summary)`` each, at once."""
    if not marks:
        return
    conn.execute(
        update(m)
        .where(m.c.id == bindparam("mid"))
        .values(
            status=bindparam("st"),
            error=bindparam("err"),
            summary=bindparam("sm"),
            attempts=m.c.attempts + 1,
        ),
        [
            {"mid": i, "st": status, "err": error, "sm": summary}
            for i, status, error, summary in marks
        ],
    )


def pending_sources(conn: Connection) -> list[str]:
    """The sources that have messages waiting to be converted."""
    rows = conn.execute(select(m.c.source).where(m.c.status == "received").distinct())
    return sorted(str(r[0]) for r in rows)


def pending_sizes(
    conn: Connection, source: str, limit: int, after: int = 0
) -> list[tuple[int, int]]:
    """A source's oldest messages waiting to be converted, ids above ``after``: (id, body bytes)."""
    rows = conn.execute(
        select(m.c.id, func.length(m.c.body))
        .where(m.c.status == "received", m.c.source == source, m.c.id > after)
        .order_by(m.c.id)
        .limit(limit)
    )
    return [(int(i), int(size or 0)) for i, size in rows]


def list_messages(
    conn: Connection, source: str, status: str | None, count: int, offset: int
) -> tuple[int, list[Any]]:
    where = [m.c.source == source]
    if status:
        where.append(m.c.status == status)
    total = conn.execute(select(func.count()).select_from(m).where(*where)).scalar_one()
    rows = conn.execute(
        select(*_LISTED).where(*where).order_by(m.c.id.desc()).limit(count).offset(offset)
    ).all()
    return int(total), list(rows)
