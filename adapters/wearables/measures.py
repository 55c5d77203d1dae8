"""What each Open mHealth / IEEE 1752.1 measure becomes in FHIR: code, unit, category.

One function per measure takes a schema-valid body and its effective time
and sets the Observation elements that depend on the measure. Codes and
units are those of DESIGN.md and the FHIR R4 vital-signs profiles (LOINC +
UCUM); values are converted to the profile's unit (lb -> kg, F -> C) and
refused when impossible, so a wearable glitch never reaches a chart.

Steps and sleep are not vital signs: FHIR's observation-category "activity"
covers "bodily activity ... (e.g., laps swum, steps, sleep data)".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from adapters.wearables.errors import Invalid
from adapters.wearables.timeframe import Effective, duration_seconds

__all__ = ["MEASURES", "Measure"]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PROFILE = "http://hl7.org/fhir/StructureDefinition/"

# Mass units of the mass-unit-value schema, in kilograms (exact definitions).
_KILOGRAMS = {
    "fg": 1e-18, "pg": 1e-15, "ng": 1e-12, "ug": 1e-9, "mg": 1e-6, "g": 1e-3, "kg": 1.0,
    "Metric Ton": 1000.0, "gr": 64.79891e-6, "oz": 0.028349523125, "lb": 0.45359237,
    "Ton": 907.18474,
}  # fmt: skip
_MAX_STEPS_PER_DAY = 100_000

Measure = Callable[[dict[str, Any], Effective, dict[str, Any]], None]


def _vital_signs() -> list[dict[str, Any]]:
    coding = {"system": CATEGORY, "code": "vital-signs", "display": "Vital Signs"}
    return [{"coding": [coding], "text": "Vital Signs"}]


def _activity() -> list[dict[str, Any]]:
    return [
        {
            "coding": [{"system": CATEGORY, "code": "activity", "display": "Activity"}],
            "text": "Activity",
        }
    ]


def _loinc(code: str, display: str) -> dict[str, str]:
    return {"system": LOINC, "code": code, "display": display}


def _quantity(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def _tidy(number: float) -> float:
    """A converted value, as an integer when it is one (408.0 min -> 408)."""
    return int(number) if math.isfinite(number) and number == int(number) else number


def _finite(value: Any) -> bool:
    """A number a float can hold (JSON integers may be far larger)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _value(body: dict[str, Any], field: str) -> Any:
    """The ``value`` of ``body[field]`` (schema-valid: a number), refused unless finite."""
    value = body[field]["value"]
    if not _finite(value):
        raise Invalid("body", f"{field}.value", f"impossible {field}.value {value!r}")
    return value


def _impossible(path: str, value: Any, unit: str, rule: str) -> Invalid:
    return Invalid("body", path, f"impossible {path} {value!r} {unit} ({rule})")


def _rate(field: str, unit: str, high: float) -> Any:
    """A per-minute rate: heart rate, respiratory rate."""

    def read(body: dict[str, Any]) -> Any:
        value = _value(body, field)
        if not 0 < value <= high:
            raise _impossible(f"{field}.value", value, unit, f"must be > 0 and <= {high:g}")
        return value

    return read


_heart_rate = _rate("heart_rate", "beats/min", 300)
_respiratory_rate = _rate("respiratory_rate", "breaths/min", 150)


def heart_rate(body: dict[str, Any], when: Effective, out: dict[str, Any]) -> None:
    out["meta"] = {"profile": [PROFILE + "heartrate"]}
    out["category"] = _vital_signs()
    out["code"] = {"coding": [_loinc("8867-4", "Heart rate")], "text": "Heart rate"}
    out["valueQuantity"] = _quantity(_heart_rate(body), "beats/minute", "/min")


def respiratory_rate(body: dict[str, Any], when: Effective, out: dict[str, Any]) -> None:
    out["meta"] = {"profile": [PROFILE + "resprate"]}
    out["category"] = _vital_signs()
    out["code"] = {"coding": [_loinc("9279-1", "Respiratory rate")], "text": "Respiratory rate"}
    out["valueQuantity"] = _quantity(_respiratory_rate(body), "breaths/minute", "/min")


