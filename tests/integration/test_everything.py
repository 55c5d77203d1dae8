"""Patient/$everything over HTTP, on SQLite and PostgreSQL: membership across linked
patients, the filters, paging walked to the last page, one entry per fact."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest

from records.everything import ALSO_SOURCE, CARE_DATES, compartment_types
from records.search.extract import date_range
from records.search.parameters import parameters_for

FHIR = "application/fhir+json"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
EHR = "urn:accord:source:ehr"
LAB = "urn:accord:source:lab"
REST = "urn:accord:principal:anonymous"


# -- writing --------------------------------------------------------------------


def put(client: Any, resource: dict[str, Any]) -> dict[str, Any]:
    r = client.put(
        f"/fhir/{resource['resourceType']}/{resource['id']}",
        data=orjson.dumps(resource),
        content_type=FHIR,
    )
    assert r.status_code in (200, 201), r.get_json(force=True)
    stored: dict[str, Any] = r.get_json(force=True)
    return stored


def feed(app: Any, source: str, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store resources as a feed does (its own meta.source); returns what was stored."""
    from records.access import ANONYMOUS, Repository
    from records.interactions import Context, store_resources

    ext = app.extensions["accord"]
    with Repository(ext.store, ANONYMOUS, ext.policy).write() as g:
        written = store_resources(g, Context("http://test/fhir", source), resources)
    return [orjson.loads(w.version.data) for w in written if w.version.data]


def link(app: Any, patient_id: str, other_id: str) -> None:
    """The link row for ``Patient.link`` (the write path keeps these; make sure of it)."""
    from records.storage.link_sql import links_of, set_links

    with app.extensions["accord"].store.write() as tx:
        links = links_of(tx.conn, patient_id)
        if other_id not in links:
            set_links(tx.conn, patient_id, [*links.items(), (other_id, "seealso")])


def patient(pid: str, family: str, birth: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"family": family, "given": [f"{family}ina"]}],
        "birthDate": birth,
        **extra,
    }


def observation(
    oid: str, subject: str, when: str | None, code: str = "8867-4", value: float = 60, **extra: Any
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": value, "unit": "/min", "system": UCUM, "code": "/min"},
        **extra,
    }
    if when is not None:
        resource["effectiveDateTime"] = when
    return resource


# -- reading --------------------------------------------------------------------


def everything(client: Any, pid: str, status: int = 200, **params: Any) -> dict[str, Any]:
    r = client.get(f"/fhir/Patient/{pid}/$everything", query_string=params)
    body: dict[str, Any] = r.get_json(force=True)
    assert r.status_code == status, body
    return body


