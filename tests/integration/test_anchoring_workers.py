"""Anchoring with a real Redis and real Celery worker processes.

Each test starts its own Redis (so stopping it disturbs nobody), a PostgreSQL
database, the gateway on a real socket, and ``celery worker``/``celery beat``
processes exactly as production runs them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import psycopg
import pytest
import requests
from sqlalchemy import text
from werkzeug.serving import make_server

from gateway import create_app

BIN = Path(sys.executable).parent
FHIR = {"Content-Type": "application/fhir+json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private redis-server on its own port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run `make services`")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        pytest.fail("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


class Stack:
    """Gateway (threaded, real socket) + worker and beat processes, one configuration."""

    def __init__(self, db_url: str, redis_url: str, key_file: Path) -> None:
        self.db_url = db_url
        self.env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "ACCORD_LEDGER_KEY_FILE": str(key_file),
            "ACCORD_ANCHOR_SWEEP_SECONDS": "1",
        }
        self.app = create_app(
            {"database_url": db_url, "redis_url": redis_url, "ledger_key_file": str(key_file)}
        )
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/fhir"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [str(BIN / "celery"), "-A", "workers.celery_main:app", *args, "--loglevel=WARNING"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def worker(self) -> subprocess.Popen[bytes]:
        # `accord worker`, as deployed; solo pool: the process we kill is the one running the task
        proc = subprocess.Popen(
            [str(BIN / "accord"), "worker", "--pool=solo"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def beat(self, schedule: Path) -> subprocess.Popen[bytes]:
        return self.start("beat", f"--schedule={schedule}")

    def counts(self) -> tuple[int, int, int]:
        """(versions, leaves, pending)."""
        with self.app.extensions["accord"].store.engine.connect() as conn:
            return tuple(  # type: ignore[return-value]
                int(conn.execute(text(f"select count(*) from {t}")).scalar_one())
                for t in ("resource_version", "ledger_leaf", "ledger_outbox")
            )

    def wait_anchored(self, versions: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v, leaves, pending = self.counts()
            if v == versions and leaves == versions and pending == 0:
                return
            time.sleep(0.2)
        pytest.fail(f"not anchored in {timeout} s: versions, leaves, pending = {self.counts()}")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.server.shutdown()
        self.app.extensions["accord"].store.engine.dispose()


@pytest.fixture
def stack(postgres_url: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(postgres_url, redis_server.url, tmp_path / "ledger.key")
    yield s
    s.close()


def write(url: str, n: int, client: int) -> list[int]:
    session = requests.Session()
    statuses = []
    for i in range(n):
        body = {
            "resourceType": "Observation",
            "id": f"c{client}-{i % 400}",  # creates, then updates of the same ids
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "valueQuantity": {
                "value": 60 + i % 97,
                "unit": "/min",
                "system": "http://unitsofmeasure.org",
                "code": "/min",
            },
        }
        r = session.put(
            f"{url}/Observation/{body['id']}", data=orjson.dumps(body), headers=FHIR, timeout=30
        )
        statuses.append(r.status_code)
    return statuses


def _sequencer_running(db_url: str) -> bool:
    """True while a process holds the sequencer's advisory lock: a batch is mid-way."""
    from records.sequencer import SEQUENCER_LOCK
    from records.storage.claims import advisory_lock_id

    key = advisory_lock_id(SEQUENCER_LOCK)
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    high, low = unsigned >> 32, unsigned & 0xFFFFFFFF
    plain = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from pg_locks where locktype = 'advisory' and granted"
            " and classid::bigint = %s and objid::bigint = %s and objsubid = 1",
            (high, low),
        ).fetchone()
    return bool(row and row[0])


