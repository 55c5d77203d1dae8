"""HL7 v2 → FHIR conversion speed: a 1.4 KB ORU^R01 (nine results), parsed and converted.

The message is the one hl7_parse_bench.py reads (one patient, a visit, an
order with nine numeric results with UCUM units, ranges and flags, a note);
it converts to 11 resources (Patient, nine Observations, DiagnosticReport).

Figures are CPU time of this process, best of three runs, so they are "on
one core" even when other work shares the machine:

* parse + convert: the message bytes in, a Conversion out (what an ingest
  worker does per message);
* convert: an already parsed message.

Target: parse + convert >= 3,000 msg/s on one core.

    .venv/bin/python bench/hl7_convert_bench.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from benchlib import print_result
from hl7_parse_bench import ORU_R01

from adapters.hl7v2 import parse_message
from adapters.hl7v2.to_fhir import convert

TARGET = 3_000  # msg/s, parse + convert, one core


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per CPU second of ``fn``, best of three runs of about ``seconds`` / 3 each."""
    fn()
    batch = 1
    while True:
        started = time.process_time()
        for _ in range(batch):
            fn()
        if time.process_time() - started > 0.05:
            break
        batch *= 2
    best = 0.0
    for _ in range(3):
        count, started = 0, time.process_time()
        while (elapsed := time.process_time() - started) < seconds / 3:
            for _ in range(batch):
                fn()
            count += batch
        best = max(best, count / elapsed)
    return best


def check(raw: bytes) -> list[str]:
    """The resource types the message converts to, each validated once with
    fhir.resources R4B (not timed; skipped if fhir.resources is missing)."""
    conversion = convert(parse_message(raw), source="bench-feed")
    assert not conversion.warnings, conversion.warnings
    try:
        from fhir.resources.R4B import get_fhir_model_class
    except ImportError:
        return [r["resourceType"] for r in conversion.resources]
    for resource in conversion.resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return [r["resourceType"] for r in conversion.resources]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU time per figure")
    args = parser.parse_args()
    raw = ORU_R01.encode()
    kinds = check(raw)
    print(
        f"message: ORU^R01 v2.5.1, {len(raw)} bytes, {ORU_R01.count(chr(13))} segments "
        f"-> {len(kinds)} resources ({kinds.count('Observation')} Observations), valid R4"
    )
    parsed = parse_message(raw)
    figures = {
        "parse + convert (bytes)": rate(
            lambda: convert(parse_message(raw), source="bench-feed"), args.seconds
        ),
        "convert (parsed message)": rate(
            lambda: convert(parsed, source="bench-feed"), args.seconds
        ),
    }
    for name, value in figures.items():
        print(f"{name:26s} {value:10,.0f} msg/s  {1e6 / value:8.1f} µs/msg (one core)")
    total = figures["parse + convert (bytes)"]
    print(
        f"target parse + convert >= {TARGET:,}/s: {'met' if total >= TARGET else 'MISSED'} "
        f"({total * len(kinds):,.0f} resources/s)"
    )
    print_result(
        "hl7_convert",
        bytes=len(raw),
        resources=len(kinds),
        parse_convert_per_s=round(total),
        convert_per_s=round(figures["convert (parsed message)"]),
    )


if __name__ == "__main__":
    main()
