"""HL7 v2 → FHIR: validity, determinism, namespaces, errors, and the data-type rules.

* every resource of every supported fixture (batch messages included)
  validates with fhir.resources R4B and the official R4 JSON schema, uses
  the codes of the required bindings, and only points backwards (or at the
  visit and order the ADT and CPOE feeds own);
* the same message gives the same bytes twice; the same MRN from two
  hospitals gives two Patients; replay with another feed name changes
  nothing when the message names its authorities;
* each kind of bad input gives its table 0357 code, v2 location and FHIR path.
"""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class

from adapters.base import Conversion, ConversionError
from adapters.hl7v2 import Message, iter_messages, parse_message
from adapters.hl7v2.to_fhir import SUPPORTED, Decimal, convert
from adapters.hl7v2.to_fhir.context import Context
from adapters.hl7v2.to_fhir.datatypes import number
from adapters.hl7v2.to_fhir.terminology import system_uri
from adapters.hl7v2.to_fhir.timestamps import date_time, instant, parse_dtm

DATA = Path(__file__).resolve().parents[1] / "data" / "hl7v2"
SOURCE = "test-feed"

# The codes of required bindings the converter fills (FHIR R4 value sets).
REQUIRED = {
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Encounter", "status"): {"planned", "arrived", "triaged", "in-progress", "onleave",
                              "finished", "cancelled", "entered-in-error", "unknown"},
    ("Observation", "status"): {"registered", "preliminary", "final", "amended", "corrected",
                                "cancelled", "entered-in-error", "unknown"},
    ("DiagnosticReport", "status"): {"registered", "partial", "preliminary", "final",
                                     "amended", "corrected", "appended", "cancelled",
                                     "entered-in-error", "unknown"},
    ("Immunization", "status"): {"completed", "entered-in-error", "not-done"},
    ("MedicationRequest", "status"): {"active", "on-hold", "cancelled", "completed",
                                      "entered-in-error", "stopped", "draft", "unknown"},
    ("MedicationRequest", "intent"): {"proposal", "plan", "order", "original-order",
                                      "reflex-order", "filler-order", "instance-order",
                                      "option"},
    ("MedicationDispense", "status"): {"preparation", "in-progress", "cancelled", "on-hold",
                                       "completed", "entered-in-error", "stopped", "declined",
                                       "unknown"},
    ("AllergyIntolerance", "type"): {"allergy", "intolerance"},
    ("AllergyIntolerance", "criticality"): {"low", "high", "unable-to-assess"},
    ("Coverage", "status"): {"active", "cancelled", "draft", "entered-in-error"},
    ("Specimen", "status"): {"available", "unavailable", "unsatisfactory", "entered-in-error"},
}  # fmt: skip
ALLERGY_CATEGORIES = {"food", "medication", "environment", "biologic"}
# References to resources another feed owns (the visit, the prescriber's order).
OWNED_ELSEWHERE = {"Encounter", "MedicationRequest"}


def raw(name: str) -> bytes:
    return (DATA / name).read_bytes()


def supported_messages() -> list[tuple[str, Message]]:
    """Every message of every good fixture whose type the converter supports."""
    found = []
    for path in sorted(DATA.glob("*.hl7")):
        if path.name.startswith("bad_"):
            continue
        for index, msg in enumerate(iter_messages(path.read_bytes()), 1):
            if f"{msg.message_type}^{msg.trigger_event}" in SUPPORTED:
                found.append((f"{path.name}#{index}", msg))
    return found


MESSAGES = supported_messages()


def json_bytes(conversion: Conversion) -> bytes:
    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return orjson.Fragment(value.text)
        raise TypeError(type(value).__name__)

    return orjson.dumps(
        [conversion.resources, conversion.warnings],
        default=default,
        option=orjson.OPT_PASSTHROUGH_SUBCLASS,
    )


