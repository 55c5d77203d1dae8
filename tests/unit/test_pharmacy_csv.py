"""CSV dispense file to FHIR R4 MedicationDispense: golden file, header checks, each row rule.

tests/data/pharmacy/dispenses.csv has four good rows and seven bad ones; its
expected output was reviewed row by row (README next to it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.base import ConversionError
from adapters.pharmacy import convert_dispense_csv
from adapters.pharmacy.csv_dispense import COLUMNS

DATA = Path(__file__).resolve().parents[1] / "data" / "pharmacy"
HEADER = ",".join(COLUMNS)
GOOD = {
    "pharmacy_id": "0999017",
    "rx_number": "RX1",
    "fill_number": "0",
    "dispensed_at": "2026-03-03T16:12:00-05:00",
    "patient_id": "P-1",
    "patient_id_system": "",
    "patient_family": "Okafor",
    "patient_given": "Adaeze",
    "patient_birth_date": "1961-07-14",
    "patient_gender": "F",
    "ndc": "68180051301",
    "rxnorm": "314076",
    "drug_name": "Lisinopril 10 MG Oral Tablet",
    "quantity": "90",
    "quantity_unit": "C48542",
    "days_supply": "90",
    "prescriber_npi": "1987654328",
    "sig": "Take 1 tablet by mouth once daily",
}


def row(**changes: str) -> str:
    values = {**GOOD, **changes}
    return ",".join(f'"{values[c]}"' if "," in values[c] else values[c] for c in COLUMNS)


def convert(*rows: str, header: str = HEADER) -> Any:
    return convert_dispense_csv("\n".join([header, *rows]) + "\n")


def dispenses(result: Any) -> list[dict[str, Any]]:
    return [r for r in result.resources if r["resourceType"] == "MedicationDispense"]


# -- golden --------------------------------------------------------------------------------


def test_golden(fhir_valid: Any) -> None:
    result = convert_dispense_csv((DATA / "dispenses.csv").read_bytes())
    expected = json.loads((DATA / "expected" / "dispenses.json").read_text())
    assert result.resources == expected["resources"]
    assert [[r.index, r.reason, r.location] for r in result.rejected] == [
        [r["index"], r["reason"], r["location"]] for r in expected["rejected"]
    ]
    assert result.warnings == expected["warnings"]
    for resource in result.resources:
        fhir_valid(resource)


def test_golden_in_words() -> None:
    result = convert_dispense_csv((DATA / "dispenses.csv").read_bytes())
    kinds = [r["resourceType"] for r in result.resources]
    assert kinds == ["Patient", "Patient"] + ["MedicationDispense"] * 4  # patients once, first
    assert [r.index for r in result.rejected] == [4, 5, 6, 7, 8, 9, 10]
    assert [r.location.split(", column ")[1] for r in result.rejected] == [
        "dispensed_at", "patient_birth_date", "ndc", "ndc", "quantity", "prescriber_npi", "fill_number",
    ]  # fmt: skip
    first, refill = dispenses(result)[:2]
    assert (
        first["type"]["coding"][0]["code"] == "FF" and refill["type"]["coding"][0]["code"] == "RF"
    )
    assert first["subject"] == refill["subject"] and first["id"] != refill["id"]


def test_replay_is_identical() -> None:
    raw = (DATA / "dispenses.csv").read_bytes()
    assert json.dumps(convert_dispense_csv(raw).resources) == json.dumps(
        convert_dispense_csv(raw.decode()).resources
    )


def test_row_content() -> None:
    result = convert(row())
    [patient, dispense] = result.resources
    assert patient["identifier"] == [
        {"system": "urn:accord:pharmacy:0999017:patient", "value": "P-1"}
    ]
    assert dispense["identifier"] == [
        {"system": "urn:accord:pharmacy:0999017:rx-fill", "value": "RX1/0"}
    ]
    assert dispense["whenHandedOver"] == "2026-03-03T16:12:00-05:00"
    assert dispense["medicationCodeableConcept"]["coding"][1] == {
        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
        "code": "314076",
    }
    assert dispense["quantity"] == {
        "value": 90,
        "unit": "tablet",
        "system": "http://ncithesaurus-stage.nci.nih.gov",
        "code": "C48542",
    }
    assert dispense["daysSupply"]["value"] == 90
    assert dispense["dosageInstruction"] == [{"text": "Take 1 tablet by mouth once daily"}]
    assert dispense["contained"][0]["requester"]["identifier"] == {
        "system": "http://hl7.org/fhir/sid/us-npi",
        "value": "1987654328",
    }
    assert dispense["authorizingPrescription"] == [{"reference": "#rx"}]
    assert dispense["performer"][0]["actor"]["identifier"]["value"] == "0999017"


def test_patient_system_given_or_scoped_to_the_pharmacy() -> None:
    own = convert(row()).resources[0]
    shared = convert(row(patient_id_system="urn:oid:2.16.840.1.113883.19.5")).resources[0]
    assert shared["identifier"][0]["system"] == "urn:oid:2.16.840.1.113883.19.5"
    assert own["id"] != shared["id"]
    other_pharmacy = convert(row(pharmacy_id="0999031")).resources[0]
    assert other_pharmacy["id"] != own["id"]


def test_optional_columns_may_be_absent_and_order_is_free() -> None:
    columns = [
        "quantity",
        "drug_name",
        "patient_id",
        "dispensed_at",
        "fill_number",
        "rx_number",
        "pharmacy_id",
    ]
    line = ",".join(GOOD[c] for c in columns)
    result = convert(line, header=",".join(c.upper() for c in columns))
    [patient, dispense] = result.resources
    assert "name" not in patient and "contained" not in dispense and "daysSupply" not in dispense
    assert dispense["medicationCodeableConcept"] == {"text": "Lisinopril 10 MG Oral Tablet"}


def test_bom_crlf_quoting_and_blank_lines() -> None:
    text = (
        "\ufeff"
        + HEADER
        + "\r\n"
        + row(sig="Take 1 tablet, twice a day")
        + "\r\n\r\n"
        + row(rx_number="RX2")
        + "\r\n"
    )
    result = convert_dispense_csv(text.encode())
    assert not result.rejected
    assert dispenses(result)[0]["dosageInstruction"] == [{"text": "Take 1 tablet, twice a day"}]
    assert len(dispenses(result)) == 2


def test_unknown_columns_are_a_warning() -> None:
    result = convert(row() + ",x", header=HEADER + ",store_note")
    assert (
        result.warnings == ["unknown columns ignored: store_note"] and len(dispenses(result)) == 1
    )


def test_conflicting_patient_details_keep_the_first() -> None:
    result = convert(row(), row(rx_number="RX2", patient_family="Okafor-Ade"))
    assert [r["name"][0]["family"] for r in result.resources if r["resourceType"] == "Patient"] == [
        "Okafor"
    ]
    assert any("differ" in w for w in result.warnings)


# -- header --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "missing", ["pharmacy_id", "rx_number", "fill_number", "dispensed_at", "patient_id", "quantity"]
)
def test_missing_required_column_is_named(missing: str) -> None:
    columns = [c for c in COLUMNS if c != missing]
    with pytest.raises(ConversionError, match=missing) as caught:
        convert_dispense_csv(",".join(columns) + "\n")
    assert caught.value.location == "line 1"


def test_other_header_errors() -> None:
    without_drug = [c for c in COLUMNS if c not in ("ndc", "rxnorm", "drug_name")]
    with pytest.raises(ConversionError, match="drug column"):
        convert_dispense_csv(",".join(without_drug))
    with pytest.raises(ConversionError, match="duplicate columns: ndc"):
        convert_dispense_csv(HEADER + ",ndc")
    for empty in (b"", b"\n", b",,,\n"):
        with pytest.raises(ConversionError, match="no header"):
            convert_dispense_csv(empty)
    with pytest.raises(ConversionError, match="not UTF-8"):
        convert_dispense_csv(HEADER.encode() + b"\n\xff\xfe")
    assert convert_dispense_csv(HEADER).resources == []


# -- rows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"pharmacy_id": "999017"}, "pharmacy_id", "NCPDP"),
        ({"pharmacy_id": ""}, "pharmacy_id", "empty"),
        ({"rx_number": ""}, "rx_number", "empty"),
        ({"fill_number": "100"}, "fill_number", "0-99"),
        ({"fill_number": "first"}, "fill_number", "0-99"),
        ({"dispensed_at": "2026-03-03T16:12:00"}, "dispensed_at", "no time zone"),
        ({"dispensed_at": "2026-03-03"}, "dispensed_at", "not an ISO 8601"),
        ({"dispensed_at": "2026-02-30T16:12:00Z"}, "dispensed_at", "not an ISO 8601"),
        ({"patient_id": ""}, "patient_id", "empty"),
        ({"patient_id_system": "my system"}, "patient_id_system", "URI"),
        ({"patient_birth_date": "14/07/1961"}, "patient_birth_date", "date"),
        ({"patient_gender": "W"}, "patient_gender", "gender"),
        ({"ndc": "123"}, "ndc", "NDC"),
        ({"rxnorm": "0314076"}, "rxnorm", "RxNorm"),
        ({"ndc": "", "rxnorm": "", "drug_name": ""}, "ndc", "no drug"),
        ({"quantity": "0"}, "quantity", "dispensed amount"),
        ({"quantity": "1e3"}, "quantity", "quantity"),
        ({"quantity": ""}, "quantity", "empty"),
        ({"days_supply": "thirty"}, "days_supply", "days"),
        ({"prescriber_npi": "1987654321"}, "prescriber_npi", "NPI"),
    ],
)
def test_row_rules(changes: dict[str, str], column: str, words: str) -> None:
    result = convert(row(rx_number="RX0"), row(**changes), row(rx_number="RX9"))
    assert len(dispenses(result)) == 2  # the rest converted
    [rejected] = result.rejected
    assert rejected.index == 1 and rejected.location == f"line 3, column {column}"
    assert words in rejected.reason


def test_wrong_field_count_and_duplicate_fill() -> None:
    result = convert(row(), row() + ",extra", row())
    assert [(r.index, r.location) for r in result.rejected] == [
        (1, "line 3"),
        (2, "line 4, column fill_number"),
    ]
    assert "19 fields" in result.rejected[0].reason and "data row 0" in result.rejected[1].reason


def test_bad_quoting_is_a_row_rejection() -> None:
    result = convert(row(), 'x,"unterminated' + ",a" * 17 + '"b"c', row(rx_number="RX2"))
    assert [(r.index, r.location) for r in result.rejected] == [(1, "line 3")] and len(
        dispenses(result)
    ) == 2
    result = convert(row(), 'x,"a quote never closed', row(rx_number="RX2"))
    [rejected] = result.rejected
    assert rejected.location == "line 3" and "never closed" in rejected.reason
