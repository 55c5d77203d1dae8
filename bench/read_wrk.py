"""Single-resource reads under gunicorn, measured with wrk.

For each database: a fresh database, gunicorn (2 sync workers by default), a
few bundles loaded, one Observation id picked, then

    wrk -t2 -c16 -d10s --latency http://127.0.0.1:PORT/fhir/Observation/{id}

and wrk's output printed as it is. A short wrk run against ``GET /`` (a tiny
JSON reply, no database) comes first as the framework's ceiling.

wrk runs on the same 2 cores as gunicorn (and PostgreSQL): its CPU time is
reported next to the server's, and the figures are lower than on a machine
where the client runs elsewhere.

    .venv/bin/python bench/read_wrk.py                 # SQLite, then PostgreSQL
    .venv/bin/python bench/read_wrk.py --db sqlite -d 30s

Needs wrk (``apt-get install -y wrk``). Target: at least 2,000 requests/s.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import time

from benchlib import (
    CpuMeter,
    Server,
    database,
    describe_source,
    post_bundles,
    print_result,
    wait_quiet,
)
from data import make_bundle, serialize

TARGET = 2000  # requests/s


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/sec, latency percentiles (ms) and error counts from wrk's output."""
    figures: dict[str, float] = {}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", output):
        figures["requests_per_s"] = float(m.group(1))
    for pct in ("50", "90", "99"):
        if m := re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", output, re.M):
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
            figures[f"p{pct}_ms"] = round(float(m.group(1)) * scale, 3)
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    figures["non_2xx"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    figures["socket_errors"] = float(sum(int(x) for x in m.groups())) if m else 0.0
    return figures


def run_wrk(url: str, threads: int, connections: int, duration: str) -> tuple[str, float]:
    """wrk's output and the CPU seconds wrk itself used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", url],
        capture_output=True,
        text=True,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, cpu


def bench_one(kind: str, args: argparse.Namespace) -> dict[str, float]:
    import requests

    with (
        database(kind) as url,
        Server(
            url, workers=args.workers, worker_class=args.worker_class, threads=args.threads
        ) as server,
    ):
        payloads = [serialize(make_bundle(i, args.seed)) for i in range(args.bundles)]
        loaded = post_bundles(server.base, payloads, threads=2)
        if loaded.failures:
            raise SystemExit(f"loading failed: {loaded.failures[0]}")
        found = requests.get(
            f"{server.base}/fhir/Observation", params={"_count": 1}, timeout=30
        ).json()
        rid = found["entry"][0]["resource"]["id"]
        target = f"{server.base}/fhir/Observation/{rid}"
        probe = requests.get(target, timeout=10)
        if probe.status_code != 200:
            raise SystemExit(f"GET {target} answered {probe.status_code}")
        print(
            f"\n=== {kind}: gunicorn {args.workers} x {args.worker_class}"
            + (f" ({args.threads} threads)" if args.threads > 1 else "")
            + f", {len(payloads) * 100} resources loaded, reading Observation/{rid} "
            f"({len(probe.content)} bytes)",
            flush=True,
        )
        wrk_args = (args.wrk_threads, args.connections)

        wait_quiet()
        baseline: dict[str, float] = {}
        if args.baseline:
            out, _ = run_wrk(f"{server.base}/", *wrk_args, args.baseline)
            baseline = parse_wrk(out)
            print(
                f"--- baseline GET / (Flask + gunicorn, no database), {args.baseline}: "
                f"{baseline.get('requests_per_s', 0):,.0f} requests/s"
            )

        for attempt in range(1, args.attempts + 1):
            if attempt > 1:
                wait_quiet()
            meter = CpuMeter(server, postgres=kind == "postgresql")
            meter.start()
            out, wrk_cpu = run_wrk(target, *wrk_args, args.duration)
            figures = meter.stop()
            figures["other"] = max(0.0, figures["other"] - wrk_cpu)  # wrk is ours
            figures["wrk"] = wrk_cpu
            print(
                f"--- wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration} "
                f"--latency {target}"
            )
            print(out.rstrip())
            print(f"--- {meter.describe()}")
            if not meter.noisy:
                break
            print(
                f"--- NOISY: other work used {meter.noise:.2f} cores meanwhile"
                + (f"; measuring again ({attempt + 1}/{args.attempts})" if attempt < args.attempts else "")
            )  # fmt: skip
        result = parse_wrk(out)
        rate = result.get("requests_per_s", 0.0)
        ok = result["non_2xx"] == 0 and result["socket_errors"] == 0
        verdict = "MET" if rate >= TARGET else "MISSED"
        print(
            f"--- {kind}: {rate:,.0f} requests/s; target {TARGET:,}: {verdict}"
            + ("" if ok else f"; ERRORS: {result['non_2xx']:.0f} non-2xx, "
               f"{result['socket_errors']:.0f} socket errors")
        )  # fmt: skip
        print_result(
            f"read_wrk.{kind}",
            **result,
            baseline_requests_per_s=baseline.get("requests_per_s"),
            workers=args.workers,
            worker_class=args.worker_class,
            gunicorn_threads=args.threads,
            wrk=f"-t{args.wrk_threads} -c{args.connections} -d{args.duration}",
            cpu_s={k: round(v, 2) for k, v in figures.items() if k != "wall"},
            noisy=meter.noisy,
            speed_probe_ms=[round(x) for x in meter.probes],
            cores=os.cpu_count(),
            target=TARGET,
            met=rate >= TARGET,
            ok=ok,
            source=describe_source(),
        )
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db", choices=["sqlite", "postgresql", "both"], default="both", help="default both"
    )
    parser.add_argument("--bundles", type=int, default=10, help="bundles loaded (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn -k (default sync)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn --threads (gthread)")
    parser.add_argument("-t", "--wrk-threads", type=int, default=2)
    parser.add_argument("-c", "--connections", type=int, default=16)
    parser.add_argument("-d", "--duration", default="10s")
    parser.add_argument(
        "--baseline", default="5s", help="wrk duration against GET / first ('' to skip)"
    )
    parser.add_argument(
        "--attempts",
        type=int,
        default=3,
        help="measure again while other work disturbs the run (default 3)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    if shutil.which("wrk") is None:
        print(
            "wrk is not installed. Install it with:  apt-get install -y wrk  (Debian/Ubuntu)",
            file=sys.stderr,
        )
        return 2
    print(f"code under test: {describe_source()}")
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    failed = False
    for kind in kinds:
        result = bench_one(kind, args)
        failed |= result["non_2xx"] > 0 or result["socket_errors"] > 0
        time.sleep(1)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
