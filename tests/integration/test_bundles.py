"""Batch and transaction Bundles, and conditional writes, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import requests
from sqlalchemy import func, select

from records.storage.schema import resource_version

FHIR = "application/fhir+json"


def post(client: Any, path: str, body: Any, **headers: str) -> Any:
    return client.post(path, data=orjson.dumps(body), content_type=FHIR, headers=headers)


def stored_versions(app: Any) -> int:
    with app.extensions["accord"].store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(resource_version)).scalar_one())


def transaction(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


PATIENT_URN = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"


def new_patient() -> dict[str, Any]:
    return {
        "fullUrl": PATIENT_URN,
        "resource": {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:mrn", "value": "T-1"}],
            "gender": "female",
        },
        "request": {"method": "POST", "url": "Patient"},
    }


def new_observation(subject: str = PATIENT_URN, status: str = "final") -> dict[str, Any]:
    return {
        "fullUrl": "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059",
        "resource": {
            "resourceType": "Observation",
            "status": status,
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": subject},
            "valueQuantity": {
                "value": 72,
                "unit": "/min",
                "system": "http://unitsofmeasure.org",
                "code": "/min",
            },
        },
        "request": {"method": "POST", "url": "Observation"},
    }


def test_transaction_resolves_urn_uuid_references(client: Any) -> None:
    r = post(client, "/fhir", transaction(new_observation(), new_patient()))
    assert r.status_code == 200
    bundle = r.get_json(force=True)
    assert bundle["type"] == "transaction-response"
    obs_loc, pat_loc = (e["response"]["location"] for e in bundle["entry"])  # request order
    assert obs_loc.startswith("Observation/") and pat_loc.startswith("Patient/")
    assert all(e["response"]["status"] == "201 Created" for e in bundle["entry"])
    obs = client.get("/fhir/" + obs_loc.split("/_history")[0]).get_json(force=True)
    assert obs["subject"]["reference"] == pat_loc.split("/_history")[0]
    patient_id = pat_loc.split("/")[1]
    found = client.get(f"/fhir/Observation?patient={patient_id}").get_json(force=True)
    assert found["total"] == 1


def test_transaction_with_one_invalid_entry_stores_nothing(app: Any, client: Any) -> None:
    before = stored_versions(app)
    put_entry = {
        "resource": {"resourceType": "Patient", "id": "keep", "gender": "male"},
        "request": {"method": "PUT", "url": "Patient/keep"},
    }
    r = post(
        client, "/fhir", transaction(put_entry, new_patient(), new_observation(status="bogus"))
    )
    assert r.status_code == 422
    issue = r.get_json(force=True)["issue"][0]
    assert issue["expression"] == ["Bundle.entry[2].resource.status"]
    assert "Bundle.entry[2]" in issue["diagnostics"]
    assert stored_versions(app) == before
    assert client.get("/fhir/Patient/keep").status_code == 404


def test_transaction_fails_whole_on_a_failing_delete_or_condition(app: Any, client: Any) -> None:
    delete_unknown = {"request": {"method": "DELETE", "url": "Patient/unknown"}}
    r = post(client, "/fhir", transaction(new_patient(), delete_unknown))
    assert r.status_code == 404
    assert stored_versions(app) == 0


def test_transaction_conditional_create_reuses_the_existing_resource(client: Any) -> None:
    first = post(client, "/fhir", transaction(new_patient())).get_json(force=True)
    existing = first["entry"][0]["response"]["location"].split("/")[1]
    conditional = new_patient()
    conditional["request"]["ifNoneExist"] = "identifier=urn:mrn|T-1"
    r = post(client, "/fhir", transaction(conditional, new_observation()))
    entries = r.get_json(force=True)["entry"]
    assert entries[0]["response"]["status"] == "200 OK"
    obs_id = entries[1]["response"]["location"].split("/")[1]
    obs = client.get(f"/fhir/Observation/{obs_id}").get_json(force=True)
    assert obs["subject"]["reference"] == f"Patient/{existing}"
    assert client.get("/fhir/Patient?identifier=urn:mrn|T-1").get_json(force=True)["total"] == 1


def test_transaction_conditional_update(client: Any) -> None:
    body = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:mrn", "value": "C-9"}],
        "gender": "male",
    }
    entry = {
        "resource": body,
        "request": {"method": "PUT", "url": "Patient?identifier=urn:mrn|C-9"},
    }
    created = post(client, "/fhir", transaction(entry)).get_json(force=True)["entry"][0]["response"]
    assert created["status"] == "201 Created"
    entry["resource"] = {**body, "gender": "female"}
    updated = post(client, "/fhir", transaction(entry)).get_json(force=True)["entry"][0]["response"]
    assert updated["status"] == "200 OK"
    assert updated["location"].split("/")[1] == created["location"].split("/")[1]
    assert updated["etag"] == 'W/"2"'


def test_transaction_refuses_the_same_resource_twice(client: Any) -> None:
    entry = {
        "resource": {"resourceType": "Patient", "id": "x"},
        "request": {"method": "PUT", "url": "Patient/x"},
    }
    r = post(client, "/fhir", transaction(entry, entry))
    assert r.status_code == 400
    assert client.get("/fhir/Patient/x").status_code == 404


def test_batch_entries_succeed_or_fail_on_their_own(client: Any) -> None:
    good = new_patient()
    bad = new_observation(subject="Patient/whatever", status="bogus")
    read_missing = {"request": {"method": "GET", "url": "Patient/none"}}
    search = {"request": {"method": "GET", "url": "Patient?identifier=urn:mrn|T-1"}}
    r = post(client, "/fhir", transaction(good, bad, read_missing, search, kind="batch"))
    assert r.status_code == 200
    entries = r.get_json(force=True)["entry"]
    assert entries[0]["response"]["status"] == "201 Created"
    assert entries[1]["response"]["status"] == "422"
    assert entries[1]["response"]["outcome"]["issue"][0]["expression"] == [
        "Bundle.entry[1].resource.status"
    ]
    assert entries[2]["response"]["status"] == "404"
    assert entries[3]["resource"]["total"] == 1


def test_bundle_must_be_batch_or_transaction(client: Any) -> None:
    r = post(client, "/fhir", {"resourceType": "Bundle", "type": "collection"})
    assert r.status_code == 400
    r = post(client, "/fhir", transaction({"resource": {"resourceType": "Patient"}}))
    assert r.status_code == 400
    assert r.get_json(force=True)["issue"][0]["expression"] == ["Bundle.entry[0].request"]


def test_if_none_exist_returns_the_existing_resource(client: Any) -> None:
    body = {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "Z-1"}]}
    first = post(client, "/fhir/Patient", body, **{"If-None-Exist": "identifier=urn:mrn|Z-1"})
    second = post(client, "/fhir/Patient", body, **{"If-None-Exist": "identifier=urn:mrn|Z-1"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json(force=True)["id"] == second.get_json(force=True)["id"]
    post(client, "/fhir/Patient", body)  # a plain create makes a second match
    third = post(client, "/fhir/Patient", body, **{"If-None-Exist": "identifier=urn:mrn|Z-1"})
    assert third.status_code == 412


def test_twenty_concurrent_conditional_creates_make_one_resource(live_server: str) -> None:
    body = orjson.dumps(
        {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "RACE-1"}]}
    )
    headers = {"Content-Type": FHIR, "If-None-Exist": "identifier=urn:mrn|RACE-1"}

    def create(_: int) -> tuple[int, str]:
        r = requests.post(f"{live_server}/fhir/Patient", data=body, headers=headers, timeout=60)
        return r.status_code, r.json()["id"]

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(create, range(20)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 19 + [201]
    assert len({rid for _, rid in results}) == 1
    search = requests.get(
        f"{live_server}/fhir/Patient?identifier=urn:mrn|RACE-1", timeout=10
    ).json()
    assert search["total"] == 1


def test_concurrent_updates_of_one_resource_lose_nothing(live_server: str) -> None:
    url = f"{live_server}/fhir/Patient/shared"

    def update(n: int) -> int:
        body = orjson.dumps({"resourceType": "Patient", "id": "shared", "birthDate": f"19{n + 10}"})
        return requests.put(url, data=body, headers={"Content-Type": FHIR}, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(update, range(10)))
    assert sorted(statuses) == [200] * 9 + [201]
    history = requests.get(f"{url}/_history", timeout=10).json()
    assert history["total"] == 10
