"""Claims (SQLStore.claim): one holder at a time across threads and processes, and a
claim dies with the process that held it, so a killed worker never blocks a feed."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from records.storage import SQLStore, make_engine

ROOT = Path(__file__).resolve().parents[2]

# A second process: claims each key named on the command line, says which it got,
# then holds them until its standard input closes.
HOLDER = """
import sys
from records.storage import SQLStore, make_engine
store = SQLStore(make_engine(sys.argv[1]))
with store.claims() as claims:
    got = [k for k in sys.argv[2:] if claims.take(k)]
    print(" ".join(got) or "-", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def store(database_url: str) -> Iterator[SQLStore]:
    s = SQLStore(make_engine(database_url))
    yield s
    s.engine.dispose()


def _holder(url: str, *keys: str) -> tuple[subprocess.Popen[str], set[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, *keys],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    return proc, set(line) - {"-"}


def test_a_claim_holds_off_other_processes_until_released(
    store: SQLStore, database_url: str
) -> None:
    with store.claims() as claims:
        assert claims.take("inbox:a")
        proc, got = _holder(database_url, "inbox:a", "inbox:b")
        assert got == {"inbox:b"}  # another key is free
        proc.communicate("")
        claims.release("inbox:a")
        proc, got = _holder(database_url, "inbox:a")
        proc.communicate("")
        assert got == {"inbox:a"}


def test_a_claim_dies_with_its_process(store: SQLStore, database_url: str) -> None:
    proc, got = _holder(database_url, "inbox:a")
    assert got == {"inbox:a"}
    with store.claims() as claims:
        assert not claims.take("inbox:a")
        proc.kill()
        proc.wait()
        for _ in range(100):  # the server notices the dropped connection
            if claims.take("inbox:a"):
                return
            time.sleep(0.05)
    raise AssertionError("the claim outlived the process that held it")


def test_a_workers_claims_share_one_connection(database_url: str) -> None:
    """A worker holds a claim per source it drains: on connections of their own, twenty
    sources would take twenty of the pool's connections."""
    store = SQLStore(make_engine(database_url, pool_size=2, max_overflow=0, pool_timeout=2))
    with store.claims() as claims:
        assert all(claims.take(f"inbox:source-{n}") for n in range(20))
        # the pool still has a connection to give (else TimeoutError after 2 s)
        with store.read() as tx:
            assert tx.conn.execute(text("select 1")).scalar_one() == 1
    store.engine.dispose()


def test_threads_take_turns_and_waiting_takes_the_claim_in_turn(store: SQLStore) -> None:
    _threads_take_turns(store)


def test_an_in_memory_database_claims_within_its_process() -> None:
    store = SQLStore(make_engine("sqlite://"))
    _threads_take_turns(store)
    store.engine.dispose()


def _threads_take_turns(store: SQLStore) -> None:
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.claims() as claims:
            assert claims.take("inbox:a")
            holding.set()
            assert release.wait(30)
            order.append("first let go")

    first = threading.Thread(target=hold)
    first.start()
    assert holding.wait(30)
    with store.claims() as claims:
        assert not claims.take("inbox:a")
    waited: list[bool] = []

    def wait() -> None:
        with store.claims() as claims:
            waited.append(claims.take("inbox:a", wait=True))
            order.append("second took it")

    second = threading.Thread(target=wait)
    second.start()
    time.sleep(0.2)
    assert not waited  # still waiting
    release.set()
    first.join(30)
    second.join(30)
    assert waited == [True]
    assert order == ["first let go", "second took it"]
    with store.claims() as claims:
        assert claims.take("inbox:a")
