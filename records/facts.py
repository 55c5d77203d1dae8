"""Dedupe keys: when two sources send the same clinical fact, the unified record shows it once.

Two versions state the same fact when they share a key: the same business
identifier (system and value), or the same code at the same time with the same
value. Keys are computed on write and stored beside the version (table
``fact_key``), so ``Patient/$everything`` can fold duplicates across a whole
compartment without reading every resource body.

Patients are never folded (they are linked by the master patient index), nor
are Provenance and AuditEvent records, which describe a write rather than care.
"""

from __future__ import annotations

import hashlib
from typing import Any

from records.search.extract import date_range

__all__ = ["fact_keys"]

_NOT_FACTS = frozenset({"Patient", "Provenance", "AuditEvent", "Bundle", "Consent"})

# resource type -> (code element, time elements, value elements); "[x]" elements listed
# by their concrete names.
_SHAPES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "Observation": (
        "code",
        ("effectiveDateTime", "effectiveInstant", "effectivePeriod"),
        (
            "valueQuantity",
            "valueCodeableConcept",
            "valueString",
            "valueBoolean",
            "valueInteger",
            "component",
        ),
    ),
    "DiagnosticReport": ("code", ("effectiveDateTime", "effectivePeriod"), ()),
    "Condition": ("code", ("onsetDateTime", "onsetPeriod", "recordedDate"), ()),
    "AllergyIntolerance": ("code", ("onsetDateTime", "recordedDate"), ()),
    "Procedure": ("code", ("performedDateTime", "performedPeriod"), ()),
    "Immunization": ("vaccineCode", ("occurrenceDateTime",), ()),
    "MedicationRequest": (
        "medicationCodeableConcept",
        ("authoredOn",),
        ("dosageInstruction",),
    ),
    "MedicationDispense": (
        "medicationCodeableConcept",
        ("whenHandedOver", "whenPrepared"),
        ("quantity",),
    ),
    "MedicationStatement": ("medicationCodeableConcept", ("effectiveDateTime",), ()),
}


def fact_keys(resource: dict[str, Any]) -> list[str]:
    """The dedupe keys of a resource (empty when it has none)."""
    resource_type = resource.get("resourceType", "")
    if resource_type in _NOT_FACTS:
        return []
    keys = {
        f"{resource_type}|id|{i['system']}|{i['value']}"
        for i in resource.get("identifier") or ()
        if isinstance(i, dict) and i.get("system") and i.get("value")
    }
    shape = _SHAPES.get(resource_type)
    if shape is not None:
        code_element, time_elements, value_elements = shape
        when = _time(resource, time_elements)
        if when is not None:
            value = _value(resource, value_elements)
            for system, code in _codings(resource.get(code_element)):
                keys.add(f"{resource_type}|at|{system}|{code}|{when}|{value}")
    return sorted(_bounded(key) for key in keys)


def _bounded(key: str) -> str:
    """Keys are indexed: a long one (an identifier can be any length) becomes its digest."""
    if len(key) <= 200:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _codings(concept: Any) -> list[tuple[str, str]]:
    if not isinstance(concept, dict):
        return []
    return [
        (c["system"], c["code"])
        for c in concept.get("coding") or ()
        if isinstance(c, dict) and c.get("system") and c.get("code")
    ]


def _time(resource: dict[str, Any], elements: tuple[str, ...]) -> str | None:
    """The first time element present, as a UTC range (so zones do not matter)."""
    for element in elements:
        value = resource.get(element)
        if isinstance(value, dict):
            value = value.get("start")
        if isinstance(value, str):
            try:
                low, high = date_range(value)
            except ValueError:
                return None
            return f"{low}/{high}"
    return None


def _value(resource: dict[str, Any], elements: tuple[str, ...]) -> str:
    """A canonical text of the value: quantities by number and UCUM code, concepts by coding."""
    for element in elements:
        value = resource.get(element)
        if value is None:
            continue
        return f"{element}={_canonical(value)}"
    return ""


def _canonical(value: Any) -> str:
    if isinstance(value, dict):
        if "value" in value and ("code" in value or "unit" in value):
            number = float(value["value"])
            return f"{number:g} {value.get('code') or value.get('unit')}"
        if "coding" in value:
            return ",".join(f"{s}|{c}" for s, c in sorted(_codings(value)))
        return "{" + ",".join(f"{k}:{_canonical(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return str(value)
