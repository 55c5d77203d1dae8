"""Patient matching latency: ``find_matches`` against an index of a million patients.

Builds the index directly in ``mpi_entry`` / ``mpi_block`` (one registration
per person from bench/mpi_data.py, bulk inserted: executemany on SQLite,
COPY on PostgreSQL), then times ``find_matches`` for ``--queries`` incoming
patients, half of them new registrations of indexed people (other sources,
with the usual errors), half new people. Each call runs in its own
transaction, as on the write path; timed is ``find_matches`` alone (the
Patient's ``demographics`` are computed before the clock starts: about 15 us).

    .venv/bin/python bench/mpi_match_bench.py                        # SQLite, 1,000,000
    .venv/bin/python bench/mpi_match_bench.py --db postgresql
    .venv/bin/python bench/mpi_match_bench.py --patients 100000 --profile

Target: p50 <= 5 ms on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import time
from collections.abc import Iterator
from typing import Any

from benchlib import database, describe_source, percentile, print_result
from mpi_data import Person, Population
from sqlalchemy import Engine, text

from records.mpi import DEFAULT_THRESHOLDS, Demographics, blocking_keys, demographics
from records.mpi.matcher import MAX_CANDIDATES, MAX_PER_KEY, find_matches
from records.storage import StoreTransaction, make_engine
from records.storage.mpi_sql import candidates, insert_entries

TARGET_P50_MS = 5.0
BATCH = 20_000


def indexed(
    population: Population, count: int, keep: set[int]
) -> Iterator[tuple[str, Demographics, Person | None]]:
    """One registration per person, as ``(patient_id, features, person if kept)``."""
    for n, person in enumerate(population.people(count)):
        patient = population.patient(person, n % 8, later=False)
        yield f"p{n:08d}", demographics(patient), person if n in keep else None


def build(engine: Engine, population: Population, count: int, keep: set[int]) -> list[Person]:
    kept: list[Person] = []
    started = time.perf_counter()
    rows = 0
    batch: list[tuple[str, str, frozenset[str]]] = []
    with engine.connect().execution_options(accord_write=True) as conn:
        copy = conn.dialect.name == "postgresql"
        for patient_id, d, person in indexed(population, count, keep):
            if person is not None:
                kept.append(person)
            batch.append((patient_id, d.to_json(), blocking_keys(d)))
            if len(batch) == BATCH:
                rows += _flush(conn, batch, copy)
                batch = []
        rows += _flush(conn, batch, copy)
        with conn.begin():
            conn.execute(text("ANALYZE"))
        if not copy:  # fold the build's write-ahead log into the database before reading
            conn.connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    elapsed = time.perf_counter() - started
    print(
        f"index: {count:,} patients, {rows:,} blocking keys ({rows / count:.1f} each), "
        f"built in {elapsed:.0f} s (generation included)"
    )
    return kept


def _flush(conn: Any, batch: list[tuple[str, str, frozenset[str]]], copy: bool) -> int:
    if not batch:
        return 0
    with conn.begin():
        if not copy:
            insert_entries(conn, batch)
        else:
            raw = conn.connection.driver_connection
            with raw.cursor() as cur:
                with cur.copy("COPY mpi_entry (patient_id, features) FROM STDIN") as out:
                    for patient_id, features, _ in batch:
                        out.write_row((patient_id, features))
                with cur.copy("COPY mpi_block (key, patient_id) FROM STDIN") as out:
                    for patient_id, _, keys in batch:
                        for key in keys:
                            out.write_row((key, patient_id))
    return sum(len(keys) for _, _, keys in batch)


def incoming(
    population: Population, kept: list[Person], count: int
) -> list[tuple[str, Demographics, bool]]:
    """Half new registrations of indexed people, half new people, shuffled."""
    rng = random.Random(7)
    queries = []
    for n, person in enumerate(kept[: count // 2]):
        patient = population.patient(person, (n + 3) % 8, later=True)
        queries.append((f"q{n:06d}", demographics(patient), True))
    for n, person in enumerate(population.people(count - len(queries))):
        patient = population.patient(person, n % 8, later=False)
        queries.append((f"n{n:06d}", demographics(patient), False))
    rng.shuffle(queries)
    return queries


def measure(
    engine: Engine, queries: list[tuple[str, Demographics, bool]], profile: bool
) -> dict[str, Any]:
    times: list[float] = []
    found = linked = 0
    profiler = cProfile.Profile() if profile else None
    with engine.connect() as conn:
        tx = StoreTransaction(conn)
        for patient_id, d, _ in queries[:100]:  # warm-up: statement cache, pages
            with conn.begin():
                find_matches(tx, patient_id, d, DEFAULT_THRESHOLDS)
        if profiler:
            profiler.enable()
        for patient_id, d, known in queries:
            with conn.begin():
                started = time.perf_counter()
                matches = find_matches(tx, patient_id, d, DEFAULT_THRESHOLDS)
                times.append((time.perf_counter() - started) * 1000)
            if known and matches:
                found += 1
                linked += matches[0].decision == "link"
        if profiler:
            profiler.disable()
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())
    with engine.connect() as conn:  # untimed: how many patients each query compared
        counts = [
            len(candidates(conn, sorted(blocking_keys(d)), pid, MAX_PER_KEY, MAX_CANDIDATES))
            for pid, d, _ in queries
        ]
    known = sum(k for _, _, k in queries)
    return {
        "candidates_mean": sum(counts) / len(counts),
        "candidates_p95": percentile(counts, 95),
        "candidates_max": max(counts),
        "p50": percentile(times, 50),
        "p95": percentile(times, 95),
        "p99": percentile(times, 99),
        "max": max(times),
        "found": found / max(known, 1),
        "linked": linked / max(known, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile the timed queries")
    args = parser.parse_args(argv)

    print(f"patient matching latency, {describe_source()}, {args.db}")
    population = Population(args.seed, postcodes=30_000)
    keep = set(random.Random(args.seed).sample(range(args.patients), args.queries // 2))
    with database(args.db) as url:
        engine = make_engine(url)
        try:
            kept = build(engine, population, args.patients, keep)
            queries = incoming(population, kept, args.queries)
            figures = measure(engine, queries, args.profile)
        finally:
            engine.dispose()
    print(
        f"find_matches, {len(queries):,} incoming patients on {args.patients:,}: "
        f"p50 {figures['p50']:.2f} ms, p95 {figures['p95']:.2f} ms, p99 {figures['p99']:.2f} ms, "
        f"max {figures['max']:.2f} ms"
    )
    print(
        f"candidates compared per query: mean {figures['candidates_mean']:.1f}, "
        f"p95 {figures['candidates_p95']}, max {figures['candidates_max']}"
    )
    print(
        f"registrations of indexed people: {figures['found']:.1%} matched "
        f"({figures['linked']:.1%} auto-linked, the rest to review)"
    )
    met = figures["p50"] <= TARGET_P50_MS
    print(f"target p50 <= {TARGET_P50_MS} ms: " + ("met" if met else "MISSED"))
    print_result(
        f"mpi_match_{args.db}",
        patients=args.patients,
        p50_ms=round(figures["p50"], 3),
        p95_ms=round(figures["p95"], 3),
        p99_ms=round(figures["p99"], 3),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