def test_killed_worker_loses_nothing_and_anchors_nothing_twice(
    stack: Stack, tmp_path: Path
) -> None:
    worker = stack.worker()
    kills = 0
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(write, stack.url, 500, c) for c in range(4)]
        # SIGKILL the worker while it holds the sequencer lock (mid-batch), then restart it
        deadline = time.monotonic() + 60
        while kills < 3 and time.monotonic() < deadline and not all(f.done() for f in futures):
            if _sequencer_running(stack.db_url):
                worker.send_signal(signal.SIGKILL)
                worker.wait(10)
                kills += 1
                worker = stack.worker()
            time.sleep(0.005)
        statuses = [s for f in futures for s in f.result()]
    assert len(statuses) == 2000
    assert set(statuses) <= {200, 201}
    assert kills >= 1, "the worker was never caught mid-batch"
    stack.wait_anchored(2000)
    # exactly once: one leaf per version (the unique version_seq makes a second impossible)
    with stack.app.extensions["accord"].store.engine.connect() as conn:
        distinct = conn.execute(
            text("select count(distinct version_seq) from ledger_leaf")
        ).scalar_one()
    assert distinct == 2000
    result = subprocess.run(
        [str(BIN / "accord"), "verify"], env=stack.env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2000 ok" in result.stdout


def test_writes_succeed_while_redis_is_down_and_the_sweep_anchors_them(
    stack: Stack, redis_server: RedisServer, tmp_path: Path
) -> None:
    stack.worker()
    stack.beat(tmp_path / "beat-schedule")
    assert all(s in (200, 201) for s in write(stack.url, 50, 0))
    stack.wait_anchored(50)
    redis_server.stop()
    started = time.monotonic()
    assert all(s in (200, 201) for s in write(stack.url, 100, 1))
    assert time.monotonic() - started < 60  # no request hangs on the dead broker
    versions, _, pending = stack.counts()
    assert (versions, pending) == (150, 100)
    redis_server.start()  # same port: worker and beat reconnect
    stack.wait_anchored(150, timeout=90)


def test_feeds_are_acked_while_redis_is_down_and_converted_when_it_returns(
    stack: Stack, redis_server: RedisServer, tmp_path: Path
) -> None:
    from adapters.hl7v2 import MLLPDecoder, frame
    from gateway.mllp import MLLPServer
    from records import ingest

    ext = stack.app.extensions["accord"]
    assert ingest.add_source(ext.store, "st-mary", "tok")
    data = Path(__file__).resolve().parents[1] / "data" / "hl7v2"
    stack.worker()
    stack.beat(tmp_path / "beat-schedule")
    redis_server.stop()
    # HTTP
    r = requests.post(
        stack.url.replace("/fhir", "/ingest/hl7v2"),
        data=(data / "handwritten_adt_a01_v251.hl7").read_bytes(),
        headers={"Content-Type": "x-application/hl7-v2+er7", "Authorization": "Bearer tok"},
        timeout=30,
    )
    assert "MSA|AA|" in r.text
    # MLLP
    server = MLLPServer(("127.0.0.1", 0), ext, "st-mary")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.create_connection(server.server_address, timeout=30) as sock:
        sock.sendall(frame((data / "handwritten_oru_r01_v251.hl7").read_bytes()))
        decoder = MLLPDecoder()
        acks: list[bytes] = []
        while not acks:
            acks = list(decoder.feed(sock.recv(65536)))
    server.shutdown()
    server.server_close()
    assert b"MSA|AA|" in bytes(acks[0])

    def statuses() -> list[str]:
        with ext.store.engine.connect() as conn:
            return [row[0] for row in conn.execute(text("select status from inbox_message"))]

    assert statuses() == ["received", "received"]  # stored, waiting for a worker
    redis_server.start()
    deadline = time.monotonic() + 90
    while statuses() != ["converted", "converted"] and time.monotonic() < deadline:
        time.sleep(0.3)
    assert statuses() == ["converted", "converted"]
    versions, _, _ = stack.counts()
    stack.wait_anchored(versions)


def _reading(i: int) -> dict[str, object]:
    return {
        "header": {
            "uuid": f"r-{i:06d}",
            "schema_id": {"namespace": "omh", "name": "heart-rate", "version": "2.0"},
            "source_creation_date_time": "2026-03-02T07:31:12Z",
            "acquisition_provenance": {"source_name": "Acme Band 4", "modality": "sensed"},
        },
        "body": {
            "heart_rate": {"value": 50 + i % 90, "unit": "beats/min"},
            "effective_time_frame": {
                "date_time": f"2026-03-02T{i // 60 % 24:02d}:{i % 60:02d}:00Z"
            },
        },
    }


def test_a_worker_killed_while_storing_feeds_loses_and_repeats_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    from records import ingest

    ext = stack.app.extensions["accord"]
    assert ingest.add_source(ext.store, "acme", "acme-token")
    session = requests.Session()
    # four batches of 5,000 readings from two users: a group each, each written on the
    # worker's helper thread while the next is converted and prepared
    for n in range(4):
        body = {"userId": f"u{n % 2}", "dataPoints": [_reading(n * 5000 + i) for i in range(5000)]}
        r = session.post(
            stack.url.replace("/fhir", "/ingest/wearables"),
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": "Bearer acme-token"},
            timeout=60,
        )
        assert r.status_code == 202, r.text

    def converted() -> int:
        with ext.store.engine.connect() as conn:
            return int(
                conn.execute(
                    text("select count(*) from inbox_message where status = 'converted'")
                ).scalar_one()
            )

    worker = stack.worker()
    stack.beat(tmp_path / "beat-schedule")
    deadline = time.monotonic() + 120
    while converted() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)  # one group committed; the next mid-way
    worker.wait(10)
    assert converted() < 4, "the worker was never caught mid-way"
    stack.worker()
    while converted() < 4 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert converted() == 4
    versions, _, _ = stack.counts()
    stack.wait_anchored(versions, timeout=120)
    with ext.store.engine.connect() as conn:
        kinds = dict(
            conn.execute(
                text("select resource_type, count(*) from resource_version group by resource_type")
            ).all()
        )
        again = conn.execute(
            text("select count(*) from resource_version where version_id > 1")
        ).scalar_one()
    assert kinds == {"Observation": 20000, "Patient": 2, "Device": 1, "Provenance": 4}
    assert again == 0
    result = subprocess.run(
        [str(BIN / "accord"), "verify"], env=stack.env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{versions} ok" in result.stdout
