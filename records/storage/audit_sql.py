"""Streaming reads for the ledger audit: every version with its leaf, every leaf.

Server-side cursors keep memory flat however large the store is; both reads
are one pass over a primary key, joined on the unique ``version_seq``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from ledger.storage import ledger_checkpoint, ledger_leaf
from records.storage.schema import ledger_outbox, resource_version

__all__ = ["iter_checkpoints", "iter_leaves", "iter_versions", "row_counts"]

rv, leaf, outbox = resource_version, ledger_leaf, ledger_outbox
BATCH = 2000


def _stream(conn: Connection, stmt: Any) -> Iterator[Any]:
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(stmt)
    for partition in result.partitions():
        yield from partition


def iter_versions(conn: Connection) -> Iterator[Any]:
    """Versions in sequence order, each with its leaf (if anchored) and pending entry."""
    stmt = (
        select(
            rv.c.seq,
            rv.c.resource_type,
            rv.c.resource_id,
            rv.c.version_id,
            rv.c.last_updated,
            rv.c.method,
            rv.c.data,
            rv.c.source,
            leaf.c.leaf_index,
            leaf.c.entry.label("leaf_entry"),
            outbox.c.entry.label("pending_entry"),
        )
        .outerjoin(leaf, leaf.c.version_seq == rv.c.seq)
        .outerjoin(outbox, outbox.c.version_seq == rv.c.seq)
        .order_by(rv.c.seq)
    )
    return _stream(conn, stmt)


def iter_leaves(conn: Connection) -> Iterator[Any]:
    """Leaves in index order, with whether their version still exists."""
    stmt = (
        select(
            leaf.c.leaf_index,
            leaf.c.leaf_hash,
            leaf.c.entry,
            leaf.c.version_seq,
            rv.c.seq.label("version_exists"),
        )
        .outerjoin(rv, rv.c.seq == leaf.c.version_seq)
        .order_by(leaf.c.leaf_index)
    )
    return _stream(conn, stmt)


def iter_checkpoints(conn: Connection) -> Iterator[Any]:
    """Signed checkpoints, smallest tree first."""
    stmt = select(
        ledger_checkpoint.c.tree_size, ledger_checkpoint.c.note, ledger_checkpoint.c.signed_at
    ).order_by(ledger_checkpoint.c.tree_size)
    return _stream(conn, stmt)


def row_counts(conn: Connection) -> int:
    """Versions plus leaves: how many rows an audit reads (for a progress bar)."""
    from sqlalchemy import func

    versions = conn.execute(select(func.count()).select_from(rv)).scalar_one()
    leaves = conn.execute(select(func.count()).select_from(leaf)).scalar_one()
    return int(versions) + int(leaves)
