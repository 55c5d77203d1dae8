"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from ledger.storage import metadata as ledger_metadata
from records.storage import make_engine, upgrade_schema
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
    from alembic import command
    from alembic.config import Config

    from records.storage.engine import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    engine.dispose()
