"""Open mHealth time frames to FHIR ``effective[x]``, refusing any time without a zone.

The Open mHealth date-time schema says a time without a zone "is assumed to
be UTC"; Accord refuses it instead (DESIGN.md): a wearable's local clock
read as UTC misplaces a night's sleep or a morning blood pressure by hours,
and nothing downstream could tell. Date-times are kept as sent (fraction
digits included, ``z`` and ``t`` upper-cased); only a period end computed
from a duration is formatted anew.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from adapters.wearables.errors import Invalid

__all__ = ["Effective", "duration_seconds", "effective", "parse_date_time"]

_DATE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d{1,12})?([Zz]|[+-]\d{2}:\d{2})?"
)
# UCUM-like duration units of the Open mHealth / IEEE duration-unit-value schema.
# Months and years have no fixed length: a period cannot be computed from them.
_SECONDS = {
    "ps": 1e-12, "ns": 1e-9, "us": 1e-6, "ms": 1e-3, "sec": 1.0, "min": 60.0,
    "h": 3600.0, "d": 86400.0, "wk": 604800.0,
}  # fmt: skip
_MAX_SECONDS = 100 * 366 * 86400.0


class Effective(NamedTuple):
    """``key`` is ``effectiveDateTime`` or ``effectivePeriod``; start and end as datetimes."""

    key: str
    value: Any
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def is_day(self) -> bool:
        """24 hours, or one calendar day from local midnight to midnight (23 h or 25 h with DST)."""
        if self.seconds == 86400.0:
            return True
        start, end = self.start, self.end
        return (
            start.time() == end.time() == datetime.min.time()
            and (end.date() - start.date()).days == 1
        )


def parse_date_time(value: str, path: str) -> tuple[str, datetime]:
    """The FHIR dateTime text and the aware datetime for an RFC 3339 date-time."""
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise Invalid("body", path, f"{path} {value!r} is not an RFC 3339 date-time")
    date, time, fraction, zone = match.groups()
    if zone is None:
        raise Invalid("body", path, f"no time zone: {path} {value!r}")
    if zone in ("Z", "z"):
        zone, offset = "Z", "+00:00"
    else:
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if minutes > 59 or hours > 14 or (hours == 14 and minutes):
            raise Invalid("body", path, f"{path} {value!r}: zone offset out of range")
        offset = zone
    fraction = fraction or ""
    try:
        at = datetime.fromisoformat(f"{date}T{time}{fraction[:7]}{offset}")
    except ValueError:
        raise Invalid("body", path, f"{path} {value!r} is not a valid date-time") from None
    return f"{date}T{time}{fraction}{zone}", at


def duration_seconds(unit_value: dict[str, Any], path: str) -> float:
    """A duration-unit-value in seconds; months and years are refused."""
    value, unit = unit_value["value"], unit_value["unit"]
    factor = _SECONDS.get(unit)
    if factor is None:
        raise Invalid("body", f"{path}.unit", f"cannot convert {path}.unit {unit!r} to seconds")
    try:
        seconds = float(value) * factor
    except OverflowError:  # an integer beyond any float
        seconds = float("inf")
    if not 0 <= seconds <= _MAX_SECONDS:
        raise Invalid("body", f"{path}.value", f"impossible {path}.value {value!r} {unit}")
    return seconds


def _format(at: datetime) -> str:
    text = at.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def effective(frame: dict[str, Any]) -> Effective:
    """FHIR ``effective[x]`` for a schema-valid ``effective_time_frame``."""
    base = "effective_time_frame"
    if "date_time" in frame:
        text, at = parse_date_time(frame["date_time"], f"{base}.date_time")
        return Effective("effectiveDateTime", text, at, at)
    interval = frame["time_interval"]
    base += ".time_interval"
    if "date" in interval:
        raise Invalid("body", base, "no time zone: a time interval given as a date and part of day")
    try:
        if "start_date_time" in interval and "end_date_time" in interval:
            start_text, start = parse_date_time(
                interval["start_date_time"], f"{base}.start_date_time"
            )
            end_text, end = parse_date_time(interval["end_date_time"], f"{base}.end_date_time")
        elif "start_date_time" in interval:
            start_text, start = parse_date_time(
                interval["start_date_time"], f"{base}.start_date_time"
            )
            end = start + timedelta(
                seconds=duration_seconds(interval["duration"], f"{base}.duration")
            )
            end_text = _format(end)
        else:
            end_text, end = parse_date_time(interval["end_date_time"], f"{base}.end_date_time")
            start = end - timedelta(
                seconds=duration_seconds(interval["duration"], f"{base}.duration")
            )
            start_text = _format(start)
    except OverflowError:
        raise Invalid("body", f"{base}.duration", "duration runs past the calendar") from None
    if end < start:
        raise Invalid(
            "body", base, f"time interval ends ({end_text}) before it starts ({start_text})"
        )
    return Effective("effectivePeriod", {"start": start_text, "end": end_text}, start, end)
