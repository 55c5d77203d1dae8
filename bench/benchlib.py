"""Shared plumbing for the benchmarks: fresh databases, a gunicorn server, a load client.

Not a benchmark itself. Every script in bench/ runs as ``python bench/NAME.py``
with the project's virtualenv, so this module is imported as a top-level module.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Subprocesses run outside the repo so that, with PYTHONPATH pointing at a
# snapshot of another revision, that snapshot (not the work tree) is imported.
RUN_DIR = tempfile.gettempdir()
PG_ADMIN = os.environ.get("ACCORD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
# One scratch database per run, so that two runs at once cannot drop each other's.
PG_DATABASE = os.environ.get("ACCORD_BENCH_PG_DB", f"accord_bench_{os.getpid()}")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

__all__ = [
    "PG_ADMIN",
    "PG_DATABASE",
    "CpuMeter",
    "LoadResult",
    "Server",
    "count_stored",
    "database",
    "describe_source",
    "percentile",
    "post_bundles",
    "print_result",
    "speed_probe",
    "wait_quiet",
]


def describe_source() -> str:
    """Which code is being measured: the git commit (and whether the tree is dirty)."""
    import importlib.util

    spec = importlib.util.find_spec("gateway")
    if spec is None or spec.origin is None:
        return "gateway not importable"
    tree = Path(spec.origin).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "a snapshot outside git (see PYTHONPATH)"
    if tree != ROOT:
        return f"commit {commit}, snapshot"
    return f"commit {commit}" + (" + uncommitted changes" if dirty else "")  # fmt: skip


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds the context managers: server stopped, DB dropped


# A plain `kill` must not leave a gunicorn or a scratch database behind.
signal.signal(signal.SIGTERM, _exit_on_sigterm)


# -- databases ----------------------------------------------------------------


@contextmanager
def database(kind: str, keep: bool = False) -> Iterator[str]:
    """A fresh, empty, migrated database of ``kind`` (sqlite | postgresql); yields its URL.

    SQLite: a new file in a temporary directory. PostgreSQL: the database
    ``PG_DATABASE`` on the server of ``PG_ADMIN``, dropped and recreated.
    """
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="accord-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'accord.db'}"
            _upgrade(url)
            yield url
            if keep:
                print(f"(--keep has no effect on SQLite: {tmp} is removed)", file=sys.stderr)
        return
    if kind != "postgresql":
        raise SystemExit(f"unknown database kind {kind!r}: sqlite or postgresql")
    import psycopg

    def drop(admin: Any) -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')

    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        drop(admin)
        admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DATABASE}"
    try:
        _upgrade(url)
        yield url
    finally:
        if not keep:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                drop(admin)


def _upgrade(url: str) -> None:
    """``accord db upgrade``, once, before any worker starts (workers then skip it)."""
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-c", "from gateway.cli import main; main()", "db", "upgrade"],
        env=env,
        cwd=RUN_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
    )


# -- the server ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """gunicorn serving ``gateway:create_app()`` on a free loopback port.

    With ``redis_url`` the gateway hands its anchoring tasks to Celery over
    Redis, and ``celery_worker`` also starts ``accord worker`` to run them;
    without it (the embedded default) each write request runs the task
    in-process. The ledger key and the logs live in a temporary directory.
    """

    def __init__(
        self,
        database_url: str,
        workers: int = 2,
        worker_class: str = "sync",
        threads: int = 1,
        extra_args: Sequence[str] = (),
        app: str | None = None,
        redis_url: str = "",
        celery_worker: bool = False,
    ) -> None:
        self.database_url = database_url
        self.workers = workers
        self.worker_class = worker_class
        self.threads = threads
        self.extra_args = list(extra_args)
        # the WSGI app gunicorn loads; ACCORD_BENCH_APP swaps in a variant to try an idea
        self.app = app or os.environ.get("ACCORD_BENCH_APP", "gateway:create_app()")
        self.redis_url = redis_url
        self.celery_worker = celery_worker
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="accord-bench-server-")
        self._logfile = Path(self._dir.name) / "gunicorn.log"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "ACCORD_AUTO_MIGRATE": "0",
            "REDIS_URL": self.redis_url,
            "ACCORD_BASE_URL": "",
            "ACCORD_LEDGER_KEY_FILE": str(Path(self._dir.name) / "ledger.key"),
        }

    def __enter__(self) -> Server:
        env = self.env()
        if self.celery_worker:
            if not self.redis_url:
                raise SystemExit("a Celery worker needs a Redis URL")
            with (Path(self._dir.name) / "worker.log").open("wb") as log:
                self.worker = subprocess.Popen(
                    [sys.executable, "-c", "from gateway.cli import main; main()", "worker",
                     "--concurrency", "1"],
                    env=env, cwd=RUN_DIR, stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(self.workers),
            "-k",
            self.worker_class,
            "--threads",
            str(self.threads),
            "-b",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "120",
            *self.extra_args,
            self.app,
        ]
        with self._logfile.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, env=env, cwd=RUN_DIR, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log_tail()}")
            try:
                answered = requests.get(f"{self.base}/fhir/metadata", timeout=2).status_code
            except requests.RequestException:
                answered = 0
            # every worker must be up, not only the first one that answered
            if answered == 200 and len(self.worker_pids()) >= self.workers:
                return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not become ready in {timeout} s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        return _children(self.proc.pid)

    def log_tail(self, lines: int = 40) -> str:
        text = self._logfile.read_text(errors="replace") if self._logfile.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def celery_pids(self) -> list[int]:
        if self.worker is None or self.worker.poll() is not None:
            return []
        return [self.worker.pid, *_children(self.worker.pid)]

    def __exit__(self, *exc: object) -> None:
        for proc in (self.proc, self.worker):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # graceful: gunicorn stops its workers
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._dir.cleanup()


# -- CPU accounting -------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]
    except OSError:
        kids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(stat.parent.name))
        return kids


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def speed_probe() -> float:
    """Milliseconds for a fixed pure-Python loop: lower is faster.

    On a shared virtual machine the speed of a core changes from second to
    second; printed next to each result, this tells a slow phase of the host
    from a slower build of the code.
    """
    started = time.perf_counter()
    x = 0
    for i in range(1_000_000):
        x += i * i % 7
    return (time.perf_counter() - started) * 1000


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    steal = fields[7] if len(fields) > 7 else 0
    return (sum(fields[:8]) - idle - steal) / CLOCK_TICKS


def wait_quiet(max_wait: float | None = None, threshold: float = 0.3) -> float:
    """Wait until the machine is idle (other work uses < ``threshold`` of a core for 2 s
    running), at most ``max_wait`` seconds (env ACCORD_BENCH_QUIET_WAIT, default 90).

    Benchmarks on a shared 2-core machine are meaningless while something else
    runs. Returns the last load seen (cores busy); prints a warning on timeout.
    """
    if max_wait is None:
        max_wait = float(os.environ.get("ACCORD_BENCH_QUIET_WAIT", "90"))
    deadline = time.monotonic() + max_wait
    quiet_for, load = 0, 0.0
    while True:
        before, started = machine_busy_seconds(), time.monotonic()
        time.sleep(1.0)
        load = (machine_busy_seconds() - before) / (time.monotonic() - started)
        quiet_for = quiet_for + 1 if load < threshold else 0
        if quiet_for >= 2:
            return load
        if time.monotonic() > deadline:
            print(
                f"WARNING: the machine is busy ({load:.1f} cores used by other work); "
                "figures will be low and noisy",
                file=sys.stderr,
                flush=True,
            )
            return load


def _postgres_cpu() -> float:
    """CPU seconds of all live PostgreSQL server processes (read from /proc)."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().startswith("postgres"):
                total += _cpu_seconds(int(comm.parent.name))
        except OSError:
            continue
    return total


