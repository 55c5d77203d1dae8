"""``GET /fhir/Patient/{id}/$everything`` latency, in-process through the Flask test client.

For the database given, a fresh database holding:

* a patient with about 1,000 resources (Encounters, Conditions, Observations,
  MedicationRequests from ``data.py``), a tenth of them on a second Patient
  linked to the first, and 5 % of the Observations sent again by a second
  source (so the dedupe has work to do);
* a patient with about 10,000 resources, built the same way;
* other patients' records around them (noise in every index).

Then ``--requests`` times the whole request for the first page (default
``_count``) of each, and one walk of every page of the 1,000-resource record.
Figures are milliseconds of wall time per request, measured around
``client.get`` (routing, the queries, the JSON of the Bundle).

    .venv/bin/python bench/everything_bench.py --db sqlite
    .venv/bin/python bench/everything_bench.py --db postgresql --requests 300

Targets: p50 at most 20 ms for the 1,000-resource patient, first page at most
200 ms for the 10,000-resource patient.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import database, describe_source, percentile, print_result, speed_probe, wait_quiet
from data import RESOURCES_PER_BUNDLE, make_bundle

TARGET_P50_MS = 20.0  # 1,000 resources, default _count
TARGET_FIRST_PAGE_MS = 200.0  # 10,000 resources


def _resources(bundle_index: int, patient_id: str | None) -> list[dict[str, Any]]:
    """A data.py bundle as resources with ids, its patient renamed ``patient_id``.

    With ``patient_id`` None the bundle's own Patient is kept (a noise patient).
    """
    bundle = make_bundle(bundle_index, seed=7)
    ids: dict[str, str] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        rid = entry["fullUrl"].removeprefix("urn:uuid:")
        if resource["resourceType"] == "Patient" and patient_id is not None:
            rid = patient_id
        ids[entry["fullUrl"]] = f"{resource['resourceType']}/{rid}"
        resource["id"] = rid

    def rewrite(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "reference" and isinstance(value, str) and value in ids:
                    node[key] = ids[value]
                else:
                    rewrite(value)
        elif isinstance(node, list):
            for item in node:
                rewrite(item)

    resources = [e["resource"] for e in bundle["entry"]]
    rewrite(resources)
    if patient_id is not None:
        resources = [r for r in resources if r["resourceType"] != "Patient"]
    return resources


def _store(app: Any, source: str, resources: list[dict[str, Any]]) -> None:
    from records.access import ANONYMOUS, Repository
    from records.interactions import Context, store_resources

    ext = app.extensions["accord"]
    repo = Repository(ext.store, ANONYMOUS, ext.policy)
    ctx = Context("http://bench/fhir", source)
    for start in range(0, len(resources), 500):
        with repo.write() as g:
            store_resources(g, ctx, resources[start : start + 500])


def _link(app: Any, patient_id: str, other_id: str) -> None:
    """Make sure the link row exists even where Patient writes do not maintain it yet."""
    from records.storage.link_sql import links_of, set_links

    with app.extensions["accord"].store.write() as tx:
        if other_id not in links_of(tx.conn, patient_id):
            set_links(
                tx.conn, patient_id, [*links_of(tx.conn, patient_id).items(), (other_id, "seealso")]
            )


def load_patient(app: Any, patient_id: str, size: int, first_bundle: int) -> int:
    """A patient with ``size`` resources (and a linked second Patient); returns bundles used."""
    other = f"{patient_id}-b"
    patients = [
        {"resourceType": "Patient", "id": patient_id, "gender": "female", "birthDate": "1970-02-03",
         "name": [{"family": "Bench", "given": [patient_id]}]},
        {"resourceType": "Patient", "id": other, "gender": "female", "birthDate": "1970-02-03",
         "name": [{"family": "Bench", "given": [patient_id]}],
         "link": [{"other": {"reference": f"Patient/{patient_id}"}, "type": "seealso"}]},
    ]  # fmt: skip
    _store(app, "urn:accord:source:ehr", patients)
    _link(app, other, patient_id)
    bundles = max(1, round((size - 2) / (RESOURCES_PER_BUNDLE - 1)))
    main: list[dict[str, Any]] = []
    second: list[dict[str, Any]] = []
    duplicates: list[dict[str, Any]] = []
    for i in range(bundles):
        owner = other if i % 10 == 9 else patient_id
        resources = _resources(first_bundle + i, owner)
        (second if owner == other else main).extend(resources)
        for n, r in enumerate(resources):
            if r["resourceType"] == "Observation" and n % 20 == 0:
                copy_ = copy.deepcopy(r)
                copy_["id"] = f"{r['id']}-lab"
                copy_.pop("identifier", None)
                duplicates.append(copy_)
    everything = (main + second)[: size - 2 - len(duplicates)]
    kept = {r["id"] for r in everything}
    duplicates = [d for d in duplicates if d["id"].removesuffix("-lab") in kept]
    _store(app, "urn:accord:source:ehr", everything)
    _store(app, "urn:accord:source:lab", duplicates)
    return bundles


def _timed(client: Any, url: str, requests: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each request (CPU: this process, so SQLite's work
    is in it and PostgreSQL's is not; on a busy machine it is the steadier figure)."""
    times, cpu = [], []
    for _ in range(requests):
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.get_data(as_text=True)}")
    return times, cpu


