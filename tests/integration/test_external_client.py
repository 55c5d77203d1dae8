"""An independent FHIR client (SMART's ``fhirclient`` 4.4.0) against a real socket.

fhirclient parses what it receives into its own strict R4 models, so these tests
also check that the CapabilityStatement, resources and search Bundles the gateway
serves are well-formed R4 as another implementation reads them.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from fhirclient import client
from fhirclient.models.bundle import Bundle
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.patient import Patient

FHIR_JSON = "application/fhir+json"

# perform_resources() is what the brief's clients call; 4.4.0 marks it deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:perform_resources:DeprecationWarning")


def _smart(base: str) -> client.FHIRClient:
    return client.FHIRClient(settings={"app_id": "accord-tests", "api_base": base})


def _create_patient(base: str, family: str, given: list[str], **extra: Any) -> str:
    body = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": family, "given": given}],
        **extra,
    }
    response = requests.post(
        f"{base}/Patient",
        json=body,
        headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    rid: str = created["id"]
    assert response.headers["Location"].startswith(f"{base}/Patient/{rid}/_history/1")
    return rid


def test_capability_statement_parses(live_server: str) -> None:
    base = live_server + "/fhir"
    smart = _smart(base)
    assert smart.prepare(), "fhirclient did not get ready (CapabilityStatement/auth)"
    statement = smart.server.capabilityStatement
    assert isinstance(statement, CapabilityStatement)
    assert statement.fhirVersion == "4.0.1"
    assert statement.kind == "instance"
    assert "application/fhir+json" in statement.format
    resources = {r.type: r for r in statement.rest[0].resource}
    patient = resources["Patient"]
    assert {i.code for i in patient.interaction} >= {"read", "search-type", "create", "update"}
    assert {p.name for p in patient.searchParam} >= {
        "family",
        "given",
        "name",
        "identifier",
        "birthdate",
    }
    # An open server: no security section, so fhirclient signs nothing.
    assert smart.server.auth is not None and not smart.server.auth.can_sign_headers()


def test_read_and_search_with_fhirclient(live_server: str) -> None:
    base = live_server + "/fhir"
    chalmers = _create_patient(
        base, "Chalmers", ["Peter", "James"], gender="male", birthDate="1974-12-25"
    )
    chalmers_too = _create_patient(base, "Chalmers", ["Anna"], gender="female")
    _create_patient(base, "Windsor", ["Peter"])
    accented = _create_patient(base, "Müller-Lüdenscheidt", ["Zoë"])
    smart = _smart(base)
    assert smart.prepare()

    patient = Patient.read(chalmers, smart.server)
    assert patient.id == chalmers
    assert patient.name[0].family == "Chalmers"
    assert patient.name[0].given == ["Peter", "James"]
    assert patient.gender == "male"
    assert patient.birthDate.isostring == "1974-12-25"
    assert patient.meta.versionId == "1"
    assert smart.human_name(patient.name[0]) == "Peter James Chalmers"

    found = Patient.where(struct={"family": "Chalmers"}).perform_resources(smart.server)
    assert sorted(p.id for p in found) == sorted([chalmers, chalmers_too])
    assert {p.name[0].given[0] for p in found} == {"Peter", "Anna"}
    assert all(isinstance(p, Patient) for p in found)

    # prefix, case-insensitive
    found = Patient.where(struct={"family": "chal"}).perform_resources(smart.server)
    assert sorted(p.id for p in found) == sorted([chalmers, chalmers_too])

    # non-ASCII query values travel URL-encoded; matching ignores case and accents
    found = Patient.where(struct={"family": "muller"}).perform_resources(smart.server)
    assert [p.id for p in found] == [accented]
    assert found[0].name[0].family == "Müller-Lüdenscheidt"
    found = Patient.where(struct={"given": "Zoë"}).perform_resources(smart.server)
    assert [p.id for p in found] == [accented]

    # AND of two parameters
    found = Patient.where(struct={"family": "Chalmers", "given": "peter"}).perform_resources(
        smart.server
    )
    assert [p.id for p in found] == [chalmers]

    assert Patient.where(struct={"family": "Nobody"}).perform_resources(smart.server) == []


def test_fhirclient_follows_next_links(live_server: str) -> None:
    """25 matches at 10 a page: fhirclient walks the server's next links to all of them."""
    base = live_server + "/fhir"
    ids = {_create_patient(base, "Pager", [f"P{i:02d}"]) for i in range(25)}
    _create_patient(base, "Other", ["X"])
    smart = _smart(base)
    assert smart.prepare()

    search = Patient.where(struct={"family": "Pager", "_count": "10"})
    pages = list(search.perform_iter(smart.server))
    assert [len(p.entry or []) for p in pages] == [10, 10, 5]
    assert all(isinstance(p, Bundle) and p.type == "searchset" and p.total == 25 for p in pages)

    found = search.perform_resources(smart.server)
    assert len(found) == 25
    assert {p.id for p in found} == ids


def test_fhirclient_create_and_update(live_server: str) -> None:
    """fhirclient's own writes: POST (create) and PUT (update) from its models."""
    base = live_server + "/fhir"
    smart = _smart(base)
    assert smart.prepare()

    new = Patient({"resourceType": "Patient", "name": [{"family": "Modelled", "given": ["Ada"]}]})
    response = new.create(smart.server)
    assert response is not None and response["resourceType"] == "Patient"
    rid = response["id"]

    read = Patient.read(rid, smart.server)
    assert read.name[0].family == "Modelled"
    read.name[0].given = ["Ada", "King"]
    updated = read.update(smart.server)
    assert updated is not None and updated["meta"]["versionId"] == "2"
    assert Patient.read(rid, smart.server).name[0].given == ["Ada", "King"]
