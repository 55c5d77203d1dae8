"""Feeds end to end: MLLP messages/s on one connection, wearable readings stored/s.

Production shape: the ``accord mllp`` listener or gunicorn (2 workers), a
private Redis, ``accord worker`` (a Celery pool of two processes) converting and
anchoring, PostgreSQL (or SQLite). The MLLP client sends one ORU^R01 at a time and waits for its ACK,
which comes only after the raw message is committed. The wearables client
posts batches of 10,000 readings; "stored" is when the worker has written
every Observation.

    python bench/ingest_bench.py [--db postgresql|sqlite] [--messages 3000] [--readings 50000]

Targets: MLLP at least 500 messages/s on one connection; wearables at least
20,000 readings/s ingested and stored.

Each phase also reports where the CPU went (gunicorn, the MLLP listener, the
Celery worker, this database's PostgreSQL backends, and anything else running
on the machine), per message or per reading: on a shared 2-core machine the
rates move with the neighbours' load, the CPU cost per item much less. Set
ACCORD_PROFILE_DIR to have the worker write a cProfile of each task there.
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
import time
from pathlib import Path
from typing import Any

import orjson
import requests
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anchoring_latency import wait_port
from benchlib import (
    _children,
    _cpu_seconds,
    database,
    free_port,
    machine_busy_seconds,
    print_result,
    wait_quiet,
)

BIN = Path(sys.executable).parent
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def oru(n: int) -> bytes:
    segments = (DATA / "hl7v2" / "handwritten_oru_r01_v251.hl7").read_bytes().decode().split("\r")
    msh = segments[0].split("|")
    msh[9] = f"BENCH-{n:06d}"
    segments[0] = "|".join(msh)
    return "\r".join(s.replace("LAB7781002", f"LAB{n:07d}") for s in segments).encode()


def readings(count: int) -> list[dict[str, object]]:
    out = []
    for i in range(count):
        minute = i % 1440
        out.append(
            {
                "header": {
                    "uuid": f"bench-{i:08d}",
                    "schema_id": {"namespace": "omh", "name": "heart-rate", "version": "2.0"},
                    "source_creation_date_time": "2026-11-26T10:00:00Z",
                    "acquisition_provenance": {"source_name": "BenchWatch", "modality": "sensed"},
                },
                "body": {
                    "heart_rate": {"value": 50 + i % 90, "unit": "beats/min"},
                    "effective_time_frame": {
                        "date_time": f"2026-11-{1 + (i // 1440) % 28:02d}T{minute // 60:02d}:{minute % 60:02d}:00+01:00"
                    },
                },
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--readings", type=int, default=50_000)
    args = parser.parse_args()
    redis_bin = shutil.which("redis-server") or sys.exit("redis-server is not installed")
    with database(args.db) as url, tempfile.TemporaryDirectory() as tmp:
        redis_port, web_port, mllp_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "ACCORD_LEDGER_KEY_FILE": str(Path(tmp) / "ledger.key"),
            "ACCORD_AUTO_MIGRATE": "0",
        }
        token = subprocess.run(
            [str(BIN / "accord"), "source", "add", "bench"],
            env=env,
            cwd=tmp,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        procs = [
            subprocess.Popen(
                [redis_bin, "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
            )
        ]
        wait_port(redis_port)
        quiet: dict[str, Any] = {
            "env": env,
            "cwd": tmp,
            "stdout": subprocess.DEVNULL,
            "stderr": subprocess.DEVNULL,
        }
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
                **quiet,
            )
        )
        procs.append(
            subprocess.Popen(
                [str(BIN / "accord"), "mllp", "--source", "bench", "--port", str(mllp_port)],
                **quiet,
            )
        )
        procs.append(
            subprocess.Popen(
                # as deployed (docker-compose.yml): a prefork pool of two processes
                [str(BIN / "accord"), "worker", "--concurrency", "2"],
                **quiet,
            )
        )
        wait_port(web_port)
        wait_port(mllp_port)
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        meter = Meter(engine, {"gunicorn": procs[1], "mllp": procs[2], "worker": procs[3]})
        try:
            wait_quiet()
            meter.start()
            mllp_rate, mllp_done = bench_mllp(mllp_port, args.messages, engine)
            mllp_cpu = meter.stop()
            wait_idle(engine)
            wait_quiet()
            meter.start()
            wear_post, wear_stored = bench_wearables(
                f"http://127.0.0.1:{web_port}", token, args.readings, engine
            )
            wear_cpu = meter.stop()
        finally:
            engine.dispose()
            for proc in reversed(procs):
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    print(
        f"{args.db}: MLLP {args.messages} messages on one connection, each ACKed after its commit: "
        f"{mllp_rate:.0f} messages/s; all converted and stored {mllp_done:.0f} messages/s"
    )
    print(f"  CPU per message: {Meter.describe(mllp_cpu, args.messages, 'ms', 1e3)}")
    print(
        f"{args.db}: wearables {args.readings} readings: accepted {wear_post:.0f}/s, "
        f"ingested and stored {wear_stored:.0f} readings/s"
    )
    print(f"  CPU per reading: {Meter.describe(wear_cpu, args.readings, 'us', 1e6)}")
    print_result(
        "ingest",
        db=args.db,
        mllp_ack_per_s=round(mllp_rate),
        mllp_stored_per_s=round(mllp_done),
        wearables_accepted_per_s=round(wear_post),
        wearables_stored_per_s=round(wear_stored),
    )


class Meter:
    """CPU seconds used between start() and stop() by each process group, by this
    database's PostgreSQL backends, and by everything else on the machine."""

    def __init__(self, engine: object, procs: dict[str, subprocess.Popen[bytes]]) -> None:
        self.engine = engine
        self.procs = procs
        self.begin: dict[str, float] = {}

    def _backends(self) -> list[int]:
        if self.engine.dialect.name != "postgresql":  # type: ignore[attr-defined]
            return []  # SQLite: the work is in the processes' own CPU
        with self.engine.connect() as conn:  # type: ignore[attr-defined]
            return [
                int(pid)
                for (pid,) in conn.execute(
                    text(
                        "select pid from pg_stat_activity where datname = current_database()"
                        " and pid <> pg_backend_pid()"
                    )
                )
            ]

    def _sample(self, backends: list[int]) -> dict[str, float]:
        sample = {
            name: sum(_cpu_seconds(p) for p in [proc.pid, *_children(proc.pid)])
            for name, proc in self.procs.items()
        }
        sample["postgres"] = sum(_cpu_seconds(p) for p in backends)
        sample["machine"] = machine_busy_seconds()
        sample["wall"] = time.perf_counter()
        return sample

    def start(self) -> None:
        self.backends = self._backends()
        self.begin = self._sample(self.backends)

    def stop(self) -> dict[str, float]:
        backends = sorted(set(self.backends) | set(self._backends()))
        # a backend that connected meanwhile counts whole: all its work is this phase's
        end = self._sample(backends)
        used = {k: end[k] - self.begin.get(k, 0.0) for k in end}
        ours = sum(v for k, v in used.items() if k not in ("machine", "wall"))
        used["other"] = max(0.0, used.pop("machine") - ours)
        return used

    @staticmethod
    def describe(used: dict[str, float], items: int, unit: str, scale: float) -> str:
        parts = [
            f"{k} {used[k] / items * scale:.{1 if scale > 1e3 else 2}f}"
            for k in used
            if k != "wall"
        ]
        total = sum(v for k, v in used.items() if k not in ("wall", "other"))
        return (
            f"{', '.join(parts)} {unit}; ours {total / items * scale:.{1 if scale > 1e3 else 2}f} {unit}"
            f" = {total / used['wall']:.2f} cores busy over {used['wall']:.1f} s"
        )