def _walk(client: Any, url: str) -> tuple[int, int, float]:
    """(pages, entries, ms) following next links to the end."""
    started = time.perf_counter()
    pages = entries = 0
    next_url: str | None = url
    while next_url:
        body = client.get(next_url.replace("http://localhost", "")).get_json(force=True)
        pages += 1
        entries += sum(1 for e in body.get("entry", []) if e["search"]["mode"] == "match")
        next_url = next((ln["url"] for ln in body["link"] if ln["relation"] == "next"), None)
    return pages, entries, (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per figure")
    parser.add_argument("--small", type=int, default=1000, help="resources of the first patient")
    parser.add_argument("--large", type=int, default=10000, help="resources of the second")
    parser.add_argument("--noise", type=int, default=10, help="other patients (100 resources each)")
    args = parser.parse_args(argv)

    from gateway import create_app

    print(f"# Patient/$everything on {args.db} ({describe_source()})", flush=True)
    with database(args.db) as url, tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "database_url": url,
                "redis_url": "",
                "ledger_key_file": str(Path(tmp) / "ledger.key"),
                "auto_migrate": False,
            }
        )
        started = time.perf_counter()
        used = load_patient(app, "small", args.small, 0)
        used += load_patient(app, "large", args.large, used)
        for n in range(args.noise):
            _store(app, "urn:accord:source:ehr", _resources(used + n, None))
        print(f"loaded in {time.perf_counter() - started:.1f} s", flush=True)
        client = app.test_client()
        for name in ("small", "large"):
            body = client.get(f"/fhir/Patient/{name}/$everything").get_json(force=True)
            print(f"{name}: total {body['total']} entries", flush=True)

        load = wait_quiet()
        probe = speed_probe()
        results: dict[str, Any] = {"db": args.db, "machine_load": round(load, 2)}
        for name, size, target in (
            ("small", args.small, TARGET_P50_MS),
            ("large", args.large, TARGET_FIRST_PAGE_MS),
        ):
            url_ = f"/fhir/Patient/{name}/$everything"
            _timed(client, url_, 5)  # warm caches and the connection pool
            times, cpu = _timed(
                client, url_, args.requests if name == "small" else max(20, args.requests // 5)
            )
            p50, p95 = statistics.median(times), percentile(times, 95)
            verdict = "ok" if p50 <= target else "OVER TARGET"
            print(
                f"{name} ({size} resources), first page: p50 {p50:.1f} ms, p95 {p95:.1f} ms,"
                f" max {max(times):.1f} ms, client CPU p50 {statistics.median(cpu):.1f} ms"
                f"  (target p50 <= {target:.0f} ms: {verdict})",
                flush=True,
            )
            results[f"{name}_p50_ms"] = round(p50, 2)
            results[f"{name}_p95_ms"] = round(p95, 2)
            results[f"{name}_cpu_p50_ms"] = round(statistics.median(cpu), 2)
        for count in (20, 1000):
            pages, entries, ms = _walk(client, f"/fhir/Patient/small/$everything?_count={count}")
            print(
                f"small, walk every page with _count={count}: {pages} pages, {entries} entries,"
                f" {ms:.0f} ms ({ms / pages:.1f} ms a page)",
                flush=True,
            )
            results[f"small_walk_{count}_ms"] = round(ms, 1)
        print(f"speed probe {probe:.0f} ms (lower is a faster core)")
        print_result("everything", **results)
        app.extensions["accord"].store.engine.dispose()
        ok = (
            results["small_p50_ms"] <= TARGET_P50_MS
            and results["large_p50_ms"] <= TARGET_FIRST_PAGE_MS
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
