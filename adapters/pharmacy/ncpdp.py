"""NCPDP SCRIPT 2017071 (XML) to FHIR R4: NewRx -> MedicationRequest, RxFill -> MedicationDispense.

NewRx gives a MedicationRequest with its Patient and the prescriber as a
Practitioner; RxFill gives a MedicationDispense with its Patient. Element
names are those of the 2017071 schema (Message/Header/Body/NewRx/Patient/
HumanPatient/Name/LastName, MedicationPrescribed/DrugCoded/ProductCode/Code,
Quantity/QuantityUnitOfMeasure/Code, Prescriber/NonVeterinarian/Identification/
NPI, RxFill/FillStatus/Dispensed, MedicationDispensed/LastFillDate...).

Choices the standard leaves open, and why:

* Patient id: the prescriber's EHR medical record number
  (``MedicalRecordIdentificationNumberEHR``), under a system naming the
  prescriber-side party of the message (``From`` of a NewRx, ``To`` of an
  RxFill), so the NewRx and its RxFill land on the same Patient. Without an
  MRN the patient is keyed by that party and name + birth date (a warning).
* MedicationRequest id: prescriber NPI + ``PrescriberOrderNumber`` (also its
  placer identifier); without an order number, sender + ``MessageID``.
* MedicationDispense id: pharmacy NCPDP ID + ``RxReferenceNumber`` + the
  fill. RxFill carries no fill sequence number, so the fill is its
  ``LastFillDate`` (two fills of one prescription on one day would merge);
  a fill that did not happen is keyed by its ``MessageID``.
* The RxFill points at its prescription by identifier (prescriber NPI +
  order number), not by a literal reference that would dangle when the
  NewRx did not come through Accord.
* ``NumberOfRefills`` (2017071: refills after the first fill) is FHIR's
  ``numberOfRepeatsAllowed`` as it is. ``Substitutions`` 0 / 1 is
  ``substitution.allowedBoolean`` true / false.
* FillStatus: Dispensed and PartiallyDispensed -> completed (the handing
  over happened; "partially dispensed" is noted), NotDispensed -> declined,
  Transferred -> cancelled.
* Wrong identity, drug, quantity or dates refuse the message
  (ConversionError); a doubtful demographic (gender code, birth date) is
  left out with a warning: losing a prescription over it is worse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from adapters.base import Conversion, ConversionError, stable_id
from adapters.pharmacy import resources as fhir
from adapters.pharmacy.codes import (
    FHIR_GENDER,
    NPI,
    RXNORM_QUALIFIERS,
    check_date,
    check_date_time,
    check_decimal,
    check_int,
    check_ndc,
    check_npi,
    check_rxnorm,
    check_text,
)
from adapters.pharmacy.xmltree import Node, parse

__all__ = ["SCRIPT_NAMESPACE", "convert_script"]

SCRIPT_NAMESPACE = "http://www.ncpdp.org/schema/SCRIPT"
_FILL_STATUS = {
    "Dispensed": "completed",
    "PartiallyDispensed": "completed",
    "NotDispensed": "declined",
    "Transferred": "cancelled",
}
# HL7 table 0357 error codes carried by ConversionError.
_MISSING, _BAD_VALUE, _UNSUPPORTED, _BAD_VERSION = "101", "102", "200", "203"


def convert_script(data: bytes | str) -> Conversion:
    """FHIR resources for one NCPDP SCRIPT 2017071 NewRx or RxFill message."""
    root = parse(data)
    if root.name != "Message":
        raise ConversionError(
            f"not an NCPDP SCRIPT message: root element is <{root.name}>",
            location=root.path,
            code=_UNSUPPORTED,
        )
    warnings: list[str] = []
    _check_version(root, warnings)
    header = _Header.read(_required_node(root, "Header"))
    body = _required_node(root, "Body")
    if not body.children:
        raise ConversionError("Body has no transaction", location=body.path, code=_MISSING)
    transaction = body.children[0]
    if transaction.name == "NewRx":
        resources = _new_rx(header, transaction, warnings)
    elif transaction.name == "RxFill":
        resources = _rx_fill(header, transaction, warnings)
    else:
        raise ConversionError(
            f"SCRIPT transaction {transaction.name} is not converted (NewRx and RxFill are)",
            location=transaction.path,
            code=_UNSUPPORTED,
        )
    return Conversion(resources=resources, warnings=warnings)


def _check_version(root: Node, warnings: list[str]) -> None:
    version = root.attrs.get("TransactionVersion") or root.attrs.get("version")
    if version is None:
        warnings.append("Message has no TransactionVersion; read as SCRIPT 2017071")
    elif not version.startswith("2017071"):
        raise ConversionError(
            f"SCRIPT version {version!r} is not supported (2017071 is)",
            location="Message/@TransactionVersion",
            code=_BAD_VERSION,
        )


@dataclass(slots=True, frozen=True)
class _Header:
    message_id: str
    sender: str | None
    receiver: str | None
    prescriber_order: str | None
    rx_reference: str | None

    @classmethod
    def read(cls, node: Node) -> _Header:
        return cls(
            message_id=_required_text(node, "MessageID"),
            sender=check_text(node.value("From")),
            receiver=check_text(node.value("To")),
            prescriber_order=_optional_text(node, "PrescriberOrderNumber", 64),
            rx_reference=_optional_text(node, "RxReferenceNumber", 64),
        )


def _required_node(node: Node, path: str) -> Node:
    found = node.find(path)
    if found is None:
        raise ConversionError(f"{path} is missing", location=node.where(path), code=_MISSING)
    return found


def _required_text(node: Node, path: str, limit: int = 256) -> str:
    raw = node.value(path)
    if raw is None:
        raise ConversionError(f"{path} is missing", location=node.where(path), code=_MISSING)
    text = check_text(raw, limit)
    if text is None:
        raise ConversionError(
            f"{path} is not usable text", location=node.where(path), code=_BAD_VALUE
        )
    return text


def _optional_text(node: Node, path: str, limit: int = 256) -> str | None:
    raw = node.value(path)
    if raw is None:
        return None
    text = check_text(raw, limit)
    if text is None:
        raise ConversionError(
            f"{path} is not usable text", location=node.where(path), code=_BAD_VALUE
        )
    return text


def _bad(node: Node, path: str, what: str, value: str) -> ConversionError:
    return ConversionError(
        f"{path} {value!r} is not {what}", location=node.where(path), code=_BAD_VALUE
    )


# -- parties -------------------------------------------------------------------------------


def _name(node: Node) -> dict[str, Any] | None:
    given = [
        g
        for g in (
            check_text(node.value("Name/FirstName")),
            check_text(node.value("Name/MiddleName")),
        )
        if g
    ]
    return fhir.human_name(
        check_text(node.value("Name/LastName")),
        given,
        check_text(node.value("Name/Prefix")),
        check_text(node.value("Name/Suffix")),
    )


def _address(node: Node) -> dict[str, Any] | None:
    lines = [
        line
        for line in (
            check_text(node.value("Address/AddressLine1")),
            check_text(node.value("Address/AddressLine2")),
        )
        if line
    ]
    address: dict[str, Any] = {}
    if lines:
        address["line"] = lines
    for field, path in (
        ("city", "City"),
        ("state", "StateProvince"),
        ("postalCode", "PostalCode"),
        ("country", "CountryCode"),
    ):
        value = check_text(node.value(f"Address/{path}"))
        if value:
            address[field] = value
    return address or None


def _date_of(node: Node, path: str) -> tuple[str | None, str | None]:
    """(FHIR date or dateTime, raw text) of a SCRIPT DateTimeType element (Date or DateTime child)."""
    raw = node.value(f"{path}/Date")
    if raw is not None:
        return check_date(raw), raw
    raw = node.value(f"{path}/DateTime")
    if raw is None:
        return None, None
    text, zoned = check_date_time(raw)
    if text is None and not zoned:
        return check_date(raw[:10]), raw  # a time without a zone: keep the day only
    return text, raw


def _patient(transaction: Node, party: str | None, warnings: list[str]) -> dict[str, Any]:
    node = _required_node(transaction, "Patient")
    human = node.child("HumanPatient")
    if human is None:
        if node.child("AnimalPatient") is not None:
            raise ConversionError(
                "animal patients are not converted",
                location=node.where("AnimalPatient"),
                code=_UNSUPPORTED,
            )
        raise ConversionError(
            "Patient/HumanPatient is missing", location=node.where("HumanPatient"), code=_MISSING
        )
    family = _required_text(human, "Name/LastName")
    name = _name(human)
    gender_code = human.value("Gender")
    gender = FHIR_GENDER.get(gender_code.upper()) if gender_code else None
    if gender_code and gender is None:
        warnings.append(
            f"{human.where('Gender')} {gender_code!r} is not M, F or U: gender left out"
        )
    birth_date, raw_birth = _date_of(human, "DateOfBirth")
    if raw_birth is not None and birth_date is None:
        warnings.append(
            f"{human.where('DateOfBirth')} {raw_birth!r} is not a date: birth date left out"
        )
    where = quote(party or "unknown-party", safe="")
    mrn = _optional_text(human, "Identification/MedicalRecordIdentificationNumberEHR", 64)
    if mrn is not None:
        system = f"urn:accord:ncpdp:{where}:mrn"
        resource_id, identifier = fhir.patient_id(system, mrn), fhir.identifier(system, mrn, "MR")
    else:
        warnings.append(
            "patient has no MedicalRecordIdentificationNumberEHR: keyed by name and birth date"
        )
        given = " ".join(name.get("given", [])) if name else ""
        resource_id = stable_id(
            "pat", f"urn:accord:ncpdp:{where}:demographics", family, given, birth_date or ""
        )
        identifier = None
    return fhir.patient(
        resource_id,
        identifier,
        name=name,
        gender=gender,
        birth_date=birth_date,
        address=_address(human),
        phone=check_text(human.value("CommunicationNumbers/PrimaryTelephone/Number"), 32),
    )


def _prescriber(transaction: Node) -> tuple[Node, str]:
    """The prescriber element and its valid NPI."""
    node = transaction.find("Prescriber/NonVeterinarian") or transaction.find(
        "Prescriber/Veterinarian"
    )
    if node is None:
        raise ConversionError(
            "Prescriber is missing", location=transaction.where("Prescriber"), code=_MISSING
        )
    raw = node.value("Identification/NPI")
    if raw is None:
        raise ConversionError(
            "prescriber NPI is missing", location=node.where("Identification/NPI"), code=_MISSING
        )
    npi = check_npi(raw)
    if npi is None:
        raise _bad(node, "Identification/NPI", "a valid NPI (10 digits, Luhn check digit)", raw)
    return node, npi


def _practitioner(node: Node, npi: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": fhir.practitioner_id(npi),
        "identifier": [{"system": NPI, "value": npi}],
    }
    name = _name(node)
    if name:
        resource["name"] = [name]
    phone = check_text(node.value("CommunicationNumbers/PrimaryTelephone/Number"), 32)
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone, "use": "work"}]
    return resource


def _pharmacy(transaction: Node) -> tuple[str | None, str | None]:
    """(NCPDP Provider ID, business name) of the transaction's pharmacy, if it names one."""
    path = "Pharmacy/Identification/NCPDPID"
    raw = transaction.value(path)
    if raw is None:
        return None, None
    if len(raw) != 7 or not raw.isdigit():
        raise _bad(transaction, path, "an NCPDP Provider ID (7 digits)", raw)
    return raw, check_text(transaction.value("Pharmacy/BusinessName"))


