"""SQL storage of resource versions and their search index (SQLAlchemy Core).

The only part of the record core that knows SQL. SQLite (WAL) is the embedded
default; PostgreSQL (psycopg 3) is production.
"""

from sqlalchemy.exc import OperationalError as DatabaseUnavailable

from records.storage.claims import Claims
from records.storage.engine import make_engine, upgrade_schema
from records.storage.store import SQLStore, StoredVersion, StoreTransaction

__all__ = [
    "Claims",
    "DatabaseUnavailable",
    "SQLStore",
    "StoreTransaction",
    "StoredVersion",
    "make_engine",
    "upgrade_schema",
]
