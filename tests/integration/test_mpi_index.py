"""The patient index on real SQLite and PostgreSQL: index, re-index, remove, find matches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from records.mpi import DEFAULT_THRESHOLDS, Demographics, Thresholds, blocking_keys, demographics
from records.mpi.matcher import MAX_CANDIDATES, find_matches, index_patient, remove_patient
from records.storage import StoreTransaction, make_engine, upgrade_schema
from records.storage.schema import mpi_block, mpi_entry

EXAMPLES = ["example", "mom", "genetics-example1", "infant-twin-1", "infant-twin-2",
            "infant-mom", "xcda", "glossy", "xds", "pat3", "pat4", "f001", "f201"]  # fmt: skip


@pytest.fixture
def tx(database_url: str) -> Iterator[StoreTransaction]:
    engine = make_engine(database_url)
    upgrade_schema(engine)
    with engine.connect().execution_options(accord_write=True) as conn, conn.begin():
        yield StoreTransaction(conn)
    engine.dispose()


def keys_of(conn: Connection, patient_id: str) -> set[str]:
    rows = conn.execute(select(mpi_block.c.key).where(mpi_block.c.patient_id == patient_id))
    return {r[0] for r in rows}


def load(r4_examples: Path, name: str) -> Demographics:
    return demographics(json.loads((r4_examples / f"Patient-{name}.json").read_text()))


def test_official_examples_find_the_right_matches(tx: StoreTransaction, r4_examples: Path) -> None:
    for name in EXAMPLES:
        index_patient(tx, name, load(r4_examples, name))

    def matches(name: str) -> dict[str, str]:
        found = find_matches(tx, name, load(r4_examples, name), DEFAULT_THRESHOLDS)
        return {m.other_id: m.decision for m in found}

    # same SSN, same person: linked deterministically
    assert matches("mom") == {"genetics-example1": "link"}
    (mom,) = find_matches(tx, "mom", load(r4_examples, "mom"), DEFAULT_THRESHOLDS)
    assert mom.comparison.identifier
    # Henry Levin in two hospitals, born 1932-09-24: name, birth date and sex agree
    assert matches("xcda") == {"glossy": "link"}
    # twins: one surname, one birthday, different names and sexes: a person looks
    assert matches("infant-twin-1") == {"infant-twin-2": "review"}
    # Simon and Sandy Notsowell, born months apart: separate
    assert matches("pat3") == {}
    # nobody else is Peter Chalmers; nothing matches itself
    assert matches("example") == {}


def test_find_matches_excludes_itself_and_puts_links_first(tx: StoreTransaction) -> None:
    base = Demographics(
        family=("garcia",), given=("maria",), birth_date="1975-04-09", sex="female",
        postcode="78701", address="5 elm st austin", phone=("125550143",),
    )  # fmt: skip
    index_patient(tx, "a", base)
    index_patient(tx, "twin", replace(base, given=("ana",)))
    index_patient(tx, "moved", replace(base, postcode="10001", address="9 oak st ny", phone=()))
    index_patient(tx, "stranger", replace(base, family=("lee",), given=("kim",), phone=()))
    found = find_matches(tx, "a", base, DEFAULT_THRESHOLDS)
    assert [(m.other_id, m.decision) for m in found] == [("moved", "link"), ("twin", "review")]
    assert found[1].comparison.caution == "first given names differ"


def test_reindexing_replaces_features_and_keys(tx: StoreTransaction) -> None:
    before = Demographics(family=("smith",), given=("john",), birth_date="1980-01-02")
    after = Demographics(family=("jones",), given=("mary",), birth_date="1990-03-04")
    index_patient(tx, "p1", before)
    assert keys_of(tx.conn, "p1") == set(blocking_keys(before))
    index_patient(tx, "p1", after)
    assert keys_of(tx.conn, "p1") == set(blocking_keys(after))
    stored = tx.conn.execute(select(mpi_entry.c.features).where(mpi_entry.c.patient_id == "p1"))
    assert Demographics.from_json(stored.scalar_one()) == after
    assert find_matches(tx, "new", before, DEFAULT_THRESHOLDS) == []
    assert [m.other_id for m in find_matches(tx, "new", after, DEFAULT_THRESHOLDS)] == ["p1"]


def test_remove_deletes_the_entry_and_its_keys(tx: StoreTransaction) -> None:
    d = Demographics(family=("smith",), given=("john",), birth_date="1980-01-02")
    index_patient(tx, "p1", d)
    index_patient(tx, "p2", d)
    remove_patient(tx, "p1")
    assert keys_of(tx.conn, "p1") == set()
    assert tx.conn.execute(select(func.count()).select_from(mpi_entry)).scalar_one() == 1
    assert [m.other_id for m in find_matches(tx, "new", d, DEFAULT_THRESHOLDS)] == ["p2"]
    remove_patient(tx, "never-indexed")  # no error


def test_candidates_are_capped(tx: StoreTransaction) -> None:
    d = Demographics(family=("smith",), given=("john",), birth_date="1980-01-02", sex="male")
    for n in range(MAX_CANDIDATES + 30):
        index_patient(tx, f"p{n:03d}", d)
    everyone = Thresholds(link=1000.0, review=-1000.0)
    assert len(find_matches(tx, "new", d, everyone)) == MAX_CANDIDATES
