"""OBX → Observation (lab results, and the OBX of a vaccination or a specimen).

The value follows OBX-2 as the V2-to-FHIR guide's OBX map does: NM →
valueQuantity (UCUM when OBX-6 is), SN → valueQuantity with a comparator,
valueRange (``-``) or valueRatio (``:`` ``/``), ST/TX/FT → valueString,
CE/CWE/CNE/CF/IS/ID → valueCodeableConcept, DT/DTM/TS → valueDateTime, TM →
valueTime, NR → valueRange, DR → valuePeriod. Other types keep everything but
the value, with a warning. A number that is not one is an error (102): a
result must never be silently dropped or misread.

OBX-11 (result status, table 0085) is required; the guide leaves B, I, N, O,
R, S, U and V unmapped, and we choose: B amended; I and O registered (no
result yet); R and S preliminary; U and V final; N final with
dataAbsentReason not-asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import ErrorCode
from ..parser import Segment
from .context import Context, Resource, fail, where
from .datatypes import (
    Decimal,
    codeable_concept,
    coding,
    concept_from,
    ei_identifier,
    formatted_text,
    number,
    practitioner,
    quantity,
)
from .terminology import INTERPRETATION, OBSERVATION_STATUS, V3_INTERPRETATION
from .timestamps import date_time, time_of_day

__all__ = ["observation", "observation_key"]

_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
_TEXT_TYPES = frozenset({"ST", "TX", "FT"})
_CODED_TYPES = frozenset({"CE", "CWE", "CNE", "CF", "IS", "ID"})
_DATE_TYPES = frozenset({"DT", "DTM", "TS"})
_COMPARATORS = {"<": "<", ">": ">", "<=": "<=", ">=": ">=", "=": "", "": ""}
_RANGE = re.compile(r"\s*([+-]?\d*\.?\d+)\s*(?:-|\u2013|\.\.)\s*([+-]?\d*\.?\d+)\s*", re.ASCII)
_BOUND = re.compile(r"\s*(<=|>=|≤|≥)\s*([+-]?\d*\.?\d+)\s*", re.ASCII)


def observation_key(ctx: Context, obx: Segment) -> tuple[str, str, str]:
    """What tells an OBX apart within its order: code system, code (OBX-3) and sub-id
    (OBX-4). The set id OBX-1 is left out: senders renumber it."""
    parts = ctx.padded(obx, 3, 3)
    return parts[2].upper(), parts[0], ctx.value(obx, 4)


def observation(
    ctx: Context,
    obx: Segment,
    observation_id: str,
    patient_id: str | None,
    *,
    encounter_id: str | None = None,
    effective: str | None = None,
    notes: Sequence[str] = (),
    specimen_id: str | None = None,
    part_of: str | None = None,
) -> Resource:
    """The Observation of one OBX. OBX-3 (code) and OBX-11 (status) are required;
    ``effective`` (already a FHIR dateTime) stands in for an empty OBX-14."""
    code = codeable_concept(ctx, obx, 3)
    if code is None:
        fail(
            "OBX-3 (observation identifier) is required",
            where(obx, 3),
            "Observation.code",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    result_status = ctx.value(obx, 11).upper()
    if not result_status:
        fail(
            "OBX-11 (observation result status) is required",
            where(obx, 11),
            "Observation.status",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    status = OBSERVATION_STATUS.get(result_status)
    if status is None:
        fail(
            f"{result_status!r} is not an HL7 table 0085 result status",
            where(obx, 11),
            "Observation.status",
            ErrorCode.TABLE_VALUE_NOT_FOUND,
        )

    has = ctx.filled(obx, 24)
    resource: Resource = {"resourceType": "Observation", "id": observation_id}
    instance = ctx.value(obx, 21) if has[21] else ""
    if instance:
        found = ei_identifier(
            ctx,
            instance,
            (ctx.value(obx, 21, 3), ctx.value(obx, 21, 4), ctx.value(obx, 21, 2)),
            "FILL",
        )
        if found is not None:
            resource["identifier"] = [found]
    if part_of:
        resource["partOf"] = [{"reference": part_of}]
    resource["status"] = status
    resource["code"] = code
    if patient_id:
        resource["subject"] = {"reference": f"Patient/{patient_id}"}
    if encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    observed = ctx.value(obx, 14)
    # A lab sends the same time with every result: converted once (ctx.times).
    when = ctx.times.get(observed) or (
        date_time(ctx, observed, where(obx, 14)) if observed else None
    )
    when = when or effective
    if when:
        resource["effectiveDateTime"] = when
    performers = _performers(ctx, obx) if has[15] or has[16] or has[23] else []
    if performers:
        resource["performer"] = performers

    found_value = _value(ctx, obx)
    if found_value is not None:
        resource[found_value[0]] = found_value[1]
    elif result_status == "N":
        resource["dataAbsentReason"] = {"coding": [coding(_ABSENT, "not-asked", "Not Asked")]}
    interpretations = _interpretations(ctx, obx) if has[8] else []
    if interpretations:
        resource["interpretation"] = interpretations
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    site = codeable_concept(ctx, obx, 20) if has[20] else None
    if site:
        resource["bodySite"] = site
    method = codeable_concept(ctx, obx, 17) if has[17] else None
    if method:
        resource["method"] = method
    if specimen_id:
        resource["specimen"] = {"reference": f"Specimen/{specimen_id}"}
    reference_range = _reference_range(ctx, obx, resource.get("valueQuantity")) if has[7] else None
    if reference_range:
        resource["referenceRange"] = [reference_range]
    return resource


# -- the value ----------------------------------------------------------------------


def _number(obx: Segment, text: str, what: str, path: str) -> int | Decimal:
    found = number(text)
    if found is None:
        fail(f"{text!r} is not a number ({what})", where(obx, 5), path, ErrorCode.DATA_TYPE_ERROR)
    return found


def _value(ctx: Context, obx: Segment) -> tuple[str, object] | None:
    """(``value[x]`` element name, value) from OBX-2/-5/-6, or None when there is none."""
    kind = ctx.value(obx, 2).upper()
    sent = ctx.parts(obx, 5)
    if not sent:
        return None
    if kind in _TEXT_TYPES:
        text = formatted_text(ctx, obx, 5)
        return ("valueString", text) if text else None
    if not kind:
        fail(
            "OBX-2 (value type) is required when OBX-5 has a value",
            where(obx, 2),
            "Observation.value[x]",
            ErrorCode.REQUIRED_FIELD_MISSING,
        )
    if sum(1 for rep in sent if any(rep)) > 1:
        ctx.warn(where(obx, 5), f"only the first of several {kind} values is kept")
    units = ctx.components(obx, 6)
    if kind == "NM":
        text = ctx.value(obx, 5)
        if not text:
            return None
        amount = _number(obx, text, "OBX-2 is NM", "Observation.valueQuantity.value")
        return "valueQuantity", quantity(ctx, amount, units)
    if kind == "SN":
        return _structured_numeric(ctx, obx, units)
    if kind in _CODED_TYPES:
        concept = concept_from(ctx, ctx.components(obx, 5))
        return ("valueCodeableConcept", concept) if concept else None
    if kind in _DATE_TYPES:
        when = date_time(ctx, ctx.value(obx, 5), where(obx, 5))
        return ("valueDateTime", when) if when else None
    if kind == "TM":
        time = time_of_day(ctx.value(obx, 5))
        if time is None:
            ctx.warn(where(obx, 5), f"{ctx.value(obx, 5)!r} is not an HL7 time: left out")
        return ("valueTime", time) if time else None
    if kind == "NR":
        parts = ctx.padded(obx, 5, 2)
        low, high = (
            _number(obx, p, "NR", "Observation.valueRange") if p else None for p in parts[:2]
        )
        bounds = {k: {"value": v} for k, v in (("low", low), ("high", high)) if v is not None}
        return ("valueRange", bounds) if bounds else None
    if kind == "DR":
        parts = ctx.padded(obx, 5, 2)
        start = date_time(ctx, parts[0], where(obx, 5, 1))
        end = date_time(ctx, parts[1], where(obx, 5, 2))
        period = {k: v for k, v in (("start", start), ("end", end)) if v}
        return ("valuePeriod", period) if period else None
    ctx.warn(where(obx, 2), f"value type {kind!r} is not converted: the value is left out")
    return None


def _structured_numeric(ctx: Context, obx: Segment, units: list[str]) -> tuple[str, object] | None:
    """SN: comparator ^ number ^ separator/suffix ^ number (the guide's four cases)."""
    parts = ctx.padded(obx, 5, 4)
    comparator, first, separator, second = parts[:4]
    if not (first or second):
        return None
    text = " ".join(p for p in (comparator, first, separator, second) if p)
    if comparator == "<>" or separator == "+" or comparator not in _COMPARATORS:
        return "valueString", text
    low = _number(obx, first, "SN", "Observation.valueQuantity.value") if first else None
    high = _number(obx, second, "SN", "Observation.valueQuantity.value") if second else None
    if separator in (":", "/") and low is not None and high is not None:
        return "valueRatio", {
            "numerator": quantity(ctx, low, units),
            "denominator": {"value": high},
        }
    if separator == "-" and low is not None and high is not None:
        return "valueRange", {"low": quantity(ctx, low, units), "high": quantity(ctx, high, units)}
    if separator or low is None:
        return "valueString", text
    found = quantity(ctx, low, units)
    if _COMPARATORS[comparator]:
        found = {
            "value": low,
            "comparator": _COMPARATORS[comparator],
            **{k: v for k, v in found.items() if k != "value"},
        }
    return "valueQuantity", found


# -- range, flags, people -----------------------------------------------------------


def _reference_range(ctx: Context, obx: Segment, measured: Resource | None) -> Resource | None:
    """OBX-7 as referenceRange.text, with low/high when it reads ``a-b``, ``>=a``, ``<=b``
    (in the units of the value)."""
    text = ctx.value(obx, 7)
    if not text:
        return None
    result: Resource = {}
    unit = {k: v for k, v in (measured or {}).items() if k in ("unit", "system", "code")}

    def bound(raw: str) -> Resource | None:
        found = number(raw)
        return None if found is None else {"value": found, **unit}

    span = _RANGE.fullmatch(text)
    one = _BOUND.fullmatch(text)
    if span is not None:
        low, high = bound(span.group(1)), bound(span.group(2))
        if low is not None and high is not None:
            result["low"], result["high"] = low, high
    elif one is not None:
        limit = bound(one.group(2))
        if limit is not None:
            result["high" if one.group(1) in ("<=", "≤") else "low"] = limit
    result["text"] = text
    return result


def _interpretations(ctx: Context, obx: Segment) -> list[Resource]:
    """OBX-8 abnormal flags: v3 ObservationInterpretation for table 0078 codes."""
    result = []
    for rep in range(1, ctx.repetitions(obx, 8) + 1):
        parts = ctx.components(obx, 8, rep)
        flag = parts[0] if parts else ""
        if not flag:
            continue
        system = parts[2].upper() if len(parts) > 2 else ""
        if flag in INTERPRETATION and system in ("", "HL70078"):
            result.append({"coding": [coding(V3_INTERPRETATION, flag, INTERPRETATION[flag])]})
        else:
            concept = concept_from(ctx, parts)
            if concept:
                result.append(concept)
    return result


def _performers(ctx: Context, obx: Segment) -> list[Resource]:
    """OBX-16 responsible observers, then OBX-15/OBX-23 the producing lab (logical)."""
    result = [
        p
        for rep in range(1, ctx.repetitions(obx, 16) + 1)
        if (p := practitioner(ctx, obx, 16, rep))
    ]
    for field in (23, 15):
        parts = ctx.components(obx, field)
        if not parts:
            continue
        # XON (OBX-23): name ^ … ^ id in XON.10; CWE (OBX-15): id ^ name.
        name, code_value = (
            (parts[0], parts[9] if len(parts) > 9 else "")
            if field == 23
            else (parts[1] if len(parts) > 1 else "", parts[0])
        )
        lab: Resource = {"type": "Organization"}
        if code_value:
            lab["identifier"] = {"value": code_value}
        if name:
            lab["display"] = name
        if len(lab) > 1:
            result.append(lab)
            break
    return result
