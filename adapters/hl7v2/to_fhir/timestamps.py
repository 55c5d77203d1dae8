"""HL7 v2 timestamps (DTM/TS, DT, TM) to FHIR dateTime, instant, date and time.

FHIR needs a time zone as soon as a dateTime has a time; HL7 v2 says a time
sent without one is in the sender's zone. So a time without an offset takes
the feed's configured zone (``convert(timezone=...)``, DST-aware: the offset
on that very date), else MSH-7's offset (the sender's zone when it sent the
message); with neither it is kept as its date, with a warning, rather than
guessed. Seconds are filled in when only minutes were sent, since FHIR's
dateTime has no minute precision.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

from .context import Context

__all__ = [
    "Timestamp",
    "date_time",
    "date_value",
    "has_zone",
    "instant",
    "parse_dtm",
    "time_of_day",
]


class Timestamp(NamedTuple):
    """A parsed HL7 DTM; fields after the sent precision are None."""

    year: int
    month: int | None
    day: int | None
    hour: int | None
    minute: int | None
    second: int | None
    fraction: str  # digits after the decimal point, "" if none
    offset: int | None  # minutes east of UTC, None if not sent


_DTM = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,9}))?)?)?)?)?)?"
    r"(?:([+-])(\d{2})(\d{2}))?",
    re.ASCII,
)


@lru_cache(maxsize=4096)
def parse_dtm(text: str) -> Timestamp | None:
    """``YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]``, checked for real dates; None if not."""
    match = _DTM.fullmatch(text.strip())
    if match is None:
        return None
    y, mo, d, h, mi, s, frac, sign, oh, om = match.groups()
    year = int(y)
    month, day = (int(mo) if mo else None), (int(d) if d else None)
    hour, minute = (int(h) if h else None), (int(mi) if mi else None)
    second = int(s) if s else None
    try:
        # month or day 00 is no date (``month or 1`` would have let it through)
        date(year, 1 if month is None else month, 1 if day is None else day)
    except ValueError:
        return None
    if year == 0 or (hour or 0) > 23 or (minute or 0) > 59 or (second or 0) > 59:
        return None
    offset = None
    if sign:
        if int(oh) > 14 or int(om) > 59:
            return None
        offset = (int(oh) * 60 + int(om)) * (-1 if sign == "-" else 1)
    return Timestamp(year, month, day, hour, minute, second, frac or "", offset)


def _date_text(ts: Timestamp) -> str:
    text = f"{ts.year:04d}"
    if ts.month is not None:
        text += f"-{ts.month:02d}"
        if ts.day is not None:
            text += f"-{ts.day:02d}"
    return text


def _offset_text(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def _offset(ctx: Context, ts: Timestamp) -> int | None:
    """The offset of a time: its own, else the feed's zone on that date, else MSH-7's."""
    if ts.offset is not None:
        return ts.offset
    if ctx.timezone is not None and ts.day is not None and ts.hour is not None:
        local = datetime(
            ts.year,
            ts.month or 1,
            ts.day,
            ts.hour,
            ts.minute or 0,
            ts.second or 0,
            tzinfo=ctx.timezone,
        )
        delta = local.utcoffset()
        if delta is not None:
            return int(delta // timedelta(minutes=1))
    return ctx.msh_offset


def _read(ctx: Context, text: str, location: str) -> Timestamp | None:
    if not text:
        return None
    ts = parse_dtm(text)
    if ts is None:
        ctx.warn(location, f"{text!r} is not an HL7 date/time: left out")
    return ts


def date_time(ctx: Context, text: str, location: str) -> str | None:
    """An HL7 DTM as a FHIR ``dateTime`` at the precision sent (seconds filled in
    when a time is sent, as FHIR requires); see the module docstring for zones."""
    known = ctx.times.get(text)
    if known is not None:  # a lab sends the same time with every result
        return known
    ts = _read(ctx, text, location)
    if ts is None:
        return None
    if ts.hour is None:
        return _date_text(ts)
    offset = _offset(ctx, ts)
    if offset is None:
        ctx.warn(
            location,
            f"{text} has a time but no time zone, and neither the feed nor MSH-7 gives one: "
            "kept as its date",
        )
        return _date_text(ts)
    fraction = f".{ts.fraction}" if ts.fraction else ""
    result = (
        f"{_date_text(ts)}T{ts.hour:02d}:{ts.minute or 0:02d}:{ts.second or 0:02d}"
        f"{fraction}{_offset_text(offset)}"
    )
    ctx.times[text] = result
    return result


def has_zone(ctx: Context, text: str) -> bool:
    """Whether a DTM with a time can be placed in time (its offset, the feed's, MSH-7's)."""
    ts = parse_dtm(text)
    return ts is not None and ts.hour is not None and _offset(ctx, ts) is not None


def instant(ctx: Context, text: str, location: str) -> str | None:
    """An HL7 DTM as a FHIR ``instant`` (needs at least minutes and a zone), or None."""
    ts = _read(ctx, text, location)
    if ts is None:
        return None
    if ts.minute is None:
        ctx.warn(location, f"{text} is not precise to the minute: not an instant, left out")
        return None
    if _offset(ctx, ts) is None:
        ctx.warn(
            location,
            f"{text} has no time zone, and neither the feed nor MSH-7 gives "
            "one: not an instant, left out",
        )
        return None
    return date_time(ctx, text, location)


def date_value(ctx: Context, text: str, location: str) -> str | None:
    """An HL7 DT/DTM as a FHIR ``date``: anything past the day is dropped."""
    ts = _read(ctx, text, location)
    return None if ts is None else _date_text(ts)


_TM = re.compile(r"(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,9}))?)?)?(?:[+-]\d{4})?", re.ASCII)


def time_of_day(text: str) -> str | None:
    """An HL7 TM as a FHIR ``time`` (a time of day has no zone in FHIR)."""
    match = _TM.fullmatch(text.strip())
    if match is None:
        return None
    h, m, s, frac = match.groups()
    if int(h) > 23 or int(m or 0) > 59 or int(s or 0) > 59:
        return None
    return f"{h}:{m or '00'}:{s or '00'}" + (f".{frac}" if frac else "")
