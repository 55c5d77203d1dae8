"""NCPDP SCRIPT 2017071 NewRx / RxFill to FHIR R4: golden output, links, refusals, XML attacks.

The sample messages (tests/data/pharmacy/*.xml) are hand-written from the
2017071 structure (see the README there); the expected FHIR was reviewed
against FHIR R4 MedicationRequest / MedicationDispense and the identifier
systems for RxNorm, NDC, NPI and the NCPDP Provider ID.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.base import ConversionError
from adapters.pharmacy import convert_script
from adapters.pharmacy.codes import NDC, NPI, RXNORM
from adapters.pharmacy.xmltree import MAX_BYTES

DATA = Path(__file__).resolve().parents[1] / "data" / "pharmacy"
SAMPLES = sorted(p.stem for p in DATA.glob("*.xml"))
NEWRX = (DATA / "newrx_lisinopril.xml").read_text()
RXFILL = (DATA / "rxfill_lisinopril_dispensed.xml").read_text()


def by_type(resources: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [r for r in resources if r["resourceType"] == kind]
    return found


def refused(text: str) -> ConversionError:
    with pytest.raises(ConversionError) as caught:
        convert_script(text)
    return caught.value


# -- golden --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_golden(name: str, fhir_valid: Any) -> None:
    result = convert_script((DATA / f"{name}.xml").read_bytes())
    expected = json.loads((DATA / "expected" / f"{name}.json").read_text())
    assert result.resources == expected["resources"]
    assert result.warnings == expected["warnings"]
    assert result.rejected == []
    for resource in result.resources:
        fhir_valid(resource)


@pytest.mark.parametrize("name", SAMPLES)
def test_replay_is_identical(name: str) -> None:
    raw = (DATA / f"{name}.xml").read_bytes()
    first, second, text = convert_script(raw), convert_script(raw), convert_script(raw.decode())
    assert json.dumps(first.resources) == json.dumps(second.resources) == json.dumps(text.resources)


def test_new_rx_content() -> None:
    resources = convert_script(NEWRX).resources
    assert [r["resourceType"] for r in resources] == [
        "Patient",
        "Practitioner",
        "MedicationRequest",
    ]
    request = by_type(resources, "MedicationRequest")
    assert request["medicationCodeableConcept"]["coding"] == [
        {"system": NDC, "code": "68180051301"},
        {"system": RXNORM, "code": "314076"},
    ]
    assert request["dosageInstruction"] == [{"text": "Take 1 tablet by mouth once daily"}]
    assert request["authoredOn"] == "2026-03-02"
    dispense = request["dispenseRequest"]
    assert dispense["numberOfRepeatsAllowed"] == 3
    assert dispense["quantity"]["value"] == 90 and dispense["quantity"]["code"] == "C48542"
    assert dispense["expectedSupplyDuration"] == {
        "value": 90,
        "unit": "days",
        "system": "http://unitsofmeasure.org",
        "code": "d",
    }
    assert dispense["performer"]["identifier"]["value"] == "0999017"
    practitioner = by_type(resources, "Practitioner")
    assert practitioner["identifier"] == [{"system": NPI, "value": "1987654328"}]
    assert request["requester"]["reference"] == f"Practitioner/{practitioner['id']}"
    patient = by_type(resources, "Patient")
    assert request["subject"]["reference"] == f"Patient/{patient['id']}"
    assert (patient["gender"], patient["birthDate"], patient["name"][0]["family"]) == (
        "female",
        "1961-07-14",
        "Okafor",
    )


def test_rx_fill_links_to_its_new_rx() -> None:
    new = convert_script(NEWRX).resources
    fill = convert_script(RXFILL).resources
    assert by_type(new, "Patient")["id"] == by_type(fill, "Patient")["id"]
    request, dispense = by_type(new, "MedicationRequest"), by_type(fill, "MedicationDispense")
    assert dispense["authorizingPrescription"][0]["identifier"] == request["identifier"][0]
    assert dispense["status"] == "completed" and dispense["whenHandedOver"] == "2026-03-03"
    assert dispense["performer"][0]["actor"]["identifier"]["value"] == "0999017"
    assert dispense["daysSupply"]["value"] == 90 and dispense["quantity"]["value"] == 90


def test_ids_follow_the_source_identifiers() -> None:
    base = convert_script(NEWRX).resources
    other_order = convert_script(NEWRX.replace("ORD-20260302-0042", "ORD-20260302-0043")).resources
    assert (
        by_type(base, "MedicationRequest")["id"] != by_type(other_order, "MedicationRequest")["id"]
    )
    assert by_type(base, "Patient")["id"] == by_type(other_order, "Patient")["id"]
    new_message_id = convert_script(
        NEWRX.replace("9d0a2c61e3b84f4c8a0e5f1b7c2d3e41", "another")
    ).resources
    assert (
        new_message_id == base
    )  # the order number, not the message id, identifies the prescription
    base_fill = by_type(convert_script(RXFILL).resources, "MedicationDispense")
    refill = by_type(
        convert_script(
            RXFILL.replace("<Date>2026-03-03</Date>", "<Date>2026-06-01</Date>")
        ).resources,
        "MedicationDispense",
    )
    assert base_fill["id"] != refill["id"]


# -- choices where the standard leaves one ---------------------------------------------------


def test_without_order_number_the_message_id_keys_the_request() -> None:
    result = convert_script(
        NEWRX.replace("<PrescriberOrderNumber>ORD-20260302-0042</PrescriberOrderNumber>", "")
    )
    request = by_type(result.resources, "MedicationRequest")
    assert request["identifier"][0]["value"] == "9d0a2c61e3b84f4c8a0e5f1b7c2d3e41"
    assert any("PrescriberOrderNumber" in w for w in result.warnings)


def test_quantity_sufficient_keeps_no_amount() -> None:
    result = convert_script(
        NEWRX.replace(
            "<CodeListQualifier>38</CodeListQualifier>", "<CodeListQualifier>QS</CodeListQualifier>"
        )
    )
    assert "quantity" not in by_type(result.resources, "MedicationRequest")["dispenseRequest"]
    assert any("QS" in w for w in result.warnings)


def test_proprietary_drug_codes_are_not_kept() -> None:
    result = convert_script(
        NEWRX.replace("<Qualifier>SCD</Qualifier>", "<Qualifier>MD</Qualifier>")
    )
    coding = by_type(result.resources, "MedicationRequest")["medicationCodeableConcept"]["coding"]
    assert coding == [{"system": NDC, "code": "68180051301"}]
    assert any("RxNorm" in w for w in result.warnings)


def test_doubtful_demographics_become_warnings() -> None:
    text = NEWRX.replace("<Gender>F</Gender>", "<Gender>X</Gender>").replace(
        "<Date>1961-07-14</Date>", "<Date>1961-02-30</Date>"
    )
    result = convert_script(text)
    patient = by_type(result.resources, "Patient")
    assert "gender" not in patient and "birthDate" not in patient
    assert len([w for w in result.warnings if "left out" in w]) == 2


def test_veterinarian_prescriber_and_substitution_not_allowed() -> None:
    text = NEWRX.replace("NonVeterinarian>", "Veterinarian>").replace(
        "<Substitutions>0</Substitutions>", "<Substitutions>1</Substitutions>"
    )
    request = by_type(convert_script(text).resources, "MedicationRequest")
    assert request["substitution"] == {"allowedBoolean": False}


@pytest.mark.parametrize(
    ("status", "fhir_status"),
    [
        ("PartiallyDispensed", "completed"),
        ("NotDispensed", "declined"),
        ("Transferred", "cancelled"),
    ],
)
def test_fill_statuses(status: str, fhir_status: str) -> None:
    text = RXFILL.replace("<Dispensed>", f"<{status}>").replace("</Dispensed>", f"</{status}>")
    dispense = by_type(convert_script(text).resources, "MedicationDispense")
    assert dispense["status"] == fhir_status
    if status == "PartiallyDispensed":
        assert {"text": "partially dispensed"} in dispense["note"] and "whenHandedOver" in dispense
    else:
        assert "whenHandedOver" not in dispense and dispense["statusReasonCodeableConcept"]["text"]


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "code", "words"),
    [
        (("<Message ", "<Envelope "), "200", "root element"),
        (('TransactionVersion="2017071"', 'TransactionVersion="2023011"'), "203", "2023011"),
        (("<NewRx>", "<CancelRx>"), "200", "CancelRx"),
        (("<MessageID>9d0a2c61e3b84f4c8a0e5f1b7c2d3e41</MessageID>", ""), "101", "MessageID"),
        (("<NPI>1987654328</NPI>", ""), "101", "NPI"),
        (("<NPI>1987654328</NPI>", "<NPI>1987654321</NPI>"), "102", "NPI"),
        (("<Code>68180051301</Code>", "<Code>6818005130</Code>"), "102", "NDC"),
        (("<Code>314076</Code>", "<Code>RX314076</Code>"), "102", "RxNorm"),
        (("<Value>90</Value>", "<Value>ninety</Value>"), "102", "Quantity"),
        (("<DaysSupply>90</DaysSupply>", "<DaysSupply>-90</DaysSupply>"), "102", "DaysSupply"),
        (
            ("<NumberOfRefills>3</NumberOfRefills>", "<NumberOfRefills>300</NumberOfRefills>"),
            "102",
            "NumberOfRefills",
        ),
        (("<Date>2026-03-02</Date>", "<Date>03/02/2026</Date>"), "102", "WrittenDate"),
        (("<LastName>Okafor</LastName>", ""), "101", "LastName"),
        (("<HumanPatient>", "<AnimalPatient>"), "", "animal"),
    ],
)
def test_new_rx_refusals(edit: tuple[str, str], code: str, words: str) -> None:
    text = NEWRX.replace(*edit)
    if edit[0] == "<HumanPatient>":
        text = text.replace("</HumanPatient>", "</AnimalPatient>")
    if edit[0] == "<NewRx>":
        text = text.replace("</NewRx>", "</CancelRx>")
    if edit[0] == "<Message ":
        text = text.replace("</Message>", "</Envelope>")
    error = refused(text)
    assert words in str(error)
    if code:
        assert error.code == code


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (("<RxReferenceNumber>RX7731024</RxReferenceNumber>", ""), "RxReferenceNumber"),
        (("<Date>2026-03-03</Date>", ""), "LastFillDate"),
        (("<NCPDPID>0999017</NCPDPID>", "<NCPDPID>999017</NCPDPID>"), "NCPDP"),
        (("<NCPDPID>0999017</NCPDPID>", ""), "NCPDPID"),
        (("<Dispensed>", "<Lost>"), "FillStatus"),
    ],
)
def test_rx_fill_refusals(edit: tuple[str, str], words: str) -> None:
    text = RXFILL.replace(*edit)
    if edit[0] == "<Dispensed>":
        text = text.replace("</Dispensed>", "</Lost>")
    assert words in str(refused(text))


# -- XML attacks ---------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE Message [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Message><Header><MessageID>&lol9;</MessageID></Header><Body/></Message>"""