@pytest.fixture(scope="module")
def fhir_valid(r4_schema: dict[str, Any]) -> Any:
    """Checks a resource with fhir.resources R4B, the official R4 JSON schema and the
    required bindings (fhir.resources does not check those)."""
    validators: dict[str, jsonschema.Draft6Validator] = {}

    def check(resource: dict[str, Any]) -> None:
        kind = resource["resourceType"]
        get_fhir_model_class(kind).model_validate(resource)
        if kind not in validators:
            schema = {"definitions": r4_schema["definitions"], "$ref": f"#/definitions/{kind}"}
            validators[kind] = jsonschema.Draft6Validator(schema)
        as_json = orjson.loads(json_bytes(Conversion(resources=[resource])))[0][0]
        errors = [e.message for e in validators[kind].iter_errors(as_json)]
        assert not errors, (kind, resource["id"], errors[:3])
        for (rtype, element), allowed in REQUIRED.items():
            if rtype == kind and element in resource:
                assert resource[element] in allowed, (kind, element, resource[element])
        if kind == "AllergyIntolerance":
            assert set(resource.get("category", [])) <= ALLERGY_CATEGORIES

    return check


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [r for v in node.values() for r in references(v)]
    if isinstance(node, list):
        return [r for item in node for r in references(item)]
    return []


@pytest.mark.parametrize(("name", "msg"), MESSAGES, ids=[n for n, _ in MESSAGES])
def test_every_resource_is_valid_r4(name: str, msg: Message, fhir_valid: Any) -> None:
    conversion = convert(msg, source=SOURCE)
    assert conversion.resources, name
    for resource in conversion.resources:
        fhir_valid(resource)


@pytest.mark.parametrize(("name", "msg"), MESSAGES, ids=[n for n, _ in MESSAGES])
def test_references_point_back_at_what_came_before(name: str, msg: Message) -> None:
    """Referenced resources come first (Patient first), ids are unique, and a
    reference to a resource not in the message is one another feed owns."""
    resources = convert(msg, source=SOURCE).resources
    if any(r["resourceType"] == "Patient" for r in resources):
        assert resources[0]["resourceType"] == "Patient"
    keys = [f"{r['resourceType']}/{r['id']}" for r in resources]
    assert len(keys) == len(set(keys))
    for position, resource in enumerate(resources):
        for target in references(resource):
            if target.startswith("#"):
                assert any(c["id"] == target[1:] for c in resource.get("contained", ()))
                continue
            kind, _, ident = target.partition("/")
            assert ident and kind[0].isupper(), target
            if target in keys:
                merge = resource.get("link") and kind == "Patient"
                assert keys.index(target) < position or merge, (keys[position], target)
            else:
                assert kind in OWNED_ELSEWHERE, (keys[position], target)


# -- determinism and namespaces ------------------------------------------------------


@pytest.mark.parametrize(("name", "msg"), MESSAGES, ids=[n for n, _ in MESSAGES])
def test_the_same_message_converts_to_the_same_bytes(name: str, msg: Message) -> None:
    first = json_bytes(convert(msg, source=SOURCE))
    assert json_bytes(convert(parse_message(msg.er7), source=SOURCE)) == first


def patient_id(text: str, source: str = SOURCE) -> str:
    resources = convert(parse_message(text), source=source).resources
    assert resources[0]["resourceType"] == "Patient"
    return str(resources[0]["id"])


ADMIT = (
    "MSH|^~\\&|ADT|{facility}|ACCORD|ACCORD|20240101120000||ADT^A01^ADT_A01|M1|P|2.5.1\r"
    "PID|1||{mrn}||Doe^Jane||19800101|F\r"
    "PV1|1|I|||||||||||||||||V1\r"
)


def test_the_same_mrn_from_two_hospitals_is_two_patients() -> None:
    # Without an assigning authority, the sending facility (MSH-4) namespaces the MRN ...
    north = patient_id(ADMIT.format(facility="NORTH", mrn="12345"))
    south = patient_id(ADMIT.format(facility="SOUTH", mrn="12345"))
    assert north != south
    # ... and with one (PID-3.4), the authority does, whoever sends it.
    a = patient_id(ADMIT.format(facility="NORTH", mrn="12345^^^NORTH HOSP^MR"))
    b = patient_id(ADMIT.format(facility="SOUTH", mrn="12345^^^SOUTH HOSP^MR"))
    c = patient_id(ADMIT.format(facility="HIE", mrn="12345^^^NORTH HOSP^MR"))
    assert a != b and a == c