# -- the drug and how much -------------------------------------------------------------------


def _medication(node: Node, warnings: list[str]) -> dict[str, Any]:
    ndc = rxnorm = None
    product = node.find("DrugCoded/ProductCode")
    if product is not None and (code := product.value("Code")) is not None:
        qualifier = product.value("Qualifier")
        if qualifier == "ND":
            ndc = check_ndc(code)
            if ndc is None:
                raise _bad(product, "Code", "an NDC (11 digits)", code)
        else:
            warnings.append(
                f"{product.path} qualifier {qualifier!r} is not ND (NDC): product code not kept"
            )
    database = node.find("DrugCoded/DrugDBCode")
    if database is not None and (code := database.value("Code")) is not None:
        qualifier = database.value("Qualifier")
        if qualifier in RXNORM_QUALIFIERS:
            rxnorm = check_rxnorm(code)
            if rxnorm is None:
                raise _bad(database, "Code", "an RxNorm concept id", code)
        else:
            warnings.append(
                f"{database.path} qualifier {qualifier!r} is not an RxNorm term type: code not kept"
            )
    description = _optional_text(node, "DrugDescription", 1000)
    if not (ndc or rxnorm or description):
        raise ConversionError(
            "the drug has no DrugDescription, NDC or RxNorm code", location=node.path, code=_MISSING
        )
    return fhir.medication(ndc, rxnorm, description)


