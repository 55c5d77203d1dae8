"""A pharmacy's CSV dispense file -> one FHIR R4 MedicationDispense per row, plus its Patients.

For pharmacies that cannot send NCPDP SCRIPT. UTF-8 (a byte-order mark is
allowed), comma-separated, RFC 4180 quoting, a header row naming the
columns in any order (names are case-insensitive; unknown columns are
ignored with a warning):

==================  ========  ===============================================================
column              required  meaning
==================  ========  ===============================================================
pharmacy_id         yes       NCPDP Provider ID of the dispensing pharmacy (7 digits)
rx_number           yes       the pharmacy's prescription number
fill_number         yes       0 = original fill, 1-99 = refill number (NCPDP field 403-D3)
dispensed_at        yes       when it was handed over: ISO 8601 date-time with a time zone
patient_id          yes       the patient's identifier
patient_id_system   no        URI of that identifier's system; empty: the pharmacy's own
                              patient number (``urn:accord:pharmacy:<pharmacy_id>:patient``)
patient_family      no        family name
patient_given       no        given name(s)
patient_birth_date  no        YYYY-MM-DD
patient_gender      no        M, F, O, U or male, female, other, unknown
ndc                 (1)       NDC: 11 digits, or 10 digits with hyphens (4-4-2, 5-3-2, 5-4-1)
rxnorm              (1)       RxNorm concept id (RXCUI)
drug_name           (1)       the drug as dispensed, in words
quantity            yes       amount dispensed, a decimal > 0
quantity_unit       no        NCI unit code as in SCRIPT (C48542 tablet), UCUM (mL, g) or text
days_supply         no        whole days the fill lasts
prescriber_npi      no        prescriber's NPI (valid check digit)
sig                 no        directions for use
==================  ========  ===============================================================

(1) Each row needs at least one of ndc, rxnorm, drug_name; the header at
least one of those columns. A missing required column refuses the file
(ConversionError naming it); a bad row is listed in ``Conversion.rejected``
(index = data row from 0, location = ``line N, column NAME``) and the other
rows are converted.

The MedicationDispense id comes from pharmacy id + rx number + fill number,
so a re-sent file updates the same fills. ``fill_number`` also gives
MedicationDispense.type (HL7 v3 ActPharmacySupplyType FF first fill / RF
refill). A prescriber NPI is kept in a contained MedicationRequest (the
pharmacy's prescription, status unknown) that ``authorizingPrescription``
points to: a dispense has no prescriber element of its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from adapters.base import Conversion, ConversionError, Rejected
from adapters.pharmacy import resources as fhir
from adapters.pharmacy.codes import (
    FHIR_GENDER,
    NPI,
    check_date,
    check_date_time,
    check_decimal,
    check_int,
    check_ndc,
    check_npi,
    check_rxnorm,
    check_text,
)

__all__ = ["COLUMNS", "DRUG_COLUMNS", "MAX_ROWS", "REQUIRED", "convert_dispense_csv"]

COLUMNS = (
    "pharmacy_id", "rx_number", "fill_number", "dispensed_at", "patient_id", "patient_id_system",
    "patient_family", "patient_given", "patient_birth_date", "patient_gender", "ndc", "rxnorm",
    "drug_name", "quantity", "quantity_unit", "days_supply", "prescriber_npi", "sig",
)  # fmt: skip
REQUIRED = ("pharmacy_id", "rx_number", "fill_number", "dispensed_at", "patient_id", "quantity")
DRUG_COLUMNS = ("ndc", "rxnorm", "drug_name")
MAX_ROWS = 100_000
MAX_BYTES = 64 * 1024 * 1024
_SUPPLY_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


class _BadRow(Exception):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def convert_dispense_csv(data: bytes | str) -> Conversion:
    """MedicationDispenses and Patients for a CSV dispense file (see the module doc)."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise ConversionError(f"header row is not CSV: {error}", location="line 1") from None
    if not header or not any(name.strip() for name in header):
        raise ConversionError("the file has no header row", location="line 1")
    columns = _columns(header)
    result = Conversion()
    unknown = [name for name in columns if name not in COLUMNS]
    if unknown:
        result.warnings.append(f"unknown columns ignored: {', '.join(unknown)}")

    patients: dict[str, dict[str, Any]] = {}
    dispenses: list[dict[str, Any]] = []
    fills: dict[str, int] = {}
    index = 0
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            reason = f"not CSV: {error}"
            if "unexpected end of data" in str(error):
                reason += " (a quote opened here is never closed: the rest of the file is lost)"
            result.rejected.append(Rejected(index, reason, f"line {start}"))
            index += 1
            continue
        if not fields:
            continue  # a blank line
        if index >= MAX_ROWS:
            raise ConversionError(
                f"more than {MAX_ROWS:,} rows", location=f"line {reader.line_num}"
            )
        line = reader.line_num
        try:
            if len(fields) != len(columns):
                raise _BadRow("", f"{len(fields)} fields where the header has {len(columns)}")
            row = {
                name: (value.strip() or None) for name, value in zip(columns, fields, strict=True)
            }
            patient, dispense = _convert_row(row)
            first = fills.setdefault(dispense["id"], index)
            if first != index:
                raise _BadRow("fill_number", f"the same fill as data row {first}")
        except _BadRow as bad:
            where = f"line {line}, column {bad.column}" if bad.column else f"line {line}"
            result.rejected.append(Rejected(index, bad.reason, where))
        else:
            known = patients.setdefault(patient["id"], patient)
            if known is not patient and known != patient:
                result.warnings.append(
                    f"line {line}: patient details differ from an earlier row for the same patient; the first are kept"
                )
            dispenses.append(dispense)
        index += 1
    result.resources = [*patients.values(), *dispenses]
    return result


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    if len(data) > MAX_BYTES:
        raise ConversionError(f"file of {len(data)} bytes; at most {MAX_BYTES}")
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConversionError(f"the file is not UTF-8 (byte {error.start})") from None


