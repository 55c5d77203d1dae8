"""Where the time of a bulk load goes: an in-process profile of transaction bundles.

Loads bundles through the Flask test client (no network, no gunicorn) into a
fresh SQLite file (or ``--db postgresql``), after one untimed warm-up bundle
that pays the one-off imports and model building. Two passes over different
bundles:

1. **timers**: no profiler; the main stages are wrapped with wall-clock timers,
   which gives their true share of the time (cProfile inflates pure-Python
   code, such as the FHIRPath evaluator, more than C or Rust code).
2. **cProfile**: the top functions by cumulative and by own time, and the same
   stage breakdown computed from the profile.
3. **reads**: ``GET /fhir/Observation/{id}`` repeated (``--reads``, default 2000),
   with stage timers (pool checkout, BEGIN, statement building, execution,
   COMMIT, headers, Flask) and the top functions by own time.

    .venv/bin/python bench/profile_load.py               # 20 bundles, SQLite
    .venv/bin/python bench/profile_load.py --bundles 50 --db postgresql
    .venv/bin/python bench/profile_load.py --save load.prof   # for snakeviz etc.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import functools
import io
import os
import pstats
import re
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchlib import database, describe_source, print_result, wait_quiet
from data import RESOURCES_PER_BUNDLE, make_bundle, serialize

HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}

# The stages, in the order they happen to one transaction bundle.
STAGES = [
    ("parse", "read + parse the request body (json_body)"),
    ("validate_bundle", "validate the whole Bundle (fhir.resources, all 100 resources)"),
    ("begin", "BEGIN (IMMEDIATE on SQLite: takes the write lock)"),
    ("rewrite_refs", "rewrite urn:uuid references"),
    ("validate_resource", "validate each resource again (fhir.resources)"),
    ("serialize", "serialize stored JSON + reply (fhirjson/orjson.dumps)"),
    ("index", "search index extraction (FHIRPath)"),
    ("sql_versions", "SQL: insert resource_version rows"),
    ("sql_index", "SQL: insert search index rows"),
    ("commit", "COMMIT"),
    ("ledger_entry", "ledger entry per version (records.anchoring.entry_bytes)"),
    ("anchor", "anchoring after the write (in-process without Redis)"),
]


# -- pass 1: wall-clock stage timers ------------------------------------------------


class StageTimers:
    """Wraps functions at their point of use; a stage nested in itself counts once."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.missing: list[str] = []
        self._active: set[str] = set()
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attr: str, stage: str | Callable[..., str]) -> None:
        original = getattr(owner, attr, None)
        if original is None:  # the code moved on: say so rather than fail
            self.missing.append(f"{getattr(owner, '__name__', owner)}.{attr}")
            return

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            name = stage(*args, **kwargs) if callable(stage) else stage
            if name in self._active:
                return original(*args, **kwargs)
            self._active.add(name)
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1
                self._active.discard(name)

        setattr(owner, attr, timed)
        self._undo.append(lambda: setattr(owner, attr, original))

    @contextmanager
    def installed(self) -> Iterator[StageTimers]:
        import orjson
        from sqlalchemy.engine.base import Connection

        from gateway import fhir_api
        from records import fhirjson, interactions
        from records.storage import store

        def which_validation(resource: Any, expected_type: str | None = None) -> str:
            return "validate_bundle" if expected_type == "Bundle" else "validate_resource"

        self.wrap(fhir_api, "json_body", "parse")
        self.wrap(fhirjson, "dumps", "serialize")
        self.wrap(orjson, "dumps", "serialize")
        self.wrap(interactions, "validate_resource", which_validation)
        self.wrap(interactions, "_rewrite_references", "rewrite_refs")
        self.wrap(interactions, "index_entries", "index")
        self.wrap(store.StoreTransaction, "_index", "sql_index")
        self.wrap(store.StoreTransaction, "write", "sql_versions")  # minus sql_index, below
        self.wrap(Connection, "_begin_impl", "begin")
        self.wrap(Connection, "_commit_impl", "commit")
        try:
            from gateway.anchoring import AnchorRequests
        except ImportError:
            self.missing.append("gateway.anchoring")
        else:
            self.wrap(interactions, "entry_bytes", "ledger_entry")
            self.wrap(AnchorRequests, "after_write", "anchor")
        try:
            yield self
        finally:
            for undo in reversed(self._undo):
                undo()


