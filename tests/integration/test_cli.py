"""The ``accord`` command line, run as a user would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from click.testing import CliRunner

from gateway.cli import DEMO_DATA, main

BIN = Path(sys.executable).parent


def run(database_url: str, *args: str) -> Any:
    key = Path(tempfile.gettempdir()) / f"accord-test-{os.getpid()}.key"
    env = {"DATABASE_URL": database_url, "REDIS_URL": "", "ACCORD_LEDGER_KEY_FILE": str(key)}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_db_upgrade(database_url: str) -> None:
    result = run(database_url, "db", "upgrade")
    assert result.exit_code == 0
    assert "up to date" in result.output


def test_load_ndjson_and_bundles_with_summary(
    database_url: str, tmp_path: Path, r4_examples: Path
) -> None:
    ndjson = tmp_path / "patients.ndjson"
    lines = [
        orjson.dumps(
            {
                "resourceType": "Patient",
                "id": f"nd-{n}",
                "gender": "female",
                "birthDate": f"{1900 + n % 100}",
            }
        )
        for n in range(250)
    ]
    ndjson.write_bytes(b"\n".join(lines) + b"\n")
    bundle = DEMO_DATA / "maria-garcia.json"
    result = run(database_url, "load", str(ndjson), str(bundle))
    assert result.exit_code == 0, result.output
    assert "261 resources" in result.output
    assert "261 created" in result.output
    again = run(database_url, "load", str(ndjson))
    assert "0 created, 250 updated or unchanged" in again.output


def test_load_reports_the_failing_line_and_keeps_the_rest(
    database_url: str, tmp_path: Path
) -> None:
    ndjson = tmp_path / "mixed.ndjson"
    ndjson.write_bytes(
        b'{"resourceType": "Patient", "id": "ok-1"}\n'
        b'{"resourceType": "Patient", "id": "bad", "gender": "M"}\n'
        b'{"resourceType": "Patient", "id": "ok-2"}\n'
    )
    result = run(database_url, "load", str(ndjson))
    assert result.exit_code == 1
    assert "2 created" in result.output and "1 failed" in result.output
    assert "mixed.ndjson:2" in result.output
    assert "Patient.gender" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(database_url: str, *args: str) -> Iterator[str]:
    """`accord ARGS --port P` as a user starts it; yields its FHIR base once it answers."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        # one key per database, as a deployment keeps its key across restarts
        "ACCORD_LEDGER_KEY_FILE": str(
            Path(database_url.removeprefix("sqlite:///")).with_suffix(".key")
        ),
    }
    proc = subprocess.Popen(
        [str(BIN / "accord"), *args, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/fhir"
    try:
        for _ in range(150):
            try:
                if requests.get(f"{url}/metadata", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail(f"accord {args[0]} did not answer")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_runs_gunicorn_and_answers(database_url: str) -> None:
    with running(database_url, "serve", "--workers", "2") as url:
        body = {"resourceType": "Patient", "id": "served", "gender": "other"}
        r = requests.put(
            f"{url}/Patient/served",
            json=body,
            headers={"Content-Type": "application/fhir+json"},
            timeout=5,
        )
        assert r.status_code == 201
        assert requests.get(f"{url}/Patient/served", timeout=5).json()["gender"] == "other"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_demo_loads_the_demo_patient_once_and_serves(database_url: str) -> None:
    for attempt in range(2):  # a second start must not duplicate the demo data
        with running(database_url, "demo") as url:
            patient = requests.get(f"{url}/Patient?family=garcia", timeout=5).json()
            assert patient["total"] == 1, attempt
            assert patient["entry"][0]["resource"]["id"] == "demo-maria"
            everything = requests.get(f"{url}/Observation?patient=demo-maria", timeout=5).json()
            assert everything["total"] == 3
            version = requests.get(f"{url}/Patient/demo-maria", timeout=5).headers["ETag"]
            assert version == 'W/"1"'


def test_loaded_resources_are_anchored(app_config: dict[str, Any], tmp_path: Path) -> None:
    ndjson = tmp_path / "p.ndjson"
    ndjson.write_bytes(
        b'{"resourceType": "Patient", "id": "l1"}\n{"resourceType": "Patient", "id": "l2"}\n'
    )
    env = {
        "DATABASE_URL": app_config["database_url"],
        "REDIS_URL": "",
        "ACCORD_LEDGER_KEY_FILE": app_config["ledger_key_file"],
    }
    assert CliRunner().invoke(main, ["load", str(ndjson)], env=env).exit_code == 0
    result = CliRunner().invoke(main, ["verify", "--strict"], env=env)
    assert result.exit_code == 0, result.output
    assert "2 versions, 2 leaves" in result.output


def test_ledger_key_prints_a_usable_signing_key() -> None:
    from ledger import load_signer

    result = CliRunner().invoke(
        main, ["ledger-key"], env={"ACCORD_LEDGER_ORIGIN": "example.org/log"}
    )
    assert result.exit_code == 0
    signer = load_signer(result.stdout.strip().splitlines()[0])
    assert signer.name == "example.org/log"


def test_source_add_issues_a_token_once(app_config: dict[str, Any]) -> None:
    env = {
        "DATABASE_URL": app_config["database_url"],
        "REDIS_URL": "",
        "ACCORD_LEDGER_KEY_FILE": app_config["ledger_key_file"],
    }
    first = CliRunner().invoke(main, ["source", "add", "st-mary"], env=env)
    assert first.exit_code == 0 and len(first.stdout.strip()) >= 40
    again = CliRunner().invoke(main, ["source", "add", "st-mary"], env=env)
    assert again.exit_code != 0 and "exists" in again.output
    assert CliRunner().invoke(main, ["source", "add", "bad name!"], env=env).exit_code != 0