def oxygen_saturation(body: dict[str, Any], when: Effective, out: dict[str, Any]) -> None:
    value = _value(body, "oxygen_saturation")
    if not 0 < value <= 100:
        raise _impossible("oxygen_saturation.value", value, "%", "must be > 0 and <= 100")
    flow = None
    if "supplemental_oxygen_flow_rate" in body:
        flow = _value(body, "supplemental_oxygen_flow_rate")
        if not 0 <= flow <= 60:
            raise _impossible(
                "supplemental_oxygen_flow_rate.value", flow, "L/min", "must be 0 to 60"
            )
    out["meta"] = {"profile": [PROFILE + "oxygensat"]}
    out["category"] = _vital_signs()
    out["code"] = {
        "coding": [
            _loinc("2708-6", "Oxygen saturation in Arterial blood"),
            _loinc("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
        ],
        "text": "Oxygen saturation",
    }
    out["valueQuantity"] = _quantity(value, "%", "%")
    if flow is not None:
        out["component"] = [
            {
                "code": {
                    "coding": [_loinc("3151-8", "Inhaled oxygen flow rate")],
                    "text": "Inhaled oxygen flow rate",
                },
                "valueQuantity": _quantity(flow, "L/min", "L/min"),
            }
        ]


def blood_pressure(body: dict[str, Any], when: Effective, out: dict[str, Any]) -> None:
    systolic = _value(body, "systolic_blood_pressure")
    diastolic = _value(body, "diastolic_blood_pressure")
    for field, value in (
        ("systolic_blood_pressure", systolic),
        ("diastolic_blood_pressure", diastolic),
    ):
        if not 0 < value <= 300:
            raise _impossible(f"{field}.value", value, "mmHg", "must be > 0 and <= 300")
    if systolic <= diastolic:
        raise Invalid(
            "body",
            "systolic_blood_pressure.value",
            f"impossible systolic_blood_pressure.value {systolic!r} mmHg: "
            f"not above diastolic_blood_pressure.value {diastolic!r} mmHg",
        )
    out["meta"] = {"profile": [PROFILE + "bp"]}
    out["category"] = _vital_signs()
    out["code"] = {
        "coding": [_loinc("85354-9", "Blood pressure panel with all children optional")],
        "text": "Blood pressure systolic and diastolic",
    }
    out["component"] = [
        {
            "code": {
                "coding": [_loinc("8480-6", "Systolic blood pressure")],
                "text": "Systolic blood pressure",
            },
            "valueQuantity": _quantity(systolic, "mmHg", "mm[Hg]"),
        },
        {
            "code": {
                "coding": [_loinc("8462-4", "Diastolic blood pressure")],
                "text": "Diastolic blood pressure",
            },
            "valueQuantity": _quantity(diastolic, "mmHg", "mm[Hg]"),
        },
    ]


def body_weight(body: dict[str, Any], when: Effective, out: dict[str, Any]) -> None:
    value, unit = _value(body, "body_weight"), body["body_weight"]["unit"]
    factor = _KILOGRAMS.get(unit)
    if factor is None:
        raise Invalid("body", "body_weight.unit", f"cannot convert body_weight.unit {unit!r} to kg")
    kilograms = value if unit == "kg" else _tidy(round(value * factor, 3))
    if not 0 < kilograms <= 700:
        raise _impossible("body_weight.value", value, unit, "must be > 0 and <= 700 kg")
    out["meta"] = {"profile": [PROFILE + "bodyweight"]}
    out["category"] = _vital_signs()
    out["code"] = {"coding": [_loinc("29463-7", "Body weight")], "text": "Body weight"}
    out["valueQuantity"] = _quantity(kilograms, "kg", "kg")


def body_temperature(body: dict[str, Any], when: Effective, out: dict[str, Any]) -> None:
    value, unit = _value(body, "body_temperature"), body["body_temperature"]["unit"]
    if unit == "C":
        celsius = value
    elif unit == "F":
        celsius = _tidy(round((value - 32) * 5 / 9, 2))
    elif unit == "K":
        celsius = _tidy(round(value - 273.15, 2))
    else:
        raise Invalid(
            "body", "body_temperature.unit", f"cannot convert body_temperature.unit {unit!r} to Cel"
        )
    if not 25 <= celsius <= 45:
        raise _impossible("body_temperature.value", value, unit, "must be 25 to 45 Cel")
    out["meta"] = {"profile": [PROFILE + "bodytemp"]}
    out["category"] = _vital_signs()
    out["code"] = {"coding": [_loinc("8310-5", "Body temperature")], "text": "Body temperature"}
    out["valueQuantity"] = _quantity(celsius, "C", "Cel")


def _steps(value: Any, path: str, when: Effective, out: dict[str, Any]) -> None:
    if not _finite(value) or value != int(value):
        raise _impossible(path, value, "steps", "must be a whole number")
    days = max(1.0, when.seconds / 86400.0)
    if not 0 <= value <= _MAX_STEPS_PER_DAY * days:
        raise _impossible(path, value, "steps", f"must be 0 to {_MAX_STEPS_PER_DAY:,} a day")
    out["category"] = _activity()
    if when.is_day:
        code = _loinc("41950-7", "Number of steps in 24 hour Measured")
        out["valueQuantity"] = _quantity(value, "steps/day", "/d")
    else:
        code = _loinc("55423-8", "Number of steps in unspecified time Pedometer")
        out["valueQuantity"] = _quantity(value, "steps", "{steps}")
    out["code"] = {"coding": [code], "text": "Steps"}


def step_count(body: dict[str, Any], when: Effective, out: dict[str, Any]) -> None:
    _steps(body["step_count"]["value"], "step_count.value", when, out)


def physical_activity(body: dict[str, Any], when: Effective, out: dict[str, Any]) -> None:
    """IEEE physical-activity: only its step count (base_movement_quantity in steps)."""
    quantity = body.get("base_movement_quantity")
    if quantity is None:
        raise Invalid(
            "body", "base_movement_quantity", "no step count (base_movement_quantity) to convert"
        )
    if quantity["unit"] != "steps":
        raise Invalid(
            "body",
            "base_movement_quantity.unit",
            f"cannot convert base_movement_quantity.unit {quantity['unit']!r} to steps",
        )
    _steps(quantity["value"], "base_movement_quantity.value", when, out)


def _sleep(body: dict[str, Any], field: str, when: Effective, out: dict[str, Any]) -> None:
    value, unit = _value(body, field), body[field]["unit"]
    seconds = duration_seconds(body[field], field)  # refuses negatives and Mo/yr
    if when.key == "effectivePeriod" and seconds > when.seconds + 1:
        raise _impossible(f"{field}.value", value, unit, "longer than its time interval")
    out["category"] = _activity()
    out["code"] = {"coding": [_loinc("93832-4", "Sleep duration")], "text": "Sleep duration"}
    if unit in ("h", "min"):
        out["valueQuantity"] = _quantity(value, unit, unit)
    else:
        out["valueQuantity"] = _quantity(_tidy(round(seconds / 60, 2)), "min", "min")


def sleep_duration(body: dict[str, Any], when: Effective, out: dict[str, Any]) -> None:
    _sleep(body, "sleep_duration", when, out)


def total_sleep_time(body: dict[str, Any], when: Effective, out: dict[str, Any]) -> None:
    _sleep(body, "total_sleep_time", when, out)


# (namespace, name) of the schema -> what the body becomes.
MEASURES: dict[tuple[str, str], Measure] = {
    ("omh", "heart-rate"): heart_rate,
    ("omh", "respiratory-rate"): respiratory_rate,
    ("omh", "oxygen-saturation"): oxygen_saturation,
    ("omh", "blood-pressure"): blood_pressure,
    ("omh", "body-weight"): body_weight,
    ("omh", "body-temperature"): body_temperature,
    ("omh", "step-count"): step_count,
    ("ieee", "physical-activity"): physical_activity,
    ("omh", "sleep-duration"): sleep_duration,
    ("ieee", "total-sleep-time"): total_sleep_time,
}
