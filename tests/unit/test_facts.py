"""Dedupe keys: which versions state the same clinical fact."""

from __future__ import annotations

from typing import Any

from records.facts import fact_keys


def heart_rate(when: str, value: float, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "/min", "code": "/min"},
        **extra,
    }


def test_the_same_reading_in_two_time_zones_is_one_fact() -> None:
    assert fact_keys(heart_rate("2024-05-01T10:00:00+02:00", 64)) == fact_keys(
        heart_rate("2024-05-01T08:00:00Z", 64.0)
    )


def test_another_value_time_or_code_is_another_fact() -> None:
    base = fact_keys(heart_rate("2024-05-01T08:00:00Z", 64))
    assert fact_keys(heart_rate("2024-05-01T08:00:00Z", 65)) != base
    assert fact_keys(heart_rate("2024-05-01T08:01:00Z", 64)) != base
    other = heart_rate("2024-05-01T08:00:00Z", 64)
    other["code"]["coding"][0]["code"] = "9279-1"
    assert fact_keys(other) != base


def test_a_shared_identifier_is_one_fact_whatever_else_differs() -> None:
    ident = [{"system": "urn:oid:1.2.3", "value": "LAB-77"}]
    a = set(fact_keys(heart_rate("2024-05-01T08:00:00Z", 64, identifier=ident)))
    b = set(fact_keys(heart_rate("2024-06-01T08:00:00Z", 70, identifier=ident)))
    assert a & b == {"Observation|id|urn:oid:1.2.3|LAB-77"}


def test_patients_and_records_of_writes_are_never_facts() -> None:
    ident = [{"system": "urn:oid:1.2.3", "value": "1"}]
    assert fact_keys({"resourceType": "Patient", "identifier": ident}) == []
    assert fact_keys({"resourceType": "Provenance", "identifier": ident}) == []


def test_a_reading_without_a_time_has_only_its_identifiers() -> None:
    reading = heart_rate("2024-05-01T08:00:00Z", 64)
    del reading["effectiveDateTime"]
    assert fact_keys(reading) == []


def test_keys_stay_short_enough_to_index() -> None:
    keys = fact_keys(heart_rate("2024", 1, identifier=[{"system": "s", "value": "v" * 5000}]))
    assert keys and all(len(k) <= 200 for k in keys)
    assert len(set(keys)) == len(keys)
