"""Claims: keys one worker holds against every other process and thread.

For work that must not run twice at once (a feed's inbox, which one worker
drains in order). A claim outlives transactions and ends with the process
that holds it, so a killed worker never blocks a feed: on PostgreSQL a
session advisory lock, all of a worker's on one connection of their own (a
claim per source on a pooled connection each would empty the pool); on
SQLite an exclusive ``flock`` on a file per key beside the database, or for
an in-memory database a lock of this process.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from contextlib import suppress
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

__all__ = ["Claims", "advisory_lock_id"]

_LOCAL: dict[tuple[str, str], threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


def _local_lock(database: str, key: str) -> threading.Lock:
    """This process's lock for a claim: all there is of it for an in-memory database
    (no file to lock, no other process), a quick refusal for a second thread otherwise."""
    with _LOCAL_GUARD:
        return _LOCAL.setdefault((database, key), threading.Lock())


def advisory_lock_id(key: str) -> int:
    """The PostgreSQL advisory lock number of a key (transaction locks and claims alike)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class Claims:
    """The keys one worker holds; all let go by :meth:`close` (``SQLStore.claims``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"
        self.conn: Connection | None = None  # PostgreSQL: the session holding the locks
        self.held: dict[str, int | None] = {}  # key -> its file descriptor (SQLite file)

    def take(self, key: str, wait: bool = False) -> bool:
        """Hold ``key``. Without ``wait``, False at once if anyone else holds it; with
        it, wait for it. Taking a key held already is a no-op."""
        if key in self.held:
            return True
        if self.postgresql:
            taken = self._advisory(key, wait)
            if taken:
                self.held[key] = None
            return taken
        lock = _local_lock(str(self.engine.url), key)
        if not lock.acquire(blocking=wait):
            return False
        database = self.engine.url.database
        if not database or database == ":memory:":
            self.held[key] = None
            return True
        folder = Path(f"{database}.claims")
        folder.mkdir(exist_ok=True)
        fd = os.open(folder / hashlib.sha256(key.encode()).hexdigest()[:32], os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            lock.release()
            return False
        self.held[key] = fd
        return True

    def release(self, key: str) -> None:
        """Let go of ``key`` (if held)."""
        if key not in self.held:
            return
        fd = self.held.pop(key)
        if self.postgresql:
            if self.conn is not None:
                # if the connection is gone, so are its session's locks
                with suppress(DBAPIError):
                    self.conn.execute(
                        text("SELECT pg_advisory_unlock(:k)"),
                        {"k": advisory_lock_id(f"claim/{key}")},
                    )
            return
        if fd is not None:
            os.close(fd)  # the kernel drops the flock with the file
        _local_lock(str(self.engine.url), key).release()

    def close(self) -> None:
        for key in list(self.held):
            self.release(key)
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _advisory(self, key: str, wait: bool) -> bool:
        if self.conn is None:
            self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        k = {"k": advisory_lock_id(f"claim/{key}")}
        if wait:
            self.conn.execute(text("SELECT pg_advisory_lock(:k)"), k)
            return True
        return bool(self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), k).scalar_one())
