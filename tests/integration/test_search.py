"""FHIR search semantics over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

FHIR = "application/fhir+json"
LOINC = "http://loinc.org"


def put(client: Any, resource: dict[str, Any]) -> None:
    r = client.put(
        f"/fhir/{resource['resourceType']}/{resource['id']}",
        data=orjson.dumps(resource),
        content_type=FHIR,
    )
    assert r.status_code in (200, 201), r.get_json(force=True)


def ids(client: Any, path: str, **params: Any) -> list[str]:
    r = client.get(path, query_string=params)
    assert r.status_code == 200, r.get_json(force=True)
    return [e["resource"]["id"] for e in r.get_json(force=True).get("entry", [])]


def observation(oid: str, code: str, subject: str, when: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
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
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": subject},
        "effectiveDateTime": when,
        **extra,
    }


@pytest.fixture
def people(client: Any) -> Any:
    put(
        client,
        {
            "resourceType": "Patient",
            "id": "p1",
            "name": [{"family": "Müller", "given": ["Zoë"]}],
            "gender": "female",
            "birthDate": "1980-05-17",
            "identifier": [{"system": "urn:mrn", "value": "A1"}],
        },
    )
    put(
        client,
        {
            "resourceType": "Patient",
            "id": "p2",
            "name": [{"family": "Mueller", "given": ["Hans"]}],
            "gender": "male",
            "birthDate": "1980-06",
            "identifier": [{"system": "urn:other", "value": "A1"}],
        },
    )
    put(
        client,
        {
            "resourceType": "Patient",
            "id": "p3",
            "name": [{"family": "Smith", "given": ["Anna"]}],
            "gender": "female",
            "birthDate": "1992",
        },
    )
    put(client, observation("o1", "8867-4", "Patient/p1", "2024-01-15T10:00:00+01:00"))
    put(client, observation("o2", "8867-4", "Patient/p2", "2024-02-01"))
    put(client, observation("o3", "29463-7", "Patient/p1", "2023-12-31T23:30:00-05:00"))
    return client


def test_string_search_is_prefix_case_and_accent_insensitive(people: Any) -> None:
    assert sorted(ids(people, "/fhir/Patient", family="muller")) == ["p1"]
    assert sorted(ids(people, "/fhir/Patient", family="MU")) == ["p1", "p2"]
    assert ids(people, "/fhir/Patient", given="zoe") == ["p1"]
    assert ids(people, "/fhir/Patient", name="an") == ["p3"]  # a prefix: Hans does not match
    assert ids(people, "/fhir/Patient", **{"family:exact": "Müller"}) == ["p1"]
    assert sorted(ids(people, "/fhir/Patient", **{"name:contains": "ll"})) == ["p1", "p2"]


def test_token_search_with_and_without_system(people: Any) -> None:
    assert sorted(ids(people, "/fhir/Patient", identifier="A1")) == ["p1", "p2"]
    assert ids(people, "/fhir/Patient", identifier="urn:mrn|A1") == ["p1"]
    assert ids(people, "/fhir/Patient", identifier="urn:other|") == ["p2"]
    assert sorted(ids(people, "/fhir/Patient", gender="female")) == ["p1", "p3"]
    assert ids(people, "/fhir/Patient", **{"gender:not": "female"}) == ["p2"]
    assert sorted(ids(people, "/fhir/Observation", code=f"{LOINC}|8867-4")) == ["o1", "o2"]
    assert ids(people, "/fhir/Observation", code="http://snomed.info/sct|8867-4") == []
    assert sorted(ids(people, "/fhir/Observation", category="vital-signs")) == ["o1", "o2", "o3"]


def test_or_within_a_parameter_and_across_repeats(people: Any) -> None:
    assert sorted(ids(people, "/fhir/Patient", family="smith,muller")) == ["p1", "p3"]
    r = people.get("/fhir/Patient?gender=female&family=smith")
    assert [e["resource"]["id"] for e in r.get_json(force=True)["entry"]] == ["p3"]


def test_reference_search_forms(people: Any) -> None:
    assert sorted(ids(people, "/fhir/Observation", subject="Patient/p1")) == ["o1", "o3"]
    assert sorted(ids(people, "/fhir/Observation", patient="p1")) == ["o1", "o3"]
    assert sorted(ids(people, "/fhir/Observation", patient="http://elsewhere/fhir/Patient/p1")) == [
        "o1",
        "o3",
    ]
    assert ids(people, "/fhir/Observation", **{"subject:Patient": "p2"}) == ["o2"]
    assert ids(people, "/fhir/Observation", subject="Group/p1") == []


def test_derived_parameters_are_answered_from_the_rows_they_repeat(people: Any) -> None:
    """``patient`` is ``subject`` pointing at a Patient, ``combo-code`` is ``code`` or a
    component's code, ``practitioner`` is a participant that is a Practitioner: their
    rows are not stored, so these searches read the other parameters' rows."""
    mmhg = {"system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
    panel = observation(
        "bp",
        "85354-9",
        "Group/p1",  # a Group with the same id as a Patient
        "2024-03-01",
        component=[
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": 142, **mmhg},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": 91, **mmhg},
            },
        ],
    )
    put(people, panel)
    put(
        people,
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": {"reference": "Patient/p3"},
            "participant": [
                {"individual": {"reference": "Practitioner/dr1"}},
                {"individual": {"reference": "RelatedPerson/r1"}},
            ],
        },
    )
    obs = "/fhir/Observation"
    assert sorted(ids(people, obs, patient="p1")) == ["o1", "o3"]
    assert ids(people, obs, subject="Group/p1") == ["bp"]
    assert ids(people, obs, **{"patient:missing": "true"}) == ["bp"]
    assert sorted(ids(people, obs, **{"patient:missing": "false"})) == ["o1", "o2", "o3"]
    assert ids(people, obs, _sort="-patient")[:1] == ["o2"]  # p2 > p1; bp has none, last
    assert ids(people, obs, _sort="-patient")[-1] == "bp"
    assert ids(people, obs, **{"combo-code": "8480-6"}) == ["bp"]
    assert ids(people, obs, **{"combo-code": f"{LOINC}|85354-9"}) == ["bp"]
    assert sorted(ids(people, obs, **{"combo-code": "8867-4"})) == ["o1", "o2"]
    assert ids(people, obs, **{"component-code": "8867-4"}) == []
    assert sorted(ids(people, obs, **{"combo-code:not": "8480-6"})) == ["o1", "o2", "o3"]
    assert ids(people, obs, **{"combo-value-quantity": "gt140"}) == ["bp"]
    assert ids(
        people, obs, **{"combo-value-quantity": "lt95|http://unitsofmeasure.org|mm[Hg]"}
    ) == ["bp"]
    assert ids(people, "/fhir/Encounter", practitioner="dr1") == ["e1"]
    assert ids(people, "/fhir/Encounter", practitioner="r1") == []
    assert ids(people, "/fhir/Encounter", participant="RelatedPerson/r1") == ["e1"]
    assert ids(people, "/fhir/Encounter", patient="p3") == ["e1"]
    assert ids(people, "/fhir/Patient", phonetic="smi") == ["p3"]


