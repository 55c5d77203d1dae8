"""One person, four silos, one record.

Maria Garcia is Patient/123 at a New York cardiologist (FHIR REST), MRN 88-41
at a Texas clinic (HL7 v2 ADT and lab results), a customer of a pharmacy
(NCPDP SCRIPT) and user u-7f3 of a watch vendor (Open mHealth). The master
patient index joins them; ``Patient/123/$everything`` shows everything once.
A later ADT A40 from the clinic merges an emergency registration into her
record, and ``$unmerge`` takes it out again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from records import ingest

DATA = Path(__file__).resolve().parents[1] / "data"
FHIR = {"Content-Type": "application/fhir+json"}

ADT = (
    "MSH|^~\\&|ADT1|TEXAS CLINIC^2.16.840.1.113883.3.9101.7^ISO|ACCORD|ACCORD|20240311081500+0000||"
    "ADT^A01^ADT_A01|TX-ADT-0001|P|2.5.1|||AL|NE\r"
    "EVN|A01|20240311081500+0000\r"
    "PID|1||88-41^^^TEXAS CLINIC^MR||Garcia^Maria^^^^^L||19610302|F|||"
    "1200 Elm St^^Dallas^TX^75201^USA^H||^PRN^PH^^1^214^5550142\r"
    "PV1|1|O|CARD^2^1^TEXAS CLINIC|R|||4411^Okonkwo^Chidi^^^Dr^^^IMC^L|||CAR|||||||||"
    "V-0042^^^TEXAS CLINIC^VN|||||||||||||||||||||||||202403110800\r"
    "DG1|1||I10^Essential (primary) hypertension^I10||202403110930+0000|A\r"
)
ORU = (
    "MSH|^~\\&|LABSYS|TEXAS CLINIC^2.16.840.1.113883.3.9101.7^ISO|ACCORD|ACCORD|20240312093000+0000||"
    "ORU^R01^ORU_R01|TX-LAB-0007|P|2.5.1|||AL|NE\r"
    "PID|1||{mrn}^^^TEXAS CLINIC^MR||{name}||{dob}|F\r"
    "OBR|1|ORD-{mrn}^CPOE|LAB-{mrn}^LABSYS|2093-3^Cholesterol [Mass/volume] in Serum or Plasma^LN"
    "|||20240312071500+0000|||||||||4411^Okonkwo^Chidi|||||||20240312092500+0000|||F\r"
    "OBX|1|NM|2093-3^Cholesterol [Mass/volume] in Serum or Plasma^LN||{value}|mg/dL^mg/dL^UCUM"
    "|<200|N|||F|||20240312071500+0000\r"
)
A04_JANE_DOE = (
    "MSH|^~\\&|ADT1|TEXAS CLINIC^2.16.840.1.113883.3.9101.7^ISO|ACCORD|ACCORD|20240310230000+0000||"
    "ADT^A04^ADT_A01|TX-ADT-0000|P|2.5.1|||AL|NE\r"
    "EVN|A04|20240310230000+0000\r"
    "PID|1||ER-5501^^^TEXAS CLINIC^MR||Doe^Jane^^^^^L||19000101|U\r"
    "PV1|1|E|ER^1^1^TEXAS CLINIC|E|||4411^Okonkwo^Chidi^^^Dr^^^IMC^L|||EM|||||||||"
    "V-0041^^^TEXAS CLINIC^VN|||||||||||||||||||||||||202403102300\r"
)
A40 = (
    "MSH|^~\\&|ADT1|TEXAS CLINIC^2.16.840.1.113883.3.9101.7^ISO|ACCORD|ACCORD|20240318090000+0000||"
    "ADT^A40^ADT_A39|TX-ADT-0003|P|2.5.1|||AL|NE\r"
    "EVN|A40|20240318090000+0000\r"
    "PID|1||88-41^^^TEXAS CLINIC^MR||Garcia^Maria^^^^^L||19610302|F\r"
    "MRG|ER-5501^^^TEXAS CLINIC^MR\r"
)


def _pharmacy_newrx() -> bytes:
    xml = (DATA / "pharmacy" / "newrx_metformin_no_namespace.xml").read_text()
    for old, new in (
        (
            "<LastName>Delgado-Ruiz</LastName><FirstName>Tomás</FirstName>",
            "<LastName>Garcia</LastName><FirstName>Maria</FirstName>",
        ),
        ("<Gender>M</Gender>", "<Gender>F</Gender>"),
        ("<Date>1979-11-03</Date>", "<Date>1961-03-02</Date>"),
        (
            "<AddressLine1>77 Harbor View Rd</AddressLine1><City>Portland</City>"
            "<StateProvince>ME</StateProvince><PostalCode>04101</PostalCode>",
            "<AddressLine1>1200 Elm St</AddressLine1><City>Dallas</City>"
            "<StateProvince>TX</StateProvince><PostalCode>75201</PostalCode>",
        ),
    ):
        assert old in xml
        xml = xml.replace(old, new)
    return xml.encode()


def _everything(client: Any, patient_id: str) -> dict[str, Any]:
    r = client.get(f"/fhir/Patient/{patient_id}/$everything?_count=1000")
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def _matches(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]


def _of(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in _matches(bundle) if r["resourceType"] == resource_type]


def _feed(app: Any, client: Any, source: str) -> dict[str, str]:
    assert ingest.add_source(app.extensions["accord"].store, source, f"{source}-token")
    return {"Authorization": f"Bearer {source}-token"}


def test_four_sources_one_unified_record_merge_and_unmerge(app: Any, client: Any) -> None:
    clinic = _feed(app, client, "texas-clinic")
    pharmacy = _feed(app, client, "hometown-pharmacy")
    watch = _feed(app, client, "pulse-watch")
    hl7 = {**clinic, "Content-Type": "x-application/hl7-v2+er7"}

    # New York, FHIR REST: the cardiologist's record, with the watch account she linked
    maria = {
        "resourceType": "Patient",
        "id": "123",
        "identifier": [{"system": "urn:accord:wearable:pulse-watch:user", "value": "u-7f3"}],
        "name": [{"family": "Garcia", "given": ["Maria"]}],
        "gender": "female",
        "birthDate": "1961-03-02",
        "telecom": [{"system": "phone", "value": "+1 214 555 0142"}],
        "address": [
            {"line": ["1200 Elm St"], "city": "Dallas", "state": "TX", "postalCode": "75201"}
        ],
    }
    assert client.put("/fhir/Patient/123", json=maria, headers=FHIR).status_code == 201
    bp = {
        "resourceType": "Observation",
        "id": "ny-hr",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/123"},
        "effectiveDateTime": "2026-03-02T07:30:00+01:00",
        "valueQuantity": {
            "value": 64,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }
    assert client.put("/fhir/Observation/ny-hr", json=bp, headers=FHIR).status_code == 201

    # Texas, HL7 v2: a visit and a lab result
    for message in (ADT, ORU.format(mrn="88-41", name="Garcia^Maria", dob="19610302", value="182")):
        r = client.post("/ingest/hl7v2", data=message.encode(), headers=hl7)
        assert b"MSA|AA|" in r.data, r.data
    # the pharmacy, NCPDP SCRIPT
    r = client.post(
        "/ingest/pharmacy",
        data=_pharmacy_newrx(),
        headers={**pharmacy, "Content-Type": "application/xml"},
    )
    assert r.status_code == 202, r.get_json()
    # the watch: heart rate readings; the first is the very reading the cardiologist typed in
    points = json.loads((DATA / "wearables" / "batch.json").read_text())
    r = client.post(
        "/ingest/wearables", json={"userId": "u-7f3", "dataPoints": points}, headers=watch
    )
    assert r.status_code == 202, r.get_json()

    record = _everything(client, "123")
    patients = _of(record, "Patient")
    sources = {p["meta"]["source"] for p in patients}
    assert len(patients) == 4, [p.get("name") for p in patients]
    assert len(sources) == 4  # REST, the clinic, the pharmacy, the watch
    assert (
        _of(record, "Encounter") and _of(record, "Condition") and _of(record, "MedicationRequest")
    )
    codes = {c["code"] for o in _of(record, "Observation") for c in o["code"]["coding"]}
    assert {"2093-3", "8867-4"} <= codes
    assert record["total"] == len(_matches(record))
    assert all(r["meta"].get("source") for r in _matches(record))
    # the same heart rate from the cardiologist and the watch: one entry, both sources
    same = [
        e
        for e in record["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"].get("effectiveDateTime", "").startswith("2026-03-02T07:30")
        and e["resource"]["code"]["coding"][0]["code"] == "8867-4"
    ]
    assert len(same) == 1, same
    assert same[0].get("extension"), same[0]
    # the view is the same from every linked id
    for other in patients:
        assert _everything(client, other["id"])["total"] == record["total"]
    # and search by patient= agrees
    observations = client.get("/fhir/Observation?patient=123&_count=1000").get_json()
    assert {e["resource"]["id"] for e in observations["entry"]} >= {
        o["id"] for o in _of(record, "Observation")
    }

    # an emergency registration as "Jane Doe", with its own lab result: kept apart
    for message in (
        A04_JANE_DOE,
        ORU.format(mrn="ER-5501", name="Doe^Jane", dob="19000101", value="190"),
    ):
        assert b"MSA|AA|" in client.post("/ingest/hl7v2", data=message.encode(), headers=hl7).data
    jane = client.get("/fhir/Patient?identifier=ER-5501").get_json()["entry"][0]["resource"]
    before = _everything(client, "123")
    assert jane["id"] not in {p["id"] for p in _of(before, "Patient")}

    # the clinic merges it into Maria's record (ADT A40): now it is hers
    assert b"MSA|AA|" in client.post("/ingest/hl7v2", data=A40.encode(), headers=hl7).data
    merged = _everything(client, "123")
    assert jane["id"] in {p["id"] for p in _of(merged, "Patient")}
    values = {o.get("valueQuantity", {}).get("value") for o in _of(merged, "Observation")}
    assert {182, 190} <= values
    added = sorted(
        r["resourceType"]
        for r in _matches(merged)
        if (r["resourceType"], r["id"])
        not in {(b["resourceType"], b["id"]) for b in _matches(before)}
    )
    # Jane's Patient, her ER Encounter and cholesterol result (its report is the same
    # fact as Maria's: same test, same time, shown once), and the Provenance of each of
    # the three clinic messages that touched her record (A04, ORU, A40)
    assert added == [
        "Encounter",
        "Observation",
        "Patient",
        "Provenance",
        "Provenance",
        "Provenance",
    ]

    # it was a mistake: unmerge, and the record is as it was
    texas = next(p for p in _of(merged, "Patient") if p["meta"]["source"].endswith("texas-clinic"))
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "source-patient", "valueReference": {"reference": f"Patient/{jane['id']}"}},
            {"name": "target-patient", "valueReference": {"reference": f"Patient/{texas['id']}"}},
        ],
    }
    r = client.post("/fhir/Patient/$unmerge", json=body, headers=FHIR)
    assert r.status_code == 200, r.get_json()
    after = _everything(client, "123")

    def care(bundle: dict[str, Any]) -> set[tuple[str, str]]:
        return {
            (r["resourceType"], r["id"])
            for r in _matches(bundle)
            if r["resourceType"] != "Provenance"
        }

    assert care(after) == care(before)
    # the audit trail stays: the A40's Provenance and the unmerge's both name her record
    activities = [
        c["code"] for r in _of(after, "Provenance") for c in r.get("activity", {}).get("coding", [])
    ]
    assert "unmerge" in activities
    assert jane["id"] not in {p["id"] for p in _of(after, "Patient")}