def test_the_feed_name_only_matters_when_nothing_else_namespaces_the_mrn() -> None:
    named = ADMIT.format(facility="NORTH", mrn="12345^^^NORTH HOSP^MR")
    assert patient_id(named, "feed-a") == patient_id(named, "feed-b")
    bare = ADMIT.format(facility="", mrn="12345")
    assert patient_id(bare, "feed-a") != patient_id(bare, "feed-b")


def test_identifier_systems_follow_the_assigning_authority() -> None:
    text = ADMIT.format(
        facility="NORTH^2.16.840.1.113883.19.5^ISO",
        mrn="1^^^&2.16.840.1.113883.19.7&ISO^MR~2^^^NORTH HOSP^PI~3~4^^^SSA^SS",
    )
    (patient, *_) = convert(parse_message(text), source=SOURCE).resources
    assert [(i["system"], i["value"]) for i in patient["identifier"]] == [
        ("urn:oid:2.16.840.1.113883.19.7", "1"),
        ("urn:accord:hl7v2:NORTH%20HOSP:PI", "2"),
        ("urn:oid:2.16.840.1.113883.19.5", "3"),  # no authority: the sender's (MSH-4)
        ("http://hl7.org/fhir/sid/us-ssn", "4"),
    ]


def test_the_feeds_time_zone_places_times_sent_without_one(fhir_valid: Any) -> None:
    msg = parse_message(raw("handwritten_rde_o11_v251.hl7"))  # no offset anywhere
    bare = convert(msg, source=SOURCE)
    assert bare.warnings and all("no time zone" in w for w in bare.warnings)
    zoned = convert(msg, source=SOURCE, timezone=ZoneInfo("America/New_York"))
    assert zoned.warnings == []
    (order,) = [r for r in zoned.resources if r["resourceType"] == "MedicationRequest"]
    assert order["authoredOn"] == "2024-04-02T08:12:00-04:00"  # EDT on that date
    assert order["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] == {
        "start": "2024-04-02T09:00:00-04:00",
        "end": "2024-04-09T09:00:00-04:00",
    }
    for resource in zoned.resources:
        fhir_valid(resource)


def test_a_time_of_birth_goes_in_the_birth_time_extension(fhir_valid: Any) -> None:
    text = ADMIT.format(facility="NORTH", mrn="1").replace("19800101", "198001010830")
    patient = convert(parse_message(text.replace("20240101120000", "20240101120000+0100")),
                      source=SOURCE).resources[0]  # fmt: skip
    assert patient["birthDate"] == "1980-01-01"
    assert patient["_birthDate"] == {"extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
        "valueDateTime": "1980-01-01T08:30:00+01:00",
    }]}  # fmt: skip
    fhir_valid(patient)
    # Without a zone, the date alone: the extension would need one.
    assert "_birthDate" not in convert(parse_message(text), source=SOURCE).resources[0]


def test_z_segments_are_named_in_a_warning() -> None:
    conversion = convert(parse_message(raw("hl7types_adt_a01_zsegment.hl7")), source=SOURCE)
    assert conversion.warnings[0] == (
        "Z-segments are local extensions and were not converted: ZPD (segment 4)"
    )


# -- errors --------------------------------------------------------------------------

ORU = (
    "MSH|^~\\&|LAB|NORTH|ACCORD|ACCORD|20240101120000+0100||ORU^R01^ORU_R01|M2|P|2.5.1\r"
    "PID|1||12345^^^NORTH HOSP^MR||Doe^Jane||19800101|F\r"
    "OBR|1||F1^LAB|2345-7^Glucose^LN|||20240101100000|||||||||||||||||F\r"
    "{obx}\r"
)
GOOD_OBX = "OBX|1|NM|2345-7^Glucose^LN||98|mg/dL^^UCUM|70-99|N|||F"


def error(text: str) -> ConversionError:
    with pytest.raises(ConversionError) as caught:
        convert(parse_message(text), source=SOURCE)
    return caught.value


def replace_field(obx: str, number_: int, new: str) -> str:
    fields = obx.split("|")
    fields[number_] = new
    return "|".join(fields)