def test_date_search_with_prefixes_and_partial_dates(people: Any) -> None:
    assert sorted(ids(people, "/fhir/Patient", birthdate="1980")) == ["p1", "p2"]
    assert ids(people, "/fhir/Patient", birthdate="1980-05") == ["p1"]
    assert ids(people, "/fhir/Patient", birthdate="1980-05-17") == ["p1"]
    assert ids(people, "/fhir/Patient", birthdate="gt1985") == ["p3"]
    assert sorted(ids(people, "/fhir/Patient", birthdate="lt1990")) == ["p1", "p2"]
    assert sorted(ids(people, "/fhir/Patient", birthdate="ge1980-06")) == ["p2", "p3"]
    assert ids(people, "/fhir/Patient", birthdate="le1980-05-31") == ["p1"]
    # 2023-12-31T23:30-05:00 is 2024-01-01T04:30Z
    assert sorted(ids(people, "/fhir/Observation", date="2024-01")) == ["o1", "o3"]
    assert sorted(ids(people, "/fhir/Observation", date="ge2024-01-15")) == ["o1", "o2"]
    r = people.get("/fhir/Observation?date=ge2024-01-01&date=lt2024-02-01")
    assert sorted(e["resource"]["id"] for e in r.get_json(force=True)["entry"]) == ["o1", "o3"]


def test_id_and_last_updated(people: Any) -> None:
    assert sorted(ids(people, "/fhir/Patient", _id="p1,p3")) == ["p1", "p3"]
    assert len(ids(people, "/fhir/Patient", _lastUpdated="gt2000-01-01")) == 3
    assert ids(people, "/fhir/Patient", _lastUpdated="lt2000-01-01") == []


def test_sort_count_total_and_summary(people: Any) -> None:
    assert ids(people, "/fhir/Patient", _sort="birthdate") == ["p1", "p2", "p3"]
    assert ids(people, "/fhir/Patient", _sort="-birthdate") == ["p3", "p2", "p1"]
    assert ids(people, "/fhir/Patient", _sort="family,given") == ["p2", "p1", "p3"]
    assert ids(people, "/fhir/Patient", _sort="-_id") == ["p3", "p2", "p1"]
    page = people.get("/fhir/Patient?_count=2").get_json(force=True)
    assert page["total"] == 3 and len(page["entry"]) == 2
    count = people.get("/fhir/Patient?_summary=count").get_json(force=True)
    assert count["total"] == 3 and "entry" not in count
    assert "total" not in people.get("/fhir/Patient?_total=none").get_json(force=True)