def follow(client: Any, url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    assert parts.path.endswith("/$everything"), url
    r = client.get(parts.path, query_string=parse_qsl(parts.query, keep_blank_values=True))
    body: dict[str, Any] = r.get_json(force=True)
    assert r.status_code == 200, body
    return body


def relation(bundle: dict[str, Any], name: str) -> str | None:
    return next((ln["url"] for ln in bundle["link"] if ln["relation"] == name), None)


def matches(bundle: dict[str, Any]) -> list[str]:
    return [
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == "match"
    ]


def walk(client: Any, pid: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every page, following ``next`` from the first to the last."""
    page = everything(client, pid, **params)
    while True:
        yield page
        url = relation(page, "next")
        if url is None:
            return
        page = follow(client, url)


# -- membership ------------------------------------------------------------------


@pytest.fixture
def linked(app: Any, client: Any) -> Any:
    """A and B are one person (B states the link); C is someone else."""
    put(client, patient("A", "Quintanilla", "1961-03-04", gender="female"))
    put(
        client,
        patient(
            "B",
            "Okonkwo",
            "1990-11-30",
            gender="male",
            link=[{"other": {"reference": "Patient/A"}, "type": "seealso"}],
        ),
    )
    link(app, "B", "A")
    put(client, patient("C", "Haraldsdottir", "2001-07-19", gender="female"))
    put(client, observation("a-obs", "Patient/A", "2020-01-02"))
    put(client, observation("b-obs", "Patient/B", "2020-01-03", value=61))
    put(client, observation("c-obs", "Patient/C", "2020-01-04", value=62))
    # in the compartment through 'performer', not 'subject'
    put(client, observation("perf", "Patient/C", "2020-01-05", value=63, performer=[{"reference": "Patient/A"}]))  # fmt: skip
    # 'focus' is not a compartment parameter of Observation: not a member
    put(client, observation("focus", "Patient/C", "2020-01-06", value=64, focus=[{"reference": "Patient/A"}]))  # fmt: skip
    put(
        client,
        {
            "resourceType": "Condition",
            "id": "a-cond",
            "subject": {"reference": "Patient/A"},
            "code": {"text": "asthma"},
            "onsetDateTime": "2019-05",
        },
    )
    put(
        client,
        {
            "resourceType": "RelatedPerson",
            "id": "b-rel",
            "patient": {"reference": "Patient/B"},
            "name": [{"family": "Okonkwo"}],
        },
    )
    put(
        client,
        {
            "resourceType": "Provenance",
            "id": "a-prov",
            "target": [{"reference": "Patient/A"}],
            "recorded": "2020-01-02T10:00:00Z",
            "agent": [{"who": {"display": "EHR"}}],
        },
    )
    put(client, observation("gone", "Patient/A", "2020-01-07", value=65))
    assert client.delete("/fhir/Observation/gone").status_code == 204
    put(client, observation("a-obs2", "Patient/A", "2020-02-01", value=70))
    put(client, observation("a-obs2", "Patient/A", "2020-02-01", value=71))  # version 2
    return client


LINKED_MEMBERS = {
    "Patient/A",
    "Patient/B",
    "Observation/a-obs",
    "Observation/b-obs",
    "Observation/perf",
    "Observation/a-obs2",
    "Condition/a-cond",
    "RelatedPerson/b-rel",
    "Provenance/a-prov",
}


def test_members_cover_every_linked_patient_and_only_the_compartment(linked: Any) -> None:
    for pid in ("A", "B"):  # a link counts in both directions
        bundle = everything(linked, pid, _count=100)
        found = matches(bundle)
        assert sorted(found) == sorted(LINKED_MEMBERS)
        assert len(found) == len(set(found)) == bundle["total"]
        assert found[0] == f"Patient/{pid}"  # the requested patient first
        assert bundle["type"] == "searchset"
        for entry in bundle["entry"]:
            resource = entry["resource"]
            assert (
                entry["fullUrl"]
                == f"http://localhost/fhir/{resource['resourceType']}/{resource['id']}"
            )
            assert resource["meta"]["source"] == REST
    current = [e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "a-obs2"]
    assert [r["meta"]["versionId"] for r in current] == ["2"]
    c = everything(linked, "C", _count=100)
    assert sorted(matches(c)) == ["Observation/c-obs", "Observation/focus", "Observation/perf", "Patient/C"]  # fmt: skip


def test_an_unlinked_patient_leaves_the_record(app: Any, linked: Any) -> None:
    from records.storage.link_sql import set_links

    put(linked, patient("B", "Okonkwo", "1990-11-30", gender="male"))  # the link removed
    with app.extensions["accord"].store.write() as tx:
        set_links(tx.conn, "B", [])
    assert sorted(matches(everything(linked, "A", _count=100))) == sorted(
        LINKED_MEMBERS - {"Patient/B", "Observation/b-obs", "RelatedPerson/b-rel"}
    )


def test_the_bundle_is_valid_r4(linked: Any, app: Any, fhir_valid: Any) -> None:
    feed(app, LAB, [observation("lab-a", "Patient/A", "2020-01-02")])  # a duplicate of a-obs
    bundle = everything(linked, "A", _count=100)
    assert any("extension" in e for e in bundle["entry"])
    fhir_valid({**bundle, "id": "everything"})


def test_unknown_deleted_or_hidden_patient_is_404(linked: Any, app: Any) -> None:
    for pid in ("nobody", "a-obs"):
        outcome = everything(linked, pid, status=404)
        assert outcome["resourceType"] == "OperationOutcome"
        assert f"Patient/{pid}" in outcome["issue"][0]["diagnostics"]
    assert linked.delete("/fhir/Patient/C").status_code == 204
    assert "Patient/C" in everything(linked, "C", status=404)["issue"][0]["diagnostics"]
    assert linked.get("/fhir/Patient/C").status_code == 410  # a read tells; $everything does not


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("_type=Foo", "Foo"),
        ("_type=Observation,Foo", "Foo"),
        ("_type=Practitioner", "Practitioner"),
        ("_type=", "_type"),
        ("_since=yesterday", "_since"),
        ("_since=2020-13", "_since"),
        ("start=2020-02-30", "start"),
        ("end=soon", "end"),
        ("start=2021&end=2020", "start"),
        ("_count=-1", "_count"),
        ("_count=many", "_count"),
        ("_elements=id", "_elements"),
        ("patient=A", "patient"),
        ("_count=5&_count=6", "_count"),
        ("_after=1&_before=9", "_before"),
        ("_snapshot=x", "_snapshot"),
    ],
)
def test_bad_input_is_a_400_naming_it(linked: Any, query: str, named: str) -> None:
    r = linked.get(f"/fhir/Patient/A/$everything?{query}")
    assert r.status_code == 400, r.get_json(force=True)
    outcome = r.get_json(force=True)
    assert outcome["resourceType"] == "OperationOutcome"
    assert named in outcome["issue"][0]["diagnostics"] + " ".join(
        outcome["issue"][0].get("expression", [])
    )


def test_post_with_parameters(linked: Any) -> None:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "_type", "valueString": "Observation"},
            {"name": "start", "valueDate": "2020-01-03"},
            {"name": "_count", "valueInteger": 100},
        ],
    }
    r = linked.post("/fhir/Patient/A/$everything", data=orjson.dumps(body), content_type=FHIR)
    assert r.status_code == 200, r.get_json(force=True)
    assert sorted(matches(r.get_json(force=True))) == [
        "Observation/a-obs2",
        "Observation/b-obs",
        "Observation/perf",
    ]
    bad = {"resourceType": "Parameters", "parameter": [{"name": "_type"}]}
    r = linked.post("/fhir/Patient/A/$everything", data=orjson.dumps(bad), content_type=FHIR)
    assert r.status_code == 400


def test_capability_statement_declares_the_operation(client: Any) -> None:
    statement = client.get("/fhir/metadata").get_json(force=True)
    patient_ = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    operations = {op["name"]: op["definition"] for op in patient_.get("operation", [])}
    assert operations["everything"] == "http://hl7.org/fhir/OperationDefinition/Patient-everything"


# -- filters ----------------------------------------------------------------------


def test_type_since_and_care_dates(linked: Any) -> None:
    assert sorted(matches(everything(linked, "A", _type="Condition,Patient"))) == [
        "Condition/a-cond",
        "Patient/A",
        "Patient/B",
    ]
    observations = everything(linked, "A", _type="Observation", _count=100)
    assert all(m.startswith("Observation/") for m in matches(observations))
    # _type may repeat: the union
    r = linked.get("/fhir/Patient/A/$everything?_type=Condition&_type=RelatedPerson")
    assert sorted(matches(r.get_json(force=True))) == ["Condition/a-cond", "RelatedPerson/b-rel"]

    # care dates: January 2020 only; the undated (Patients, RelatedPerson, Provenance) stay
    january = matches(everything(linked, "A", start="2020-01", end="2020-01", _count=100))
    assert sorted(january) == sorted(LINKED_MEMBERS - {"Observation/a-obs2", "Condition/a-cond"})
    # an onset of 2019-05 overlaps a window ending in May 2019, not one starting in June
    assert "Condition/a-cond" in matches(everything(linked, "A", end="2019-05-01", _count=100))
    assert "Condition/a-cond" not in matches(everything(linked, "A", start="2019-06", _count=100))

    # _since: only what was written at or after the instant
    stored = put(linked, observation("late", "Patient/B", "2010-01-01", value=99))
    since = stored["meta"]["lastUpdated"]
    assert matches(everything(linked, "A", _since=since)) == ["Observation/late"]
    assert matches(everything(linked, "A", _since=since, end="2009")) == []


def test_undated_observation_is_in_every_window(linked: Any) -> None:
    put(linked, observation("undated", "Patient/A", None, value=80))
    assert "Observation/undated" in matches(
        everything(linked, "A", start="1990", end="1990", _count=100)
    )


def test_care_date_parameters_are_date_parameters_of_compartment_types() -> None:
    for resource_type, param in CARE_DATES.items():
        assert resource_type in compartment_types(), resource_type
        assert parameters_for(resource_type)[param].type == "date", (resource_type, param)


# -- provenance ---------------------------------------------------------------------


def test_provenance_of_an_entry_is_included(linked: Any) -> None:
    put(
        linked,
        {
            "resourceType": "Provenance",
            "id": "obs-prov",
            "target": [{"reference": "Observation/b-obs/_history/1"}],
            "recorded": "2020-01-03T10:00:00Z",
            "agent": [{"who": {"display": "lab"}}],
        },
    )
    bundle = everything(linked, "A", _count=100)
    included = [e for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert [e["resource"]["id"] for e in included] == ["obs-prov"]
    assert "Provenance/obs-prov" not in matches(bundle)
    assert bundle["total"] == len(LINKED_MEMBERS)
    # a page without b-obs does not carry it; _type without Provenance leaves it out
    page = everything(linked, "A", _type="Condition")
    assert [e["search"]["mode"] for e in page["entry"]] == ["match"]
    observations = everything(linked, "A", _type="Observation", _count=100)
    assert all(e["search"]["mode"] == "match" for e in observations["entry"])


# -- one fact, once ---------------------------------------------------------------------


def also(entry: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for ext in entry.get("extension", []):
        assert ext["url"] == ALSO_SOURCE
        parts = {p["url"]: p for p in ext["extension"]}
        found.append((parts["source"]["valueUri"], parts["record"]["valueReference"]["reference"]))
    return found


def test_same_fact_from_two_sources_is_one_entry_listing_both(app: Any, client: Any) -> None:
    put(client, patient("P", "Villanueva", "1955-09-09"))
    feed(app, EHR, [observation("ehr-hr", "Patient/P", "2021-06-01T08:00:00+02:00", value=72)])
    # the lab sends the same reading: same LOINC code, same instant (another zone), same value
    feed(app, LAB, [observation("lab-hr", "Patient/P", "2021-06-01T06:00:00Z", value=72.0)])
    # the same code and time with another value is another fact
    feed(app, LAB, [observation("lab-hr2", "Patient/P", "2021-06-01T06:00:00Z", value=73)])
    bundle = everything(client, "P")
    assert matches(bundle) == ["Patient/P", "Observation/ehr-hr", "Observation/lab-hr2"]
    assert bundle["total"] == 3
    entry = bundle["entry"][1]
    assert entry["resource"]["meta"]["source"] == EHR  # the first copy, served as stored
    assert also(entry) == [(LAB, "Observation/lab-hr/_history/1")]
    assert "extension" not in bundle["entry"][2]


def test_same_identifier_is_one_fact_transitively(app: Any, client: Any) -> None:
    put(client, patient("P", "Villanueva", "1955-09-09"))
    ident = [{"system": "urn:oid:1.2.3.4", "value": "cond-1"}]
    feed(app, EHR, [{"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/P"},
                     "identifier": ident, "code": {"text": "gout"}, "onsetDateTime": "2018"}])  # fmt: skip
    # same identifier, another source and wording
    feed(app, LAB, [{"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/P"},
                     "identifier": ident, "code": {"coding": [{"system": "http://snomed.info/sct", "code": "90560007"}]},
                     "onsetDateTime": "2018-03-01"}])  # fmt: skip
    # no identifier, but the same code and onset as c2: the same fact, through c2
    put(client, {"resourceType": "Condition", "id": "c3", "subject": {"reference": "Patient/P"},
                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": "90560007"}]},
                 "onsetDateTime": "2018-03-01"})  # fmt: skip
    bundle = everything(client, "P", _type="Condition")
    assert matches(bundle) == ["Condition/c1"]
    assert also(bundle["entry"][0]) == [
        (LAB, "Condition/c2/_history/1"),
        (REST, "Condition/c3/_history/1"),
    ]
    assert bundle["total"] == 1


def test_patients_are_never_folded(app: Any, client: Any) -> None:
    mrn = [{"system": "urn:oid:1.2.3.4.5", "value": "MRN-1"}]
    put(client, patient("P", "Villanueva", "1955-09-09", identifier=mrn))
    q = patient("Q", "Yamamoto", "1988-08-08", identifier=mrn,
                link=[{"other": {"reference": "Patient/P"}, "type": "seealso"}])  # fmt: skip
    put(client, q)
    link(app, "Q", "P")
    assert matches(everything(client, "P", _type="Patient")) == ["Patient/P", "Patient/Q"]


def test_a_hidden_copy_is_neither_served_nor_named(app: Any, client: Any) -> None:
    """The access policy sees every copy: what it hides is not listed, and totals go."""
    from records.storage import StoredVersion

    put(client, patient("P", "Villanueva", "1955-09-09"))
    feed(app, EHR, [observation("ehr-hr", "Patient/P", "2021-06-01T08:00:00Z")])
    feed(app, LAB, [observation("lab-hr", "Patient/P", "2021-06-01T08:00:00Z")])

    class HideEHR:
        def can_see(self, principal: Any, version: StoredVersion) -> bool:
            return version.source != EHR

        def can_write(self, principal: Any, resource_type: str, resource: Any) -> bool:
            return True

    ext = app.extensions["accord"]
    ext.policy = HideEHR()
    bundle = everything(client, "P")
    assert matches(bundle) == ["Patient/P", "Observation/lab-hr"]
    assert "extension" not in bundle["entry"][1]
    assert "total" not in bundle


# -- paging ---------------------------------------------------------------------------


@dataclass
class Fact:
    """One expected entry: its resource and its copies' care dates and update times."""

    ref: str
    types: str
    copies: list[tuple[tuple[str, str] | None, str]] = field(default_factory=list)

    def passes(self, since: str | None, window: tuple[str | None, str | None] | None) -> bool:
        for care, updated in self.copies:
            if since is not None and updated < date_range(since)[0]:
                continue
            if window is not None and care is not None:
                low, high = window
                if low is not None and care[1] < low:
                    continue
                if high is not None and care[0] > high:
                    continue
            return True
        return False


def _updated(resource: dict[str, Any]) -> str:
    return str(resource["meta"]["lastUpdated"])[:26]


@pytest.fixture
def walked(app: Any, client: Any) -> tuple[Any, list[Fact], str]:
    """A varied record of A (and linked B): 40-odd entries, some folded, two batches."""
    facts: list[Fact] = []

    def add(resource: dict[str, Any], care: str | None, source: str | None = None) -> None:
        stored = feed(app, source, [resource])[0] if source else put(client, resource)
        fact = Fact(f"{stored['resourceType']}/{stored['id']}", stored["resourceType"])
        fact.copies.append((date_range(care) if care else None, _updated(stored)))
        facts.append(fact)

    def duplicate(of: str, resource: dict[str, Any], care: str | None, source: str) -> None:
        stored = feed(app, source, [resource])[0]
        fact = next(f for f in facts if f.ref == of)
        fact.copies.append((date_range(care) if care else None, _updated(stored)))

    add(patient("A", "Quintanilla", "1961-03-04"), None)
    b = patient("B", "Okonkwo", "1990-11-30", link=[{"other": {"reference": "Patient/A"}, "type": "seealso"}])  # fmt: skip
    add(b, None)
    link(app, "B", "A")
    cut = ""
    for i in range(36):
        if i == 24:
            cut = _updated(put(client, observation("marker", "Patient/Z", "2000-01-01")))
        subject = "Patient/B" if i % 4 == 3 else "Patient/A"
        day = f"2020-{1 + i % 12:02d}-{1 + i % 27:02d}"
        kind = i % 6
        if kind in (0, 1, 2):
            when = None if i == 7 else f"{day}T09:{i:02d}:00Z"
            add(observation(f"o{i}", subject, when, value=40 + i), when)
            if i % 9 == 0:  # the lab sent it too, later
                lab = observation(f"o{i}-lab", subject, when, value=40 + i)
                duplicate(f"Observation/o{i}", lab, when, LAB)
        elif kind == 3:
            add({"resourceType": "Condition", "id": f"c{i}", "subject": {"reference": subject},
                 "code": {"text": f"condition {i}"}, "onsetDateTime": day}, day)  # fmt: skip
        elif kind == 4:
            period = {"start": f"{day}T08:00:00Z", "end": f"{day}T17:00:00Z"}
            add({"resourceType": "Encounter", "id": f"e{i}", "status": "finished",
                 "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                 "subject": {"reference": subject}, "period": period}, day)  # fmt: skip
        else:
            add({"resourceType": "Provenance", "id": f"p{i}", "target": [{"reference": subject}],
                 "recorded": f"{day}T10:00:00Z", "agent": [{"who": {"display": "x"}}]}, None)  # fmt: skip
    # a copy of o6 arrives after the cut: the fact counts as updated since then
    late = observation("o6-late", "Patient/A", "2020-07-07T09:06:00Z", value=46)
    duplicate("Observation/o6", late, "2020-07-07T09:06:00Z", LAB)
    # someone else's record around it
    put(client, patient("Z", "Zeller", "1944-04-04"))
    put(client, observation("z1", "Patient/Z", "2020-03-03"))
    return client, facts, cut


TYPES = [None, "Observation", "Patient,Condition", "Observation,Provenance,Encounter"]
WINDOWS: list[tuple[str | None, str | None] | None] = [
    None,
    ("2020-04", None),
    (None, "2020-03-15"),
    ("2020-02-10", "2020-06"),
]


def _expected(
    facts: list[Fact],
    types: str | None,
    since: str | None,
    window: tuple[str | None, str | None] | None,
) -> list[str]:
    keys = None
    if window is not None:
        keys = (
            date_range(window[0])[0] if window[0] else None,
            date_range(window[1])[1] if window[1] else None,
        )
    wanted = set(types.split(",")) if types else None
    return [f.ref for f in facts if (wanted is None or f.types in wanted) and f.passes(since, keys)]


def test_every_combination_walked_to_the_last_page(walked: Any) -> None:
    client, facts, cut = walked
    for count, since, types, window in itertools.product(
        (1, 3, 7, 50), (None, cut), TYPES, WINDOWS
    ):
        params: dict[str, Any] = {"_count": count}
        if since:
            params["_since"] = since
        if types:
            params["_type"] = types
        if window:
            if window[0]:
                params["start"] = window[0]
            if window[1]:
                params["end"] = window[1]
        expected = _expected(facts, types, since, window)
        pages = list(walk(client, "A", **params))
        seen = [m for page in pages for m in matches(page)]
        assert sorted(seen) == sorted(expected), params
        assert len(seen) == len(set(seen)), params
        assert all(page["total"] == len(expected) for page in pages), params
        assert all(len(matches(page)) <= count for page in pages), params
        assert len(pages) == max(1, -(-len(expected) // count)), params
        # previous links lead back through the same pages
        back = pages[-1]
        for page in reversed(pages[:-1]):
            url = relation(back, "previous")
            assert url is not None, params
            back = follow(client, url)
            assert matches(back) == matches(page), params
        assert relation(back, "previous") is None, params
        # last holds the final entries
        last = follow(client, relation(pages[0], "last") or "")
        assert matches(last) == seen[-count:], params
    assert len(facts) > 30


def test_a_walk_is_not_disturbed_by_writes_between_pages(app: Any, walked: Any) -> None:
    client, facts, _ = walked
    expected = [f.ref for f in facts]
    # D is already on file, and will be linked to A in the middle of the walk
    put(client, patient("D", "Delacroix-Mbeki", "1977-12-12"))
    put(client, observation("d-old", "Patient/D", "2020-05-05", value=120))
    seen: list[str] = []
    for n, page in enumerate(walk(client, "A", _count=4)):
        seen += matches(page)
        assert page["total"] == len(expected)
        if n == 1:
            put(client, observation("new", "Patient/A", "2020-06-06", value=130))
            put(client, observation("o0", "Patient/A", "2020-01-01T09:00:00Z", value=131))
            assert client.delete("/fhir/Observation/o1").status_code == 204
            d = patient("D", "Delacroix-Mbeki", "1977-12-12",
                        link=[{"other": {"reference": "Patient/A"}, "type": "seealso"}])  # fmt: skip
            put(client, d)
            link(app, "D", "A")
    assert seen == expected
    # a new walk sees the new state
    fresh = [m for page in walk(client, "A", _count=50) for m in matches(page)]
    assert "Observation/new" in fresh and "Observation/d-old" in fresh
    assert "Observation/o1" not in fresh and "Patient/D" in fresh


def test_count_zero_and_default_count(walked: Any) -> None:
    client, facts, _ = walked
    bundle = everything(client, "A", _count=0)
    assert bundle["total"] == len(facts)
    assert matches(bundle) == []
    assert relation(bundle, "next") is None
    assert len(matches(everything(client, "A"))) == 20
    assert len(matches(everything(client, "A", _count=5000))) == len(facts)  # capped at 1000


def test_members_of_a_large_linked_set(app: Any, linked: Any) -> None:
    """Hundreds of linked patients take several queries on SQLite: the same members."""
    from records.storage.everything_sql import members

    with app.extensions["accord"].store.read() as tx:
        snapshot = tx.high_water_mark()
        few = members(tx.conn, ["A", "B"], compartment_types(), snapshot)
        ids = [f"x{i}" for i in range(450)]
        many = members(tx.conn, [*ids[:300], "B", *ids[300:], "A"], compartment_types(), snapshot)
    assert [(m.seq, m.keys) for m in many] == [(m.seq, m.keys) for m in few]
    assert len(few) == len(LINKED_MEMBERS)
