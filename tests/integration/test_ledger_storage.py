"""The SQL ledger store on real SQLite and PostgreSQL: append-only, point reads, no forks."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, event, text

from ledger import (
    DuplicateError,
    InconsistentLogError,
    MemoryLedgerStore,
    MerkleLog,
    TreeSizeError,
    generate_signer,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
    verify_note,
)
from ledger.storage import COPY_ABOVE, SQLLedgerStore, metadata
from records.storage import make_engine, upgrade_schema

LEDGER_TABLES = {"ledger_leaf", "ledger_node", "ledger_checkpoint"}


@dataclass
class Recorder:
    """Every statement sent to the database, with its parameters."""

    statements: list[tuple[str, Any]] = field(default_factory=list)

    def __call__(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self.statements.append((statement, params))

    def since(self, mark: int) -> list[tuple[str, Any]]:
        return [s for s in self.statements[mark:] if s[0] not in ("BEGIN", "BEGIN IMMEDIATE")]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def recorder(engine: Engine) -> Recorder:
    rec = Recorder()
    event.listen(engine, "before_cursor_execute", rec)
    return rec


def _write(engine: Engine) -> Connection:
    """A connection whose transactions take SQLite's write lock up front."""
    return engine.connect().execution_options(accord_write=True)


def _entries(n: int, start: int = 0) -> list[bytes]:
    return [f'{{"seq":{i},"sha256":"{i:064x}"}}'.encode() for i in range(start, start + n)]


def test_migration_builds_exactly_the_declared_ledger_tables(engine: Engine) -> None:
    def ours(name: str | None, type_: str, parent_names: Any) -> bool:
        return type_ != "table" or name in LEDGER_TABLES

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": ours})
        assert compare_metadata(context, metadata) == []


def test_ten_thousand_leaves_in_batches_prove_with_point_reads_and_no_updates(
    engine: Engine, recorder: Recorder
) -> None:
    n = 10_000
    entries = _entries(n)
    rng = random.Random(9162)
    start = 0
    while start < n:  # uneven batches, each its own transaction
        batch = entries[start : start + rng.choice([1, 3, 64, 255, 1000, 2500])]
        with _write(engine) as conn, conn.begin():
            first = MerkleLog(SQLLedgerStore(conn)).append(
                batch, version_seqs=list(range(start + 1, start + 1 + len(batch)))
            )
        assert first == start
        start += len(batch)

    reference = MerkleLog(MemoryLedgerStore())
    reference.append(entries)
    signer = generate_signer("accord.test/ledger")
    with engine.connect() as conn:
        log = MerkleLog(SQLLedgerStore(conn))
        assert log.size() == n
        assert log.root() == reference.root()
        roots = {size: log.root(size) for size in {1, 2, 1000, 4096, 8191, n}}
        for size, root in roots.items():
            assert root == reference.root(size)
        # log2(10,000) ~ 13.3: a proof names at most ~2·log2(n) nodes, in one statement
        bound = 2 * math.ceil(math.log2(n)) + 2
        for _ in range(100):
            size = rng.choice(sorted(roots))
            index = rng.randrange(size)
            mark = len(recorder.statements)
            proof = log.inclusion_proof(index, size)
            reads = recorder.since(mark)
            verify_inclusion(leaf_hash(entries[index]), index, size, proof, roots[size])
            # one statement: the node ids, whose cover of [0, size) also proves the size exists
            assert len(reads) == 1, reads
            assert reads[0][0].lstrip().upper().startswith("SELECT")
            assert len(reads[0][1]) <= 2 * bound  # (level, index) pairs: two parameters each
        for _ in range(100):
            size1, size2 = sorted(rng.sample(sorted(roots), 2))
            mark = len(recorder.statements)
            proof = log.consistency_proof(size1, size2)
            reads = recorder.since(mark)
            verify_consistency(size1, size2, proof, roots[size1], roots[size2])
            assert len(reads) == 1 and len(reads[0][1]) <= 2 * bound
        with pytest.raises(TreeSizeError):
            log.inclusion_proof(0, n + 1)
        with pytest.raises(TreeSizeError):
            log.consistency_proof(5, n + 1)
        with pytest.raises(TreeSizeError):
            log.root(n + 1)
        store = SQLLedgerStore(conn)
        assert store.leaf_index_of_version(4321) == 4320
        assert log.leaf(4320) == entries[4320]
    with _write(engine) as conn, conn.begin():
        signed = MerkleLog(SQLLedgerStore(conn)).checkpoint(signer)
    assert verify_note(signed.note, signer.verifier_key()).root == reference.root()

    writes = [stmt.split(None, 1)[0].upper() for stmt, _ in recorder.statements]
    assert "UPDATE" not in writes and "DELETE" not in writes
    assert {"SELECT", "INSERT"} <= set(writes)