def test_deleted_resources_are_not_found(people: Any) -> None:
    people.delete("/fhir/Patient/p3")
    assert ids(people, "/fhir/Patient", gender="female") == ["p1"]


def test_updated_resources_are_found_by_new_values_only(people: Any) -> None:
    put(
        people,
        {"resourceType": "Patient", "id": "p3", "name": [{"family": "Jones"}], "gender": "female"},
    )
    assert ids(people, "/fhir/Patient", family="smith") == []
    assert ids(people, "/fhir/Patient", family="jones") == ["p3"]


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ({"nonsense": "1"}, "nonsense"),
        ({"birthdate": "19x0"}, "birthdate"),
        ({"_count": "many"}, "_count"),
        ({"family:fuzzy": "x"}, "family:fuzzy"),
        ({"general-practitioner.name": "x"}, "general-practitioner.name"),
        ({"_sort": "nonsense"}, "_sort"),
    ],
)
def test_bad_search_parameters_are_400_naming_the_parameter(
    client: Any, query: dict[str, str], expression: str
) -> None:
    r = client.get("/fhir/Patient", query_string=query)
    assert r.status_code == 400
    issue = r.get_json(force=True)["issue"][0]
    assert issue["expression"] == [expression]


def test_paging_is_stable_while_data_is_added(client: Any) -> None:
    for n in range(25):
        put(
            client,
            {
                "resourceType": "Patient",
                "id": f"p{n:02d}",
                "gender": "other",
                "birthDate": f"19{50 + n}",
            },
        )
    seen: list[str] = []
    url = "/fhir/Patient?gender=other&_count=10&_sort=birthdate"
    pages = 0
    while url:
        bundle = client.get(url).get_json(force=True)
        assert bundle["total"] == 25
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        pages += 1
        # more data arrives between pages, some sorting before what we have seen
        put(
            client,
            {
                "resourceType": "Patient",
                "id": f"new{pages}",
                "gender": "other",
                "birthDate": "1900",
            },
        )
        if pages == 1:
            client.delete("/fhir/Patient/p20")
            put(
                client,
                {"resourceType": "Patient", "id": "p21", "gender": "other", "birthDate": "1930"},
            )
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), "")
        url = url.replace("http://localhost", "")
    assert pages == 3
    assert seen == [f"p{n:02d}" for n in range(25)]
    # a new search sees the new state
    fresh = ids(client, "/fhir/Patient", gender="other", _count=100, _sort="birthdate")
    assert fresh[:4] == ["new1", "new2", "new3", "p21"]
    assert "p20" not in fresh


def test_previous_link_walks_back(client: Any) -> None:
    for n in range(5):
        put(client, {"resourceType": "Patient", "id": f"p{n}", "gender": "other"})
    first = client.get("/fhir/Patient?_count=2&_sort=_id").get_json(force=True)
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = client.get(nxt.replace("http://localhost", "")).get_json(force=True)
    prev = next(link["url"] for link in second["link"] if link["relation"] == "previous")
    back = client.get(prev.replace("http://localhost", "")).get_json(force=True)
    assert [e["resource"]["id"] for e in back["entry"]] == ["p0", "p1"]
    assert [e["resource"]["id"] for e in second["entry"]] == ["p2", "p3"]


def test_post_search_form(people: Any) -> None:
    r = people.post("/fhir/Patient/_search", data={"family": "smith"})
    assert [e["resource"]["id"] for e in r.get_json(force=True)["entry"]] == ["p3"]


def test_decimal_quantities_are_searchable(client: Any) -> None:
    put(
        client,
        observation(
            "t1",
            "8310-5",
            "Patient/p1",
            "2024-01-01",
            valueQuantity={
                "value": 38.0,
                "unit": "Cel",
                "system": "http://unitsofmeasure.org",
                "code": "Cel",
            },
        ),
    )
    put(
        client,
        observation(
            "t2",
            "8310-5",
            "Patient/p1",
            "2024-01-02",
            valueQuantity={
                "value": 37.25,
                "unit": "Cel",
                "system": "http://unitsofmeasure.org",
                "code": "Cel",
            },
        ),
    )
    assert ids(client, "/fhir/Observation", **{"value-quantity": "38.0"}) == ["t1"]
    assert ids(
        client, "/fhir/Observation", **{"value-quantity": "gt37.5|http://unitsofmeasure.org|Cel"}
    ) == ["t1"]
    assert ids(client, "/fhir/Observation", **{"value-quantity": "37.25"}) == ["t2"]