def wait_idle(engine: object, timeout: float = 120) -> None:
    """Wait until the worker has anchored everything (no ledger entry pending)."""
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:  # type: ignore[attr-defined]
        while time.monotonic() < deadline:
            pending = conn.execute(text("select count(*) from ledger_outbox")).scalar_one()
            conn.commit()
            if not pending:
                return
            time.sleep(0.1)


def wait_converted(engine: object, expected: int, started: float) -> float:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        while True:
            done = conn.execute(
                text("select count(*) from inbox_message where status <> 'received'")
            ).scalar_one()
            conn.commit()
            if done >= expected:
                return time.perf_counter() - started
            time.sleep(0.05)


def bench_mllp(port: int, count: int, engine: object) -> tuple[float, float]:
    from adapters.hl7v2 import MLLPDecoder, frame

    messages = [frame(oru(n)) for n in range(count)]
    decoder = MLLPDecoder()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for message in messages:
            sock.sendall(message)
            while not list(decoder.feed(sock.recv(65536))):
                pass
    acked = time.perf_counter() - started
    stored = wait_converted(engine, count, started)
    return count / acked, count / stored


def bench_wearables(base: str, token: str, count: int, engine: object) -> tuple[float, float]:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        before = conn.execute(text("select count(*) from inbox_message")).scalar_one()
    points = readings(count)
    batches = [points[i : i + 10_000] for i in range(0, count, 10_000)]
    session = requests.Session()
    started = time.perf_counter()
    for n, batch in enumerate(batches):
        r = session.post(
            f"{base}/ingest/wearables",
            data=orjson.dumps({"userId": f"u{n}", "dataPoints": batch}),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        if r.status_code != 202 or r.json()["rejected"]:
            sys.exit(f"wearables post failed: {r.status_code} {r.text[:500]}")
    posted = time.perf_counter() - started
    stored = wait_converted(engine, before + len(batches), started)
    with engine.connect() as conn:  # type: ignore[attr-defined]
        observations = conn.execute(
            text(
                "select count(*) from idx_token where resource_type = 'Observation'"
                " and param = 'code' and code = '8867-4'"
            )
        ).scalar_one()
    if observations < count:
        print(
            f"warning: {observations} heart-rate Observations stored, {count} sent", file=sys.stderr
        )
    return count / posted, count / stored


if __name__ == "__main__":
    main()