# -- the load ---------------------------------------------------------------------


def make_client(url: str) -> Any:
    import tempfile

    from gateway import create_app

    # the ledger's signing key (newer revisions make one on first use): not in the repo
    keys = tempfile.mkdtemp(prefix="accord-bench-key-")
    atexit.register(shutil.rmtree, keys, ignore_errors=True)
    os.environ.setdefault("ACCORD_LEDGER_KEY_FILE", os.path.join(keys, "ledger.key"))

    app = create_app({"database_url": url, "redis_url": "", "auto_migrate": False})
    return app, app.test_client()


def post_all(client: Any, payloads: list[bytes]) -> float:
    started = time.perf_counter()
    for payload in payloads:
        reply = client.post("/fhir", data=payload, headers=HEADERS)
        if reply.status_code != 200:
            raise SystemExit(f"POST /fhir answered {reply.status_code}: {reply.text[:500]}")
    return time.perf_counter() - started


def breakdown(seconds: dict[str, float], total: float, resources: int) -> list[str]:
    """The stage table; ``seconds['sql_versions']`` still includes ``sql_index`` here."""
    s = dict(seconds)
    s["sql_versions"] = s.get("sql_versions", 0.0) - s.get("sql_index", 0.0)
    lines = [f"  {'stage':<62} {'s':>7} {'share':>6} {'us/res':>7}"]
    accounted = 0.0
    for key, label in STAGES:
        value = s.get(key, 0.0)
        accounted += value
        lines.append(
            f"  {label:<62} {value:7.3f} {value / total:6.1%} {value / resources * 1e6:7.0f}"
        )
    rest = total - accounted
    lines.append(
        f"  {'everything else (Flask/Werkzeug, interactions glue, ids, meta)':<62} "
        f"{rest:7.3f} {rest / total:6.1%} {rest / resources * 1e6:7.0f}"
    )
    lines.append(f"  {'total':<62} {total:7.3f} {1:6.1%} {total / resources * 1e6:7.0f}")
    return lines


# -- pass 2: cProfile -----------------------------------------------------------------

_SITE = re.compile(r".*/(?:site|dist)-packages/")
_OURS = re.compile(
    r"/(?:adapters|bench|gateway|ledger|records|workers)/[^/]+$|/(?:records)/\w+/[^/]+$"
)


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name
    if "-packages/" not in filename and (m := _OURS.search(filename)):
        filename = filename[m.start() + 1 :]  # gateway/..., records/... wherever the tree is
    else:
        filename = _SITE.sub("", filename)
        filename = re.sub(r".*/lib/python3\.\d+/", "", filename)
    return f"{filename}:{line}({name})"


def top_table(stats: pstats.Stats, sort: str, limit: int, total: float) -> list[str]:
    rows = stats.stats  # type: ignore[attr-defined]
    index = 3 if sort == "cumulative" else 2
    ordered = sorted(rows.items(), key=lambda kv: kv[1][index], reverse=True)[:limit]
    lines = [f"  {'ncalls':>9} {'tottime':>8} {'cumtime':>8} {'cum%':>6}  function"]
    for key, (cc, nc, tt, ct, _callers) in ordered:
        calls = f"{nc}" if nc == cc else f"{nc}/{cc}"
        lines.append(f"  {calls:>9} {tt:8.3f} {ct:8.3f} {ct / total:6.1%}  {_where(key)}")
    return lines


