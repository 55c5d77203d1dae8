"""Persistence of resource versions and their search-index rows.

A :class:`StoreTransaction` is one database transaction. Writers call
:meth:`SQLStore.write`, which on SQLite takes the write lock up front
(``BEGIN IMMEDIATE``) and on PostgreSQL serialises conditional operations with
transaction-scoped advisory locks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, and_, bindparam, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger.log import MerkleLog
from ledger.storage import SQLLedgerStore
from records.search.extract import IndexEntries
from records.storage.schema import INDEX_TABLES, fact_key, ledger_outbox, resource_version
from records.storage.search_sql import HistoryQuery, compile_history, compile_search

__all__ = ["DuplicateVersion", "NewVersion", "SQLStore", "StoreTransaction", "StoredVersion"]

rv = resource_version
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredVersion:
    seq: int
    resource_type: str
    resource_id: str
    version_id: int
    last_updated: str
    method: str
    deleted: bool
    data: bytes | None
    source: str | None = None


@dataclass(slots=True)
class NewVersion:
    resource_type: str
    resource_id: str
    version_id: int
    last_updated: str  # UTC sort key, 26 characters
    method: str  # create | update | delete
    data: bytes | None  # None for a delete tombstone
    index: IndexEntries | None
    previous_seq: int | None
    source: str | None = None
    entry: bytes | None = None  # the pending ledger entry, committed with the version
    facts: list[str] | None = None  # dedupe keys (records.facts), stored in fact_key


class DuplicateVersion(Exception):
    """Two writers raced to create the same version of the same resource."""


_VERSION_COLUMNS = (
    rv.c.seq,
    rv.c.resource_type,
    rv.c.resource_id,
    rv.c.version_id,
    rv.c.last_updated,
    rv.c.method,
    rv.c.deleted,
    rv.c.data,
    rv.c.source,
)


# Built once: the read path is the hottest in the gateway.
_CURRENT = (
    select(*_VERSION_COLUMNS)
    .where(
        rv.c.resource_type == bindparam("t"),
        rv.c.resource_id == bindparam("i"),
        rv.c.superseded_seq.is_(None),
    )
    .limit(1)
)
_VERSION = select(*_VERSION_COLUMNS).where(
    rv.c.resource_type == bindparam("t"),
    rv.c.resource_id == bindparam("i"),
    rv.c.version_id == bindparam("v"),
)


def _row(row: Any) -> StoredVersion:
    return StoredVersion(
        row.seq,
        row.resource_type,
        row.resource_id,
        row.version_id,
        row.last_updated,
        row.method,
        bool(row.deleted),
        bytes(row.data) if row.data is not None else None,
        row.source,
    )


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class StoreTransaction:
    """Reads and writes inside one database transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    # -- reads ---------------------------------------------------------------
    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        """The latest version (possibly a delete tombstone), or None if never written."""
        row = self.conn.execute(_CURRENT, {"t": resource_type, "i": resource_id}).first()
        return _row(row) if row else None

    def current_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredVersion]:
        """Current versions of many resources, a few queries for all (feeds store thousands)."""
        found: dict[tuple[str, str], StoredVersion] = {}
        by_type: dict[str, list[str]] = {}
        for resource_type, resource_id in keys:
            by_type.setdefault(resource_type, []).append(resource_id)
        for resource_type, ids in by_type.items():
            for start in range(0, len(ids), 500):
                rows = self.conn.execute(
                    select(*_VERSION_COLUMNS).where(
                        rv.c.resource_type == resource_type,
                        rv.c.resource_id.in_(ids[start : start + 500]),
                        rv.c.superseded_seq.is_(None),
                    )
                )
                for row in rows:
                    version = _row(row)
                    found[(version.resource_type, version.resource_id)] = version
        return found

    def lock_many(self, keys: Sequence[str]) -> None:
        """:meth:`lock` for many keys, in one round trip and a fixed (sorted) order."""
        if self.dialect != "postgresql" or not keys:
            return
        ids = sorted({_lock_id(k) for k in keys})
        self.conn.execute(
            text(
                "SELECT count(pg_advisory_xact_lock(k)) FROM"
                " (SELECT unnest(CAST(:ks AS bigint[])) AS k ORDER BY 1) AS ordered"
            ),
            {"ks": ids},
        )

    def version(
        self, resource_type: str, resource_id: str, version_id: int
    ) -> StoredVersion | None:
        row = self.conn.execute(
            _VERSION, {"t": resource_type, "i": resource_id, "v": version_id}
        ).first()
        return _row(row) if row else None

    def high_water_mark(self) -> int:
        """The highest sequence number written so far: a search snapshot."""
        return int(self.conn.execute(select(func.coalesce(func.max(rv.c.seq), 0))).scalar_one())

    def search(self, query: Any) -> tuple[int | None, list[StoredVersion]]:
        """Run a compiled search; returns (total or None, the page of versions)."""
        page_stmt, count_stmt = compile_search(query)
        total = None
        if count_stmt is not None:
            total = int(self.conn.execute(count_stmt).scalar_one())
        rows = [] if page_stmt is None else [_row(r) for r in self.conn.execute(page_stmt)]
        return total, rows

    def history(self, query: HistoryQuery) -> tuple[int, list[StoredVersion]]:
        page_stmt, count_stmt = compile_history(query)
        total = int(self.conn.execute(count_stmt).scalar_one())
        return total, [_row(r) for r in self.conn.execute(page_stmt)]

    # -- writes --------------------------------------------------------------
    def lock(self, key: str) -> None:
        """Serialise writers on ``key`` until this transaction ends.

        SQLite needs nothing: its write transactions already hold the database
        lock from ``BEGIN IMMEDIATE``.
        """
        if self.dialect == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_id(key)})

    def try_lock(self, key: str) -> bool:
        """:meth:`lock` if nobody holds ``key`` now, else False at once (never waits).

        For optional work done while holding another lock, where waiting could
        deadlock with a writer taking the same two locks the other way round.
        """
        if self.dialect != "postgresql":
            return True
        row = self.conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _lock_id(key)})
        return bool(row.scalar_one())

    def write(self, versions: Sequence[NewVersion]) -> list[int]:
        """Insert versions (in order), retire their predecessors, index them.

        Returns the new sequence numbers. Raises :class:`DuplicateVersion` when a
        concurrent writer created the same version first.
        """
        if not versions:
            return []
        rows = [
            {
                "resource_type": v.resource_type,
                "resource_id": v.resource_id,
                "version_id": v.version_id,
                "last_updated": v.last_updated,
                "method": v.method,
                "deleted": v.data is None,
                "data": v.data,
                "source": v.source,
            }
            for v in versions
        ]
        try:
            result = self.conn.execute(
                rv.insert().returning(rv.c.seq, sort_by_parameter_order=True), rows
            )
            seqs = [int(r[0]) for r in result]
        except IntegrityError as exc:
            raise DuplicateVersion(str(exc.orig)) from exc
        retire = [
            {"old": v.previous_seq, "new": seq}
            for v, seq in zip(versions, seqs, strict=True)
            if v.previous_seq is not None
        ]
        if retire:
            self.conn.execute(
                update(rv)
                .where(and_(rv.c.seq == bindparam("old"), rv.c.superseded_seq.is_(None)))
                .values(superseded_seq=bindparam("new")),
                retire,
            )
        self._index(versions, seqs)
        outbox = [
            {"version_seq": seq, "entry": v.entry}
            for v, seq in zip(versions, seqs, strict=True)
            if v.entry is not None
        ]
        if outbox:
            self.conn.execute(ledger_outbox.insert(), outbox)
        facts = [
            {"seq": seq, "key": key}
            for v, seq in zip(versions, seqs, strict=True)
            for key in v.facts or ()
        ]
        if facts:
            if self.dialect == "postgresql" and len(facts) > 50:
                self._copy(fact_key.name, facts)
            else:
                self.conn.execute(fact_key.insert(), facts)
        return seqs

    # -- the ledger outbox -----------------------------------------------------
    def pending_entries(self, limit: int) -> list[tuple[int, bytes]]:
        """The oldest pending ledger entries: (version seq, entry)."""
        rows = self.conn.execute(
            select(ledger_outbox.c.version_seq, ledger_outbox.c.entry)
            .order_by(ledger_outbox.c.version_seq)
            .limit(limit)
        )
        return [(int(seq), bytes(entry)) for seq, entry in rows]

    def clear_pending(self, seqs: Sequence[int]) -> None:
        """Drop outbox rows once their entries are leaves (same transaction)."""
        for start in range(0, len(seqs), 1000):
            chunk = list(seqs[start : start + 1000])
            self.conn.execute(ledger_outbox.delete().where(ledger_outbox.c.version_seq.in_(chunk)))

    def is_pending(self, seq: int) -> bool:
        row = self.conn.execute(
            select(ledger_outbox.c.version_seq).where(ledger_outbox.c.version_seq == seq)
        ).first()
        return row is not None

    def leaf_index_of(self, version_seq: int) -> int | None:
        """The leaf anchoring a version, if it is anchored yet."""
        return SQLLedgerStore(self.conn).leaf_index_of_version(version_seq)

    def ledger(self) -> MerkleLog:
        """The Merkle log, read and appended inside this transaction."""
        return MerkleLog(SQLLedgerStore(self.conn))

    def _index(self, versions: Sequence[NewVersion], seqs: Sequence[int]) -> None:
        batches: dict[str, list[dict[str, Any]]] = {kind: [] for kind in INDEX_TABLES}
        for v, seq in zip(versions, seqs, strict=True):
            if v.index is None:
                continue
            t, ix = v.resource_type, v.index
            base = {"seq": seq, "resource_type": t}
            batches["token"] += [
                {**base, "param": p, "system": s, "code": c} for p, s, c in ix.tokens
            ]
            batches["string"] += [{**base, "param": p, "value": s} for p, s in ix.strings]
            batches["date"] += [
                {**base, "param": p, "low": lo, "high": hi} for p, lo, hi in ix.dates
            ]
            batches["reference"] += [
                {**base, "param": p, "target_type": rt, "target_id": ri}
                for p, rt, ri in ix.references
            ]
            batches["number"] += [{**base, "param": p, "value": n} for p, n in ix.numbers]
            batches["quantity"] += [
                {**base, "param": p, "value": n, "system": s, "code": c}
                for p, n, s, c in ix.quantities
            ]
            batches["uri"] += [{**base, "param": p, "value": u} for p, u in ix.uris]
        for kind, batch in batches.items():
            if not batch:
                continue
            if self.dialect == "postgresql" and len(batch) > 50:
                self._copy(INDEX_TABLES[kind].name, batch)
            else:
                self.conn.execute(INDEX_TABLES[kind].insert(), batch)

    def _copy(self, table: str, rows: list[dict[str, Any]]) -> None:
        """PostgreSQL COPY, in this transaction: a feed batch writes ~15 index rows a resource,
        and row-by-row inserts cost more than everything else together."""
        columns = list(rows[0])
        cursor = self.conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])


class SQLStore:
    """Entry point to the database: hands out read and write transactions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def read(self) -> Iterator[StoreTransaction]:
        with self.engine.connect() as conn, conn.begin():
            yield StoreTransaction(conn)

    def read_once(self, work: Callable[[StoreTransaction], T]) -> T:
        """One read outside an explicit transaction (a single statement needs none).

        Retried once on a dropped connection, which a restarted database
        leaves in the pool: reads are idempotent.
        """
        for attempt in (1, 2):
            try:
                with self.engine.connect() as conn:
                    if conn.dialect.name == "postgresql":
                        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                    return work(StoreTransaction(conn))
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def write(self) -> Iterator[StoreTransaction]:
        with (
            self.engine.connect().execution_options(accord_write=True) as conn,
            conn.begin(),
        ):
            yield StoreTransaction(conn)
