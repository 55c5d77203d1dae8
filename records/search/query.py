"""Parsing of FHIR search parameters into a :class:`SearchQuery` (no SQL here).

Semantics follow FHIR R4 "Search": values separated by ``,`` are OR-ed,
repeated parameters are AND-ed; date prefixes ``eq ne gt lt ge le sa eb ap``;
strings match case- and accent-insensitively on a prefix (``:exact`` on the
whole normalised value, ``:contains`` anywhere); tokens ``[system]|[code]``;
references ``[type]/id``, ``id`` or an absolute URL.

Unknown parameters are refused (400) rather than ignored: a clinician's typo
must not silently widen a search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from records.errors import BadRequest
from records.search.extract import date_range, normalize_string
from records.search.parameters import parameters_for

__all__ = [
    "Criterion",
    "DateValue",
    "NumberValue",
    "ReferenceValue",
    "SearchQuery",
    "TokenValue",
    "parse_search",
]

DEFAULT_COUNT = 20
MAX_COUNT = 1000
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
RESULT_PARAMS = {
    "_count",
    "_sort",
    "_summary",
    "_total",
    "_offset",
    "_snapshot",
    "_format",
    "_pretty",
}
MODIFIERS: dict[str, set[str | None]] = {
    "token": {None, "not", "missing"},
    "string": {None, "exact", "contains", "missing"},
    "reference": {None, "missing"},
    "date": {None, "missing"},
    "number": {None, "missing"},
    "quantity": {None, "missing"},
    "uri": {None, "below", "missing"},
    "_id": {None},
    "_lastUpdated": {None},
}
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True, slots=True)
class TokenValue:
    system: str | None  # None with any_system: match every system
    code: str | None  # None: any code in ``system``
    any_system: bool = False


@dataclass(frozen=True, slots=True)
class DateValue:
    prefix: str
    low: str
    high: str


@dataclass(frozen=True, slots=True)
class NumberValue:
    prefix: str
    value: float
    low: float  # the range implied by the value's precision
    high: float
    system: str | None = None  # quantities only
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    target_type: str | None
    target_id: str


@dataclass(frozen=True, slots=True)
class Criterion:
    """One search parameter occurrence: its values are alternatives (OR)."""

    param: str
    kind: str  # token string date reference number quantity uri, or _id / _lastUpdated
    modifier: str | None
    values: tuple[Any, ...]


@dataclass(slots=True)
class SearchQuery:
    resource_type: str
    criteria: list[Criterion] = field(default_factory=list)
    sort: list[tuple[str, str, bool]] = field(default_factory=list)  # param, kind, descending
    count: int = DEFAULT_COUNT
    offset: int = 0
    snapshot: int | None = None
    total: str = "accurate"  # accurate | none
    summary_count: bool = False
    echo: list[tuple[str, str]] = field(default_factory=list)  # the parameters, for links

    def link(self, base: str, *, offset: int, snapshot: int) -> str:
        params = [*self.echo]
        if self.sort:
            params.append(("_sort", ",".join(("-" if d else "") + p for p, _, d in self.sort)))
        if self.total != "accurate":
            params.append(("_total", self.total))
        params += [("_count", str(self.count)), ("_offset", str(offset))]
        params.append(("_snapshot", str(snapshot)))
        return f"{base}/{self.resource_type}?{urlencode(params)}"


def parse_search(resource_type: str, params: list[tuple[str, str]]) -> SearchQuery:
    """Parse a query string (as ordered pairs) for a search on ``resource_type``."""
    query = SearchQuery(resource_type)
    definitions = parameters_for(resource_type)
    for raw_name, raw_value in params:
        if "\x00" in raw_name or "\x00" in raw_value:
            raise BadRequest(
                "Search parameters cannot contain the character U+0000", expression=raw_name
            )
        name, _, modifier = raw_name.partition(":")
        if name in RESULT_PARAMS:
            _result_param(query, name, raw_value, definitions)
            continue
        if "." in name:
            raise BadRequest(
                f"Chained search parameter '{raw_name}' is not supported", expression=raw_name
            )
        kind = "_id" if name == "_id" else "_lastUpdated" if name == "_lastUpdated" else None
        if kind is None:
            definition = definitions.get(name)
            if definition is None:
                raise BadRequest(
                    f"Unknown search parameter '{name}' for {resource_type}", expression=raw_name
                )
            kind = definition.type
        values = tuple(_parse_value(kind, raw_name, modifier or None, v) for v in _split(raw_value))
        if not values:
            raise BadRequest(f"Search parameter '{raw_name}' has no value", expression=raw_name)
        query.criteria.append(Criterion(name, kind, modifier or None, values))
        query.echo.append((raw_name, raw_value))
    return query


def _split(value: str) -> list[str]:
    """Split on unescaped commas; ``\\,`` is a literal comma."""
    parts, current, escaped = [], [], False
    for ch in value:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p != ""]


def _result_param(query: SearchQuery, name: str, value: str, definitions: Any) -> None:
    if name in ("_format", "_pretty"):
        return
    if name in ("_count", "_offset", "_snapshot"):
        try:
            number = int(value)
        except ValueError:
            raise BadRequest(
                f"{name} must be a whole number, got '{value}'", expression=name
            ) from None
        if number < 0:
            raise BadRequest(f"{name} must not be negative", expression=name)
        if name == "_count":
            query.count = min(number, MAX_COUNT)
        elif name == "_offset":
            query.offset = number
        else:
            query.snapshot = number
    elif name == "_total":
        if value not in ("none", "estimate", "accurate"):
            raise BadRequest("_total must be none, estimate or accurate", expression=name)
        query.total = "none" if value == "none" else "accurate"
    elif name == "_summary":
        if value == "count":
            query.summary_count = True
        elif value != "false":
            raise BadRequest(
                f"_summary={value} is not supported (only count, false)", expression=name
            )
    elif name == "_sort":
        for item in value.split(","):
            descending = item.startswith("-")
            param = item.lstrip("-")
            if param in ("_id", "_lastUpdated"):
                kind = param
            elif param in definitions and definitions[param].type in (
                "string",
                "date",
                "token",
                "number",
                "quantity",
                "uri",
                "reference",
            ):
                kind = definitions[param].type
            else:
                raise BadRequest(f"Cannot sort by '{param}'", expression="_sort")
            query.sort.append((param, kind, descending))


def _prefix(value: str) -> tuple[str, str]:
    if len(value) > 2 and value[:2] in PREFIXES and not value[:2].isdigit():
        return value[:2], value[2:]
    return "eq", value


def _parse_value(kind: str, name: str, modifier: str | None, value: str) -> Any:
    allowed = MODIFIERS[kind]
    if modifier not in allowed and not (kind == "reference" and modifier and modifier[0].isupper()):
        raise BadRequest(f"Modifier ':{modifier}' is not supported here", expression=name)
    if modifier == "missing":
        if value not in ("true", "false"):
            raise BadRequest(f"{name}:missing takes true or false", expression=name)
        return value == "true"
    try:
        if kind in ("date", "_lastUpdated"):
            prefix, rest = _prefix(value)
            low, high = date_range(rest)
            return DateValue(prefix, low, high)
        if kind == "token":
            if "|" in value:
                system, _, code = value.partition("|")
                return TokenValue(system or None, code or None)
            return TokenValue(None, value, any_system=True)
        if kind == "string":
            return normalize_string(value)
        if kind == "_id":
            if not _ID.match(value):
                raise ValueError(f"'{value}' is not a valid resource id")
            return value
        if kind == "reference":
            return _reference(value, modifier)
        if kind in ("number", "quantity"):
            return _number(value, kind)
        if kind == "uri":
            return value
    except ValueError as exc:
        raise BadRequest(f"Invalid value for '{name}': {exc}", expression=name) from None
    raise BadRequest(f"Search on '{name}' is not supported", expression=name)


def _reference(value: str, modifier: str | None) -> ReferenceValue:
    value = value.split("/_history/")[0]
    parts = value.rstrip("/").split("/")
    if len(parts) >= 2:
        return ReferenceValue(parts[-2], parts[-1])
    return ReferenceValue(modifier, parts[0])


def _number(value: str, kind: str) -> NumberValue:
    prefix, rest = _prefix(value)
    number, system, code = rest, None, None
    if kind == "quantity" and "|" in rest:
        number, system, code = [*rest.split("|"), "", ""][:3]
        system, code = system or None, code or None
    try:
        dec = Decimal(number)
    except InvalidOperation:
        raise ValueError(f"'{number}' is not a number") from None
    if not dec.is_finite():
        raise ValueError(f"'{number}' is not a finite number")
    exponent = int(dec.as_tuple().exponent)
    half = Decimal(5).scaleb(exponent - 1)
    return NumberValue(prefix, float(dec), float(dec - half), float(dec + half), system, code)
