"""Run every benchmark in sequence and print the figures against the targets.

    .venv/bin/python bench/run_all.py            # or: make bench
    .venv/bin/python bench/run_all.py --quick    # smaller, for a smoke test

Each benchmark's own output streams through as it runs; a summary follows.
Exits non-zero when a benchmark fails (an error, or stored counts that do not
match), not when a target is missed: missed targets are reported.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    cmd = [sys.executable, str(HERE / script), *args]
    print(f"\n$ python bench/{script} {' '.join(args)}".rstrip(), flush=True)
    results: dict[str, dict[str, Any]] = {}
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=HERE.parent) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            if line.startswith("RESULT "):
                _, name, payload = line.split(" ", 2)
                results[name] = json.loads(payload)
    sys.stdout.flush()
    return proc.returncode, results


def spread(runs: list[dict[str, Any]], key: str) -> str:
    values = sorted(float(r.get(key) or 0) for r in runs)
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:>8,.0f}"
    return f"{median:>8,.0f} (runs: {', '.join(f'{v:,.0f}' for v in values)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 bundles, 5 s wrk runs, 1 run")
    parser.add_argument("--bundles", type=int, help="bundles per bulk load (default 100)")
    parser.add_argument(
        "--repeat",
        type=int,
        help="runs of each load and read benchmark; the summary gives the median "
        "(default 3, 1 with --quick)",
    )
    args = parser.parse_args(argv)

    bundles = str(args.bundles or (20 if args.quick else 100))
    repeat = args.repeat or (1 if args.quick else 3)
    started = time.monotonic()
    failures: list[str] = []
    results: dict[str, list[dict[str, Any]]] = defaultdict(list)

    steps: list[tuple[str, list[str], int]] = [
        ("bulk_load.py", ["--db", "sqlite", "--bundles", bundles], repeat),
        ("bulk_load.py", ["--db", "postgresql", "--bundles", bundles], repeat),
    ]
    if shutil.which("wrk"):
        wrk = ["-d", "5s", "--baseline", "3s"] if args.quick else []
        steps.append(("read_wrk.py", ["--db", "both", *wrk], repeat))
    else:
        print("\nwrk is not installed (apt-get install -y wrk): skipping the read benchmark")
        failures.append("read_wrk.py: wrk not installed")
    profile_bundles = "10" if args.quick else "20"
    steps.append(("profile_load.py", ["--db", "sqlite", "--bundles", profile_bundles], 1))

    for script, script_args, times in steps:
        for _ in range(times):
            code, found = run(script, *script_args)
            for name, figures in found.items():
                results[name].append(figures)
            if code != 0:
                failures.append(f"{script} {' '.join(script_args)}: exit {code}")

    sources = sorted({str(r.get("source")) for runs in results.values() for r in runs})
    print("\n" + "=" * 78)
    print(f"SUMMARY ({time.monotonic() - started:.0f} s; code under test: {', '.join(sources)})")
    print(f"  medians of {repeat} run(s) each, leaving out runs flagged NOISY when others exist")

    def quiet(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The runs no other work disturbed, if there are any."""
        return [r for r in runs if not r.get("noisy")] or runs

    for db in ("sqlite", "postgresql"):
        runs = quiet(results.get(f"bulk_load.{db}", []))
        if runs:
            rate = statistics.median(float(r["resources_per_s"]) for r in runs)
            target = runs[0]["target"]
            print(
                f"  bulk load  {db:<10} {spread(runs, 'resources_per_s')} resources/s; "
                f"target {target:,}: {'met' if rate >= target else 'MISSED'}"
            )
            print(
                f"{'':24}p50 {statistics.median(r['p50_ms'] for r in runs):.0f} ms, "
                f"p95 {statistics.median(r['p95_ms'] for r in runs):.0f} ms per bundle; "
                f"stored counts {'verified' if all(r['verified'] for r in runs) else 'WRONG'}"
                + ("; NOISY" if any(r.get("noisy") for r in runs) else "")
            )
    for db in ("sqlite", "postgresql"):
        runs = quiet(results.get(f"read_wrk.{db}", []))
        if runs:
            rate = statistics.median(float(r.get("requests_per_s", 0)) for r in runs)
            target = runs[0]["target"]
            print(
                f"  read (wrk) {db:<10} {spread(runs, 'requests_per_s')} requests/s; "
                f"target {target:,}: {'met' if rate >= target else 'MISSED'}"
            )
            print(
                f"{'':24}p50 {statistics.median(r.get('p50_ms', 0) for r in runs):.1f} ms, "
                f"p99 {statistics.median(r.get('p99_ms', 0) for r in runs):.1f} ms; "
                f"GET / ceiling {statistics.median(r.get('baseline_requests_per_s') or 0 for r in runs):,.0f}/s"
                + ("; NOISY" if any(r.get("noisy") for r in runs) else "")
            )
    for r in results.get("profile_load.sqlite", [])[:1]:
        top = sorted(r["share"].items(), key=lambda kv: kv[1], reverse=True)
        print(
            f"  profile    sqlite     {r['us_per_resource']} us per resource in one process: "
            + ", ".join(f"{k} {v:.0%}" for k, v in top[:6])
        )
        if r.get("reads"):
            print(f"{'':24}reads: {r['reads']['us_per_request']} us per GET in one process")
    for failure in failures:
        print(f"  FAILED: {failure}")
    print("  (client and server share the same cores; see bench/README.md)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
