"""SQL for patient links: the ``Patient.link`` graph, kept as rows for fast walks."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from records.storage.schema import patient_link

__all__ = ["MAX_LINKED", "linked_ids", "links_of", "set_links"]

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


def links_of(conn: Connection, patient_id: str) -> dict[str, str]:
    """The links one Patient states: other id -> link type."""
    rows = conn.execute(
        select(patient_link.c.other_id, patient_link.c.type).where(
            patient_link.c.patient_id == patient_id
        )
    )
    return {other: link_type for other, link_type in rows}


def linked_ids(conn: Connection, patient_id: str) -> list[str]:
    """Every Patient id linked to ``patient_id``, directly or through others, itself first.

    Links count in both directions: a link stated by either side joins the two,
    so one side's stale version cannot split a person in two.
    """
    seen = [patient_id]
    known = {patient_id}
    frontier = [patient_id]
    while frontier and len(seen) < MAX_LINKED:
        rows = conn.execute(
            select(patient_link.c.patient_id, patient_link.c.other_id).where(
                patient_link.c.patient_id.in_(frontier) | patient_link.c.other_id.in_(frontier)
            )
        )
        frontier = []
        for a, b in rows:
            for pid in (a, b):
                if pid not in known:
                    known.add(pid)
                    seen.append(pid)
                    frontier.append(pid)
    return seen[:MAX_LINKED]
