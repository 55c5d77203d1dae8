"""SQL for patient links: the ``Patient.link`` graph, kept as rows for fast walks."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select, text

from records.storage.schema import patient_link

__all__ = ["MAX_LINKED", "linked_ids", "links_of", "set_links", "stated_by_others"]

MAX_LINKED = 1000
"""A linked set larger than this is a matching accident, not one person: refuse to walk on."""


def set_links(conn: Connection, patient_id: str, links: Iterable[tuple[str, str]]) -> None:
    """Replace the links a Patient states (``(other_id, type)`` pairs) with ``links``."""
    conn.execute(patient_link.delete().where(patient_link.c.patient_id == patient_id))
    rows = [
        {"patient_id": patient_id, "other_id": other, "type": link_type}
        for other, link_type in dict(links).items()
        if other != patient_id
    ]
    if rows:
        conn.execute(patient_link.insert(), rows)


def stated_by_others(conn: Connection, patient_id: str) -> list[str]:
    """The Patients that state a link to ``patient_id``."""
    rows = conn.execute(
        select(patient_link.c.patient_id).where(patient_link.c.other_id == patient_id)
    )
    return sorted(str(row[0]) for row in rows)


def links_of(conn: Connection, patient_id: str) -> dict[str, str]:
    """The links one Patient states: other id -> link type."""
    rows = conn.execute(
        select(patient_link.c.other_id, patient_link.c.type).where(
            patient_link.c.patient_id == patient_id
        )
    )
    return {other: link_type for other, link_type in rows}


_WALK = text(
    """
    WITH RECURSIVE walk(id) AS (
        SELECT CAST(:start AS VARCHAR(64))
        UNION
        SELECT CASE WHEN l.patient_id = walk.id THEN l.other_id ELSE l.patient_id END
        FROM patient_link l JOIN walk ON l.patient_id = walk.id OR l.other_id = walk.id
    )
    SELECT id FROM walk LIMIT :limit
    """
)


def linked_ids(conn: Connection, patient_id: str) -> list[str]:
    """Every Patient id linked to ``patient_id``, directly or through others, itself first.

    Links count in both directions: a link stated by either side joins the two,
    so one side's stale version cannot split a person in two. One recursive
    query; ``UNION`` ends it on cycles.
    """
    found = [str(row[0]) for row in conn.execute(_WALK, {"start": patient_id, "limit": MAX_LINKED})]
    return [patient_id, *(pid for pid in found if pid != patient_id)]
