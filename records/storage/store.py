"""Persistence of resource versions and their search-index rows.

A :class:`StoreTransaction` is one database transaction. Writers call
:meth:`SQLStore.write`, which on SQLite takes the write lock up front
(``BEGIN IMMEDIATE``) and on PostgreSQL serialises conditional operations with
transaction-scoped advisory locks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Engine,
    Float,
    Integer,
    LargeBinary,
    Table,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger.log import MerkleLog
from ledger.storage import SQLLedgerStore
from records.search.extract import IndexEntries
from records.storage.claims import Claims, advisory_lock_id
from records.storage.schema import INDEX_TABLES, fact_key, ledger_outbox, resource_version
from records.storage.search_sql import COLUMNS, HistoryQuery, compile_history, compile_search

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


# Built once: the read path is the hottest in the gateway.
#
# The current version is the one with the highest versionId (a new version
# retires its predecessor in the same transaction). It is looked up through the
# unique (type, id, versionId) index, walked backwards: filtering on
# ``superseded_seq IS NULL`` instead lets the planner pick ix_version_current
# whenever it has no statistics yet (a new database, a bulk load before
# autovacuum's ANALYZE; SQLite always), and that scans every current version
# of the type: 20 ms a lookup at 50,000 Observations instead of 0.03 ms.
_CURRENT = (
    select(*COLUMNS, rv.c.superseded_seq)
    .where(rv.c.resource_type == bindparam("t"), rv.c.resource_id == bindparam("i"))
    .order_by(rv.c.version_id.desc())
    .limit(1)
)
_COLUMN_NAMES = ", ".join(c.name for c in COLUMNS)
# Many at once, PostgreSQL: one backward index probe per id, a single round trip.
_CURRENT_MANY_PG = text(
    f"SELECT v.* FROM unnest(CAST(:ids AS text[])) AS k(id) CROSS JOIN LATERAL"
    f" (SELECT {_COLUMN_NAMES}, superseded_seq FROM {rv.name}"
    f" WHERE resource_type = :t AND resource_id = k.id ORDER BY version_id DESC LIMIT 1) AS v"
)
# SQLite: the unary + keeps superseded_seq out of index selection (see above).
_CURRENT_MANY_SQLITE = (
    f"SELECT {_COLUMN_NAMES} FROM {rv.name} WHERE resource_type = ? AND resource_id IN ({{}})"
    " AND +superseded_seq IS NULL"
)
_VERSION = select(*COLUMNS).where(
    rv.c.resource_type == bindparam("t"),
    rv.c.resource_id == bindparam("i"),
    rv.c.version_id == bindparam("v"),
)


def stored_version(row: Any) -> StoredVersion:
    """A :class:`StoredVersion` from a row selected with ``COLUMNS``."""
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


# Writes of at most this many rows use plain INSERTs; larger ones COPY (PostgreSQL).
_SMALL = 50
_UNIQUE_VIOLATION = "23505"
_VERSION_INSERT = (
    "seq",
    "resource_type",
    "resource_id",
    "version_id",
    "last_updated",
    "method",
    "deleted",
    "data",
    "source",
)
_INDEX_COLUMNS = {
    kind: tuple(c.name for c in table.columns) for kind, table in INDEX_TABLES.items()
}
# n fresh values of resource_version's sequence. Alone, one session's nextval()s are
# consecutive, and then the first and last say them all; interleaved with another
# session's, the list comes back whole.
_RESERVE_PG = text(
    "SELECT min(v), max(v), CASE WHEN max(v) - min(v) + 1 = count(*) THEN NULL"
    " ELSE array_agg(v ORDER BY v) END FROM (SELECT nextval(s) AS v FROM"
    " (SELECT CAST(pg_get_serial_sequence('resource_version', 'seq') AS regclass) AS s) AS q,"
    " generate_series(1, :n)) AS r"
)
_RETIRE_PG = text(
    "UPDATE resource_version AS rv SET superseded_seq = r.new"
    " FROM unnest(CAST(:old AS bigint[]), CAST(:new AS bigint[])) AS r(old, new)"
    " WHERE rv.seq = r.old AND rv.superseded_seq IS NULL"
)
_RETIRE = "UPDATE resource_version SET superseded_seq = ? WHERE seq = ? AND superseded_seq IS NULL"
_CLEAR_PENDING_PG = text(
    "DELETE FROM ledger_outbox WHERE version_seq = ANY(CAST(:seqs AS bigint[]))"
)


@functools.cache
def _copy_types(table: Table, columns: tuple[str, ...]) -> list[str]:
    """PostgreSQL type names for a binary COPY of ``columns`` (they must match exactly)."""
    names = []
    for name in columns:
        kind = table.c[name].type
        if isinstance(kind, BigInteger):
            names.append("int8")
        elif isinstance(kind, Integer):
            names.append("int4")
        elif isinstance(kind, Boolean):
            names.append("bool")
        elif isinstance(kind, Float):
            names.append("float8")
        elif isinstance(kind, LargeBinary):
            names.append("bytea")
        else:
            names.append("text")
    return names


class StoreTransaction:
    """Reads and writes inside one database transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    # -- reads ---------------------------------------------------------------
    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        """The latest version (possibly a delete tombstone), or None if never written."""
        row = self.conn.execute(_CURRENT, {"t": resource_type, "i": resource_id}).first()
        return stored_version(row) if row and row.superseded_seq is None else None

    def current_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredVersion]:
        """Current versions of many resources, one query per type (feeds store thousands)."""
        found: dict[tuple[str, str], StoredVersion] = {}
        by_type: dict[str, list[str]] = {}
        for resource_type, resource_id in keys:
            by_type.setdefault(resource_type, []).append(resource_id)
        for resource_type, ids in by_type.items():
            if self.dialect == "postgresql":
                rows: Iterable[Any] = [
                    row
                    for row in self.conn.execute(_CURRENT_MANY_PG, {"t": resource_type, "ids": ids})
                    if row.superseded_seq is None
                ]
            else:
                rows = []
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    sql = _CURRENT_MANY_SQLITE.format(", ".join("?" * len(chunk)))
                    rows += self.conn.exec_driver_sql(sql, (resource_type, *chunk)).all()
            for row in rows:
                version = stored_version(row)
                found[(version.resource_type, version.resource_id)] = version
        return found

    def lock_many(self, keys: Sequence[str]) -> None:
        """:meth:`lock` for many keys, in one round trip and a fixed (sorted) order."""
        if self.dialect != "postgresql" or not keys:
            return
        ids = sorted({advisory_lock_id(k) for k in keys})
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
        return stored_version(row) if row else None

    def high_water_mark(self) -> int:
        """The highest sequence number written so far: a search snapshot."""
        return int(self.conn.execute(select(func.coalesce(func.max(rv.c.seq), 0))).scalar_one())

    def search(self, query: Any) -> tuple[int | None, list[StoredVersion]]:
        """Run a compiled search; returns (total or None, the page of versions)."""
        page_stmt, count_stmt = compile_search(query)
        total = None
        if count_stmt is not None:
            total = int(self.conn.execute(count_stmt).scalar_one())
        rows = (
            [] if page_stmt is None else [stored_version(r) for r in self.conn.execute(page_stmt)]
        )
        return total, rows

    def history(self, query: HistoryQuery) -> tuple[int, list[StoredVersion]]:
        page_stmt, count_stmt = compile_history(query)
        total = int(self.conn.execute(count_stmt).scalar_one())
        return total, [stored_version(r) for r in self.conn.execute(page_stmt)]

    # -- writes --------------------------------------------------------------
    def lock(self, key: str) -> None:
        """Serialise writers on ``key`` until this transaction ends.

        SQLite needs nothing: its write transactions already hold the database
        lock from ``BEGIN IMMEDIATE``.
        """
        if self.dialect == "postgresql":
            self.conn.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_lock_id(key)}
            )

    def try_lock(self, key: str) -> bool:
        """:meth:`lock` if nobody holds ``key`` now, else False at once (never waits).

        For optional work done while holding another lock, where waiting could
        deadlock with a writer taking the same two locks the other way round.
        """
        if self.dialect != "postgresql":
            return True
        row = self.conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": advisory_lock_id(key)}
        )
        return bool(row.scalar_one())

    def write(self, versions: Sequence[NewVersion]) -> list[int]:
        """Insert versions (in order), retire their predecessors, index them.

        Returns the new sequence numbers. Raises :class:`DuplicateVersion` when a
        concurrent writer created the same version first.

        A feed group writes ~15 rows a resource (the version, its index rows,
        ledger entry and fact keys) for thousands of resources: on PostgreSQL
        large writes reserve their sequence numbers in one statement and COPY
        every table; small ones (an API write) keep to a few INSERTs.
        """
        if not versions:
            return []
        try:
            seqs = self._insert_versions(versions)
        except IntegrityError as exc:
            raise DuplicateVersion(str(exc.orig)) from exc
        except DBAPIError:
            raise
        except Exception as exc:  # COPY runs on the driver's cursor: its errors are not wrapped
            if getattr(exc, "sqlstate", None) == _UNIQUE_VIOLATION:
                raise DuplicateVersion(str(exc)) from exc
            raise
        retire = [
            (v.previous_seq, seq)
            for v, seq in zip(versions, seqs, strict=True)
            if v.previous_seq is not None
        ]
        if retire:
            if self.dialect == "postgresql":
                self.conn.execute(
                    _RETIRE_PG,
                    {"old": [old for old, _ in retire], "new": [new for _, new in retire]},
                )
            else:
                self.conn.exec_driver_sql(_RETIRE, [(new, old) for old, new in retire])
        self._index(versions, seqs)
        self._insert(
            ledger_outbox,
            ("version_seq", "entry"),
            [(seq, v.entry) for v, seq in zip(versions, seqs, strict=True) if v.entry is not None],
        )
        self._insert(
            fact_key,
            ("seq", "key"),
            [(seq, key) for v, seq in zip(versions, seqs, strict=True) for key in v.facts or ()],
        )
        return seqs

    def _insert_versions(self, versions: Sequence[NewVersion]) -> list[int]:
        if self.dialect == "postgresql" and len(versions) <= _SMALL:
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
            result = self.conn.execute(
                rv.insert().returning(rv.c.seq, sort_by_parameter_order=True), rows
            )
            return [int(r[0]) for r in result]
        seqs = self._reserve(len(versions))
        self._insert(
            rv,
            _VERSION_INSERT,
            [
                (
                    seq,
                    v.resource_type,
                    v.resource_id,
                    v.version_id,
                    v.last_updated,
                    v.method,
                    v.data is None,
                    v.data,
                    v.source,
                )
                for v, seq in zip(versions, seqs, strict=True)
            ],
        )
        return seqs

    def _reserve(self, n: int) -> list[int]:
        """``n`` new sequence numbers, ascending, for rows inserted with their seq given."""
        if self.dialect == "postgresql":
            low, high, values = self.conn.execute(_RESERVE_PG, {"n": n}).one()
            return list(range(low, high + 1)) if values is None else [int(v) for v in values]
        # SQLite gives a new rowid max(rowid) + 1; a write transaction holds the
        # database lock from its first statement (BEGIN IMMEDIATE), so nobody else can.
        top = int(self.conn.execute(select(func.coalesce(func.max(rv.c.seq), 0))).scalar_one())
        return list(range(top + 1, top + 1 + n))

    def _insert(self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Insert plain tuples: COPY for many rows on PostgreSQL, else one executemany."""
        if not rows:
            return
        if self.dialect == "postgresql" and len(rows) > _SMALL:
            self._copy(table, columns, rows)
            return
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        self.conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)})"
            f" VALUES ({', '.join([mark] * len(columns))})",
            rows,
        )

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
        """Drop outbox rows once their entries are leaves (same transaction).

        PostgreSQL takes them all as one array: an ``IN`` of 1,000 bound
        parameters cost 3.5 µs of Python per row, more than the ledger append.
        """
        if self.dialect == "postgresql":
            self.conn.execute(_CLEAR_PENDING_PG, {"seqs": list(seqs)})
            return
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
        token: list[tuple[Any, ...]] = []
        string: list[tuple[Any, ...]] = []
        date: list[tuple[Any, ...]] = []
        reference: list[tuple[Any, ...]] = []
        number: list[tuple[Any, ...]] = []
        quantity: list[tuple[Any, ...]] = []
        uri: list[tuple[Any, ...]] = []
        for v, seq in zip(versions, seqs, strict=True):
            ix = v.index
            if ix is None:
                continue
            t = v.resource_type
            if ix.tokens:
                token += [(seq, t, p, s, c) for p, s, c in ix.tokens]
            if ix.strings:
                string += [(seq, t, p, s) for p, s in ix.strings]
            if ix.dates:
                date += [(seq, t, p, lo, hi) for p, lo, hi in ix.dates]
            if ix.references:
                reference += [(seq, t, p, rt, ri) for p, rt, ri in ix.references]
            if ix.numbers:
                number += [(seq, t, p, n) for p, n in ix.numbers]
            if ix.quantities:
                quantity += [(seq, t, p, n, s, c) for p, n, s, c in ix.quantities]
            if ix.uris:
                uri += [(seq, t, p, u) for p, u in ix.uris]
        for kind, rows in (
            ("token", token),
            ("string", string),
            ("date", date),
            ("reference", reference),
            ("number", number),
            ("quantity", quantity),
            ("uri", uri),
        ):
            table = INDEX_TABLES[kind]
            self._insert(table, _INDEX_COLUMNS[kind], rows)

    def _copy(self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """PostgreSQL binary COPY, in this transaction: a feed group writes ~15 rows a
        resource, and row-by-row inserts cost more than everything else together."""
        driver = self.conn.connection.driver_connection
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            copy.set_types(_copy_types(table, tuple(columns)))
            write_row = copy.write_row
            for row in rows:
                write_row(row)


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
    def autocommit(self) -> Iterator[StoreTransaction]:
        """Statements that each commit on their own, as durably as a transaction's commit.

        For a write of one statement (a feed's raw message), on PostgreSQL: one round
        trip instead of BEGIN, the statement and COMMIT. SQLite commits locally, so it
        gets a plain write transaction.
        """
        if self.engine.dialect.name != "postgresql":
            with self.write() as tx:
                yield tx
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield StoreTransaction(conn)

    @contextmanager
    def claims(self) -> Iterator[Claims]:
        """Keys held against every other worker until the block ends (:class:`Claims`)."""
        claims = Claims(self.engine)
        try:
            yield claims
        finally:
            claims.close()

    @contextmanager
    def write(self) -> Iterator[StoreTransaction]:
        with (
            self.engine.connect().execution_options(accord_write=True) as conn,
            conn.begin(),
        ):
            yield StoreTransaction(conn)