def _quantity(node: Node, warnings: list[str]) -> dict[str, Any] | None:
    quantity = _required_node(node, "Quantity")
    raw = quantity.value("Value")
    if raw is None:
        raise ConversionError(
            "Quantity/Value is missing", location=quantity.where("Value"), code=_MISSING
        )
    value = check_decimal(raw)
    if value is None:
        raise _bad(quantity, "Value", "a non-negative decimal", raw)
    if quantity.value("CodeListQualifier") == "QS":
        warnings.append(f"{quantity.path}: quantity sufficient (QS), no amount kept")
        return None
    return fhir.quantity(value, quantity.value("QuantityUnitOfMeasure/Code"))


def _days_supply(node: Node) -> dict[str, Any] | None:
    raw = node.value("DaysSupply")
    if raw is None:
        return None
    days = check_int(raw, 9999)
    if days is None:
        raise _bad(node, "DaysSupply", "a number of days", raw)
    return fhir.days_supply(days)


def _sig(node: Node) -> list[dict[str, Any]] | None:
    text = _optional_text(node, "Sig/SigText", 1000)
    return [{"text": text}] if text else None


# -- transactions ----------------------------------------------------------------------------


def _new_rx(header: _Header, transaction: Node, warnings: list[str]) -> list[dict[str, Any]]:
    patient = _patient(transaction, header.sender, warnings)
    prescriber, npi = _prescriber(transaction)
    practitioner = _practitioner(prescriber, npi)
    prescribed = _required_node(transaction, "MedicationPrescribed")
    written, raw_written = _date_of(prescribed, "WrittenDate")
    if raw_written is None:
        raise ConversionError(
            "WrittenDate is missing", location=prescribed.where("WrittenDate"), code=_MISSING
        )
    if written is None:
        raise _bad(prescribed, "WrittenDate", "a date", raw_written)

    if header.prescriber_order is not None:
        system = f"urn:accord:ncpdp:prescriber-order:{npi}"
        identifier = fhir.identifier(system, header.prescriber_order, "PLAC")
        request_id = stable_id("mrq", system, header.prescriber_order)
    else:
        warnings.append("no PrescriberOrderNumber: the prescription is keyed by its MessageID")
        system = f"urn:accord:ncpdp:message:{quote(header.sender or 'unknown-party', safe='')}"
        identifier = fhir.identifier(system, header.message_id)
        request_id = stable_id("mrq", system, header.message_id)

    request: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": request_id,
        "identifier": [identifier],
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": _medication(prescribed, warnings),
        "subject": {"reference": f"Patient/{patient['id']}"},
        "authoredOn": written,
        "requester": {"reference": f"Practitioner/{practitioner['id']}"},
    }
    sig = _sig(prescribed)
    if sig:
        request["dosageInstruction"] = sig
    dispense: dict[str, Any] = {}
    refills = prescribed.value("NumberOfRefills")
    if refills is not None:
        count = check_int(refills, 99)
        if count is None:
            raise _bad(prescribed, "NumberOfRefills", "a number of refills (0-99)", refills)
        dispense["numberOfRepeatsAllowed"] = count
    quantity = _quantity(prescribed, warnings)
    if quantity:
        dispense["quantity"] = quantity
    supply = _days_supply(prescribed)
    if supply:
        dispense["expectedSupplyDuration"] = supply
    pharmacy, pharmacy_name = _pharmacy(transaction)
    if pharmacy:
        dispense["performer"] = fhir.pharmacy_reference(pharmacy, pharmacy_name)
    if dispense:
        request["dispenseRequest"] = dispense
    substitutions = prescribed.value("Substitutions")
    if substitutions in ("0", "1"):
        request["substitution"] = {"allowedBoolean": substitutions == "0"}
    elif substitutions is not None:
        warnings.append(
            f"{prescribed.where('Substitutions')} {substitutions!r} is not 0 or 1: not kept"
        )
    note = _optional_text(prescribed, "Note", 1000)
    if note:
        request["note"] = [{"text": note}]
    return [patient, practitioner, request]


