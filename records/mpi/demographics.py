"""The match features of one FHIR R4 Patient, normalised once on write.

Every name the Patient carries counts (official, usual, maiden, old): a woman
registered under her married name elsewhere still matches her maiden-name
record. Text is casefolded with accents and punctuation stripped, because
feeds disagree on case, diacritics (José / JOSE) and hyphens far more often
than people change names. Phones keep their last nine digits, which is what
"(03) 5555 6473" and "+61 3 5555 6473" have in common. Values that say
nothing (an all-zero phone, "noemail@...") are dropped: a shared placeholder
would put thousands of patients in one block and make them look alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import orjson

__all__ = ["Demographics", "demographics", "normalise_name"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Demographics:
    """Match features of one Patient, normalised (casefolded, accents stripped)."""

    family: tuple[str, ...] = ()
    given: tuple[str, ...] = ()
    birth_date: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD
    sex: str | None = None  # male | female | other; "unknown" is missing
    postcode: str | None = None
    address: str | None = None  # street lines and city of the current home address
    phone: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    identifiers: tuple[tuple[str, str], ...] = ()  # (system, value)

    def to_json(self) -> str:
        """Compact JSON (empty fields left out), stored in ``mpi_entry.features``."""
        values = {name: getattr(self, name) for name in _FIELDS}
        return orjson.dumps({k: v for k, v in values.items() if v}).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> Demographics:
        data = orjson.loads(text)
        return cls(
            family=tuple(data.get("family", ())),
            given=tuple(data.get("given", ())),
            birth_date=data.get("birth_date"),
            sex=data.get("sex"),
            postcode=data.get("postcode"),
            address=data.get("address"),
            phone=tuple(data.get("phone", ())),
            email=tuple(data.get("email", ())),
            identifiers=tuple((s, v) for s, v in data.get("identifiers", ())),
        )


_FIELDS = tuple(f.name for f in fields(Demographics))

_NOT_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"[\s_]+")


def normalise_name(text: str) -> str:
    """'  José-María  O'Brien ' -> 'jose maria obrien': casefold, no accents or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.replace("-", " ").replace("'", "").replace("\u2019", "")
    return _SPACES.sub(" ", _NOT_WORD.sub("", plain)).strip()


def demographics(patient: Mapping[str, Any]) -> Demographics:
    """The match features of a FHIR R4 Patient resource (a parsed JSON dict)."""
    family: list[str] = []
    given: list[str] = []
    for name in _list(patient.get("name")):
        if not isinstance(name, Mapping):
            continue
        name_family = normalise_name(str(name.get("family") or ""))
        name_given = [t for g in _list(name.get("given")) for t in normalise_name(str(g)).split()]
        if not name_family and not name_given and name.get("text"):
            # only a text: "Peter James Chalmers" -> given peter james, family chalmers
            words = normalise_name(str(name["text"])).split()
            name_family, name_given = (words[-1], words[:-1]) if words else ("", [])
        if name_family:
            family.append(name_family)
        given.extend(name_given)
    home = _home_address(_list(patient.get("address")))
    phones, emails = _telecom(_list(patient.get("telecom")))
    gender = patient.get("gender")
    return Demographics(
        family=_unique(family),
        given=_unique(given),
        birth_date=_birth_date(patient.get("birthDate")),
        sex=gender if gender in ("male", "female", "other") else None,
        postcode=_postcode(home),
        address=_street(home),
        phone=_unique(phones),
        email=_unique(emails),
        identifiers=_unique(_identifiers(_list(patient.get("identifier")))),
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _unique(items: Iterable[_T]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(items))


_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def _birth_date(value: Any) -> str | None:
    if not isinstance(value, str) or not _DATE.fullmatch(value[:10]):
        return None
    return value[:10]


def _home_address(addresses: list[Any]) -> Mapping[str, Any] | None:
    """The address to match on: home before others, current before old or ended ones."""
    current = [
        a
        for a in addresses
        if isinstance(a, Mapping)
        and a.get("use") != "old"
        and not (isinstance(a.get("period"), Mapping) and a["period"].get("end"))
    ]
    if not current:
        return None
    return next((a for a in current if a.get("use") == "home"), current[0])


def _postcode(address: Mapping[str, Any] | None) -> str | None:
    if address is None or not address.get("postalCode"):
        return None
    code = re.sub(r"[^0-9a-z]", "", str(address["postalCode"]).casefold())
    return code or None


_STREET_WORDS = {
    "street": "st",
    "road": "rd",
    "avenue": "ave",
    "av": "ave",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "boulevard": "blvd",
    "apartment": "apt",
    "calle": "c",
    "avenida": "av",
}


def _street(address: Mapping[str, Any] | None) -> str | None:
    if address is None:
        return None
    parts = [str(line) for line in _list(address.get("line"))]
    if not parts:
        return None  # a city alone says little about who lives there
    if address.get("city"):
        parts.append(str(address["city"]))
    words = normalise_name(" ".join(parts)).split()
    return " ".join(_STREET_WORDS.get(w, w) for w in words) or None


_PLACEHOLDER_EMAIL = re.compile(r"^(no|none|noemail|unknown|na|test)@|@(example|none)\.")


def _telecom(points: list[Any]) -> tuple[list[str], list[str]]:
    phones: list[str] = []
    emails: list[str] = []
    for point in points:
        if not isinstance(point, Mapping) or not point.get("value") or point.get("use") == "old":
            continue
        value = str(point["value"])
        if point.get("system") in ("phone", "sms"):
            digits = re.sub(r"\D", "", value)[-9:]
            if len(digits) >= 7 and len(set(digits)) > 2:  # not 000-0000 or 555-5555
                phones.append(digits)
        elif point.get("system") == "email":
            email = value.strip().casefold().removeprefix("mailto:")
            if "@" in email and not _PLACEHOLDER_EMAIL.search(email):
                emails.append(email)
    return phones, emails


def _identifiers(identifiers: list[Any]) -> Iterable[tuple[str, str]]:
    """(system, value) of each identifier that can name a person.

    Temporary identifiers are left out: a number reused for the next admission
    would merge two people. Values lose spaces, dashes and dots and are upper-cased,
    since feeds format the same number differently (123-45-6789 / 123456789).
    """
    for ident in identifiers:
        if not isinstance(ident, Mapping) or ident.get("use") == "temp":
            continue
        system, value = ident.get("system"), ident.get("value")
        if not system or not value:
            continue
        cleaned = re.sub(r"[\s.\-]", "", str(value)).upper()
        if cleaned and len(set(cleaned)) > 1:  # 000000000 is no one's number
            yield str(system), cleaned
