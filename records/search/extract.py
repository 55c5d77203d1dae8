"""Turn a resource into search index entries, one list per search parameter type.

Values are normalised here the way the query side normalises search values
(:func:`normalize_string`, :func:`date_range`), so matching is plain comparison: string
prefixes on casefolded, accent-free text and date ranges as fixed-width UTC strings
that sort lexicographically in time order.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from records.search.fhirpath import Values, compile_branches, infer_type
from records.search.parameters import (
    CORE_PARAMETERS,
    derived_parameters,
    element_type,
    parameters_for,
    resource_types,
)

__all__ = [
    "DATE_MAX",
    "DATE_MIN",
    "IndexEntries",
    "date_range",
    "index_entries",
    "normalize_string",
]

DATE_MIN = "0001-01-01T00:00:00.000000"
DATE_MAX = "9999-12-31T23:59:59.999999"
ISO_4217 = "urn:iso:std:iso:4217"


@dataclass(slots=True)
class IndexEntries:
    tokens: list[tuple[str, str | None, str]] = field(default_factory=list)  # param, system, code
    strings: list[tuple[str, str]] = field(default_factory=list)  # param, normalised text
    dates: list[tuple[str, str, str]] = field(default_factory=list)  # param, UTC low, UTC high
    references: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # param, type ('' for urls), id/url
    numbers: list[tuple[str, float]] = field(default_factory=list)
    quantities: list[tuple[str, float, str | None, str | None]] = field(
        default_factory=list
    )  # value, system, code
    uris: list[tuple[str, str]] = field(default_factory=list)


_KINDS = ("tokens", "strings", "dates", "references", "numbers", "quantities", "uris")
_PARAM = operator.itemgetter(0)

# --------------------------------------------------------------------------- strings


def normalize_string(s: str) -> str:
    """Casefold, strip accents (NFKD minus combining marks) and collapse whitespace.

    FHIR string search is case- and accent-insensitive: 'Chalmers', 'CHALMERS' and
    'Chälmers' must all find the same patient.
    """
    if s.isascii():
        return " ".join(s.lower().split())
    text = "".join(
        c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c)
    ).casefold()
    if not text.isascii():  # casefolding can produce new decomposable characters
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
    return " ".join(text.split())


# --------------------------------------------------------------------------- dates

_DATE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?"
)
_EXPECTED = "expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.f]][Z|+hh:mm|-hh:mm]"


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in(year: int, month: int) -> int:
    """calendar.monthrange(year, month)[1], without its weekday arithmetic."""
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_DAYS[month - 1]


@functools.lru_cache(maxsize=64)  # a feed writes one or two zones
def _zone_minutes(zone: str) -> int:
    """'+05:30' -> 330, '-01:00' -> -60: what is added to UTC to get the local time."""
    zone_h, zone_m = int(zone[1:3]), int(zone[4:6])
    if zone_h > 14 or zone_m > 59:
        raise ValueError(f"no time zone {zone}")
    minutes = zone_h * 60 + zone_m
    return -minutes if zone[0] == "-" else minutes


_CLOCK = tuple(f"{h:02d}:{m:02d}" for h in range(24) for m in range(60))  # by minute of day


@functools.lru_cache(maxsize=4096)
def date_range(value: str) -> tuple[str, str]:
    """The UTC instants ``(low, high)`` a FHIR date, dateTime or instant stands for.

    FHIR dates have implicit precision: '1974-12' means all of December 1974, so it is
    stored and searched as a range.  Both ends are 26-character strings
    ('YYYY-MM-DDTHH:MM:SS.ffffff') that compare correctly as text.  Times without a
    zone are taken as UTC.  Raises ValueError on anything else.
    """
    m = _DATE.fullmatch(value)
    if m is None:
        raise ValueError(f"'{value}' is not a valid date ({_EXPECTED})")
    y, mo, d, hh, mi, ss, fraction, zone = m.groups()
    year = int(y)
    if year == 0:
        raise ValueError(f"'{value}' is not a valid date: there is no year 0000")
    if mo is None:
        return f"{y}-01-01T00:00:00.000000", f"{y}-12-31T23:59:59.999999"
    month = int(mo)
    if not 1 <= month <= 12:
        raise ValueError(f"'{value}' is not a valid date: month {mo} does not exist")
    last = _days_in(year, month)
    if d is None:
        return f"{y}-{mo}-01T00:00:00.000000", f"{y}-{mo}-{last:02d}T23:59:59.999999"
    day = int(d)
    if not 1 <= day <= last:
        raise ValueError(f"'{value}' is not a valid date: {y}-{mo} has no day {d}")
    if hh is None:
        return f"{y}-{mo}-{d}T00:00:00.000000", f"{y}-{mo}-{d}T23:59:59.999999"
    hour, minute = int(hh), int(mi)
    if hour > 23 or minute > 59:
        raise ValueError(f"'{value}' is not a valid date: no time {hh}:{mi}")
    # Both ends lie in the same minute, so they share 'YYYY-MM-DDTHH:MM' (shifted to UTC
    # once) and differ only in their seconds and microseconds, formatted as text.
    if ss is None:
        low_tail, high_tail = "00.000000", "59.999999"
    else:
        second = int(ss)
        if second > 60:
            raise ValueError(f"'{value}' is not a valid date: no second {ss}")
        seconds = f"{min(second, 59):02d}"  # a leap second (60) is folded into the last
        if fraction is None:
            low_tail, high_tail = seconds + ".000000", seconds + ".999999"
        else:
            low_us = int(fraction[:6].ljust(6, "0"))
            high_us = int(fraction[:6].ljust(6, "9"))
            low_tail, high_tail = f"{seconds}.{low_us:06d}", f"{seconds}.{high_us:06d}"
    # With ASCII digits, the text matched is the zero-padded fields themselves; other
    # Unicode digits (which \d matches) are written out as ASCII.
    ascii = value.isascii()
    if zone is None or zone == "Z":
        if ascii:
            minute_text = value[:16]
        else:
            minute_text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}"
    else:
        try:
            offset = _zone_minutes(zone)
        except ValueError:
            raise ValueError(f"'{value}' is not a valid date: no time zone {zone}") from None
        utc_minute = hour * 60 + minute - offset
        if ascii and 0 <= utc_minute < 1440:  # the same day in UTC: no calendar needed
            minute_text = value[:11] + _CLOCK[utc_minute]
        else:
            try:
                utc = datetime(year, month, day, hour, minute) - timedelta(0, offset * 60)
            except OverflowError:  # before 0001 or after 9999 in UTC: the open end
                return (DATE_MIN, DATE_MIN) if offset > 0 else (DATE_MAX, DATE_MAX)
            # 'YYYY-MM-DDTHH:MM', years below 1000 zero-padded (strftime('%Y') does not
            # do that on every platform; isoformat does, and is written in C).
            minute_text = utc.isoformat()[:16]
    return f"{minute_text}:{low_tail}", f"{minute_text}:{high_tail}"


def _try_range(value: Any) -> tuple[str, str] | None:
    if type(value) is not str:
        return None
    try:
        return date_range(value)
    except ValueError:
        return None  # e.g. Immunization.occurrenceString 'January 2012': not a date


# --------------------------------------------------------------------------- references


@functools.lru_cache(maxsize=4096)  # a feed's resources mostly point at the same few
def _parse_reference(value: str) -> tuple[str, str] | None:
    """'Patient/1', 'https://host/fhir/Patient/1/_history/2' -> ('Patient', '1')."""
    if not value or value[0] == "#" or value.startswith("urn:"):
        return None
    parts = value.split("/_history/", 1)[0].rstrip("/").split("/")
    if len(parts) >= 2 and parts[-1] and parts[-2] in resource_types():
        return parts[-2], parts[-1]
    return None


# --------------------------------------------------------------------------- handlers
# One handler factory per search parameter type: ``_token(tag)`` etc. return a function
# that appends the entries of values of datatype ``tag``, found as in JSON: one value or
# a list (a list may hold nulls, which give nothing).  Most branches of an expression
# have a datatype known at compile time, so the choice between a CodeableConcept and an
# Identifier is made once per plan rather than once per value; values of unknown type
# ('primitive', 'Element', or tagged per item) are told apart by their JSON shape.

_Handler = Callable[[str, Any, IndexEntries], None]
_HandlerFor = Callable[[str], _Handler]


def _as_list(value: Any) -> list[Any]:
    return value if type(value) is list else [] if value is None else [value]


def _text(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _token_concepts(code: str, found: Any, out: IndexEntries) -> None:
    add = out.tokens.append
    for v in found if type(found) is list else (found,):
        if type(v) is dict:
            for coding in _as_list(v.get("coding")):
                if type(coding) is dict and (value := _text(coding.get("code"))):
                    add((code, _text(coding.get("system")), value))


def _token_codings(code: str, found: Any, out: IndexEntries) -> None:
    add = out.tokens.append
    for v in found if type(found) is list else (found,):
        if type(v) is dict and (value := _text(v.get("code"))):
            add((code, _text(v.get("system")), value))


def _token_identifiers(code: str, found: Any, out: IndexEntries) -> None:
    add = out.tokens.append
    for v in found if type(found) is list else (found,):
        if type(v) is dict and (value := _text(v.get("value"))):
            add((code, _text(v.get("system")), value))


def _token_contacts(code: str, found: Any, out: IndexEntries) -> None:
    add = out.tokens.append
    for v in found if type(found) is list else (found,):
        if type(v) is dict and (value := _text(v.get("value"))):
            add((code, None, value))


def _token_primitives(code: str, found: Any, out: IndexEntries) -> None:
    add = out.tokens.append
    for v in found if type(found) is list else (found,):
        if type(v) is bool:
            add((code, None, "true" if v else "false"))
        elif type(v) is str and v:
            add((code, None, v))  # code, string, id, uri...


_TOKEN_BY_TYPE: dict[str, _Handler] = {
    "CodeableConcept": _token_concepts,
    "Coding": _token_codings,
    "Identifier": _token_identifiers,
    "ContactPoint": _token_contacts,
}


def _token_by_shape(code: str, found: Any, out: IndexEntries) -> None:
    for v in found if type(found) is list else (found,):
        _TOKEN_BY_TYPE.get(infer_type(v), _token_primitives)(code, [v], out)


def _token(tag: str) -> _Handler:
    if tag == "primitive" or tag == "Element":
        return _token_by_shape
    return _TOKEN_BY_TYPE.get(tag, _token_primitives)


_NAME_PARTS = ("family", "given", "text", "prefix", "suffix")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")
_TEXT_PARTS = {"HumanName": _NAME_PARTS, "Address": _ADDRESS_PARTS}


def _string(tag: str) -> _Handler:
    # The texts of a HumanName or Address; any other dict is typed by its shape.
    known = _TEXT_PARTS.get(tag)

    def handle(code: str, found: Any, out: IndexEntries) -> None:
        add = out.strings.append
        for v in found if type(found) is list else (found,):
            if type(v) is str:
                texts: list[Any] = [v]
            elif type(v) is dict:
                parts = known if known is not None else _TEXT_PARTS.get(infer_type(v), ())
                texts = [t for part in parts for t in _as_list(v.get(part))]
            else:
                continue
            for text in texts:
                if type(text) is str and (normalized := normalize_string(text)):
                    add((code, normalized))

    return handle


def _period(v: dict[str, Any]) -> tuple[str, str] | None:
    start, end = _try_range(v.get("start")), _try_range(v.get("end"))
    if start is None and end is None:
        return None
    return (start[0] if start else DATE_MIN), (end[1] if end else DATE_MAX)


def _date(tag: str) -> _Handler:
    # Strings are dates; a dict is a Period or a Timing, typed by its shape if need be.
    known = tag if tag == "Period" or tag == "Timing" else None

    def handle(code: str, found: Any, out: IndexEntries) -> None:
        add = out.dates.append
        for v in found if type(found) is list else (found,):
            if type(v) is str:
                span = _try_range(v)
                if span is not None:
                    add((code, *span))
            elif type(v) is dict:
                kind = known or infer_type(v)
                if kind == "Period":
                    if (period := _period(v)) is not None:
                        add((code, *period))
                elif kind == "Timing":
                    for event in _as_list(v.get("event")):
                        if (span := _try_range(event)) is not None:
                            add((code, *span))
                    repeat = v.get("repeat")
                    bounds = repeat.get("boundsPeriod") if type(repeat) is dict else None
                    if type(bounds) is dict and (period := _period(bounds)) is not None:
                        add((code, *period))

    return handle


def _reference(targets: frozenset[str]) -> _HandlerFor:
    """Reference entries; ``targets`` only filters resources inlined in the resource.

    (Bundle's 'composition' is ``Bundle.entry[0].resource``, whatever that entry is.)
    """

    def handler_for(tag: str) -> _Handler:
        inlined = tag == "Resource"

        def handle(code: str, found: Any, out: IndexEntries) -> None:
            add = out.references.append
            for v in found if type(found) is list else (found,):
                if type(v) is str:  # canonical, uri, url
                    if v:
                        add((code, "", v))
                        unversioned = v.split("|", 1)[0]
                        if unversioned != v:  # 'url|version' must also match the bare url
                            add((code, "", unversioned))
                        # '[base]/ActivityDefinition/x' canonicals answer 'Type/id' searches
                        if (parsed := _parse_reference(unversioned)) is not None:
                            add((code, *parsed))
                elif type(v) is dict:
                    if inlined or "resourceType" in v:
                        kind, rid = v.get("resourceType"), v.get("id")
                        if (
                            type(kind) is str
                            and type(rid) is str
                            and rid
                            and (not targets or kind in targets)
                        ):
                            add((code, kind, rid))
                        continue
                    ref = v.get("reference")
                    if type(ref) is not str:
                        continue
                    parsed = _parse_reference(ref)
                    if parsed is not None:
                        add((code, *parsed))
                    elif "://" in ref:
                        add((code, "", ref))  # an absolute URL, not a FHIR REST location

        return handle

    return handler_for


_NUMERIC = (float, int, str)  # a constant: 'float | int | str' builds a new union per call


def _number_of(value: Any) -> float | None:
    # float subclasses too: decimals parsed with their original text (records.fhirjson)
    if isinstance(value, bool) or not isinstance(value, _NUMERIC):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # not a number, or an int beyond any float
        return None
    return number if math.isfinite(number) else None  # NaN/inf cannot be searched


def _number(tag: str) -> _Handler:
    # A Range is indexed by its two ends.
    is_range = tag == "Range"

    def handle(code: str, found: Any, out: IndexEntries) -> None:
        add = out.numbers.append
        for v in found if type(found) is list else (found,):
            if type(v) is dict:
                if is_range or infer_type(v) == "Range":
                    bounds = [v.get("low"), v.get("high")]
                else:
                    bounds = [v]
                for bound in bounds:
                    if (
                        type(bound) is dict
                        and (number := _number_of(bound.get("value"))) is not None
                    ):
                        add((code, number))
            elif (number := _number_of(v)) is not None:
                add((code, number))

    return handle


def _quantity_entry(code: str, v: Any) -> tuple[str, float, str | None, str | None] | None:
    if type(v) is not dict:
        return None
    number = _number_of(v.get("value"))
    if number is None:
        return None
    if "currency" in v:  # Money
        return code, number, ISO_4217, _text(v.get("currency"))
    return code, number, _text(v.get("system")), _text(v.get("code")) or _text(v.get("unit"))


_QUANTITY_TYPES = frozenset(
    {"Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"}
)


def _quantity(tag: str) -> _Handler:
    # A Range is indexed by its two ends.  Other types are told by their shape: a
    # SampledData has no 'value' of its own, so gives nothing.
    known = tag if tag in _QUANTITY_TYPES or tag == "Money" or tag == "Range" else None

    def handle(code: str, found: Any, out: IndexEntries) -> None:
        add = out.quantities.append
        for v in found if type(found) is list else (found,):
            if type(v) is not dict:
                continue
            if (known or infer_type(v)) == "Range":
                for bound in (v.get("low"), v.get("high")):
                    if (entry := _quantity_entry(code, bound)) is not None:
                        add(entry)
            elif (entry := _quantity_entry(code, v)) is not None:
                add(entry)

    return handle


def _uris(code: str, found: Any, out: IndexEntries) -> None:
    add = out.uris.append
    for v in found if type(found) is list else (found,):
        if type(v) is str and v:
            add((code, v))


def _uri(tag: str) -> _Handler:
    return _uris


def _per_item(handler_for: _HandlerFor) -> _Handler:
    """A handler of tagged items (a branch whose datatypes are only known per value)."""
    handlers: dict[str, _Handler] = {}  # by datatype name: a few dozen at most

    def handle(code: str, items: list[Any], out: IndexEntries) -> None:
        for tag, v in items:
            handler = handlers.get(tag)
            if handler is None:
                handler = handlers[tag] = handler_for(tag)
            handler(code, [v], out)

    return handle


_HANDLERS: dict[str, _HandlerFor] = {
    "token": _token,
    "string": _string,
    "date": _date,
    "number": _number,
    "quantity": _quantity,
    "uri": _uri,
}


# (parameter code, the resource key to read when the branch is just that key, else
# None; the branch's values, their handler, the top-level keys it reads)
_Step = tuple[str, str | None, Values, _Handler, frozenset[str] | None]


@functools.cache
def _plan(resource_type: str) -> tuple[_Step, ...]:
    """Compile every indexed parameter of a type once, on first use.

    One step per branch of each parameter's expression, in order, so that a resource is
    only walked for the branches it can have values for. Derived parameters have no
    entries of their own: searches read those of the parameters they repeat.
    """
    plan: list[_Step] = []
    derived = derived_parameters(resource_type)
    for code, param in parameters_for(resource_type).items():
        if code in CORE_PARAMETERS or code in derived:
            continue
        if param.type == "reference":
            handler_for = _reference(frozenset(param.targets))
        elif param.type in _HANDLERS:
            handler_for = _HANDLERS[param.type]
        else:
            continue
        for branch in compile_branches(param.expression, resource_type, element_type):
            if branch.tag is not None and branch.values is not None:
                key = branch.path[0] if branch.path and len(branch.path) == 1 else None
                handler = handler_for(branch.tag)
                plan.append((code, key, branch.values, handler, branch.keys))
            else:
                handler = _per_item(handler_for)
                plan.append((code, None, branch.evaluate, handler, branch.keys))
    return tuple(plan)


# (type, the resource's top-level keys) -> the steps that can find anything in it:
# a feed's resources mostly share a few shapes.
_ACTIVE: dict[tuple[str, frozenset[str]], tuple[_Step, ...]] = {}
_ACTIVE_MAX = 4096


def _active(resource_type: str, resource: dict[str, Any]) -> tuple[_Step, ...]:
    shape = (resource_type, frozenset(resource))
    steps = _ACTIVE.get(shape)
    if steps is None:
        keys = shape[1]
        steps = tuple(
            step for step in _plan(resource_type) if step[4] is None or not keys.isdisjoint(step[4])
        )
        if len(_ACTIVE) < _ACTIVE_MAX:
            _ACTIVE[shape] = steps
    return steps


def index_entries(resource: dict[str, Any]) -> IndexEntries:
    """Every search index entry of ``resource``, without duplicates, except those of
    derived parameters (:func:`records.search.parameters.derived_parameters`).

    Raises ValueError when ``resourceType`` is not an R4 resource type.
    """
    resource_type = resource.get("resourceType")
    if type(resource_type) is not str or resource_type not in resource_types():
        raise ValueError(f"cannot index a resource of type {resource_type!r}")
    out = IndexEntries([], [], [], [], [], [], [])
    for code, key, values, handler, _ in _active(resource_type, resource):
        if key is not None:  # most branches: no walk, no list
            found = resource.get(key)
            if found is None:
                continue
        else:
            found = values(resource)
            if not found:
                continue
        handler(code, found, out)
    for name in _KINDS:
        entries = getattr(out, name)
        # Entries of different parameters differ in their first field, so a list where
        # no parameter has two entries has no duplicates: telling that only hashes the
        # parameter codes, whose hashes are cached, not the freshly read values.
        if len(entries) > 1 and len(set(map(_PARAM, entries))) != len(entries):
            setattr(out, name, list(dict.fromkeys(entries)))
    return out
