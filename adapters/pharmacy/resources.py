"""FHIR R4 pieces both pharmacy feeds build the same way: ids, Patient, medication, quantities.

Ids follow one rule across Accord's adapters: a resource identified by an
identifier gets ``stable_id(kind, system, value...)``, so the same patient
or fill from the same authority always lands on the same resource.
"""

from __future__ import annotations

from typing import Any

from adapters.base import stable_id
from adapters.pharmacy.codes import NCI, NCI_UNITS, NCPDP_PROVIDER_ID, NDC, NPI, RXNORM, UCUM

__all__ = [
    "days_supply",
    "dispense_id",
    "dispense_identifier",
    "human_name",
    "identifier",
    "medication",
    "patient",
    "patient_id",
    "pharmacy_reference",
    "practitioner_id",
    "quantity",
]

# Units a CSV may give in UCUM; anything else is kept as text.
_UCUM_UNITS = frozenset({"mL", "L", "g", "mg", "ug", "kg", "[iU]", "U"})


def patient_id(system: str, value: str) -> str:
    return stable_id("pat", system, value)


def practitioner_id(npi: str) -> str:
    return stable_id("prac", NPI, npi)


def dispense_id(pharmacy: str, rx_number: str, fill: str) -> str:
    """One fill of one prescription at one pharmacy (NCPDP Provider ID)."""
    return stable_id("mdd", NCPDP_PROVIDER_ID, pharmacy, rx_number, fill)


def dispense_identifier(pharmacy: str, rx_number: str, fill: str) -> dict[str, str]:
    return {"system": f"urn:accord:pharmacy:{pharmacy}:rx-fill", "value": f"{rx_number}/{fill}"}


def pharmacy_reference(ncpdp_id: str, name: str | None = None) -> dict[str, Any]:
    """A logical reference to the pharmacy (an Organization known by its NCPDP Provider ID)."""
    reference: dict[str, Any] = {
        "type": "Organization",
        "identifier": {"system": NCPDP_PROVIDER_ID, "value": ncpdp_id},
    }
    if name:
        reference["display"] = name
    return reference


def human_name(
    family: str | None,
    given: list[str],
    prefix: str | None = None,
    suffix: str | None = None,
) -> dict[str, Any] | None:
    name: dict[str, Any] = {}
    if family:
        name["family"] = family
    if given:
        name["given"] = given
    if prefix:
        name["prefix"] = [prefix]
    if suffix:
        name["suffix"] = [suffix]
    return name or None


def patient(
    resource_id: str,
    identifier: dict[str, Any] | None,
    *,
    name: dict[str, Any] | None = None,
    gender: str | None = None,
    birth_date: str | None = None,
    address: dict[str, Any] | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "id": resource_id}
    if identifier:
        resource["identifier"] = [identifier]
    if name:
        resource["name"] = [name]
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    if gender:
        resource["gender"] = gender
    if birth_date:
        resource["birthDate"] = birth_date
    if address:
        resource["address"] = [address]
    return resource


def identifier(system: str, value: str, type_code: str | None = None) -> dict[str, Any]:
    """An Identifier, typed with an HL7 v2 table 0203 code when given (MR, PLAC...)."""
    out: dict[str, Any] = {}
    if type_code:
        coding = {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": type_code}
        out["type"] = {"coding": [coding]}
    out["system"] = system
    out["value"] = value
    return out


def medication(ndc: str | None, rxnorm: str | None, text: str | None) -> dict[str, Any]:
    """medicationCodeableConcept: NDC (the package) first, then RxNorm (the drug), then the name."""
    codings = []
    if ndc:
        codings.append({"system": NDC, "code": ndc})
    if rxnorm:
        codings.append({"system": RXNORM, "code": rxnorm})
    concept: dict[str, Any] = {}
    if codings:
        concept["coding"] = codings
    if text:
        concept["text"] = text
    return concept


def quantity(value: int | float, unit: str | None) -> dict[str, Any]:
    """A dispensed or prescribed amount: NCI unit codes (SCRIPT), UCUM, or plain text."""
    out: dict[str, Any] = {"value": value}
    if unit is None:
        return out
    if unit in NCI_UNITS:
        out.update(unit=NCI_UNITS[unit], system=NCI, code=unit)
    elif unit.startswith("C") and unit[1:].isdigit():
        out.update(system=NCI, code=unit)
    elif unit in _UCUM_UNITS:
        out.update(unit=unit, system=UCUM, code=unit)
    else:
        out["unit"] = unit
    return out


def days_supply(days: int) -> dict[str, Any]:
    return {"value": days, "unit": "days", "system": UCUM, "code": "d"}