@pytest.mark.parametrize(
    ("obx", "code", "location", "fhir_path"),
    [
        (replace_field(GOOD_OBX, 3, ""), "101", "OBX[1]-3", "Observation.code"),
        (replace_field(GOOD_OBX, 5, "9 8"), "102", "OBX[1]-5",
         "Observation.valueQuantity.value"),
        (replace_field(GOOD_OBX, 5, "1e3"), "102", "OBX[1]-5",
         "Observation.valueQuantity.value"),
        (replace_field(GOOD_OBX, 11, ""), "101", "OBX[1]-11", "Observation.status"),
        (replace_field(GOOD_OBX, 11, "Q"), "103", "OBX[1]-11", "Observation.status"),
        (replace_field(GOOD_OBX, 2, ""), "101", "OBX[1]-2", "Observation.value[x]"),
        (replace_field(replace_field(GOOD_OBX, 2, "SN"), 5, "<^abc"), "102", "OBX[1]-5",
         "Observation.valueQuantity.value"),
    ],
    ids=["no-code", "NM-not-a-number", "NM-exponent", "no-status", "unknown-status",
         "no-value-type", "SN-not-a-number"],
)  # fmt: skip
def test_bad_results_are_refused_where_they_are_bad(
    obx: str, code: str, location: str, fhir_path: str
) -> None:
    found = error(ORU.format(obx=obx))
    assert (found.code, found.location, found.fhir_path) == (code, location, fhir_path)


def test_a_good_result_converts() -> None:
    resources = convert(parse_message(ORU.format(obx=GOOD_OBX)), source=SOURCE).resources
    assert [r["resourceType"] for r in resources] == ["Patient", "Observation", "DiagnosticReport"]
    assert resources[1]["valueQuantity"] == {
        "value": 98, "system": "http://unitsofmeasure.org", "code": "mg/dL", "unit": "mg/dL"
    }  # fmt: skip
    assert resources[1]["effectiveDateTime"] == "2024-01-01T10:00:00+01:00"  # MSH-7's zone


def edit(name: str, old: str, new: str) -> str:
    text = raw(name).decode()
    assert old in text, old
    return text.replace(old, new)


