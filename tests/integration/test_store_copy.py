"""Large writes COPY their rows on PostgreSQL: whatever the values hold, they must
store exactly the rows that small writes store through INSERT."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from records.search.extract import IndexEntries
from records.storage import SQLStore, make_engine, upgrade_schema
from records.storage.schema import INDEX_TABLES
from records.storage.store import NewVersion

# Values the COPY text format gives a meaning to, and some it does not.
TRICKY = [
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "crlf\r\n",
    "back\\slash",
    "\\N",
    "\\.",
    "\\",
    "ends with \\",
    "\\t, not a tab",
    "\\x41",
]
CLEAN = [
    "plain",
    "ünïcödé ✓ 𝄞 中文",
    "",
    " spaced ",
    "None",
    "NULL",
    "N",
    "'quoted\"",
    "a,b;c|d",
    "x" * 26,
]
# ints stand where floats may: binary COPY sends float(n), the text float8 input rounds alike
NUMBERS: list[float] = [
    0.1,
    1e-300,
    -0.0,
    0.0,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1e20,
    1 / 3,
    50.0,
    2**60 + 1,
    10**30,
]
LARGE = 61  # above the store's limit for INSERTs (50 versions)


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


def _versions(prefix: str, texts: list[str]) -> list[NewVersion]:
    def value(i: int, j: int) -> str:
        return texts[(7 * i + j) % len(texts)]

    out = []
    for i in range(LARGE):
        number = NUMBERS[i % len(NUMBERS)]
        index = IndexEntries(
            tokens=[("code", value(i, 0), value(i, 1)), ("status", None, value(i, 2))],
            strings=[("name", value(i, 3))],
            dates=[("date", value(i, 4), value(i, 5))],
            references=[("subject", "Patient", value(i, 6)), ("url", "", value(i, 7))],
            numbers=[("probability", number)],
            quantities=[
                ("value-quantity", number, value(i, 8), value(i, 9)),
                ("component", -number, None, value(i, 10)),
                ("dose", NUMBERS[(i + 1) % len(NUMBERS)], value(i, 11), None),
                ("bare", 1.5, None, None),
            ],
            uris=[("url", value(i, 12))],
        )
        out.append(
            NewVersion(
                resource_type="Observation",
                resource_id=f"{prefix}{i}",
                version_id=1,
                last_updated="2024-05-01T12:00:00.000001",
                method="create",
                data=bytes(range(256)) + value(i, 13).encode(),
                index=index,
                previous_seq=None,
                source=value(i, 14) if i % 3 else None,
                entry=bytes([i]) + bytes(range(256)),
                facts=[value(i, 15), value(i, 16)],
            )
        )
    return out


def _comparable(value: Any) -> Any:
    """Floats by their bits (-0.0 is not 0.0), ints standing for floats as floats."""
    return float(value).hex() if isinstance(value, float) else value


def _expected(versions: list[NewVersion]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the versions should leave, keyed by position instead of seq."""
    out: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _tables()}
    for i, v in enumerate(versions):
        assert v.index is not None and v.data is not None and v.entry is not None
        t, ix = v.resource_type, v.index
        out["resource_version"].append(
            (i, t, v.version_id, v.last_updated, v.method, False, v.data, v.source)
        )
        out["ledger_outbox"].append((i, v.entry))
        out["fact_key"] += [(i, key) for key in v.facts or ()]
        out["idx_token"] += [(i, t, *row) for row in ix.tokens]
        out["idx_string"] += [(i, t, *row) for row in ix.strings]
        out["idx_date"] += [(i, t, *row) for row in ix.dates]
        out["idx_reference"] += [(i, t, *row) for row in ix.references]
        out["idx_number"] += [(i, t, p, float(n)) for p, n in ix.numbers]
        out["idx_quantity"] += [(i, t, p, float(n), s, c) for p, n, s, c in ix.quantities]
        out["idx_uri"] += [(i, t, *row) for row in ix.uris]
    return {name: sorted(map(_row, rows), key=repr) for name, rows in out.items()}


def _row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_comparable(v) for v in row)


def _tables() -> dict[str, str]:
    """Each table's columns after seq, and how its rows join resource_version."""
    tables = {
        "resource_version": "SELECT rv.resource_id, rv.resource_type, rv.version_id,"
        " rv.last_updated, rv.method, rv.deleted, rv.data, rv.source FROM resource_version rv",
        "ledger_outbox": "SELECT rv.resource_id, x.entry FROM ledger_outbox x"
        " JOIN resource_version rv ON rv.seq = x.version_seq",
        "fact_key": "SELECT rv.resource_id, x.key FROM fact_key x"
        " JOIN resource_version rv ON rv.seq = x.seq",
    }
    for table in INDEX_TABLES.values():
        columns = ", ".join(f"x.{c.name}" for c in table.columns if c.name != "seq")
        tables[table.name] = (
            f"SELECT rv.resource_id, {columns} FROM {table.name} x"
            " JOIN resource_version rv ON rv.seq = x.seq"
        )
    return tables


def _stored(engine: Engine, prefix: str) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with engine.connect() as conn:
        for name, sql in _tables().items():
            rows = conn.execute(text(f"{sql} WHERE rv.resource_id LIKE :p"), {"p": f"{prefix}%"})
            out[name] = sorted(
                (_row((int(rid.removeprefix(prefix)), *rest)) for rid, *rest in rows), key=repr
            )
    return out


def _with_odd_values(versions: list[NewVersion]) -> list[NewVersion]:
    """Clean values but one per kind: a literal \\N where NULLs are written, a newline,
    a tab, a carriage return; strings and numbers stay clean."""
    ix = versions[37].index
    assert ix is not None
    ix.tokens[1] = ("status", "\\N", "final")
    ix.quantities[3] = ("bare", 1.5, None, "\\N")
    ix.dates[0] = ("date", "2024", "2024\n")
    ix.references[0] = ("subject", "Patient", "a\tb")
    ix.uris[0] = ("url", "urn:x\r")
    versions[40].facts = ["\\N"]
    return versions


@pytest.mark.parametrize(
    ("texts", "odd"),
    [
        (CLEAN, False),
        (CLEAN, True),
        ([x for pair in zip(TRICKY, CLEAN, strict=False) for x in pair], False),
        (TRICKY, False),
    ],
    ids=["clean", "odd-values", "mixed", "tricky"],
)
def test_a_large_write_stores_what_small_writes_store(
    engine: Engine, texts: list[str], odd: bool
) -> None:
    store = SQLStore(engine)
    large, small = _versions("large-", texts), _versions("small-", texts)
    if odd:
        large, small = _with_odd_values(large), _with_odd_values(small)

    with store.write() as tx:
        tx.write(large)
    for version in small:  # one at a time: a few rows each, INSERTed
        with store.write() as tx:
            tx.write([version])

    expected = _expected(large)
    assert _expected(small) == expected
    assert _stored(engine, "small-") == expected
    assert _stored(engine, "large-") == expected