@dataclass
class CpuMeter:
    """CPU seconds used between start() and stop() by: this client, the gunicorn
    workers, and (for PostgreSQL runs) the database server."""

    server: Server
    postgres: bool = False
    figures: dict[str, float] = field(default_factory=dict)

    def _sample(self) -> dict[str, float]:
        sample = {
            "wall": time.perf_counter(),
            "client": time.process_time(),
            "gunicorn": sum(_cpu_seconds(p) for p in self.server.worker_pids()),
        }
        if self.server.celery_worker:
            sample["celery"] = sum(_cpu_seconds(p) for p in self.server.celery_pids())
        if self.postgres:
            sample["postgres"] = _postgres_cpu()
        sample["machine"] = machine_busy_seconds()
        return sample

    def start(self) -> None:
        self.probes = [speed_probe()]
        self._start = self._sample()

    def stop(self) -> dict[str, float]:
        end = self._sample()
        self.probes.append(speed_probe())
        figures = {k: end[k] - self._start[k] for k in end}
        busy = figures.pop("machine")
        # whatever else ran meanwhile (another test suite, the kernel): noise to report
        figures["other"] = max(0.0, busy - sum(v for k, v in figures.items() if k != "wall"))
        self.figures = figures
        return figures

    NOISY = 0.25  # cores of other work, averaged over the run

    @property
    def noise(self) -> float:
        """Cores used on average by work that is none of ours during the run."""
        return self.figures.get("other", 0.0) / max(self.figures.get("wall", 1.0), 1e-9)

    @property
    def noisy(self) -> bool:
        return self.noise > self.NOISY

    def describe(self, cores: int | None = None) -> str:
        f = self.figures
        cores = cores or os.cpu_count() or 1
        wall = f["wall"]
        parts = [f"{k} {f[k]:.1f} s ({f[k] / wall:.0%})" for k in f if k != "wall"]
        used = sum(f[k] for k in f if k != "wall")
        return (
            f"CPU over {wall:.1f} s wall on {cores} cores ({cores * wall:.1f} core-s available): "
            + ", ".join(parts)
            + f"; total {used / (cores * wall):.0%} of the machine"
            + f"\n  speed probe before/after: {self.probes[0]:.0f}/{self.probes[1]:.0f} ms"
            + " (a fixed loop; lower is faster)"
        )