def _columns(header: list[str]) -> list[str]:
    columns = [name.strip().lower() for name in header]
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        raise ConversionError(f"duplicate columns: {', '.join(duplicates)}", location="line 1")
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ConversionError(
            f"missing required column(s): {', '.join(missing)}", location="line 1"
        )
    if not any(name in columns for name in DRUG_COLUMNS):
        raise ConversionError(
            f"missing a drug column: one of {', '.join(DRUG_COLUMNS)}", location="line 1"
        )
    return columns


def _required(row: dict[str, str | None], column: str) -> str:
    value = row.get(column)
    if value is None:
        raise _BadRow(column, f"{column} is empty")
    return value


def _checked(
    row: dict[str, str | None],
    column: str,
    check: Callable[[str], Any],
    what: str,
    *,
    required: bool = False,
) -> Any:
    """The checked value of a cell (None when empty and optional); a bad value rejects the row."""
    raw = _required(row, column) if required else row.get(column)
    if raw is None:
        return None
    value = check(raw)
    if value is None:
        raise _BadRow(column, f"{column} {raw!r} is not {what}")
    return value


def _ncpdp_id(value: str) -> str | None:
    return value if len(value) == 7 and value.isdigit() else None


def _convert_row(row: dict[str, str | None]) -> tuple[dict[str, Any], dict[str, Any]]:
    pharmacy = _checked(
        row, "pharmacy_id", _ncpdp_id, "an NCPDP Provider ID (7 digits)", required=True
    )
    rx_number = _checked(
        row, "rx_number", lambda v: check_text(v, 64), "a prescription number", required=True
    )
    fill = _checked(
        row, "fill_number", lambda v: check_int(v, 99), "a fill number (0-99)", required=True
    )
    dispensed_raw = _required(row, "dispensed_at")
    dispensed, zoned = check_date_time(dispensed_raw)
    if dispensed is None:
        reason = "is not an ISO 8601 date-time" if zoned else "has no time zone"
        raise _BadRow("dispensed_at", f"dispensed_at {dispensed_raw!r} {reason}")

    patient = _patient(row, pharmacy)
    ndc = _checked(row, "ndc", check_ndc, "an NDC (11 digits, or 10 with hyphens)")
    rxnorm = _checked(row, "rxnorm", check_rxnorm, "an RxNorm concept id")
    drug_name = _checked(row, "drug_name", lambda v: check_text(v, 1000), "a drug name")
    if not (ndc or rxnorm or drug_name):
        raise _BadRow("ndc", "no drug: ndc, rxnorm and drug_name are all empty")
    amount = _checked(row, "quantity", check_decimal, "a quantity", required=True)
    if amount == 0:
        raise _BadRow("quantity", "quantity '0' is not a dispensed amount")
    unit = _checked(row, "quantity_unit", lambda v: check_text(v, 64), "a unit")
    days = _checked(row, "days_supply", lambda v: check_int(v, 9999), "a number of days")
    npi = _checked(row, "prescriber_npi", check_npi, "a valid NPI (10 digits, Luhn check digit)")
    sig = _checked(row, "sig", lambda v: check_text(v, 1000), "directions")

    medication = fhir.medication(ndc, rxnorm, drug_name)
    subject = {"reference": f"Patient/{patient['id']}"}
    dispense: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "id": fhir.dispense_id(pharmacy, rx_number, str(fill)),
        "identifier": [fhir.dispense_identifier(pharmacy, rx_number, str(fill))],
    }
    if npi:
        dispense["contained"] = [
            {
                "resourceType": "MedicationRequest",
                "id": "rx",
                "identifier": [
                    {"system": f"urn:accord:pharmacy:{pharmacy}:rx", "value": rx_number}
                ],
                "status": "unknown",
                "intent": "order",
                "medicationCodeableConcept": fhir.medication(ndc, rxnorm, drug_name),
                "subject": dict(subject),
                "requester": {"type": "Practitioner", "identifier": {"system": NPI, "value": npi}},
            }
        ]
    code, display = ("FF", "First Fill") if fill == 0 else ("RF", "Refill")
    dispense["status"] = "completed"
    dispense["type"] = {"coding": [{"system": _SUPPLY_TYPE, "code": code, "display": display}]}
    dispense["medicationCodeableConcept"] = medication
    dispense["subject"] = subject
    dispense["performer"] = [{"actor": fhir.pharmacy_reference(pharmacy)}]
    if npi:
        dispense["authorizingPrescription"] = [{"reference": "#rx"}]
    dispense["quantity"] = fhir.quantity(amount, unit)
    if days is not None:
        dispense["daysSupply"] = fhir.days_supply(days)
    dispense["whenHandedOver"] = dispensed
    if sig:
        dispense["dosageInstruction"] = [{"text": sig}]
    return patient, dispense


def _patient(row: dict[str, str | None], pharmacy: str) -> dict[str, Any]:
    value = _checked(
        row, "patient_id", lambda v: check_text(v, 64), "a patient identifier", required=True
    )
    system = row.get("patient_id_system")
    if system is None:
        system = f"urn:accord:pharmacy:{pharmacy}:patient"
    elif len(system) > 256 or not system.isprintable() or " " in system or ":" not in system:
        raise _BadRow("patient_id_system", f"patient_id_system {system!r} is not a URI")
    family = _checked(row, "patient_family", lambda v: check_text(v, 128), "a family name")
    given = _checked(row, "patient_given", lambda v: check_text(v, 128), "a given name")
    birth_date = _checked(row, "patient_birth_date", check_date, "a date (YYYY-MM-DD)")
    gender = _checked(
        row, "patient_gender", lambda v: FHIR_GENDER.get(v.upper()), "a gender (M, F, O, U)"
    )
    return fhir.patient(
        fhir.patient_id(system, value),
        fhir.identifier(system, value),
        name=fhir.human_name(family, [given] if given else []),
        gender=gender,
        birth_date=birth_date,
    )
