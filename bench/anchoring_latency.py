"""Anchoring latency: from a write's 2xx to its leaf in a signed checkpoint.

Production shape: gunicorn (2 workers) with a Redis broker, one Celery
worker running the sequencer, PostgreSQL (or SQLite). A paced client writes
at ``--rate`` writes/s for ``--seconds``; afterwards each write's version is
matched to its leaf and to the first signed checkpoint that covers it.

    python bench/anchoring_latency.py [--db postgresql|sqlite] [--rate 500] [--seconds 20]

Target: p99 at most 2 s at 500 writes/s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import orjson
import requests
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import database, free_port, percentile, print_result

BIN = Path(sys.executable).parent


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    redis_bin = shutil.which("redis-server") or sys.exit("redis-server is not installed")

    with database(args.db) as url, tempfile.TemporaryDirectory() as tmp:
        redis_port, web_port = free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "ACCORD_LEDGER_KEY_FILE": str(Path(tmp) / "ledger.key"),
            "ACCORD_AUTO_MIGRATE": "0",
        }
        procs = [
            subprocess.Popen(
                [redis_bin, "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
            )
        ]
        wait_port(redis_port)
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "-w",
                    "2",
                    "-b",
                    f"127.0.0.1:{web_port}",
                    "gateway:create_app()",
                ],
                env=env,
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "celery"),
                    "-A",
                    "workers.celery_main:app",
                    "worker",
                    "--pool=solo",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel=WARNING",
                ],
                env=env,
                cwd=tmp,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_port(web_port)
        base = f"http://127.0.0.1:{web_port}/fhir"
        try:
            writes = run_load(base, args.rate, args.seconds, args.clients)
            engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
            latencies = measure(engine, writes)
            engine.dispose()
        finally:
            for proc in reversed(procs):
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    ok = len(latencies)
    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    print(
        f"{args.db}: {len(writes)} writes at {len(writes) / args.seconds:.0f}/s offered {args.rate:.0f}/s; "
        f"anchoring latency p50 {p50:.3f} s, p95 {p95:.3f} s, p99 {p99:.3f} s, max {max(latencies):.3f} s"
    )
    print_result(
        "anchoring_latency",
        db=args.db,
        writes=ok,
        rate=round(ok / args.seconds),
        p50=round(p50, 3),
        p95=round(p95, 3),
        p99=round(p99, 3),
        max=round(max(latencies), 3),
    )


def run_load(base: str, rate: float, seconds: float, clients: int) -> list[tuple[str, int, float]]:
    """Paced writes; returns (id, versionId, wall-clock time of the 2xx) for each."""
    total = int(rate * seconds)
    start = time.monotonic() + 0.5
    wall0 = time.time() - time.monotonic()
    done: list[tuple[str, int, float]] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def client() -> None:
        session = requests.Session()
        for i in counter:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            body = {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "valueQuantity": {
                    "value": 60 + i % 50,
                    "unit": "/min",
                    "system": "http://unitsofmeasure.org",
                    "code": "/min",
                },
            }
            r = session.post(
                f"{base}/Observation",
                data=orjson.dumps(body),
                headers={"Content-Type": "application/fhir+json", "Prefer": "return=minimal"},
            )
            t = wall0 + time.monotonic()
            if r.status_code == 201:
                rid = r.headers["Location"].split("/Observation/")[1].split("/")[0]
                with lock:
                    done.append((rid, 1, t))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return done


def measure(engine: object, writes: list[tuple[str, int, float]]) -> list[float]:
    deadline = time.monotonic() + 60
    with engine.connect() as conn:  # type: ignore[attr-defined]
        while (
            conn.execute(text("select count(*) from ledger_outbox")).scalar_one()
            and time.monotonic() < deadline
        ):
            conn.commit()
            time.sleep(0.2)
        time.sleep(1)  # the checkpoint after the last batch
        leaves = dict(
            conn.execute(
                text(
                    "select v.resource_id, l.leaf_index from resource_version v join ledger_leaf l on l.version_seq = v.seq"
                )
            ).all()
        )
        checkpoints = conn.execute(
            text("select tree_size, signed_at from ledger_checkpoint order by tree_size")
        ).all()
    sizes = [int(s) for s, _ in checkpoints]
    times = [datetime.fromisoformat(at + "+00:00").timestamp() for _, at in checkpoints]
    import bisect

    latencies = []
    for rid, _, t in writes:
        index = leaves.get(rid)
        if index is None:
            continue
        k = bisect.bisect_right(sizes, index)  # first checkpoint with size > index
        if k < len(sizes):
            latencies.append(times[k] - t)
    missing = len(writes) - len(latencies)
    if missing:
        print(f"warning: {missing} writes not found in a signed checkpoint", file=sys.stderr)
    return latencies


if __name__ == "__main__":
    main()