def profile_stages(stats: pstats.Stats) -> dict[str, float]:
    """The same stages as the timers, read off the profile's cumulative times."""
    rows: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]

    def find(name: str, file_part: str = "") -> list[Any]:
        return [k for k in rows if k[2] == name and file_part in k[0]]

    def cum(name: str, file_part: str = "") -> float:
        return float(sum(rows[k][3] for k in find(name, file_part)))

    def cum_from(name: str, file_part: str, caller_name: str) -> float:
        total = 0.0
        for k in find(name, file_part):
            for caller, (_cc, _nc, _tt, ct) in rows[k][4].items():
                if caller[2] == caller_name:
                    total += ct
        return total

    def builtin(name: str) -> list[Any]:
        return [k for k in rows if k[0] == "~" and name in k[2]]

    fhirjson_dumps = cum("dumps", "records/fhirjson")
    # orjson.dumps outside fhirjson.dumps (the reply bundle)
    reply_dumps = sum(
        ct
        for k in builtin("orjson.dumps")
        for caller, (_cc, _nc, _tt, ct) in rows[k][4].items()
        if "records/fhirjson" not in caller[0]
    )
    return {
        "parse": cum("json_body", "gateway/http"),
        "serialize": fhirjson_dumps + reply_dumps,
        "validate_bundle": cum_from("validate_resource", "records/validation", "process_bundle"),
        "validate_resource": cum_from("validate_resource", "records/validation", "create"),
        "rewrite_refs": cum_from("_rewrite_references", "records/interactions", "_entry_write"),
        "index": cum("index_entries", "records/search/extract"),
        "sql_versions": cum("write", "records/storage/store"),
        "sql_index": cum("_index", "records/storage/store"),
        "begin": cum("_begin_impl", "sqlalchemy/engine/base"),
        "commit": cum("_commit_impl", "sqlalchemy/engine/base"),
        "ledger_entry": cum("entry_bytes", "records/anchoring"),
        "anchor": cum("after_write", "gateway/anchoring"),
    }


# -- reads ------------------------------------------------------------------------

READ_STAGES = [
    ("checkout", "pool checkout (+ pre-ping on PostgreSQL)"),
    ("begin", "BEGIN"),
    ("build", "build the SELECT (SQLAlchemy Core, per call)"),
    ("execute", "execute it (compile cache, driver, database)"),
    ("commit", "COMMIT"),
    ("headers", "ETag / Last-Modified / Content-Location headers"),
]


def profile_reads(client: Any, count: int, top: int, out: list[str]) -> dict[str, float]:
    """GET one Observation ``count`` times: stage timers, then cProfile; lines go to ``out``."""
    from sqlalchemy.engine.base import Connection, Engine

    from records import interactions
    from records.storage import store

    found = client.get("/fhir/Observation?_count=1").get_json()
    url = f"/fhir/Observation/{found['entry'][0]['resource']['id']}"
    for _ in range(200):  # warm the statement caches (and psycopg's prepared statements)
        client.get(url)

    def run() -> float:
        started = time.perf_counter()
        for _ in range(count):
            if client.get(url).status_code != 200:
                raise SystemExit(f"GET {url} failed")
        return time.perf_counter() - started

    timers = StageTimers()
    timers.wrap(Engine, "connect", "checkout")
    timers.wrap(Connection, "_begin_impl", "begin")
    timers.wrap(store.StoreTransaction, "current", "build")  # minus execute, below
    timers.wrap(Connection, "execute", "execute")
    timers.wrap(Connection, "_commit_impl", "commit")
    timers.wrap(interactions, "_version_headers", "headers")
    timers.wrap(interactions, "read", "read")
    wait_quiet()
    try:
        wall = run()
    finally:
        for undo in reversed(timers._undo):
            undo()
    sec = dict(timers.seconds)
    sec["build"] = sec.get("build", 0.0) - sec.get("execute", 0.0)
    out.append(
        f"\n== reads: GET {url} x {count} through the test client in {wall:.2f} s = "
        f"{count / wall:,.0f}/s in one process ({wall / count * 1e6:.0f} us per request)"
    )
    out.append(f"  {'stage':<62} {'us/req':>7} {'share':>6}")
    accounted = 0.0
    for key, label in READ_STAGES:
        value = sec.get(key, 0.0)
        accounted += value
        out.append(f"  {label:<62} {value / count * 1e6:7.0f} {value / wall:6.1%}")
    rest = sec.get("read", 0.0) - accounted
    out.append(
        f"  {'rest of records.interactions.read':<62} {rest / count * 1e6:7.0f} {rest / wall:6.1%}"
    )
    outside = wall - sec.get("read", 0.0)
    out.append(
        f"  {'outside it: test client, Flask/Werkzeug, request context, _context':<62} "
        f"{outside / count * 1e6:7.0f} {outside / wall:6.1%}"
    )
    if timers.missing:
        out.append(f"  (not found, so not timed: {', '.join(timers.missing)})")
    started = time.perf_counter()
    for _ in range(count):
        client.get("/")
    floor = (time.perf_counter() - started) / count
    out.append(
        f"  for scale: GET / (no database, a 3-key JSON reply) through the same test client "
        f"takes {floor * 1e6:.0f} us"
    )

    profiler = cProfile.Profile()
    profiler.enable()
    pwall = run()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    out.append(f"\n   reads, top {top} by own (total) time under cProfile:")
    for line in top_table(stats, "tottime", top, pwall):
        out.append(line)
    return {
        "requests_per_s_one_process": round(count / wall, 1),
        "us_per_request": round(wall / count * 1e6),
    }


