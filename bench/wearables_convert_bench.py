"""Wearable ingest speed: adapters.wearables.convert_batch on a 10,000-reading mixed batch.

The batch mixes all ten supported schemas (heart rate, respiratory rate,
SpO2, blood pressure, body weight in lb, body temperature in F, step count,
IEEE physical activity, sleep duration, IEEE total sleep time), every
reading valid, from one vendor and one user, as a vendor posts them.

Figures, best of several runs, on one core:

* convert: the parsed batch in, a Conversion out (schema validation, time
  zones, plausibility, units, FHIR Observations, Devices, Patient);
* loads + convert: the raw JSON bytes in (orjson), as the ingest worker
  runs it;
* convert, GC left running: convert_batch pauses the cyclic garbage
  collector while it works; this figure re-enables it inside the batch (a
  patched ``gc.disable``) to show what the pause is worth;
* jsonschema (refs): full ``jsonschema`` validation of the same bodies
  against the official schemas with ``$ref`` resolution, the path that
  fastjsonschema replaces (validation only, no conversion).

Target: convert >= 50,000 readings/s, so that ingest end-to-end can reach
20,000 readings/s.

    .venv/bin/python bench/wearables_convert_bench.py [--runs 5] [--readings 10000]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from benchlib import print_result

from adapters.wearables import convert_batch

TARGET = 50_000  # readings/s, convert alone
START = datetime(2026, 3, 2, tzinfo=timezone(timedelta(hours=1)))


def _header(n: int, namespace: str, name: str, version: str) -> dict[str, Any]:
    return {
        "uuid": f"7c1b6f1e-0d3a-4c1e-9a55-{n:012d}",
        "schema_id": {"namespace": namespace, "name": name, "version": version},
        "source_creation_date_time": "2026-03-02T07:31:12.120+01:00",
        "acquisition_provenance": {"source_name": "Acme Band 4", "modality": "sensed"},
    }


def _at(n: int) -> str:
    """A time n minutes into the recording (March 2026, Central European Time)."""
    at = START + timedelta(minutes=n)
    return at.isoformat()


def _interval(n: int, minutes: int) -> dict[str, Any]:
    return {
        "time_interval": {"start_date_time": _at(n), "duration": {"value": minutes, "unit": "min"}}
    }


def _body(kind: int, n: int) -> tuple[tuple[str, str, str], dict[str, Any]]:
    at = {"date_time": _at(n)}
    if kind == 0:
        return ("omh", "heart-rate", "2.0"), {
            "heart_rate": {"value": 60 + n % 40, "unit": "beats/min"},
            "effective_time_frame": at,
        }
    if kind == 1:
        return ("omh", "respiratory-rate", "2.0"), {
            "respiratory_rate": {"value": 14, "unit": "breaths/min"},
            "effective_time_frame": at,
        }
    if kind == 2:
        return ("omh", "oxygen-saturation", "2.0"), {
            "oxygen_saturation": {"value": 97, "unit": "%"},
            "effective_time_frame": at,
            "measurement_method": "pulse oximetry",
        }
    if kind == 3:
        return ("omh", "blood-pressure", "4.0"), {
            "systolic_blood_pressure": {"value": 118, "unit": "mmHg"},
            "diastolic_blood_pressure": {"value": 76, "unit": "mmHg"},
            "effective_time_frame": at,
        }
    if kind == 4:
        return ("omh", "body-weight", "3.0"), {
            "body_weight": {"value": 172.4, "unit": "lb"},
            "effective_time_frame": at,
        }
    if kind == 5:
        return ("omh", "body-temperature", "4.0"), {
            "body_temperature": {"value": 98.4, "unit": "F"},
            "effective_time_frame": at,
        }
    if kind == 6:
        return ("omh", "step-count", "3.0"), {
            "step_count": {"value": 412, "unit": "steps"},
            "effective_time_frame": _interval(n, 15),
        }
    if kind == 7:
        return ("ieee", "physical-activity", "1.0"), {
            "activity_name": "walking",
            "base_movement_quantity": {"value": 1830, "unit": "steps"},
            "effective_time_frame": {
                "time_interval": {"start_date_time": _at(n), "end_date_time": _at(n + 20)}
            },
        }
    if kind == 8:
        return ("omh", "sleep-duration", "2.0"), {
            "sleep_duration": {"value": 412, "unit": "min"},
            "effective_time_frame": _interval(n, 480),
        }
    return ("ieee", "total-sleep-time", "1.0"), {
        "total_sleep_time": {"value": 25200, "unit": "sec"},
        "effective_time_frame": _interval(n, 480),
    }


def mixed_batch(readings: int) -> list[dict[str, Any]]:
    """``readings`` valid data points, the ten kinds in turn."""
    points = []
    for n in range(readings):
        schema, body = _body(n % 10, n)
        points.append({"header": _header(n, *schema), "body": body})
    return points


def best_rate(fn: Callable[[], Any], readings: int, runs: int) -> float:
    best = 0.0
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = max(best, readings / (time.perf_counter() - started))
    return best


def jsonschema_rate(points: list[dict[str, Any]], runs: int) -> float:
    """Readings/s of full jsonschema validation (header + body) with $ref resolution."""
    import jsonschema

    from adapters.wearables.schemas import HEADER_FILE, SCHEMA_FILES, load, registry, schema_key

    validators: dict[Any, Any] = {}
    header = jsonschema.Draft7Validator(load(HEADER_FILE), registry=registry())
    pairs = []
    for point in points:
        sid = point["header"]["schema_id"]
        key = schema_key(sid["namespace"], sid["name"], sid["version"])
        assert key is not None
        if key not in validators:
            validators[key] = jsonschema.Draft7Validator(
                load(SCHEMA_FILES[key]), registry=registry()
            )
        pairs.append((validators[key], point))

    def run() -> None:
        for validator, point in pairs:
            header.validate(point["header"])
            validator.validate(point["body"])

    return best_rate(run, len(points), max(1, runs // 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readings", type=int, default=10_000, help="batch size (<= 10,000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure, best kept")
    parser.add_argument("--no-jsonschema", action="store_true", help="skip the jsonschema figure")
    args = parser.parse_args()

    points = mixed_batch(args.readings)
    raw = orjson.dumps(points)
    first = convert_batch(points, vendor="acme", user_id="user-0001")  # compiles the validators
    assert not first.rejected, first.rejected[:3]
    observations = sum(r["resourceType"] == "Observation" for r in first.resources)
    print(
        f"batch: {args.readings:,} readings, {len(raw) / 1e6:.1f} MB JSON, ten schemas; "
        f"out: {len(first.resources):,} resources ({observations:,} Observations)"
    )

    figures = {
        "convert": best_rate(
            lambda: convert_batch(points, vendor="acme", user_id="user-0001"),
            args.readings,
            args.runs,
        ),
        "loads + convert": best_rate(
            lambda: convert_batch(orjson.loads(raw), vendor="acme", user_id="user-0001"),
            args.readings,
            args.runs,
        ),
    }
    disable = gc.disable
    gc.disable = lambda: None
    try:
        figures["convert, GC left running"] = best_rate(
            lambda: convert_batch(points, vendor="acme", user_id="user-0001"),
            args.readings,
            args.runs,
        )
    finally:
        gc.disable = disable
    if not args.no_jsonschema:
        figures["jsonschema (refs), validation only"] = jsonschema_rate(points, args.runs)

    for name, value in figures.items():
        print(f"{name:36s} {value:10,.0f} readings/s  {1e6 / value:7.1f} µs/reading")
    rate = figures["convert"]
    print(f"target convert >= {TARGET:,}/s: {'met' if rate >= TARGET else 'MISSED'}")
    print_result(
        "wearables_convert",
        readings=args.readings,
        convert_per_s=round(rate),
        loads_convert_per_s=round(figures["loads + convert"]),
        convert_gc_running_per_s=round(figures["convert, GC left running"]),
        jsonschema_validate_per_s=round(figures.get("jsonschema (refs), validation only", 0)),
    )


if __name__ == "__main__":
    main()
