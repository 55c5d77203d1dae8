"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from ledger.storage import metadata as ledger_metadata
from records.storage import make_engine, upgrade_schema
from records.storage.engine import MIGRATIONS
from records.storage.schema import metadata


def test_migrations_match_the_declared_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade_schema(engine)
    upgrade_schema(engine)  # idempotent: a second upgrade is a no-op
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), [metadata, ledger_metadata])
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert diff == []
    assert {"resource_version", "idx_token", "idx_date", "alembic_version"} <= tables


def test_downgrade_removes_everything(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade_schema(engine)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def _rows(engine: Any, table: str, param: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(f"SELECT * FROM {table} WHERE param = :p ORDER BY 1, 4, 5"), {"p": param}
            )
        ]


def _migrate(engine: Any, to: str, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, to)


def test_derived_parameter_rows_are_deleted_and_rebuilt_by_downgrade(app: Any, client: Any) -> None:
    """0006 drops the rows derived parameters repeat; its downgrade rebuilds exactly
    the rows the earlier extraction wrote (a 'patient' row per Patient subject, a
    'combo-code' row per code and component code)."""
    loinc = "http://loinc.org"
    panel = {
        "resourceType": "Observation",
        "id": "bp",
        "status": "final",
        "code": {"coding": [{"system": loinc, "code": "85354-9"}]},
        "subject": {"reference": "Patient/p1"},
        "component": [
            {"code": {"coding": [{"system": loinc, "code": c}]}, "valueQuantity": {"value": v}}
            for c, v in (("8480-6", 120), ("8462-4", 80))
        ],
    }
    group = {**panel, "id": "g", "subject": {"reference": "Group/p1"}, "component": []}
    for resource in (panel, group):
        r = client.put(f"/fhir/Observation/{resource['id']}", json=resource)
        assert r.status_code == 201, r.get_json()
    engine = app.extensions["accord"].store.engine
    assert _rows(engine, "idx_reference", "patient") == []
    assert _rows(engine, "idx_token", "combo-code") == []
    subject = _rows(engine, "idx_reference", "subject")

    _migrate(engine, "0005", down=True)
    patient = _rows(engine, "idx_reference", "patient")
    assert len(subject) == 2  # Patient/p1 and Group/p1
    assert patient == [
        (s[0], "Observation", "patient", "Patient", "p1") for s in subject if s[3] == "Patient"
    ]
    assert [r[-1] for r in _rows(engine, "idx_token", "combo-code")] == [
        "8462-4",
        "8480-6",
        "85354-9",
        "85354-9",
    ]

    _migrate(engine, "head")
    assert _rows(engine, "idx_reference", "patient") == []
    assert _rows(engine, "idx_token", "combo-code") == []
    bundle = client.get("/fhir/Observation?patient=p1&combo-code=8480-6").get_json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["bp"]