XXE_FILE = """<?xml version="1.0"?>
<!DOCTYPE Message [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Message><Header><MessageID>&xxe;</MessageID></Header><Body/></Message>"""

XXE_URL = """<?xml version="1.0"?>
<!DOCTYPE Message [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/secret">]>
<Message><Header><MessageID>&xxe;</MessageID></Header><Body/></Message>"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE Message [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<Message/>"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE Message SYSTEM "http://127.0.0.1:9/script.dtd">
<Message/>"""

QUADRATIC_BLOWUP = (
    '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "'
    + "x" * 10_000
    + '">]><m>'
    + "&a;" * 10_000
    + "</m>"
)


@pytest.mark.parametrize(
    "payload", [BILLION_LAUGHS, XXE_FILE, XXE_URL, PARAMETER_ENTITY, EXTERNAL_DTD, QUADRATIC_BLOWUP]
)
def test_xml_attacks_are_refused(payload: str) -> None:
    for data in (payload, payload.encode()):
        with pytest.raises(ConversionError, match="DOCTYPE"):
            convert_script(data)


def test_undeclared_entities_are_not_well_formed() -> None:
    assert "not well-formed" in str(refused(NEWRX.replace("Okafor", "&xxe;")))


def test_predefined_entities_and_character_references_are_fine() -> None:
    text = NEWRX.replace(
        "Lisinopril 10 MG Oral Tablet", "Lisinopril 10 MG &amp; friends &#x2013; &lt;tablet&gt;"
    )
    request = by_type(convert_script(text).resources, "MedicationRequest")
    assert (
        request["medicationCodeableConcept"]["text"] == "Lisinopril 10 MG & friends \u2013 <tablet>"
    )


def test_oversized_and_deep_documents_are_refused() -> None:
    assert "at most" in str(refused("<Message>" + " " * MAX_BYTES + "</Message>"))
    assert "deeper" in str(refused("<a>" * 100 + "</a>" * 100))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml",
        b"<Message>",
        b"\xff\xfe<\x00",
        "<Message>\ud800</Message>",
        b'<?xml version="1.0" encoding="TF-8"?><Message/>',  # found by hypothesis: LookupError
    ],
)
def test_garbage_is_refused(data: bytes | str) -> None:
    with pytest.raises(ConversionError):
        convert_script(data)


def test_declared_encodings_are_honoured() -> None:
    utf16 = NEWRX.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    latin1 = (
        NEWRX.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
        .replace("Okafor", "Ökafor")
        .encode("latin-1")
    )
    assert convert_script(utf16).resources == convert_script(NEWRX).resources
    assert by_type(convert_script(latin1).resources, "Patient")["name"][0]["family"] == "Ökafor"