# -- main -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--bundles", type=int, default=20, help="bundles per pass (default 20)")
    parser.add_argument("--top", type=int, default=25, help="rows per table (default 25)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save", type=Path, help="also write the raw cProfile data here")
    parser.add_argument(
        "--reads", type=int, default=2000, help="then profile N single-resource GETs (0: skip)"
    )
    args = parser.parse_args(argv)

    print(f"code under test: {describe_source()}")
    n = args.bundles
    payloads = [serialize(make_bundle(i, args.seed)) for i in range(1 + 2 * n)]
    warmup, timed_pass, profiled_pass = payloads[0:1], payloads[1 : 1 + n], payloads[1 + n :]
    resources = n * RESOURCES_PER_BUNDLE

    with database(args.db) as url:
        app, client = make_client(url)
        try:
            post_all(client, warmup)

            wait_quiet()
            timers = StageTimers()
            with timers.installed():
                wall = post_all(client, timed_pass)
            print(
                f"== pass 1, stage timers, no profiler: {n} bundles ({resources} resources) "
                f"into {args.db} in {wall:.2f} s = {resources / wall:,.0f} resources/s "
                f"in one process, one thread"
            )
            for line in breakdown(timers.seconds, wall, resources):
                print(line)
            if timers.missing:
                print(f"  (not found, so not timed: {', '.join(timers.missing)})")

            wait_quiet()
            profiler = cProfile.Profile()
            profiler.enable()
            pwall = post_all(client, profiled_pass)
            profiler.disable()
            read_lines: list[str] = []
            read_figures = profile_reads(client, args.reads, 15, read_lines) if args.reads else {}
        finally:
            app.extensions["accord"].store.engine.dispose()

    stats = pstats.Stats(profiler, stream=io.StringIO())
    if args.save:
        stats.dump_stats(args.save)
    print(
        f"\n== pass 2, cProfile: {n} other bundles in {pwall:.2f} s under the profiler "
        f"({pwall / wall:.1f}x the unprofiled time)"
    )
    print("   stages as the profile sees them:")
    for line in breakdown(profile_stages(stats), pwall, resources):
        print(line)
    print(f"\n   top {args.top} by cumulative time:")
    for line in top_table(stats, "cumulative", args.top, pwall):
        print(line)
    print(f"\n   top {args.top} by own (total) time:")
    for line in top_table(stats, "tottime", args.top, pwall):
        print(line)

    for line in read_lines:
        print(line)

    shares = dict(timers.seconds)
    shares["sql_versions"] = shares.get("sql_versions", 0.0) - shares.get("sql_index", 0.0)
    print_result(
        f"profile_load.{args.db}",
        bundles=n,
        resources_per_s_one_process=round(resources / wall, 1),
        us_per_resource=round(wall / resources * 1e6),
        share={k: round(shares.get(k, 0.0) / wall, 3) for k, _ in STAGES},
        reads=read_figures,
        source=describe_source(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
