"""Bulk load through ``POST /fhir`` transaction bundles of 100 resources.

Starts gunicorn (2 sync workers by default) against a fresh database, posts N
bundles from K client threads (one ``requests.Session`` each), prints
resources/s and per-bundle latency, checks that every resource sent is stored,
and stops the server.

    .venv/bin/python bench/bulk_load.py --db sqlite
    .venv/bin/python bench/bulk_load.py --db postgresql --bundles 200 --threads 4

Target: at least 1,500 resources/s on each database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from benchlib import (
    CpuMeter,
    Server,
    count_stored,
    database,
    describe_source,
    percentile,
    post_bundles,
    print_result,
    wait_quiet,
)
from data import BUNDLE_COMPOSITION, RESOURCES_PER_BUNDLE, make_bundle, serialize

TARGET = 1500  # resources/s
REDIS_DEFAULT = "redis://127.0.0.1:6379/12"  # a database of its own: no one else's tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--bundles", type=int, default=100, help="timed bundles (default 100)")
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn -k (default sync)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=4,
        help="untimed bundles sent first, so each worker has imported and built "
        "its validation models (default 4; they count in the stored totals)",
    )
    parser.add_argument(
        "--redis",
        nargs="?",
        const=REDIS_DEFAULT,
        help="give the gateway a Redis URL, so that anchoring goes through Celery "
        f"(default without this option: in-process; bare --redis means {REDIS_DEFAULT})",
    )
    parser.add_argument(
        "--celery-worker",
        action="store_true",
        help="with --redis, also run `accord worker` (its CPU is counted as celery)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--attempts",
        type=int,
        default=3,
        help="measure again (with new bundles) while other work disturbs the run (default 3)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args(argv)

    print(f"code under test: {describe_source()}")
    print(
        f"generating {args.warmup + args.bundles} bundles x {RESOURCES_PER_BUNDLE} resources "
        f"(seed {args.seed})",
        flush=True,
    )
    warmup = [serialize(make_bundle(i, args.seed)) for i in range(args.warmup)]
    sent_bundles = 0

    with (
        database(args.db, keep=args.keep) as url,
        Server(
            url,
            workers=args.workers,
            worker_class=args.worker_class,
            redis_url=args.redis or "",
            celery_worker=args.celery_worker,
        ) as server,
    ):
        print(
            f"gunicorn: {args.workers} x {args.worker_class} worker(s) on {server.base}, "
            f"database {args.db}, anchoring "
            + (
                f"via Celery at {args.redis}"
                + (" with a worker" if args.celery_worker else " (no worker running)")
                if args.redis
                else "in-process"
            ),
            flush=True,
        )
        if warmup:
            result = post_bundles(server.base, warmup, min(args.threads, len(warmup)))
            sent_bundles += len(warmup)
            if result.failures:
                print(f"warm-up failed: {result.failures[0]}", file=sys.stderr)
                print(server.log_tail(), file=sys.stderr)
                return 1
            print(f"warm-up: {len(warmup)} bundles in {result.wall:.2f} s", flush=True)

        for attempt in range(1, args.attempts + 1):
            first = sent_bundles  # new bundles each attempt: the store only grows
            timed = [serialize(make_bundle(first + i, args.seed)) for i in range(args.bundles)]
            mean_kib = statistics.mean(len(p) for p in timed) / 1024
            wait_quiet()
            meter = CpuMeter(server, postgres=args.db == "postgresql")
            meter.start()
            result = post_bundles(server.base, timed, args.threads)
            meter.stop()
            sent_bundles += len(timed)

            sent = len(timed) * RESOURCES_PER_BUNDLE
            rate = sent / result.wall
            lat = result.latencies
            print(
                f"\n{args.db}: {len(timed)} bundles ({sent} resources, {mean_kib:.0f} KiB each) "
                f"from {args.threads} threads in {result.wall:.2f} s"
            )
            print(
                f"  throughput      {rate:,.0f} resources/s  "
                f"({len(timed) / result.wall:.1f} bundles/s)"
            )
            print(
                f"  bundle latency  p50 {percentile(lat, 50) * 1000:.0f} ms, "
                f"p95 {percentile(lat, 95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms"
            )
            print(f"  {meter.describe()}")
            if result.failures:
                print(f"  FAILED bundles: {len(result.failures)}; first: {result.failures[0]}")
                print(f"  server log:\n{server.log_tail()}", file=sys.stderr)
                break
            if not meter.noisy:
                break
            print(
                f"  NOISY: other work used {meter.noise:.2f} cores meanwhile"
                + (f"; measuring again ({attempt + 1}/{args.attempts})" if attempt < args.attempts else "")
            )  # fmt: skip
        verdict = (
            "INVALID (failed bundles)" if result.failures else "MET" if rate >= TARGET else "MISSED"
        )
        print(f"  target {TARGET:,} resources/s: {verdict}")

        expected = {t: n * sent_bundles for t, n in BUNDLE_COMPOSITION.items()}
        stored = count_stored(server.base, list(expected))
        ok = stored == expected and not result.failures
        print(
            "  stored (GET /fhir/{type}?_summary=count): "
            + ", ".join(f"{t} {stored[t]}/{expected[t]}" for t in expected)
            + ("  OK" if ok else "  MISMATCH")
        )
        print_result(
            f"bulk_load.{args.db}",
            resources_per_s=round(rate, 1),
            bundles=len(timed),
            threads=args.threads,
            workers=args.workers,
            worker_class=args.worker_class,
            anchoring=("celery+worker" if args.celery_worker else "celery")
            if args.redis
            else "in-process",
            p50_ms=round(percentile(lat, 50) * 1000, 1),
            p95_ms=round(percentile(lat, 95) * 1000, 1),
            wall_s=round(result.wall, 2),
            cpu_s={k: round(v, 2) for k, v in meter.figures.items() if k != "wall"},
            noisy=meter.noisy,
            speed_probe_ms=[round(x) for x in meter.probes],
            cores=os.cpu_count(),
            target=TARGET,
            met=rate >= TARGET and not result.failures,
            verified=ok,
            source=describe_source(),
        )
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