def test_proof_reads_are_primary_key_searches(engine: Engine, recorder: Recorder) -> None:
    with _write(engine) as conn, conn.begin():
        MerkleLog(SQLLedgerStore(conn)).append(_entries(3000))
    with engine.connect() as conn:
        log = MerkleLog(SQLLedgerStore(conn))
        mark = len(recorder.statements)
        log.inclusion_proof(1234, 2999)
        sql, params = recorder.since(mark)[-1]
        assert "ledger_node" in sql and "ledger_leaf" in sql
        if conn.dialect.name == "sqlite":
            plan = " | ".join(
                row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)
            )
            assert "SCAN" not in plan.replace("CONSTANT ROWS", ""), plan
            assert "USING PRIMARY KEY" in plan and "INTEGER PRIMARY KEY" in plan
        else:
            # Forbid sequential scans: if the predicate could not use the
            # primary keys, PostgreSQL would still have to pick one.
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " | ".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql, params))
            assert "Seq Scan" not in plan, plan
            assert "ledger_node_pkey" in plan and "ledger_leaf_pkey" in plan


def test_refuses_to_sign_after_a_node_row_is_tampered(engine: Engine) -> None:
    signer = generate_signer("accord.test/ledger")
    with _write(engine) as conn, conn.begin():
        log = MerkleLog(SQLLedgerStore(conn))
        log.append(_entries(1000))
        log.checkpoint(signer)
    with _write(engine) as conn, conn.begin():
        # 1000 = 512 + 256 + ...: the subtree over leaves 0..511 is on the signed right edge
        conn.execute(
            text("UPDATE ledger_node SET hash = :h WHERE level = 9 AND node_index = 0"),
            {"h": bytes(32)},
        )
    with _write(engine) as conn, conn.begin():
        log = MerkleLog(SQLLedgerStore(conn))
        log.append(_entries(24, start=1000))
        with pytest.raises(InconsistentLogError, match="signed at size 1000"):
            log.checkpoint(signer)
        conn.rollback()
    with engine.connect() as conn:
        latest = SQLLedgerStore(conn).latest_checkpoint()
        assert latest is not None and latest.size == 1000
        assert conn.exec_driver_sql("SELECT count(*) FROM ledger_leaf").scalar() == 1000


def test_checkpoints_are_stored_once_per_size(engine: Engine) -> None:
    signer = generate_signer("accord.test/ledger")
    with _write(engine) as conn, conn.begin():
        log = MerkleLog(SQLLedgerStore(conn))
        assert log.latest_checkpoint() is None
        log.append(_entries(10))
        first = log.checkpoint(signer, signed_at="2024-05-01T12:00:00.000001")
        assert log.checkpoint(signer) == first
        log.append(_entries(5, start=10))
        second = log.checkpoint(signer)
    with engine.connect() as conn:
        store = SQLLedgerStore(conn)
        assert store.latest_checkpoint() == second
        assert store.checkpoint_at(10) == first
        assert store.checkpoint_at(11) is None
        assert len(second.signed_at) == 26
    with _write(engine) as conn, conn.begin(), pytest.raises(DuplicateError):
        SQLLedgerStore(conn).store_checkpoint(first)


def test_a_version_is_anchored_once(engine: Engine) -> None:
    with _write(engine) as conn, conn.begin():
        MerkleLog(SQLLedgerStore(conn)).append(_entries(3), version_seqs=[10, 11, None])
    with _write(engine) as conn, conn.begin():
        with pytest.raises(DuplicateError, match="version_seqs"):
            MerkleLog(SQLLedgerStore(conn)).append(_entries(1, start=3), version_seqs=[11])
        conn.rollback()
    with engine.connect() as conn:
        store = SQLLedgerStore(conn)
        assert store.size() == 3
        assert store.leaf_index_of_version(11) == 1
        assert store.leaf_index_of_version(12) is None


def test_large_appends_refuse_duplicates_like_small_ones(engine: Engine) -> None:
    """Batches above ``COPY_ABOVE`` take PostgreSQL's COPY: refused the same way."""
    n = 3 * COPY_ABOVE
    with _write(engine) as conn, conn.begin():
        MerkleLog(SQLLedgerStore(conn)).append(_entries(n), version_seqs=list(range(1, n + 1)))
    seqs = [*range(n + 1, 2 * n), n]  # the last one is anchored already
    with _write(engine) as conn, conn.begin():
        with pytest.raises(DuplicateError, match="version_seqs"):
            MerkleLog(SQLLedgerStore(conn)).append(_entries(n, start=n), version_seqs=seqs)
        conn.rollback()
    with _write(engine) as conn, conn.begin():  # a second sequencer, behind: the same leaf indexes
        store = SQLLedgerStore(conn)
        hashes = [leaf_hash(e) for e in _entries(n, start=n)]
        with pytest.raises(DuplicateError, match=r"leaves \[0, "):
            store.append(0, hashes, _entries(n, start=n), [])
        conn.rollback()
    with engine.connect() as conn:
        reference = MerkleLog(MemoryLedgerStore())
        reference.append(_entries(n))
        log = MerkleLog(SQLLedgerStore(conn))
        assert log.size() == n and log.root() == reference.root()
        assert SQLLedgerStore(conn).leaf_index_of_version(n) == n - 1
