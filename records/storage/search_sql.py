"""Compile a :class:`~records.search.query.SearchQuery` into SQL.

Each criterion becomes ``seq IN (SELECT seq FROM idx_<kind> WHERE ...)``, so
the database drives the search from the value index. Visibility "as of" a
snapshot sequence number keeps page boundaries fixed while data is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from records.search.parameters import stored_as
from records.search.query import (
    Criterion,
    DateValue,
    NumberValue,
    ReferenceValue,
    SearchQuery,
    TokenValue,
)
from records.storage.schema import INDEX_TABLES, resource_version

rv = resource_version
COLUMNS = (
    rv.c.seq,
    rv.c.resource_type,
    rv.c.resource_id,
    rv.c.version_id,
    rv.c.last_updated,
    rv.c.method,
    rv.c.deleted,
    rv.c.data,
    rv.c.source,
)

__all__ = ["HistoryQuery", "compile_history", "compile_search", "rows_of", "visible_at"]


def visible_at(snapshot: int) -> ColumnElement[bool]:
    """Versions that were current when the sequence stood at ``snapshot``."""
    return and_(
        rv.c.seq <= snapshot,
        or_(rv.c.superseded_seq.is_(None), rv.c.superseded_seq > snapshot),
        rv.c.deleted == false(),
    )


def compile_search(query: SearchQuery) -> tuple[Select[Any] | None, Select[Any] | None]:
    """(page statement or None for _summary=count, count statement or None)."""
    assert query.snapshot is not None, "the caller fixes the snapshot"
    where = [rv.c.resource_type == query.resource_type, visible_at(query.snapshot)]
    where += [_criterion(query.resource_type, c) for c in query.criteria]
    count_stmt = None
    if query.total == "accurate" or query.summary_count:
        count_stmt = select(func.count()).select_from(rv).where(*where)
    if query.summary_count:
        return None, count_stmt
    order: list[Any] = []
    for param, kind, descending in query.sort:
        key = _sort_key(query.resource_type, param, kind, descending)
        order += [key.is_(None), key.desc() if descending else key.asc()]
    order.append(rv.c.seq.asc())
    page = select(*COLUMNS).where(*where).order_by(*order).limit(query.count).offset(query.offset)
    return page, count_stmt


def _criterion(resource_type: str, c: Criterion) -> ColumnElement[bool]:
    if c.kind == "_id":
        return rv.c.resource_id.in_(list(c.values))
    if c.kind == "_lastUpdated":
        return or_(*(_date_match(rv.c.last_updated, rv.c.last_updated, v) for v in c.values))
    table = INDEX_TABLES[c.kind]
    base = rows_of(table, resource_type, c.param)
    if c.modifier == "missing":
        present = rv.c.seq.in_(select(table.c.seq).where(*base))
        return or_(*(not_(present) if missing else present for missing in c.values))
    match = or_(*(_value_match(c.kind, table, v, c.modifier) for v in c.values))
    subquery = select(table.c.seq).where(*base, match)
    if c.modifier == "not":
        return rv.c.seq.not_in(subquery)
    return rv.c.seq.in_(subquery)


def _value_match(kind: str, table: Table, value: Any, modifier: str | None) -> ColumnElement[bool]:
    if kind == "token":
        return _token_match(table, value)
    if kind == "string":
        if modifier == "exact":
            exact: ColumnElement[bool] = table.c.value == value
            return exact
        if modifier == "contains":
            contains: ColumnElement[bool] = table.c.value.contains(value, autoescape=True)
            return contains
        # Prefix match as a range, so both SQLite and PostgreSQL use the index.
        return and_(table.c.value >= value, table.c.value < value + "\U0010ffff")
    if kind == "date":
        return _date_match(table.c.low, table.c.high, value)
    if kind == "reference":
        return _reference_match(table, value)
    if kind in ("number", "quantity"):
        return _number_match(table, value)
    if kind == "uri":
        if modifier == "below":
            below: ColumnElement[bool] = table.c.value.startswith(value, autoescape=True)
            return below
        equal: ColumnElement[bool] = table.c.value == value
        return equal
    raise AssertionError(kind)


def _token_match(table: Table, value: TokenValue) -> ColumnElement[bool]:
    if value.any_system:
        return table.c.code == value.code
    if value.code is None:
        return table.c.system == value.system
    if value.system is None:
        return and_(table.c.code == value.code, table.c.system.is_(None))
    return and_(table.c.code == value.code, table.c.system == value.system)


def _reference_match(table: Table, value: ReferenceValue) -> ColumnElement[bool]:
    if value.target_type:
        return and_(table.c.target_id == value.target_id, table.c.target_type == value.target_type)
    return table.c.target_id == value.target_id


def _date_match(
    low: ColumnElement[str], high: ColumnElement[str], v: DateValue
) -> ColumnElement[bool]:
    """FHIR date prefixes over ranges: the resource's [low, high] vs the value's."""
    if v.prefix == "eq":
        return and_(low >= v.low, high <= v.high)
    if v.prefix == "ne":
        return or_(low < v.low, high > v.high)
    if v.prefix == "gt":
        return high > v.high
    if v.prefix == "lt":
        return low < v.low
    if v.prefix == "ge":
        return high >= v.low
    if v.prefix == "le":
        return low <= v.high
    if v.prefix == "sa":
        return low > v.high
    if v.prefix == "eb":
        return high < v.low
    if v.prefix == "ap":
        return and_(low <= v.high, high >= v.low)
    raise AssertionError(v.prefix)


def _number_match(table: Table, v: NumberValue) -> ColumnElement[bool]:
    col = table.c.value
    unit: ColumnElement[bool] = true()
    if v.system is not None:
        unit = and_(unit, table.c.system == v.system)
    if v.code is not None:
        unit = and_(unit, table.c.code == v.code)
    ops = {
        "eq": and_(col >= v.low, col < v.high),
        "ne": or_(col < v.low, col >= v.high),
        "gt": col > v.value,
        "lt": col < v.value,
        "ge": col >= v.value,
        "le": col <= v.value,
        "sa": col > v.value,
        "eb": col < v.value,
        "ap": and_(col >= v.value * 0.9, col <= v.value * 1.1),
    }
    return and_(ops[v.prefix], unit)


def _sort_key(resource_type: str, param: str, kind: str, descending: bool) -> Any:
    if kind == "_id":
        return rv.c.resource_id
    if kind == "_lastUpdated":
        return rv.c.last_updated
    table = INDEX_TABLES[kind]
    if kind == "date":
        column = table.c.high if descending else table.c.low
    elif kind == "token":
        column = table.c.code
    elif kind == "reference":
        column = table.c.target_id
    else:
        column = table.c.value
    aggregate = func.max if descending else func.min
    return (
        select(aggregate(column))
        .where(table.c.seq == rv.c.seq, *rows_of(table, resource_type, param))
        .scalar_subquery()
    )


def rows_of(table: Table, resource_type: str, param: str) -> list[ColumnElement[bool]]:
    """The index rows of ``table`` that answer ``param``: its own, or, for a parameter
    derived from others (:func:`records.search.parameters.derived_parameters`), theirs."""
    stored = stored_as(resource_type, param)
    where = [
        table.c.resource_type == resource_type,
        table.c.param == stored.params[0]
        if len(stored.params) == 1
        else table.c.param.in_(stored.params),
    ]
    if stored.target_type is not None:
        where.append(table.c.target_type == stored.target_type)
    return where


@dataclass(slots=True)
class HistoryQuery:
    resource_type: str | None
    resource_id: str | None
    since: str | None  # UTC sort key
    snapshot: int
    count: int
    offset: int


def compile_history(q: HistoryQuery) -> tuple[Select[Any], Select[Any]]:
    where: list[ColumnElement[bool]] = [rv.c.seq <= q.snapshot]
    if q.resource_type:
        where.append(rv.c.resource_type == q.resource_type)
    if q.resource_id:
        where.append(rv.c.resource_id == q.resource_id)
    if q.since:
        where.append(rv.c.last_updated >= q.since)
    page = select(*COLUMNS).where(*where).order_by(rv.c.seq.desc()).limit(q.count).offset(q.offset)
    return page, select(func.count()).select_from(rv).where(*where)
