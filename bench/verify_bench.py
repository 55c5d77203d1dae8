"""``accord verify`` throughput: resource versions re-hashed and checked per second.

Loads ``--versions`` Observations (NDJSON through ``accord load``, which
anchors them), then times ``accord verify`` end to end (its own report of
versions/s, and the wall clock of the whole command).

    python bench/verify_bench.py [--db sqlite|postgresql] [--versions 50000]

Target: at least 10,000 versions/s.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import database, print_result

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--versions", type=int, default=50_000)
    args = parser.parse_args()
    with database(args.db) as url, tempfile.TemporaryDirectory() as tmp:
        ndjson = Path(tmp) / "obs.ndjson"
        with ndjson.open("wb") as fh:
            for i in range(args.versions):
                fh.write(
                    orjson.dumps(
                        {
                            "resourceType": "Observation",
                            "id": f"o{i}",
                            "status": "final",
                            "category": [
                                {
                                    "coding": [
                                        {
                                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                            "code": "vital-signs",
                                        }
                                    ]
                                }
                            ],
                            "code": {
                                "coding": [
                                    {
                                        "system": "http://loinc.org",
                                        "code": "8867-4",
                                        "display": "Heart rate",
                                    }
                                ]
                            },
                            "subject": {"reference": f"Patient/p{i % 1000}"},
                            "effectiveDateTime": "2026-11-26T10:00:00+01:00",
                            "valueQuantity": {
                                "value": 60 + i % 50,
                                "unit": "beats/minute",
                                "system": "http://unitsofmeasure.org",
                                "code": "/min",
                            },
                        }
                    )
                    + b"\n"
                )
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": "",
            "ACCORD_LEDGER_KEY_FILE": str(Path(tmp) / "ledger.key"),
        }
        subprocess.run(
            [str(BIN / "accord"), "load", "--batch", "500", str(ndjson)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = time.perf_counter()
        result = subprocess.run(
            [str(BIN / "accord"), "verify", "--strict"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
    print(result.stdout.strip().splitlines()[-1])
    if result.returncode != 0:
        sys.exit(f"verify failed:\n{result.stdout}\n{result.stderr}")
    reported = float(re.search(r"\((\d+) versions/s\)", result.stdout).group(1))  # type: ignore[union-attr]
    print(
        f"{args.db}: accord verify checked {args.versions} versions at {reported:.0f}/s "
        f"({args.versions / wall:.0f}/s including start-up, {wall:.1f} s)"
    )
    print_result(
        "verify",
        db=args.db,
        versions=args.versions,
        rate=reported,
        rate_with_startup=round(args.versions / wall),
    )


if __name__ == "__main__":
    main()