def _rx_fill(header: _Header, transaction: Node, warnings: list[str]) -> list[dict[str, Any]]:
    status_node = _required_node(transaction, "FillStatus")
    if not status_node.children or status_node.children[0].name not in _FILL_STATUS:
        raise ConversionError(
            "FillStatus is none of Dispensed, PartiallyDispensed, NotDispensed, Transferred",
            location=status_node.path,
            code=_BAD_VALUE,
        )
    fill_status = status_node.children[0]
    handed_over = fill_status.name in ("Dispensed", "PartiallyDispensed")
    patient = _patient(transaction, header.receiver, warnings)
    pharmacy, pharmacy_name = _pharmacy(transaction)
    if pharmacy is None:
        where = transaction.where("Pharmacy/Identification/NCPDPID")
        raise ConversionError("pharmacy NCPDPID is missing", location=where, code=_MISSING)
    if header.rx_reference is None:
        what = "RxReferenceNumber (the pharmacy's prescription number) is missing"
        raise ConversionError(what, location="Message/Header/RxReferenceNumber", code=_MISSING)
    medication_node = transaction.child("MedicationDispensed")
    if medication_node is None and not handed_over:
        medication_node = transaction.child("MedicationPrescribed")
    if medication_node is None:
        raise ConversionError(
            "MedicationDispensed is missing",
            location=transaction.where("MedicationDispensed"),
            code=_MISSING,
        )

    filled, raw_filled = _date_of(medication_node, "LastFillDate")
    if raw_filled is not None and filled is None:
        raise _bad(medication_node, "LastFillDate", "a date", raw_filled)
    if handed_over and filled is None:
        where = medication_node.where("LastFillDate")
        raise ConversionError(
            "LastFillDate (when it was dispensed) is missing", location=where, code=_MISSING
        )
    fill = filled[:10] if (handed_over and filled) else f"message-{header.message_id}"

    dispense: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "id": fhir.dispense_id(pharmacy, header.rx_reference, fill),
        "identifier": [fhir.dispense_identifier(pharmacy, header.rx_reference, fill)],
        "status": _FILL_STATUS[fill_status.name],
    }
    note = _optional_text(fill_status, "Note", 1000)
    if not handed_over:
        reason = note or (
            "not dispensed"
            if fill_status.name == "NotDispensed"
            else "transferred to another pharmacy"
        )
        dispense["statusReasonCodeableConcept"] = {"text": reason}
    dispense["medicationCodeableConcept"] = _medication(medication_node, warnings)
    dispense["subject"] = {"reference": f"Patient/{patient['id']}"}
    dispense["performer"] = [{"actor": fhir.pharmacy_reference(pharmacy, pharmacy_name)}]
    prescription = _prescription(header, transaction, warnings)
    if prescription:
        dispense["authorizingPrescription"] = [prescription]
    if handed_over:
        quantity = _quantity(medication_node, warnings)
        if quantity:
            dispense["quantity"] = quantity
        supply = _days_supply(medication_node)
        if supply:
            dispense["daysSupply"] = supply
        dispense["whenHandedOver"] = filled
    sig = _sig(medication_node)
    if sig:
        dispense["dosageInstruction"] = sig
    notes = [note] if handed_over and note else []
    if fill_status.name == "PartiallyDispensed":
        notes.append("partially dispensed")
    if notes:
        dispense["note"] = [{"text": text} for text in notes]
    return [patient, dispense]


def _prescription(header: _Header, transaction: Node, warnings: list[str]) -> dict[str, Any] | None:
    """A logical reference to the NewRx's MedicationRequest (its placer identifier)."""
    if header.prescriber_order is None:
        return None
    if transaction.child("Prescriber") is None:
        warnings.append(
            "RxFill has a PrescriberOrderNumber but no Prescriber: prescription not linked"
        )
        return None
    _, npi = _prescriber(transaction)
    system = f"urn:accord:ncpdp:prescriber-order:{npi}"
    return {
        "type": "MedicationRequest",
        "identifier": fhir.identifier(system, header.prescriber_order, "PLAC"),
    }
