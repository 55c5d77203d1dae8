"""Code systems, identifier systems and value checks shared by the pharmacy adapters.

Every check answers with the normalised value or ``None``; the caller knows
where the value came from and turns ``None`` into a rejection or an error
that names the field.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

__all__ = [
    "FHIR_GENDER",
    "NCI",
    "NCI_UNITS",
    "NCPDP_PROVIDER_ID",
    "NDC",
    "NPI",
    "RXNORM",
    "RXNORM_QUALIFIERS",
    "UCUM",
    "check_date",
    "check_date_time",
    "check_decimal",
    "check_int",
    "check_ndc",
    "check_npi",
    "check_rxnorm",
    "check_text",
]

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC = "http://hl7.org/fhir/sid/ndc"
NPI = "http://hl7.org/fhir/sid/us-npi"
NCPDP_PROVIDER_ID = "http://terminology.hl7.org/NamingSystem/NCPDPProviderIdentificationNumber"
UCUM = "http://unitsofmeasure.org"
# NCI Thesaurus (HL7 terminology URI): SCRIPT's QuantityUnitOfMeasure codes.
NCI = "http://ncithesaurus-stage.nci.nih.gov"

# SCRIPT DrugDBCode qualifiers that are RxNorm term types (other qualifiers name
# proprietary drug databases, whose codes are not kept).
RXNORM_QUALIFIERS = frozenset(
    {
        "SCD",
        "SBD",
        "GPCK",
        "BPCK",
        "SCDF",
        "SBDF",
        "SCDG",
        "SBDG",
        "SCDC",
        "SBDC",
        "IN",
        "PIN",
        "MIN",
        "BN",
    }
)
# The common NCPDP quantity units (NCI Thesaurus codes) and their names.
NCI_UNITS = {
    "C48542": "tablet",
    "C48480": "capsule",
    "C28254": "mL",
    "C48155": "g",
    "C64933": "each",
    "C38046": "unspecified",
}
# FHIR administrative-gender from SCRIPT's M/F/U and the CSV's letters or words.
FHIR_GENDER = {
    "M": "male", "F": "female", "U": "unknown", "O": "other",
    "MALE": "male", "FEMALE": "female", "UNKNOWN": "unknown", "OTHER": "other",
}  # fmt: skip

_NDC = re.compile(r"\d{11}|\d{4}-\d{4}-\d{2}|\d{5}-\d{3}-\d{2}|\d{5}-\d{4}-\d{1}")
_RXNORM = re.compile(r"[1-9]\d{0,9}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)([Zz]|[+-]\d{2}:?\d{2})?"
)
_DECIMAL = re.compile(r"[+-]?(\d{1,12}(\.\d{0,6})?|\.\d{1,6})")
_INT = re.compile(r"\d{1,9}")


def check_text(value: str | None, limit: int = 256) -> str | None:
    """Trimmed, printable text of at most ``limit`` characters."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > limit or not value.isprintable():
        return None
    return value


def check_npi(value: str | None) -> str | None:
    """A National Provider Identifier: 10 digits with a valid Luhn check digit (prefix 80840)."""
    if value is None or len(value) != 10 or not value.isdigit() or value[0] not in "12":
        return None
    total = 24  # the prefix 80840's contribution
    for position, char in enumerate(reversed(value[:9])):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return value if (10 - total % 10) % 10 == int(value[9]) else None


def check_ndc(value: str | None) -> str | None:
    """An NDC as FHIR keeps it: 11 digits, or 10 digits with hyphens (4-4-2, 5-3-2, 5-4-1)."""
    return value if value is not None and _NDC.fullmatch(value) else None


def check_rxnorm(value: str | None) -> str | None:
    """An RxNorm concept id (RXCUI): digits."""
    return value if value is not None and _RXNORM.fullmatch(value) else None


def check_date(value: str | None) -> str | None:
    """A calendar date ``YYYY-MM-DD``."""
    if value is None or not _DATE.fullmatch(value):
        return None
    try:
        date.fromisoformat(value)
    except ValueError:
        return None
    return value


def check_date_time(value: str | None) -> tuple[str | None, bool]:
    """A FHIR dateTime for an ISO 8601 date-time, and whether it had a time zone.

    Without a zone the answer is ``(None, False)``: FHIR requires a zone on
    any time of day, and guessing one would move a dispense across midnight.
    """
    if value is None:
        return None, True
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return None, True
    day, time, zone = match.groups()
    if zone is None:
        return None, False
    if len(time) == 5:
        time += ":00"
    if zone in ("Z", "z"):
        zone = "Z"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    text = f"{day}T{time}{zone}"
    hours, minutes = (0, 0) if zone == "Z" else (int(zone[1:3]), int(zone[4:6]))
    if minutes > 59 or hours > 14 or (hours == 14 and minutes):
        return None, True
    try:
        datetime.fromisoformat(_for_python(day, time, zone))
    except ValueError:
        return None, True
    return text, True


def _for_python(day: str, time: str, zone: str) -> str:
    seconds, _, fraction = time.partition(".")
    fraction = f".{fraction[:6]}" if fraction else ""
    return f"{day}T{seconds}{fraction}{'+00:00' if zone == 'Z' else zone}"


def check_decimal(value: str | None) -> int | float | None:
    """A non-negative decimal as a JSON number (integral values as integers)."""
    if value is None or not _DECIMAL.fullmatch(value):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        return None
    if number < 0:
        return None
    return int(number) if number == number.to_integral_value() else float(number)


def check_int(value: str | None, high: int) -> int | None:
    """A whole number from 0 to ``high``."""
    if value is None or not _INT.fullmatch(value):
        return None
    number = int(value)
    return number if number <= high else None