# -- the load client --------------------------------------------------------------


@dataclass
class LoadResult:
    wall: float
    latencies: list[float]
    failures: list[str]


def post_bundles(base: str, payloads: Sequence[bytes], threads: int) -> LoadResult:
    """POST each payload to ``{base}/fhir`` from ``threads`` threads, one requests.Session each.

    A bundle counts as a failure unless the reply is 200 with one 201 entry per
    resource sent.
    """
    import requests

    local = threading.local()
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}

    def send(payload: bytes) -> tuple[float, str | None]:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        started = time.perf_counter()
        try:
            reply = session.post(f"{base}/fhir", data=payload, headers=headers, timeout=300)
        except requests.RequestException as exc:
            return time.perf_counter() - started, f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        if reply.status_code != 200:
            return elapsed, f"HTTP {reply.status_code}: {reply.text[:300]}"
        entries = reply.json().get("entry", [])
        created = sum(1 for e in entries if e["response"]["status"].startswith("201"))
        if created != payload.count(b'"request":'):
            return elapsed, f"only {created} of the bundle's entries were created"
        return elapsed, None

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(send, payloads))
    wall = time.perf_counter() - started
    return LoadResult(
        wall, [lat for lat, _ in outcomes], [err for _, err in outcomes if err is not None]
    )


def count_stored(base: str, resource_types: Sequence[str]) -> dict[str, int]:
    """``GET /fhir/{type}?_summary=count`` for each type (-1 where the search failed)."""
    import requests

    counts = {}
    for rtype in resource_types:
        reply = requests.get(f"{base}/fhir/{rtype}", params={"_summary": "count"}, timeout=60)
        counts[rtype] = int(reply.json()["total"]) if reply.status_code == 200 else -1
    return counts


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def print_result(name: str, **figures: Any) -> None:
    """One machine-readable line, read by run_all.py."""
    print(f"RESULT {name} " + json.dumps(figures, sort_keys=True), flush=True)
