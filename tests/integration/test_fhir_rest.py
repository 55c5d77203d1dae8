"""The FHIR REST interactions over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from records.storage.schema import resource_version

FHIR = "application/fhir+json"


def patient(family: str = "Chalmers", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": family, "given": ["Peter", "James"]}],
        "gender": "male",
        "birthDate": "1974-12-25",
        **extra,
    }


def post(client: Any, path: str, body: Any, **headers: str) -> Any:
    return client.post(path, data=orjson.dumps(body), content_type=FHIR, headers=headers)


def put(client: Any, path: str, body: Any, **headers: str) -> Any:
    return client.put(path, data=orjson.dumps(body), content_type=FHIR, headers=headers)


def issues(response: Any) -> list[dict[str, Any]]:
    body = response.get_json(force=True)
    assert body["resourceType"] == "OperationOutcome", body
    return list(body["issue"])


def test_create_sets_server_meta_and_location(client: Any) -> None:
    sent = patient(
        meta={"versionId": "99", "lastUpdated": "2000-01-01T00:00:00Z", "tag": [{"code": "x"}]}
    )
    r = post(client, "/fhir/Patient", sent)
    assert r.status_code == 201
    body = r.get_json(force=True)
    assert r.headers["Content-Type"].startswith(FHIR)
    assert r.headers["Location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    assert r.headers["ETag"] == 'W/"1"'
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"] != "2000-01-01T00:00:00Z"
    assert body["meta"]["source"]
    assert body["meta"]["tag"] == [{"code": "x"}]  # client meta other than server-owned is kept
    assert list(body)[:3] == ["resourceType", "id", "meta"]


def test_read_serves_the_stored_bytes(app: Any, client: Any) -> None:
    body = post(client, "/fhir/Patient", patient()).get_json(force=True)
    r = client.get(f"/fhir/Patient/{body['id']}")
    with app.extensions["accord"].store.engine.connect() as conn:
        stored = conn.execute(
            select(resource_version.c.data).where(resource_version.c.resource_id == body["id"])
        ).scalar_one()
    assert r.status_code == 200
    assert r.data == bytes(stored)
    assert r.headers["ETag"] == 'W/"1"'
    assert "GMT" in r.headers["Last-Modified"]


def test_update_makes_versions_and_vread_reads_each(client: Any) -> None:
    created = post(client, "/fhir/Patient", patient()).get_json(force=True)
    pid = created["id"]
    changed = {**created, "gender": "other"}
    r = put(client, f"/fhir/Patient/{pid}", changed)
    assert r.status_code == 200
    assert r.get_json(force=True)["meta"]["versionId"] == "2"
    assert client.get(f"/fhir/Patient/{pid}/_history/1").get_json(force=True)["gender"] == "male"
    assert client.get(f"/fhir/Patient/{pid}/_history/2").get_json(force=True)["gender"] == "other"
    assert client.get(f"/fhir/Patient/{pid}/_history/3").status_code == 404
    assert client.get(f"/fhir/Patient/{pid}/_history/x").status_code == 404


def test_identical_update_makes_no_new_version(client: Any) -> None:
    created = post(client, "/fhir/Patient", patient()).get_json(force=True)
    r = put(client, f"/fhir/Patient/{created['id']}", created)
    assert r.status_code == 200
    assert r.headers["ETag"] == 'W/"1"'


def test_update_creates_with_client_id(client: Any) -> None:
    r = put(client, "/fhir/Patient/p-123", patient(id="p-123"))
    assert r.status_code == 201
    assert r.headers["Location"].endswith("/fhir/Patient/p-123/_history/1")
    assert client.get("/fhir/Patient/p-123").status_code == 200


def test_update_with_mismatched_or_missing_id_is_refused(client: Any) -> None:
    r = put(client, "/fhir/Patient/a", patient(id="b"))
    assert r.status_code == 400
    assert issues(r)[0]["expression"] == ["Patient.id"]
    assert put(client, "/fhir/Patient/a", patient()).status_code == 400
    assert client.get("/fhir/Patient/a").status_code == 404


def test_if_match_guards_against_lost_updates(client: Any) -> None:
    put(client, "/fhir/Patient/p1", patient(id="p1"))
    put(client, "/fhir/Patient/p1", patient(id="p1", gender="female"))
    stale = put(
        client, "/fhir/Patient/p1", patient(id="p1", gender="other"), **{"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    assert 'W/"2"' in issues(stale)[0]["diagnostics"]
    fresh = put(
        client, "/fhir/Patient/p1", patient(id="p1", gender="other"), **{"If-Match": 'W/"2"'}
    )
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] == 'W/"3"'


def test_delete_leaves_a_tombstone_and_read_answers_gone(client: Any) -> None:
    put(client, "/fhir/Patient/p1", patient(id="p1"))
    assert client.delete("/fhir/Patient/p1").status_code == 204
    gone = client.get("/fhir/Patient/p1")
    assert gone.status_code == 410
    assert issues(gone)[0]["code"] == "deleted"
    assert client.get("/fhir/Patient/p1/_history/1").status_code == 200
    assert client.get("/fhir/Patient/p1/_history/2").status_code == 410
    assert client.delete("/fhir/Patient/p1").status_code == 204  # idempotent
    assert client.delete("/fhir/Patient/never").status_code == 404
    # a deleted resource can be brought back with an update
    back = put(client, "/fhir/Patient/p1", patient(id="p1"))
    assert back.status_code == 201
    assert back.headers["ETag"] == 'W/"3"'


def test_history_lists_every_version_newest_first(client: Any) -> None:
    put(client, "/fhir/Patient/p1", patient(id="p1"))
    put(client, "/fhir/Patient/p1", patient(id="p1", gender="female"))
    client.delete("/fhir/Patient/p1")
    put(client, "/fhir/Patient/p2", patient(id="p2"))
    bundle = client.get("/fhir/Patient/p1/_history").get_json(force=True)
    assert bundle["type"] == "history"
    assert bundle["total"] == 3
    methods = [e["request"]["method"] for e in bundle["entry"]]
    assert methods == ["DELETE", "PUT", "POST"]
    assert [e["response"]["etag"] for e in bundle["entry"]] == ['W/"3"', 'W/"2"', 'W/"1"']
    assert "resource" not in bundle["entry"][0]
    type_history = client.get("/fhir/Patient/_history").get_json(force=True)
    assert type_history["total"] == 4
    paged = client.get("/fhir/Patient/_history?_count=2").get_json(force=True)
    assert len(paged["entry"]) == 2
    assert any(link["relation"] == "next" for link in paged["link"])
    assert client.get("/fhir/Patient/nope/_history").status_code == 404


def test_history_since(client: Any) -> None:
    put(client, "/fhir/Patient/p1", patient(id="p1"))
    first = client.get("/fhir/Patient/p1").get_json(force=True)["meta"]["lastUpdated"]
    put(client, "/fhir/Patient/p1", patient(id="p1", gender="female"))
    second = client.get("/fhir/Patient/p1").get_json(force=True)["meta"]["lastUpdated"]
    assert second > first
    since = client.get("/fhir/Patient/p1/_history", query_string={"_since": second})
    assert [e["response"]["etag"] for e in since.get_json(force=True)["entry"]] == ['W/"2"']


@pytest.mark.parametrize(
    ("path", "status"),
    [("/fhir/Foo", 404), ("/fhir/Foo/1", 404), ("/fhir/Patient/none", 404), ("/nowhere", 404)],
)
def test_unknown_things_are_404_operation_outcomes(client: Any, path: str, status: int) -> None:
    r = client.get(path)
    assert r.status_code == status
    assert issues(r)[0]["code"] == "not-found"


def test_wrong_method_is_405(client: Any) -> None:
    r = client.patch("/fhir/Patient/1", data=b"{}", content_type=FHIR)
    assert r.status_code == 405
    assert issues(r)[0]["code"] == "not-supported"


def test_malformed_json_is_400(client: Any) -> None:
    r = client.post("/fhir/Patient", data=b'{"resourceType": "Patient",', content_type=FHIR)
    assert r.status_code == 400
    assert "Malformed JSON" in issues(r)[0]["diagnostics"]


def test_non_object_and_mismatched_types_are_400(client: Any) -> None:
    assert client.post("/fhir/Patient", data=b"[1,2]", content_type=FHIR).status_code == 400
    r = post(client, "/fhir/Patient", {"resourceType": "Observation"})
    assert r.status_code == 400
    assert issues(r)[0]["expression"] == ["resourceType"]


def test_wrong_content_type_is_415(client: Any) -> None:
    r = client.post("/fhir/Patient", data=orjson.dumps(patient()), content_type="text/plain")
    assert r.status_code == 415
    assert client.post("/fhir/Patient", data=orjson.dumps(patient())).status_code == 415


def test_xml_only_accept_is_406(client: Any) -> None:
    r = client.get("/fhir/metadata", headers={"Accept": "application/fhir+xml"})
    assert r.status_code == 406


def test_invalid_resource_is_422_naming_each_path(client: Any) -> None:
    bad = patient(gender="M", birthDate="1974-13-45", unknownField=1)
    r = post(client, "/fhir/Patient", bad)
    assert r.status_code == 422
    paths = {e for issue in issues(r) for e in issue.get("expression", [])}
    assert {"Patient.gender", "Patient.birthDate", "Patient.unknownField"} <= paths
    obs = {"resourceType": "Observation", "status": "done", "code": {"text": "x"}}
    r = post(client, "/fhir/Observation", obs)
    assert r.status_code == 422
    assert "Observation.status" in {e for i in issues(r) for e in i.get("expression", [])}
    assert client.get("/fhir/Patient").get_json(force=True)["total"] == 0


def test_body_over_the_limit_is_413(app_config: dict[str, Any]) -> None:
    from gateway import create_app

    app = create_app({**app_config, "max_body_bytes": 1000})
    big = patient(text={"status": "generated", "div": "<div>" + "x" * 2000 + "</div>"})
    r = post(app.test_client(), "/fhir/Patient", big)
    assert r.status_code == 413
    assert issues(r)[0]["code"] == "too-costly"
    app.extensions["accord"].store.engine.dispose()


def test_prefer_return_minimal_and_operation_outcome(client: Any) -> None:
    r = post(client, "/fhir/Patient", patient(), Prefer="return=minimal")
    assert r.status_code == 201 and r.data == b"" and r.headers["Location"]
    r = post(client, "/fhir/Patient", patient(), Prefer="return=OperationOutcome")
    assert issues(r)[0]["severity"] == "information"


def test_every_r4_type_is_storable_and_unknown_types_are_not(client: Any) -> None:
    # EffectEvidenceSynthesis is R4 only (R4B dropped it): structural checks still apply
    r = put(
        client,
        "/fhir/EffectEvidenceSynthesis/e1",
        {"resourceType": "EffectEvidenceSynthesis", "id": "e1", "status": "draft"},
    )
    assert r.status_code == 201
    assert post(client, "/fhir/Foo", {"resourceType": "Foo"}).status_code == 404


def test_capability_statement_tells_the_truth(client: Any) -> None:
    r = client.get("/fhir/metadata")
    cs = r.get_json(force=True)
    assert cs["resourceType"] == "CapabilityStatement"
    assert cs["fhirVersion"] == "4.0.1"
    resources = {res["type"]: res for res in cs["rest"][0]["resource"]}
    patient_params = {p["name"] for p in resources["Patient"]["searchParam"]}
    assert {"identifier", "family", "given", "name", "birthdate", "gender", "_id"} <= patient_params
    obs_params = {p["name"] for p in resources["Observation"]["searchParam"]}
    assert {"patient", "subject", "code", "category", "date", "status"} <= obs_params
    # every advertised parameter is accepted by the search itself
    for name in sorted(patient_params):
        probe = client.get(
            "/fhir/Patient",
            query_string={
                name: "1970" if name in ("birthdate", "death-date", "_lastUpdated") else "x"
            },
        )
        assert probe.status_code == 200, (name, probe.get_json(force=True))


# -- fuzzing: bad input gets a 4xx OperationOutcome and loses nothing -----------------


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=10,
)
fields = st.sampled_from(
    [
        "id",
        "meta",
        "name",
        "gender",
        "birthDate",
        "identifier",
        "telecom",
        "active",
        "contained",
        "extension",
        "resourceType",
    ]
)
patients = st.dictionaries(fields, json_values, max_size=5).map(
    lambda d: {"resourceType": "Patient", **d}
)


@given(body=st.binary(max_size=200) | patients.map(lambda p: json.dumps(p).encode()))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fuzzed_bodies_never_cause_a_server_error(client: Any, body: bytes) -> None:
    before = client.get("/fhir/Patient?_summary=count").get_json(force=True)["total"]
    for method, path in (
        ("post", "/fhir/Patient"),
        ("put", "/fhir/Patient/fuzz"),
        ("post", "/fhir"),
    ):
        r = getattr(client, method)(path, data=body, content_type=FHIR)
        assert r.status_code < 500, (method, path, body, r.data)
        if r.status_code >= 400:
            assert issues(r)[0]["diagnostics"]
    after = client.get("/fhir/Patient?_summary=count").get_json(force=True)["total"]
    assert after - before <= 2  # at most the create and the update


@given(
    query=st.dictionaries(
        st.sampled_from(
            [
                "family",
                "birthdate",
                "identifier",
                "_count",
                "_sort",
                "gender:not",
                "general-practitioner",
                "_lastUpdated",
                "x",
            ]
        ),
        st.text(max_size=12),
        max_size=3,
    )
)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fuzzed_searches_never_cause_a_server_error(client: Any, query: dict[str, str]) -> None:
    r = client.get("/fhir/Patient", query_string=query)
    assert r.status_code in (200, 400), (query, r.data)


def test_nul_characters_are_refused_not_stored(client: Any) -> None:
    r = client.post(
        "/fhir/Patient",
        data=b'{"resourceType":"Patient","name":[{"family":"a\\u0000b"}]}',
        content_type=FHIR,
    )
    assert r.status_code == 400
    assert "U+0000" in issues(r)[0]["diagnostics"]
    assert client.get("/fhir/Patient", query_string={"family": "a\x00"}).status_code == 400


def _terminate_connections(database_url: str) -> None:
    """What a database restart does to the gateway's pooled connections."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.rsplit("/", 1)[0].replace("+psycopg", "") + "/test"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = %s and pid <> pg_backend_pid()",
            (name,),
        )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_restarted_database_costs_reads_nothing_and_writes_a_503(
    database_url: str, client: Any
) -> None:
    put(client, "/fhir/Patient/p1", patient(id="p1"))
    assert client.get("/fhir/Patient/p1").status_code == 200
    _terminate_connections(database_url)
    assert client.get("/fhir/Patient/p1").status_code == 200  # retried on a fresh connection
    _terminate_connections(database_url)
    r = put(client, "/fhir/Patient/p2", patient(id="p2"))
    assert r.status_code in (201, 503)
    if r.status_code == 503:
        assert issues(r)[0]["code"] == "transient"
        assert r.headers["Retry-After"] == "1"
    assert put(client, "/fhir/Patient/p2", patient(id="p2")).status_code in (200, 201)
