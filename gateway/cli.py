"""The ``accord`` command line: serve, worker, demo, load, db upgrade."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import click

__all__ = ["main"]

DEMO_DATA = Path(__file__).resolve().parent / "demo"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Accord, a FHIR R4 interoperability gateway. Configured by environment variables."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--workers",
    default=lambda: int(os.environ.get("WEB_CONCURRENCY", "2")),
    show_default="2",
    type=int,
)
def serve(host: str, port: int, workers: int) -> None:
    """Run the gateway under gunicorn."""
    _upgrade()
    _gunicorn(host, port, workers)


@main.command()
@click.option("--concurrency", default=2, show_default=True, type=int)
@click.option(
    "--pool",
    default="prefork",
    show_default=True,
    type=click.Choice(["prefork", "solo", "threads"]),
)
@click.option(
    "--beat", is_flag=True, help="also run the beat schedule (the anchoring and ingest sweeps)"
)
def worker(concurrency: int, pool: str, beat: bool) -> None:
    """Run a Celery worker on the broker at REDIS_URL (conversion, anchoring, sweeps)."""
    from records.settings import Settings
    from workers.app import make_celery

    settings = Settings()
    if not settings.redis_url:
        raise click.UsageError(
            "REDIS_URL is not set: without a broker, tasks run inside the gateway"
        )
    app = make_celery(settings.redis_url)
    argv = ["worker", "--loglevel=INFO", f"--concurrency={concurrency}", f"--pool={pool}"]
    app.worker_main([*argv, "--beat"] if beat else argv)


@main.command("ledger-key")
def ledger_key() -> None:
    """Print a new checkpoint signing key (for ACCORD_LEDGER_KEY); keep it secret and keep it."""
    from ledger.checkpoint import generate_signer
    from records.settings import Settings

    signer = generate_signer(Settings().ledger_origin)
    click.echo(signer.private_key())
    click.echo(f"verifier key: {signer.verifier_key()}", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def demo(host: str, port: int) -> None:
    """Load the demo data set (once) and serve the gateway on embedded defaults."""
    from gateway.app import create_app

    app = create_app()
    loaded = _load_files(app, sorted(DEMO_DATA.glob("*.json")), quiet=True)
    click.echo(f"demo data: {loaded['created']} created, {loaded['updated']} already there")
    click.echo(f"Accord is serving FHIR R4 at http://{host}:{port}/fhir  (Ctrl-C stops it)")
    _gunicorn(host, port, 1)


@main.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--batch", default=100, show_default=True, help="resources per transaction (NDJSON)")
def load(files: tuple[Path, ...], batch: int) -> None:
    """Bulk-load FHIR Bundles (.json) or NDJSON files (.ndjson) into the store."""
    from gateway.app import create_app

    app = create_app()
    started = time.perf_counter()
    summary = _load_files(app, list(files), batch=batch)
    elapsed = time.perf_counter() - started
    total = summary["created"] + summary["updated"]
    click.echo(
        f"{total} resources in {elapsed:.1f} s ({total / elapsed if elapsed else 0:.0f}/s): "
        f"{summary['created']} created, {summary['updated']} updated or unchanged, "
        f"{summary['failed']} failed"
    )
    for line in summary["errors"][:20]:
        click.echo(f"  {line}", err=True)
    if summary["failed"]:
        sys.exit(1)


@main.command()
@click.option(
    "--since",
    "since_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a checkpoint saved earlier (GET /ledger/checkpoint): the log must extend it",
)
@click.option(
    "--save",
    "save_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write the latest signed checkpoint here, for a later --since",
)
@click.option(
    "--key", "verifier_key", help="verifier key (GET /ledger/key); default: this log's own key"
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write the full report as JSON ('-' for standard output)",
)
@click.option(
    "--strict", is_flag=True, help="also fail while versions are still waiting to be anchored"
)
def verify(
    since_file: Path | None,
    save_file: Path | None,
    verifier_key: str | None,
    json_file: Path | None,
    strict: bool,
) -> None:
    """Re-hash every stored version and check it, and the ledger, against signed checkpoints.

    Exit status 1 if anything was altered, is missing or forged, or the tree
    does not match its signed checkpoints.
    """
    import orjson

    from ledger.checkpoint import load_verifier, verify_note
    from records.audit import audit_ledger
    from records.settings import Settings
    from records.storage import SQLStore, make_engine
    from records.storage.audit_sql import row_counts
    from workers.runtime import load_or_create_signer

    settings = Settings()
    store = SQLStore(make_engine(settings.database_url))
    verifier = load_verifier(verifier_key or load_or_create_signer(settings).verifier_key())
    since = verify_note(since_file.read_text(), verifier) if since_file else None
    with store.read() as tx:
        total = row_counts(tx.conn)
    started = time.perf_counter()
    with click.progressbar(length=total, label="verifying", file=sys.stderr) as bar:
        report = audit_ledger(store, verifier, since=since, progress=bar.update)
    elapsed = time.perf_counter() - started
    for check in report.tree:
        click.echo(f"{'ok' if check.ok else 'FAIL':>10}  ledger: {check.name}: {check.detail}")
    for f in report.findings:
        line = f"{f.status.upper():>10}  {f.resource}: {f.detail}"
        if f.last_genuine_at:
            line += (
                f"; last genuine version written by {f.last_genuine_source} at {f.last_genuine_at};"
                f" changed between {f.window_start} and {f.window_end}"
            )
        click.echo(line)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts.items()))
    rate = report.versions / elapsed if elapsed else 0
    click.echo(
        f"{report.versions} versions, {report.leaves} leaves in {elapsed:.1f} s ({rate:.0f} versions/s): {counts}"
    )
    if json_file:
        data = orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2)
        if str(json_file) == "-":
            click.echo(data.decode())
        else:
            json_file.write_bytes(data)
    if save_file and report.checkpoint:
        save_file.write_text(report.checkpoint["note"])
    pending = report.counts.get("unanchored", 0)
    if report.tampered or (strict and pending):
        sys.exit(1)


@main.group()
def source() -> None:
    """Feed sources: each authenticates as itself."""


@source.command("add")
@click.argument("name")
def source_add(name: str) -> None:
    """Register a feed source and print its bearer token (shown once, stored hashed)."""
    import re
    import secrets

    from gateway.app import create_app
    from records import ingest

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise click.BadParameter("1-64 of letters, digits, . _ -", param_hint="NAME")
    app = create_app()
    token = secrets.token_urlsafe(32)
    if not ingest.add_source(app.extensions["accord"].store, name, token):
        raise click.ClickException(f"a source named {name!r} exists already")
    click.echo(token)


@main.command()
@click.option(
    "--source", "source_name", required=True, help="the registered source this port serves"
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2575, show_default=True, type=int)
def mllp(source_name: str, host: str, port: int) -> None:
    """Listen for HL7 v2 over MLLP; ACK only after each message is stored."""
    from gateway.app import create_app
    from gateway.mllp import MLLPServer

    app = create_app()
    server = MLLPServer((host, port), app.extensions["accord"], source_name)
    click.echo(f"MLLP listener for {source_name!r} on {host}:{port}")
    try:
        server.serve_forever()
    finally:
        server.server_close()


@main.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations to DATABASE_URL."""
    _upgrade()
    click.echo("database schema is up to date")


def _upgrade() -> None:
    from records.settings import Settings
    from records.storage import make_engine, upgrade_schema

    engine = make_engine(Settings().database_url)
    upgrade_schema(engine)
    engine.dispose()


def _gunicorn(host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    from gateway.app import create_app

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", os.environ.get("ACCORD_ACCESS_LOG") or None)

        def load(self) -> Any:
            os.environ["ACCORD_AUTO_MIGRATE"] = "0"
            return create_app()

    _Server().run()


def _load_files(
    app: Any, files: list[Path], batch: int = 100, quiet: bool = False
) -> dict[str, Any]:
    from gateway.loader import load_paths

    with app.app_context():
        summary = load_paths(app.extensions["accord"], files, batch=batch, quiet=quiet)
        app.extensions["accord"].anchoring.flush()  # what was loaded gets anchored too
        return summary