@pytest.mark.parametrize(
    ("text", "code", "location", "fhir_path"),
    [
        (edit("hl7types_ack_v24.hl7", "ACK", "ACK"), "200", "MSH[1]-9", ""),
        (edit("hl7types_adt_a17_v21.hl7", "A17", "A17"), "201", "MSH[1]-9.2", ""),
        (edit("handwritten_adt_a01_v251.hl7", "H4455667^^^ST BRIGID HOSP^MR~9876543210^^^IHI^NH",
              ""), "101", "PID[1]-3", "Patient.identifier"),
        (edit("handwritten_adt_a01_v251.hl7", "PV1|1|I|", "PV1|1||"), "101", "PV1[1]-2",
         "Encounter.class"),
        (edit("handwritten_adt_a01_v251.hl7", "PV1|1|I|", "PV1|1|Q|"), "103", "PV1[1]-2",
         "Encounter.class"),
        (edit("handwritten_adt_a01_v251.hl7", "7980^Penicillin G^RXNORM", ""), "101", "AL1[1]-3",
         "AllergyIntolerance.code"),
        (edit("handwritten_adt_a01_v251.hl7", "VHI001^^^IE-INSURERS|VHI Healthcare", "|"), "101",
         "IN1[1]-3", "Coverage.payor"),
        (edit("handwritten_adt_a01_v251.hl7", "\rPID|", "\rXXX|"), "100", "PID[1]", "Patient"),
        (edit("handwritten_adt_a40_v251.hl7", "\rMRG|", "\rZZM|"), "100", "MRG[1]", "Patient.link"),
        (edit("handwritten_adt_a40_v251.hl7", "MRG|H4409921", "MRG|H4455667"), "102", "MRG[1]-1",
         "Patient.link.other"),
        (edit("handwritten_adt_a40_v251.hl7", "\rMRG|H4409921^^^ST BRIGID HOSP^MR",
              "\rMRG|H4409921^^^ST BRIGID HOSP^MR\rPID|2||H4409921^^^ST BRIGID HOSP^MR\r"
              "MRG|H4455667^^^ST BRIGID HOSP^MR"), "205", "PID[2]-3", "Patient.link"),
        (edit("handwritten_oru_r01_v251.hl7", "57021-8^CBC W Auto Differential panel - Blood^LN",
              ""), "101", "OBR[1]-4", "DiagnosticReport.code"),
        (edit("handwritten_oru_r01_v251.hl7", "||||||20240312092500+0000|||F\rOBX|1|NM",
              "||||||20240312092500+0000|||Q\rOBX|1|NM"), "103", "OBR[1]-25",
         "DiagnosticReport.status"),
        (edit("handwritten_vxu_v04_v251.hl7", "08^Hep B, adolescent or pediatric^CVX", ""), "101",
         "RXA[1]-5", "Immunization.vaccineCode"),
        (edit("handwritten_vxu_v04_v251.hl7", "RXA|0|1|20240315|", "RXA|0|1|2024-03-15|"), "102",
         "RXA[1]-3", "Immunization.occurrenceDateTime"),
        (edit("handwritten_vxu_v04_v251.hl7", "|0.5|mL^", "|half|mL^"), "102", "RXA[1]-6",
         "Immunization.doseQuantity.value"),
        (edit("handwritten_vxu_v04_v251.hl7", "||CP|A", "||XX|A"), "103", "RXA[1]-20",
         "Immunization.status"),
        (edit("handwritten_rde_o11_v251.hl7", "ORC|NW|ORD5521^ACCORD-CPOE||GRP881",
              "ORC|NW|||GRP881"), "101", "ORC[1]-2", "MedicationRequest.identifier"),
        (edit("handwritten_rde_o11_v251.hl7", "\rRXE|", "\rZXE|"), "100", "ORC[1]", ""),
        (edit("handwritten_rde_o11_v251.hl7", "|5||mg^milligram^UCUM|", "|five||mg^milligram^UCUM|"),
         "102", "RXE[1]-3", "MedicationRequest.dosageInstruction.doseAndRate.doseQuantity"),
        (edit("handwritten_rds_o13_v251.hl7", "|RX-2024-5521|", "||"), "101", "RXD[1]-7",
         "MedicationDispense.identifier"),
        (edit("handwritten_rds_o13_v251.hl7", "197361^Amlodipine 5 MG Oral Tablet^RXNORM", ""),
         "101", "RXD[1]-2", "MedicationDispense.medicationCodeableConcept"),
    ],
    ids=["ACK", "ADT^A17", "no-PID-3", "no-patient-class", "unknown-patient-class",
         "no-allergen", "no-insurer", "no-PID", "merge-without-MRG", "merge-into-itself",
         "merged-and-surviving",
         "no-OBR-4", "unknown-OBR-25", "no-vaccine", "bad-RXA-3", "bad-dose",
         "unknown-completion-status", "no-order-number", "order-without-RXE", "bad-give-amount",
         "no-prescription-number", "no-dispensed-drug"],
)  # fmt: skip
def test_each_kind_of_bad_message_is_refused_with_its_code_and_place(
    text: str, code: str, location: str, fhir_path: str
) -> None:
    found = error(text)
    assert (found.code, found.location, found.fhir_path) == (code, location, fhir_path)
    assert found.message


# -- timestamps ------------------------------------------------------------------------


def context(msh7: str = "20240101120000", tz: Any = None) -> Context:
    msg = parse_message(f"MSH|^~\\&|A|F|B|G|{msh7}||ADT^A01|1|P|2.5.1\r")
    ctx = Context(msg, SOURCE, tz)
    sent = parse_dtm(msh7)
    ctx.msh_offset = sent.offset if sent is not None else None
    return ctx


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024", "2024"),
        ("202403", "2024-03"),
        ("20240315", "2024-03-15"),
        ("20240315+0100", "2024-03-15"),  # a zone without a time: FHIR has no such thing
        ("2024031510", "2024-03-15T10:00:00-05:00"),
        ("202403151030", "2024-03-15T10:30:00-05:00"),
        ("20240315103045.1234", "2024-03-15T10:30:45.1234-05:00"),
        ("20240315103045+0530", "2024-03-15T10:30:45+05:30"),
        ("20240315103045-0000", "2024-03-15T10:30:45+00:00"),
        ("19991231235959+1400", "1999-12-31T23:59:59+14:00"),
    ],
)
def test_dtm_becomes_a_fhir_datetime_at_its_precision(text: str, expected: str) -> None:
    assert date_time(context("20240101120000-0500"), text, "X") == expected


