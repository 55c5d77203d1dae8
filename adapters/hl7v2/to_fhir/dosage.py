"""TQ1 / RXE-1 (timing), RXR (route, site) and order status, shared by the pharmacy
resources (MedicationRequest, MedicationDispense).

A repeat pattern (table 0335: BID, TID, Q6H …) keeps its code in
``Timing.code`` and, for the patterns whose meaning is fixed, also becomes a
computable ``Timing.repeat`` (BID: twice per 1 day).
"""

from __future__ import annotations

import re

from ..parser import Segment
from .context import Context, Resource, where
from .datatypes import codeable_concept, concept_from
from .terminology import REQUEST_PRIORITY
from .timestamps import date_time

__all__ = ["dosage", "order_status", "priority"]

_DAILY = {"QD": 1, "QAM": 1, "QPM": 1, "QHS": 1, "BID": 2, "TID": 3, "QID": 4}
_EVERY = re.compile(r"Q(\d+)([HDWJ]|MIN)", re.ASCII)
_UNITS = {"H": "h", "D": "d", "W": "wk", "J": "d", "MIN": "min"}


def _repeat(pattern: str) -> Resource:
    pattern = pattern.upper()
    if pattern in _DAILY:
        return {"frequency": _DAILY[pattern], "period": 1, "periodUnit": "d"}
    if pattern == "QOD":
        return {"frequency": 1, "period": 2, "periodUnit": "d"}
    every = _EVERY.fullmatch(pattern)
    if every is not None and int(every.group(1)) > 0:
        return {"frequency": 1, "period": int(every.group(1)), "periodUnit": _UNITS[every.group(2)]}
    return {}


def _timing(
    ctx: Context,
    segment: Segment,
    pattern_field: int,
    pattern_component: int,
    start: tuple[str, str],
    end: tuple[str, str],
) -> Resource | None:
    """A Timing from a repeat pattern (its CWE in subcomponents) and the (value, location)
    of its start and end times."""
    pattern = [ctx.value(segment, pattern_field, pattern_component, s) for s in range(1, 10)]
    concept = concept_from(ctx, pattern) if any(pattern) else None
    repeat = _repeat(pattern[0]) if pattern[0] else {}
    begins = date_time(ctx, *start)
    ends = date_time(ctx, *end)
    if begins or ends:
        repeat = {
            "boundsPeriod": {k: v for k, v in (("start", begins), ("end", ends)) if v},
            **repeat,
        }
    timing: Resource = {}
    if repeat:
        timing["repeat"] = repeat
    if concept:
        timing["code"] = concept
    return timing or None


def dosage(
    ctx: Context,
    tq1: Segment | None,
    rxe: Segment | None,
    rxr: Segment | None,
    extra: Resource | None = None,
) -> Resource | None:
    """One Dosage: timing from TQ1 (else the pre-v2.5 RXE-1), route and site from RXR,
    plus ``extra`` elements (doses, instructions) the caller has read."""
    result: Resource = dict(extra or {})
    timing = None
    if tq1 is not None:
        timing = _timing(
            ctx, tq1, 3, 1, (ctx.value(tq1, 7), where(tq1, 7)), (ctx.value(tq1, 8), where(tq1, 8))
        )
    elif rxe is not None and ctx.repetitions(rxe, 1):
        parts = ctx.padded(rxe, 1, 6)
        timing = _timing(ctx, rxe, 1, 2, (parts[3], where(rxe, 1, 4)), (parts[4], where(rxe, 1, 5)))
    if timing:
        result["timing"] = timing
    if rxr is not None:
        site = codeable_concept(ctx, rxr, 2)
        if site:
            result["site"] = site
        route = codeable_concept(ctx, rxr, 1)
        if route:
            result["route"] = route
    if "doseAndRate" in result:  # Dosage's element order: doses after route
        result["doseAndRate"] = result.pop("doseAndRate")
    return result or None


def priority(ctx: Context, tq1: Segment | None, rxe: Segment | None) -> str:
    """request-priority from TQ1-9 (table 0485), else RXE-1.6; "" if none."""
    code = ctx.value(tq1, 9) if tq1 is not None else ""
    if not code and rxe is not None:
        code = ctx.value(rxe, 1, 6)
    return REQUEST_PRIORITY.get(code.upper(), "")


# ORC-1 order control → status, when ORC-5 (order status) is empty.
_CONTROL = {
    "CA": "cancelled",
    "CR": "cancelled",
    "OC": "cancelled",
    "UC": "cancelled",
    "DC": "stopped",
    "DR": "stopped",
    "OD": "stopped",
    "HD": "on-hold",
    "HR": "on-hold",
    "OH": "on-hold",
}


# ORC-1 order control codes of an order that stands (new, confirmed, changed, released …).
_STANDING = frozenset({"NW", "OK", "SN", "SC", "XO", "XX", "RL", "RO", "RE", "CH", "PA"})


def order_status(
    ctx: Context, orc: Segment | None, by_status: dict[str, str], default: str, standing: str = ""
) -> str:
    """A status from ORC-5 (table 0038), else ORC-1 (table 0119: cancel, discontinue,
    hold; ``standing`` for a new or changed order), else ``default``."""
    if orc is None:
        return default
    status = by_status.get(ctx.value(orc, 5).upper())
    if status is not None:
        return status
    control = ctx.value(orc, 1).upper()
    if standing and control in _STANDING:
        return standing
    return _CONTROL.get(control, default)
