"""One person across sources: automatic links, the review queue, $merge and $unmerge,
and what feeds may not undo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from records import ingest

DATA = Path(__file__).resolve().parents[1] / "data" / "hl7v2"
HL7 = {"Content-Type": "x-application/hl7-v2+er7", "Authorization": "Bearer st-brigid-token"}
FHIR = {"Content-Type": "application/fhir+json"}
NHS = "https://fhir.nhs.uk/Id/nhs-number"


def patient(pid: str, family: str, given: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"family": family, "given": [given]}],
        **extra,
    }


def put(client: Any, resource: dict[str, Any]) -> dict[str, Any]:
    r = client.put(
        f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource, headers=FHIR
    )
    assert r.status_code in (200, 201), r.get_json()
    return dict(r.get_json())


def read(client: Any, path: str) -> dict[str, Any]:
    r = client.get(f"/fhir/{path}")
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def links(resource: dict[str, Any]) -> set[tuple[str, str]]:
    return {(link["other"]["reference"], link["type"]) for link in resource.get("link", [])}


def observation(oid: str, subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": "2024-05-01T10:00:00Z",
        "valueQuantity": {
            "value": 60 + len(oid),
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def ids(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", [])}


def parameters(source: str, target: str, **more: Any) -> dict[str, Any]:
    params = [
        {"name": "source-patient", "valueReference": {"reference": f"Patient/{source}"}},
        {"name": "target-patient", "valueReference": {"reference": f"Patient/{target}"}},
    ]
    params += [{"name": k, **v} for k, v in more.items()]
    return {"resourceType": "Parameters", "parameter": params}


def test_a_shared_identifier_links_both_patients_and_searches_follow(client: Any) -> None:
    nhs = [{"system": NHS, "value": "9434765919"}]
    put(client, patient("ny-123", "Garcia", "Maria", identifier=nhs, birthDate="1961-03-02"))
    b = put(client, patient("tx-8841", "García López", "María", identifier=nhs))
    assert links(b) == {("Patient/ny-123", "seealso")}
    a = read(client, "Patient/ny-123")
    assert links(a) == {("Patient/tx-8841", "seealso")}
    assert a["meta"]["versionId"] == "2"  # the link is a new version, anchored like any other

    put(client, observation("obs-ny", "Patient/ny-123"))
    put(client, observation("obs-tx", "Patient/tx-8841"))
    put(client, observation("obs-other", "Patient/someone-else"))
    put(client, patient("someone-else", "Smith", "John"))
    for query in (
        "Observation?patient=ny-123",
        "Observation?patient=Patient/tx-8841",
        "Observation?subject=Patient/ny-123",
        "Observation?subject:Patient=tx-8841",
    ):
        assert ids(read(client, query)) == {"obs-ny", "obs-tx"}, query
    assert ids(read(client, "Observation?patient=someone-else")) == {"obs-other"}
    # a read is not widened: each source's Patient stays its own resource
    assert read(client, "Patient/tx-8841")["name"][0]["family"] == "García López"


@pytest.fixture
def review_everything(app_config: dict[str, Any]) -> dict[str, Any]:
    """Thresholds that never link on demographics and ask a person about any candidate."""
    app_config.update(mpi_link_threshold=1e9, mpi_review_threshold=-1e9)
    return app_config


def test_a_doubtful_match_waits_for_a_person(review_everything: Any, client: Any) -> None:
    put(client, patient("a", "Okafor", "Chinedu", birthDate="1979-11-04", gender="male"))
    put(client, patient("b", "Okafor", "Chinedu", birthDate="1979-11-04", gender="male"))
    assert "link" not in read(client, "Patient/b")
    queue = client.get("/mpi/candidates").get_json()
    assert queue["total"] == 1
    candidate = queue["candidates"][0]
    assert {p["reference"] for p in candidate["patients"]} == {"Patient/a", "Patient/b"}
    assert candidate["status"] == "pending" and candidate["detail"]
    assert all(p["resource"]["name"][0]["family"] == "Okafor" for p in candidate["patients"])

    r = client.post(f"/mpi/candidates/{candidate['id']}/accept")
    assert r.status_code == 200 and r.get_json()["status"] == "accepted"
    assert links(read(client, "Patient/a")) == {("Patient/b", "seealso")}
    assert links(read(client, "Patient/b")) == {("Patient/a", "seealso")}
    assert client.get("/mpi/candidates").get_json()["total"] == 0
    assert client.post(f"/mpi/candidates/{candidate['id']}/reject").status_code == 409
    provenance = read(client, "Provenance?target=Patient/a")
    assert any(
        e["resource"]["activity"]["coding"][0]["code"] == "link" for e in provenance["entry"]
    )


def test_a_rejected_pair_is_never_linked_again(review_everything: Any, client: Any) -> None:
    put(client, patient("twin-1", "Novak", "Ana", birthDate="1990-01-01", gender="female"))
    put(client, patient("twin-2", "Novak", "Ana", birthDate="1990-01-01", gender="female"))
    candidate = client.get("/mpi/candidates").get_json()["candidates"][0]
    assert client.post(f"/mpi/candidates/{candidate['id']}/reject").status_code == 200
    put(
        client,
        patient("twin-2", "Novak", "Ana", birthDate="1990-01-01", gender="female", active=True),
    )
    assert "link" not in read(client, "Patient/twin-2")
    assert client.get("/mpi/candidates").get_json()["total"] == 0
    assert client.get("/mpi/candidates?status=rejected").get_json()["total"] == 1
    assert client.post("/mpi/candidates/999/accept").status_code == 404
    assert client.get("/mpi/candidates?status=maybe").status_code == 400


def test_merge_and_unmerge_move_nothing_and_undo_exactly(client: Any) -> None:
    put(client, patient("keep", "Walsh", "Siobhan", active=True, birthDate="1987-06-14"))
    put(client, patient("dup", "O'Brien", "Siobhan", active=True, birthDate="1987-06-14"))
    put(client, observation("o-keep", "Patient/keep"))
    put(client, observation("o-dup", "Patient/dup"))

    preview = client.post(
        "/fhir/Patient/$merge",
        json=parameters("dup", "keep", preview={"valueBoolean": True}),
        headers=FHIR,
    )
    assert preview.status_code == 200
    assert "link" not in read(client, "Patient/dup")

    r = client.post("/fhir/Patient/$merge", json=parameters("dup", "keep"), headers=FHIR)
    assert r.status_code == 200, r.get_json()
    result = {p["name"]: p for p in r.get_json()["parameter"]}
    assert result["result"]["resource"]["id"] == "keep"
    dup = read(client, "Patient/dup")
    assert dup["active"] is False and ("Patient/keep", "replaced-by") in links(dup)
    assert ("Patient/dup", "replaces") in links(read(client, "Patient/keep"))
    # the observation still names the Patient its source named: nothing moved
    assert read(client, "Observation/o-dup")["subject"]["reference"] == "Patient/dup"
    assert ids(read(client, "Observation?patient=keep")) == {"o-keep", "o-dup"}
    merged = read(client, "Provenance?target=Patient/dup")
    assert [e["resource"]["activity"]["coding"][0]["code"] for e in merged["entry"]] == ["merge"]
    assert (
        client.post(
            "/fhir/Patient/$merge", json=parameters("dup", "keep"), headers=FHIR
        ).status_code
        == 409
    )

    r = client.post("/fhir/Patient/$unmerge", json=parameters("dup", "keep"), headers=FHIR)
    assert r.status_code == 200, r.get_json()
    dup = read(client, "Patient/dup")
    assert "link" not in dup and dup["active"] is True
    assert "link" not in read(client, "Patient/keep")
    assert ids(read(client, "Observation?patient=keep")) == {"o-keep"}
    history = read(client, "Patient/dup/_history")
    assert history["total"] == 3  # created, merged, unmerged: every change is a version
    # a person said these are two people: an identical update does not relink them
    put(client, patient("dup", "Walsh", "Siobhan", active=True, birthDate="1987-06-14"))
    assert "link" not in read(client, "Patient/dup")


@pytest.mark.parametrize(
    ("body", "status", "expression"),
    [
        ({"resourceType": "Patient"}, 400, "Parameters"),
        (parameters("ghost", "keep"), 404, None),
        (parameters("keep", "keep"), 400, "Parameters.target-patient"),
        (
            {
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "source-patient", "valueReference": {"reference": "Patient/keep"}}
                ],
            },
            400,
            "Parameters.target-patient",
        ),
        (parameters("keep", "Observation/x"), 400, "Parameters.target-patient"),
        (
            parameters("keep", "other", **{"result-patient": {"resource": {}}}),
            400,
            "Parameters.result-patient",
        ),
    ],
)
def test_merge_refuses_bad_input_naming_the_parameter(
    client: Any, body: dict[str, Any], status: int, expression: str | None
) -> None:
    put(client, patient("keep", "Walsh", "Siobhan"))
    put(client, patient("other", "Byrne", "Aoife"))
    r = client.post("/fhir/Patient/$merge", json=body, headers=FHIR)
    assert r.status_code == status
    outcome = r.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    if expression:
        assert outcome["issue"][0]["expression"] == [expression]
    assert (
        client.post(
            "/fhir/Patient/$unmerge", json=parameters("keep", "other"), headers=FHIR
        ).status_code
        == 400
    )


def _patient_of(client: Any, mrn: str) -> dict[str, Any]:
    bundle = read(client, f"Patient?identifier={mrn}")
    assert bundle["total"] == 1, bundle
    return dict(bundle["entry"][0]["resource"])


def test_a_sparse_feed_message_keeps_the_fuller_record_and_cannot_undo_a_merge(
    app: Any, client: Any
) -> None:
    assert ingest.add_source(app.extensions["accord"].store, "st-brigid", "st-brigid-token")

    def post(name: str, replace: tuple[str, str] | None = None) -> None:
        body = (DATA / name).read_bytes()
        if replace:
            body = body.replace(replace[0].encode(), replace[1].encode())
        r = client.post("/ingest/hl7v2", data=body, headers=HL7)
        assert r.status_code == 200 and b"MSA|AA|" in r.data, r.data

    post("handwritten_adt_a01_v251.hl7")
    post("handwritten_oru_r01_v251.hl7")
    siobhan = _patient_of(client, "H4455667")
    assert siobhan["name"][0]["family"] == "Walsh"  # what the lab sent replaces
    assert siobhan["address"][0]["city"] == "Cobh"  # what it did not send stays
    assert siobhan["telecom"] and siobhan["maritalStatus"]

    post("handwritten_adt_a40_v251.hl7")
    merged = _patient_of(client, "H4409921")
    assert merged["active"] is False
    assert [link["type"] for link in merged["link"]] == ["replaced-by"]
    # a late lab result for the merged record: it stays merged
    post("handwritten_oru_r01_v251.hl7", ("PID|1||H4455667", "PID|1||H4409921"))
    late = _patient_of(client, "H4409921")
    assert late["active"] is False and [link["type"] for link in late["link"]] == ["replaced-by"]
    with app.extensions["accord"].store.engine.connect() as conn:
        rows = conn.execute(text("select count(*) from patient_link")).scalar_one()
    assert rows == 2  # replaced-by on one side, replaces on the other


def _obs_ids(client: Any, patient_id: str) -> set[str]:
    return ids(read(client, f"Observation?patient={patient_id}&_count=100"))


def test_an_automatic_link_has_a_provenance_naming_the_index(client: Any) -> None:
    nhs = [{"system": NHS, "value": "9434765919"}]
    put(client, patient("p1", "Garcia", "Maria", identifier=nhs))
    put(client, patient("p2", "Garcia", "Maria", identifier=nhs))
    bundle = read(client, "Provenance?target=Patient/p1")
    [link] = [e["resource"] for e in bundle["entry"]]
    assert link["activity"]["coding"][0]["code"] == "link"
    assert link["agent"][0]["who"]["display"] == "Accord master patient index"
    targets = {t["reference"] for t in link["target"]}
    assert targets == {"Patient/p2/_history/1", "Patient/p1/_history/2"}


def test_a_rejected_pair_stays_apart_even_when_a_third_record_matches_both(client: Any) -> None:
    nhs = [{"system": NHS, "value": "4857773456"}]
    put(client, patient("s", "Walsh", "Siobhan", identifier=nhs, birthDate="1987-06-14"))
    put(client, patient("t", "Walsh", "Siobhan", identifier=nhs, birthDate="1987-06-14"))
    assert links(read(client, "Patient/t")) == {("Patient/s", "seealso")}
    r = client.post("/fhir/Patient/$unmerge", json=parameters("s", "t"), headers=FHIR)
    assert r.status_code == 200
    put(client, observation("o-s", "Patient/s"))
    put(client, observation("o-t", "Patient/t"))
    # the same identifier still matches, but a person said no: no link
    put(
        client,
        patient("t", "Walsh", "Siobhan", identifier=nhs, birthDate="1987-06-14", active=True),
    )
    assert "link" not in read(client, "Patient/t")
    # a third record matching both joins one of them, and only asks about the other
    put(client, patient("c", "Walsh", "Siobhan", identifier=nhs, birthDate="1987-06-14"))
    assert len(links(read(client, "Patient/c"))) == 1
    assert _obs_ids(client, "s") & _obs_ids(client, "t") == set()
    pending = client.get("/mpi/candidates").get_json()["candidates"]
    assert [sorted(p["reference"] for p in c["patients"]) for c in pending] in (
        [["Patient/c", "Patient/t"]],
        [["Patient/c", "Patient/s"]],
    )


def test_a_link_to_another_servers_patient_joins_no_local_patient(client: Any) -> None:
    put(client, patient("1", "Stranger", "Sam"))
    put(client, observation("o-stranger", "Patient/1"))
    elsewhere = [
        {"other": {"reference": "https://other.example/fhir/Patient/1"}, "type": "seealso"}
    ]
    put(client, patient("a", "Local", "Lou", link=elsewhere))
    put(client, observation("o-a", "Patient/a"))
    assert _obs_ids(client, "a") == {"o-a"}
    # a long id in a link is not a local Patient, and no reason for a 500
    far = [{"other": {"reference": "Patient/" + "x" * 70}, "type": "seealso"}]
    put(client, patient("b", "Local", "Bea", link=far, address=[{"postalCode": "9" * 200}]))


def test_two_matching_patients_in_one_transaction_both_state_the_link(client: Any) -> None:
    nhs = [{"system": NHS, "value": "9000000009"}]
    put(client, patient("old", "Novak", "Ana", identifier=nhs))
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": patient("new", "Novak", "Ana", identifier=nhs),
                "request": {"method": "PUT", "url": "Patient/new"},
            },
            {
                "resource": patient("old", "Novak", "Ana", identifier=nhs, gender="female"),
                "request": {"method": "PUT", "url": "Patient/old"},
            },
            {
                "resource": patient("newer", "Novak", "Ana", identifier=nhs),
                "request": {"method": "PUT", "url": "Patient/newer"},
            },
        ],
    }
    r = client.post("/fhir", json=bundle, headers=FHIR)
    assert r.status_code == 200, r.get_json()
    old = read(client, "Patient/old")
    assert old["gender"] == "female" and old["meta"]["versionId"] == "2"
    stated = {
        pid: {other for other, _ in links(read(client, f"Patient/{pid}"))}
        for pid in ("old", "new", "newer")
    }
    for pid, others in stated.items():  # every link is stated on both sides
        assert others, pid
        for other in others:
            assert f"Patient/{pid}" in stated[other.removeprefix("Patient/")], (pid, other)
    put(client, observation("o-newer", "Patient/newer"))
    assert _obs_ids(client, "old") == {"o-newer"}
    # the EHR writes its Patient back without the server's link: still one person
    put(client, patient("new", "Novak", "Ana", identifier=nhs))
    put(client, observation("o-old", "Patient/old"))
    assert _obs_ids(client, "new") == {"o-old", "o-newer"}


def test_a_deleted_patient_is_joined_to_no_one(app: Any, client: Any) -> None:
    nhs = [{"system": NHS, "value": "9111111111"}]
    put(client, patient("x", "Byrne", "Aoife", identifier=nhs))
    put(client, patient("y", "Byrne", "Aoife", identifier=nhs))
    put(client, observation("o-y", "Patient/y"))
    assert _obs_ids(client, "x") == {"o-y"}
    assert client.delete("/fhir/Patient/y").status_code == 204
    assert "link" not in read(client, "Patient/x")
    assert _obs_ids(client, "x") == set()
    with app.extensions["accord"].store.engine.connect() as conn:
        assert conn.execute(text("select count(*) from patient_link")).scalar_one() == 0
        rows = conn.execute(text("select count(*) from mpi_entry where patient_id = 'y'"))
        assert rows.scalar_one() == 0


def test_unmerge_with_the_patients_swapped_restores_the_merged_one(client: Any) -> None:
    put(client, patient("keep", "Walsh", "Siobhan", active=True))
    put(client, patient("dup", "O'Brien", "Siobhan", active=True))
    assert (
        client.post(
            "/fhir/Patient/$merge", json=parameters("dup", "keep"), headers=FHIR
        ).status_code
        == 200
    )
    assert client.get("/mpi/candidates?status=accepted").get_json()["total"] == 1
    preview = parameters("keep", "dup", preview={"valueBoolean": True})
    assert client.post("/fhir/Patient/$unmerge", json=preview, headers=FHIR).status_code == 200
    assert read(client, "Patient/dup")["active"] is False
    assert (
        client.post(
            "/fhir/Patient/$unmerge", json=parameters("keep", "dup"), headers=FHIR
        ).status_code
        == 200
    )
    dup = read(client, "Patient/dup")
    assert dup["active"] is True and "link" not in dup
    assert client.get("/mpi/candidates?status=rejected").get_json()["total"] == 1


def test_accepting_a_stale_candidate_leaves_a_later_merge_alone(
    review_everything: Any, client: Any
) -> None:
    put(client, patient("a", "Okafor", "Chinedu", birthDate="1979-11-04"))
    put(client, patient("b", "Okafor", "Chinedu", birthDate="1979-11-04"))
    [candidate] = client.get("/mpi/candidates").get_json()["candidates"]
    # the source system merges them itself, as an ADT A40 does: links in the resources
    merged = [{"other": {"reference": "Patient/b"}, "type": "replaced-by"}]
    put(
        client, patient("a", "Okafor", "Chinedu", birthDate="1979-11-04", link=merged, active=False)
    )
    survivor = [{"other": {"reference": "Patient/a"}, "type": "replaces"}]
    put(client, patient("b", "Okafor", "Chinedu", birthDate="1979-11-04", link=survivor))
    r = client.post(f"/mpi/candidates/{candidate['id']}/accept")
    assert r.status_code == 200
    assert read(client, "Patient/a")["meta"]["versionId"] == "2"  # no new version
    # a merge through the API decides the pair: the candidate is no longer open
    put(client, patient("c", "Okafor", "Chinedu", birthDate="1979-11-04"))
    [other] = [
        c
        for c in client.get("/mpi/candidates").get_json()["candidates"]
        if {p["reference"] for p in c["patients"]} == {"Patient/b", "Patient/c"}
    ]
    merge_c = client.post("/fhir/Patient/$merge", json=parameters("c", "b"), headers=FHIR)
    assert merge_c.status_code == 200
    assert client.post(f"/mpi/candidates/{other['id']}/accept").status_code == 409
    assert links(read(client, "Patient/a")) == {("Patient/b", "replaced-by")}
    assert links(read(client, "Patient/b")) == {
        ("Patient/a", "replaces"),
        ("Patient/c", "replaces"),
    }


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        ({"resourceType": "Parameters", "parameter": 5}, "Parameters.parameter"),
        ({"resourceType": "Parameters", "parameter": [5]}, "Parameters.parameter"),
        (
            {
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "source-patient", "valueReference": "Patient/keep"},
                    {"name": "target-patient", "valueReference": {"reference": "Patient/other"}},
                ],
            },
            "Parameters.source-patient",
        ),
        (
            parameters(
                "keep",
                "other",
                **{"target-patient": {"valueReference": {"reference": "Patient/x"}}},
            ),
            "Parameters.target-patient",
        ),
        (parameters("keep", "other", preview={"valueBoolean": "yes"}), "Parameters.preview"),
    ],
)
def test_malformed_parameters_are_a_400_naming_them(
    client: Any, body: dict[str, Any], expression: str
) -> None:
    put(client, patient("keep", "Walsh", "Siobhan"))
    put(client, patient("other", "Byrne", "Aoife"))
    for operation in ("$merge", "$unmerge"):
        r = client.post(f"/fhir/Patient/{operation}", json=body, headers=FHIR)
        assert r.status_code == 400, (operation, r.get_json())
        assert r.get_json()["issue"][0]["expression"] == [expression]


def test_the_review_queue_refuses_bad_numbers(client: Any) -> None:
    for query in ("_count=²", "_offset=¹", "_count=-1", "_count=100000"):
        assert client.get(f"/mpi/candidates?{query}").status_code == 400, query
    assert client.post("/mpi/candidates/99999999999999999999/accept").status_code == 404
