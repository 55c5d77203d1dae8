"""Shared fixtures: real SQLite and PostgreSQL databases, the app, a live server.

PostgreSQL tests need the server at ``ACCORD_TEST_PG`` (default
127.0.0.1:5432, database ``test``); when it is unreachable they fail, they
never skip: ``make test`` starts it first.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from werkzeug.serving import make_server

from gateway import create_app

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("ACCORD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def testdata_dir() -> Path:
    path = Path(os.environ.get("ACCORD_TESTDATA", ROOT / ".cache" / "testdata"))
    if not (path / ".done").exists():
        pytest.fail(f"test data missing at {path}: run `make testdata`")
    return path


@pytest.fixture(scope="session")
def r4_examples() -> Path:
    return testdata_dir() / "r4-examples" / "package"


@pytest.fixture(scope="session")
def r4_schema() -> dict[str, Any]:
    import orjson

    path = testdata_dir() / "json-schema" / "package" / "fhir.schema.json"
    schema: dict[str, Any] = orjson.loads(path.read_bytes())
    return schema


@pytest.fixture(scope="session")
def fhir_valid(r4_schema: dict[str, Any]) -> Any:
    """A check that a resource is valid FHIR: fhir.resources R4B and the official R4 schema."""
    import jsonschema
    from fhir.resources.R4B import get_fhir_model_class

    validators: dict[str, jsonschema.Draft6Validator] = {}

    def check(resource: dict[str, Any]) -> None:
        kind = resource["resourceType"]
        get_fhir_model_class(kind).model_validate(resource)
        if kind not in validators:
            schema = {"definitions": r4_schema["definitions"], "$ref": f"#/definitions/{kind}"}
            validators[kind] = jsonschema.Draft6Validator(schema)
        errors = [e.message for e in validators[kind].iter_errors(resource)]
        assert not errors, (kind, resource["id"], errors[:3])

    return check


def _postgres_database() -> Iterator[str]:
    name = f"accord_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            + f"/{name}"
        )
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, for tests that need several processes on one database."""
    yield from _postgres_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'accord.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """Embedded defaults on a fresh database, with a fresh ledger key."""
    return {
        "database_url": database_url,
        "redis_url": "",
        "ledger_key_file": str(tmp_path / "ledger.key"),
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Any]:
    application = create_app(app_config)
    application.config["TESTING"] = True
    yield application
    application.extensions["accord"].store.engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The app on a real socket (threaded), for external clients and concurrency."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
