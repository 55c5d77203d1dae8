"""Merkle ledger throughput: batched appends, then proofs read from storage.

Builds a log of ``--leaves`` leaves (default 1,000,000) in a SQLite file (or
PostgreSQL), appending batches of ``--batch`` entries, one write transaction
each, through the production engine set-up (WAL, synchronous=FULL); then
times inclusion and consistency proofs at random indices and sizes, each read
from storage (one size query plus one primary-key lookup per proof). A
sample of the proofs is verified, untimed.

    .venv/bin/python bench/ledger_bench.py
    .venv/bin/python bench/ledger_bench.py --file var/ledger-bench.db   # build once, reuse
    .venv/bin/python bench/ledger_bench.py --db postgresql --leaves 200000

Targets (SQLite): append >= 200,000 leaves/s; inclusion and consistency
proofs >= 5,000/s each on the 1,000,000-leaf log.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from benchlib import database, describe_source, print_result
from sqlalchemy import Engine

from ledger import MerkleLog, leaf_hash, verify_consistency, verify_inclusion
from ledger.storage import SQLLedgerStore
from records.storage import make_engine, upgrade_schema

TARGET_APPEND = 200_000  # leaves/s
TARGET_PROOFS = 5_000  # proofs/s, each kind


def entries(start: int, count: int) -> list[bytes]:
    """Entries shaped like the anchored version records (~140 bytes of JCS JSON)."""
    return [
        b'{"id":"obs-%08d","resourceType":"Observation","sha256":"%064x","versionId":"1"}'
        % (i, i * 2654435761)
        for i in range(start, start + count)
    ]


def build(engine: Engine, leaves: int, batch: int) -> float | None:
    """Append until the log has ``leaves`` leaves; return leaves/s (None if nothing to add)."""
    with engine.connect() as conn:
        have = SQLLedgerStore(conn).size()
    if have >= leaves:
        print(f"log already has {have:,} leaves: reusing it")
        return None
    timed = 0.0
    done = have
    while done < leaves:
        chunk = entries(done, min(batch, leaves - done))  # made outside the clock
        seqs = range(done + 1, done + 1 + len(chunk))
        t0 = time.perf_counter()
        with engine.connect().execution_options(accord_write=True) as conn, conn.begin():
            first = MerkleLog(SQLLedgerStore(conn)).append(chunk, version_seqs=seqs)
        timed += time.perf_counter() - t0
        assert first == done
        done += len(chunk)
    rate = (leaves - have) / timed
    print(
        f"append: {leaves - have:,} leaves in batches of {batch:,}: {timed:.2f} s, {rate:,.0f} leaves/s"
    )
    return rate


def proofs(engine: Engine, seconds: float, seed: int) -> tuple[float, float]:
    rng = random.Random(seed)
    with engine.connect() as conn:
        log = MerkleLog(SQLLedgerStore(conn))
        size = log.size()
        root = log.root(size)
        # correctness first, untimed: a sample of both kinds verifies
        for _ in range(200):
            index = rng.randrange(size)
            entry = entries(index, 1)[0]
            verify_inclusion(leaf_hash(entry), index, size, log.inclusion_proof(index, size), root)
            size1 = rng.randint(1, size)
            verify_consistency(
                size1, size, log.consistency_proof(size1, size), log.root(size1), root
            )

        def timed(label: str, one: Iterator[None]) -> float:
            count, t0 = 0, time.perf_counter()
            deadline = t0 + seconds
            while time.perf_counter() < deadline:
                for _ in range(100):
                    next(one)
                count += 100
            rate = count / (time.perf_counter() - t0)
            print(f"{label}: {count:,} proofs in {seconds:.0f} s on {size:,} leaves: {rate:,.0f}/s")
            return rate

        def inclusions() -> Iterator[None]:
            while True:
                log.inclusion_proof(rng.randrange(size), size)
                yield None

        def consistencies() -> Iterator[None]:
            while True:
                size2 = rng.randint(2, size)
                log.consistency_proof(rng.randint(1, size2 - 1), size2)
                yield None

        return timed("inclusion", inclusions()), timed("consistency", consistencies())


@contextlib.contextmanager
def sqlite_file(path: Path) -> Iterator[str]:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade_schema(engine)
    engine.dispose()
    yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--leaves", type=int, default=1_000_000, help="log size (default 1,000,000)"
    )
    parser.add_argument(
        "--batch", type=int, default=20_000, help="leaves per append (default 20,000)"
    )
    parser.add_argument("--seconds", type=float, default=5, help="timed seconds per proof kind")
    parser.add_argument("--file", type=Path, help="SQLite file to build into, or reuse if built")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    print(f"ledger benchmark, {describe_source()}, {args.db}")
    reuse = args.file is not None and args.db == "sqlite"
    with sqlite_file(args.file) if reuse else database(args.db) as url:
        engine = make_engine(url)
        try:
            append_rate = build(engine, args.leaves, args.batch)
            inclusion_rate, consistency_rate = proofs(engine, args.seconds, args.seed)
        finally:
            engine.dispose()

    missed = []
    if append_rate is not None and append_rate < TARGET_APPEND:
        missed.append(f"append {append_rate:,.0f} < {TARGET_APPEND:,}/s")
    if inclusion_rate < TARGET_PROOFS:
        missed.append(f"inclusion {inclusion_rate:,.0f} < {TARGET_PROOFS:,}/s")
    if consistency_rate < TARGET_PROOFS:
        missed.append(f"consistency {consistency_rate:,.0f} < {TARGET_PROOFS:,}/s")
    print("targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    print_result(
        f"ledger_{args.db}",
        leaves=args.leaves,
        append_per_s=round(append_rate) if append_rate is not None else None,
        inclusion_per_s=round(inclusion_rate),
        consistency_per_s=round(consistency_rate),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