@pytest.mark.parametrize(
    "text",
    [
        "20241301",
        "20240230",
        "19870014",
        "198700",
        "20240100",
        "2024031525",
        "202403151060",
        "20240315+1500",
        "24",
        "abc",
    ],
)
def test_impossible_dtm_is_left_out_with_a_warning(text: str) -> None:
    ctx = context()
    assert date_time(ctx, text, "PV1[1]-44") is None
    assert ctx.warnings == [f"PV1[1]-44: {text!r} is not an HL7 date/time: left out"]


def test_a_time_without_a_zone_takes_the_feeds_zone_on_that_date() -> None:
    new_york = context("20240101120000-0500", ZoneInfo("America/New_York"))
    assert date_time(new_york, "202401151030", "X") == "2024-01-15T10:30:00-05:00"
    assert date_time(new_york, "202407151030", "X") == "2024-07-15T10:30:00-04:00"  # DST
    fixed = context("20240101120000", timezone(timedelta(hours=2)))
    assert date_time(fixed, "202401151030", "X") == "2024-01-15T10:30:00+02:00"
    assert date_time(context("20240101120000", UTC), "202401151030", "X") == (
        "2024-01-15T10:30:00+00:00"
    )


def test_a_time_with_no_zone_anywhere_is_kept_as_its_date() -> None:
    ctx = context("20240101120000")
    assert date_time(ctx, "202401151030", "OBX[2]-14") == "2024-01-15"
    assert ctx.warnings == [
        "OBX[2]-14: 202401151030 has a time but no time zone, and neither the feed nor "
        "MSH-7 gives one: kept as its date"
    ]


def test_an_instant_needs_minutes_and_a_zone() -> None:
    assert instant(context("20240101120000+0000"), "202401151030", "X") == (
        "2024-01-15T10:30:00+00:00"
    )
    ctx = context("20240101120000")
    assert instant(ctx, "202401151030", "OBR[1]-22") is None
    assert instant(ctx, "2024011510", "OBR[1]-22") is None
    assert len(ctx.warnings) == 2


# -- numbers and codes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("98", 98), ("+05", 5), ("-3", -3), ("0", 0), ("007.50", "7.50"), (".5", "0.5"),
        ("5.", 5), ("-0.0", "-0.0"), ("1.30", "1.30"), (" 42 ", 42),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
    ],
)  # fmt: skip
def test_nm_becomes_a_fhir_decimal_with_its_digits(text: str, expected: int | str) -> None:
    found = number(text)
    if isinstance(expected, int):
        assert found == expected and type(found) is int
    else:
        assert isinstance(found, Decimal) and found.text == expected


@pytest.mark.parametrize("text", ["", "-", ".", "1e5", "1,5", "0x10", "1.2.3", "١٢", "NaN"])
def test_not_an_nm(text: str) -> None:
    assert number(text) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("LN", "http://loinc.org"),
        ("ln", "http://loinc.org"),
        ("SCT", "http://snomed.info/sct"),
        ("I10", "http://hl7.org/fhir/sid/icd-10"),
        ("RXNORM", "http://www.nlm.nih.gov/research/umls/rxnorm"),
        ("NDC", "http://hl7.org/fhir/sid/ndc"),
        ("CVX", "http://hl7.org/fhir/sid/cvx"),
        ("UCUM", "http://unitsofmeasure.org"),
        ("HL70078", "http://terminology.hl7.org/CodeSystem/v2-0078"),
        ("HL79901", "urn:accord:hl7v2:codesystem:HL79901"),
        ("CDCPHINVS", "urn:accord:hl7v2:codesystem:CDCPHINVS"),
        ("99LAB", "urn:accord:hl7v2:NORTH%20LAB:codesystem:99LAB"),
        ("L", "urn:accord:hl7v2:NORTH%20LAB:codesystem:L"),
        ("POST 12H CFST:MCNC", ""),
    ],
)
def test_coding_system_names_map_to_uris(name: str, expected: str) -> None:
    assert system_uri(name, "", "NORTH LAB") == expected


def test_an_oid_names_an_unknown_coding_system() -> None:
    assert system_uri("LOCAL1", "2.16.840.1.113883.6.1") == "urn:oid:2.16.840.1.113883.6.1"


def observation(obx: str) -> dict[str, Any]:
    conversion = convert(parse_message(ORU.format(obx=obx)), source=SOURCE)
    found: dict[str, Any] = conversion.resources[1]
    assert found["resourceType"] == "Observation"
    return found


@pytest.mark.parametrize(
    ("kind", "sent", "element", "expected"),
    [
        ("SN", "<^5", "valueQuantity",
         {"value": 5, "comparator": "<", "unit": "mg/dL", "system": "http://unitsofmeasure.org",
          "code": "mg/dL"}),
        ("SN", "^1^:^64", "valueRatio",
         {"numerator": {"value": 1, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                        "code": "mg/dL"}, "denominator": {"value": 64}}),
        ("SN", "^10^-^20", "valueRange",
         {"low": {"value": 10, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                  "code": "mg/dL"},
          "high": {"value": 20, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                   "code": "mg/dL"}}),
        ("SN", "^2^+", "valueString", "2 +"),
        ("SN", "<>^5", "valueString", "<> 5"),
        ("CWE", "260385009^Negative^SCT", "valueCodeableConcept",
         {"coding": [{"system": "http://snomed.info/sct", "code": "260385009",
                      "display": "Negative"}]}),
        ("DTM", "20240101083000+0100", "valueDateTime", "2024-01-01T08:30:00+01:00"),
        ("TM", "0830", "valueTime", "08:30:00"),
        ("NR", "3.5^5.0", "valueRange", {"low": {"value": 3.5}, "high": {"value": 5.0}}),
        ("TX", "line one~line two~~", "valueString", "line one\nline two"),
        ("FT", "\\H\\bold\\N\\ text\\.br\\next\\.sp2\\end", "valueString",
         "bold text\nnext\n\nend"),
        ("ST", "a & b ^ c", "valueString", "a & b ^ c"),
    ],
)  # fmt: skip
def test_obx_values_follow_the_value_type(
    kind: str, sent: str, element: str, expected: Any
) -> None:
    obx = replace_field(replace_field(GOOD_OBX, 2, kind), 5, sent)
    found = observation(obx)
    assert found[element] == expected
    if isinstance(expected, dict) and "value" in expected:
        assert str(found[element]["value"]) == str(expected["value"])


def test_reference_ranges_and_flags() -> None:
    found = observation(replace_field(replace_field(GOOD_OBX, 7, ">=3.5"), 8, "H~LL"))
    assert found["referenceRange"] == [
        {"low": {"value": Decimal("3.5"), "unit": "mg/dL",
                 "system": "http://unitsofmeasure.org", "code": "mg/dL"}, "text": ">=3.5"}
    ]  # fmt: skip
    assert [i["coding"][0]["code"] for i in found["interpretation"]] == ["H", "LL"]
    assert {i["coding"][0]["system"] for i in found["interpretation"]} == {
        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
    }
    assert observation(replace_field(GOOD_OBX, 7, "see note"))["referenceRange"] == [
        {"text": "see note"}
    ]


def test_units_without_a_system_are_ucum_only_when_they_are_ucum() -> None:
    found = observation(replace_field(GOOD_OBX, 6, "mg/dl"))
    assert found["valueQuantity"] == {
        "value": 98, "unit": "mg/dl", "system": "http://unitsofmeasure.org", "code": "mg/dL"
    }  # fmt: skip
    found = observation(replace_field(GOOD_OBX, 6, "bananas"))
    assert found["valueQuantity"] == {"value": 98, "unit": "bananas"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [("F", "final"), ("C", "corrected"), ("P", "preliminary"), ("X", "cancelled"),
     ("D", "entered-in-error"), ("W", "entered-in-error"), ("I", "registered"),
     ("A", "amended")],
)  # fmt: skip
def test_result_status(status: str, expected: str) -> None:
    assert observation(replace_field(GOOD_OBX, 11, status))["status"] == expected


def test_truncated_values_are_reported() -> None:
    conversion = convert(parse_message(raw("hl7types_adt_a01_v27_truncation.hl7")), source=SOURCE)
    assert "PID[1]-5: a value ends with the truncation character '#'" in "\n".join(
        conversion.warnings
    )
