"""Fellegi-Sunter scoring of two patients, and the link / review / separate decision.

Each field is compared into an agreement level (family name: exact, part,
close, similar, differ). A level has two probabilities: ``m``, that two
records of the same person show it, and ``u``, that two records of different
people do. The level's weight is log2(m/u): positive evidence for agreement,
negative for disagreement, zero when either side lacks the field. Summed over
independent fields, the total is the log-likelihood ratio of "same person".

Where the numbers come from. ``u`` is the chance of agreement between two
random people: 1 in ~20,000 for a full birth date (94 years of birthdays), 1
in 2 for sex, 1 in ~250 for a family name, 1 in ~90 for a given name (the
commonest are far more frequent: namesakes are what the review band is for),
and practically never for a phone, an e-mail or a street address. ``m`` is one
minus the error rates of registration data, per pair of records of one
person: one surname in seven differs (a typo, a marriage, a double surname cut
short), one birth date in eleven has a keying error or a day/month swap, one
pair in seven is from before and after a move or a new phone number.
``bench/mpi_quality_bench.py --fit`` measures both on labelled synthetic data
(seed 1, never the reporting seed); the table below is that fit, rounded,
except where real data has errors the generator does not make: there a
conservative guess (0.3% of birth dates wrong beyond a typo, a fifth of
e-mail addresses changed, a year-only birth date).

Two rules override the sum, because Fellegi-Sunter assumes fields independent
and families break the assumption: twins share surname, birth date, address
and phone; a father and his junior share name, address and phone. So first
given names that differ outright (no typo, nickname or initial explains it; a
shared middle name does not, twins often have one) or a birth date that
differs beyond a typo or a swap *withholds* an automatic link: the pair goes
to review if its score earns it, never straight to link.

Strong identifiers. Sharing an identifier (same system and value) links
deterministically, unless the records contradict it by the same two rules:
a newborn registered on the mother's insurance number, twins on one family
policy, a number typed into the wrong chart. Then the identifier counts only
as heavy evidence (+23) and a reviewer decides. A differing sex alone does not
contradict an identifier: it is a common entry error, and it changes. Two
different values of a national identifier (one per person for life, e.g. a
US SSN) are strong evidence against; different record numbers of one
hospital are not (duplicate charts are what a patient index exists to find).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from records.mpi.demographics import Demographics
from records.mpi.nicknames import same_name
from records.mpi.similarity import jaro_winkler, one_typo_apart

__all__ = [
    "DEFAULT_THRESHOLDS",
    "LEVELS",
    "NATIONAL_ID_SYSTEMS",
    "Comparison",
    "Thresholds",
    "classify",
    "compare",
    "levels",
]

# field -> level -> (m, u)
LEVELS: dict[str, dict[str, tuple[float, float]]] = {
    "family": {
        "exact": (0.86, 0.004),
        "part": (0.045, 0.002),
        "close": (0.07, 0.001),
        "similar": (0.01, 0.006),
        "differ": (0.015, 0.987),
    },
    "given": {
        "exact": (0.83, 0.011),
        "nickname": (0.056, 0.007),
        "close": (0.06, 0.0018),
        "initial": (0.019, 0.0023),
        "similar": (0.015, 0.0024),
        "middle": (0.01, 0.007),
        "differ": (0.014, 0.968),
    },
    "birth_date": {
        "exact": (0.91, 0.00005),
        "swapped": (0.016, 0.00001),
        "typo": (0.07, 0.001),
        "partial": (0.95, 0.012),  # given one date is a year or month only: P(years agree)
        "differ": (0.003, 0.999),
    },
    "sex": {"same": (0.98, 0.5), "differ": (0.02, 0.5)},
    "address": {
        "same": (0.85, 0.00001),
        "postcode": (0.03, 0.0004),
        "differ": (0.14, 0.9996),
    },
    "phone": {"same": (0.88, 0.00001), "differ": (0.12, 0.99999)},
    "email": {"same": (0.8, 0.000001), "differ": (0.2, 0.999999)},
    "identifier": {"shared": (0.99, 0.0000001), "conflict": (0.0115, 1.0)},
}

WEIGHTS: dict[str, dict[str, float]] = {
    field: {level: round(math.log2(m / u), 3) for level, (m, u) in table.items()}
    for field, table in LEVELS.items()
}

NATIONAL_ID_SYSTEMS = frozenset(
    {
        "http://hl7.org/fhir/sid/us-ssn",
        "urn:oid:2.16.840.1.113883.4.1",  # US SSN
        "https://fhir.nhs.uk/Id/nhs-number",
        "urn:oid:2.16.840.1.113883.2.1.4.1",  # NHS number
        "http://fhir.nl/fhir/NamingSystem/bsn",
        "urn:oid:2.16.840.1.113883.2.4.6.3",  # Dutch BSN
        "urn:oid:1.2.250.1.213.1.4.8",  # French INS-NIR
        "urn:oid:2.16.724.4.40",  # Spanish CIP/CIPSNS
    }
)
"""Identifier systems that give a person one value for life: two values conflict."""


@dataclass(frozen=True, slots=True)
class Comparison:
    score: float  # Fellegi-Sunter total weight, in bits
    detail: dict[str, float]  # weight of each compared field, shown to reviewers
    identifier: bool  # a strong identifier (same system and value) is shared, uncontradicted
    caution: str | None = None  # why an automatic link is withheld whatever the score


@dataclass(frozen=True, slots=True)
class Thresholds:
    link: float  # score >= link (or a shared strong identifier): link automatically
    review: float  # review <= score < link: human review queue; below: separate


DEFAULT_THRESHOLDS = Thresholds(link=20.0, review=10.0)
"""Chosen on the tuning seed (1) of bench/mpi_quality_bench.py, reported on seed 2.

link 20: the middle of the plateau where precision is >= 0.999 (18 lets in
namesakes with a birth-date typo, 22 and above lose recall fast: 0.969 at 22,
0.94 at 26). In bits: a full name, birth date and sex (29) link even
after a move and a new phone (23); the same with a mistyped birth date (21)
links only when nothing else contradicts it, and after a move (18) it goes
to review, since a namesake born the same year looks exactly like that. review 10: below it, pairs are almost never the same person; lowering
it to 4 adds a fifth more reviews and finds none more.
"""


def classify(c: Comparison, t: Thresholds) -> Literal["link", "review", "separate"]:
    if c.identifier or (c.score >= t.link and c.caution is None):
        return "link"
    return "review" if c.score >= t.review else "separate"


def compare(a: Demographics, b: Demographics) -> Comparison:
    """Compare two patients field by field; missing fields weigh nothing."""
    found = levels(a, b)
    detail = {field: WEIGHTS[field][level] for field, level in found.items()}
    caution = None
    if found.get("given") in ("differ", "middle"):
        caution = "first given names differ"
    elif found.get("birth_date") == "differ":
        caution = "birth dates differ"
    identifier = found.get("identifier") == "shared" and caution is None
    return Comparison(round(sum(detail.values()), 3), detail, identifier, caution)


def levels(a: Demographics, b: Demographics) -> dict[str, str]:
    """The agreement level of each field both patients have."""
    found: dict[str, str] = {}
    _names(a, b, found)
    if a.birth_date and b.birth_date:
        found["birth_date"] = _birth_date_level(a.birth_date, b.birth_date)
    if a.sex and b.sex:
        found["sex"] = "same" if a.sex == b.sex else "differ"
    address = _address_level(a, b)
    if address:
        found["address"] = address
    if a.phone and b.phone:
        found["phone"] = "differ" if set(a.phone).isdisjoint(b.phone) else "same"
    if a.email and b.email:
        found["email"] = "differ" if set(a.email).isdisjoint(b.email) else "same"
    identifier = _identifier_level(a, b)
    if identifier:
        found["identifier"] = identifier
    return found


def _names(a: Demographics, b: Demographics, found: dict[str, str]) -> None:
    """Family and given levels; given and family swapped between feeds count if that fits better."""
    family = _family_level(a.family, b.family) if a.family and b.family else None
    given = _given_level(a.given, b.given) if a.given and b.given else None
    if (family == "differ" or given == "differ") and a.family and b.given and a.given and b.family:
        swapped_family = _family_level(a.family, _words(b.given))
        swapped_given = _given_level(a.given, _words(b.family))
        if swapped_family != "differ" and swapped_given != "differ":  # the swap explains both
            family, given = swapped_family, swapped_given
    if family:
        found["family"] = family
    if given:
        found["given"] = given


def _words(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(w for name in names for w in name.split())


_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "van", "von", "der", "den", "da"})


def _family_level(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    best = 0.0
    for x in a:
        for y in b:
            if x == y or x.replace(" ", "") == y.replace(" ", ""):
                return "exact"
            best = max(best, jaro_winkler(x, y))
    if best < 0.92:
        words_a = {w for x in a for w in x.split() if len(w) > 2 and w not in _PARTICLES}
        words_b = {w for y in b for w in y.split() if len(w) > 2 and w not in _PARTICLES}
        if not words_a.isdisjoint(words_b):
            return "part"  # García López / García
    return "close" if best >= 0.92 else "similar" if best >= 0.85 else "differ"


def _given_level(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    """The agreement of the first given names; "middle" if only other given names agree."""
    first = _first_name_level(a[0], b[0])
    if first != "differ":
        return first
    for x in a:
        for y in b:
            if len(x) > 1 and len(y) > 1 and same_name(x, y):
                return "middle"
    return "differ"


def _first_name_level(x: str, y: str) -> str:
    if x == y:
        return "exact"
    if len(x) == 1 or len(y) == 1:
        return "initial" if x[0] == y[0] else "differ"
    if same_name(x, y):
        return "nickname"
    similarity = jaro_winkler(x, y)
    return "close" if similarity >= 0.92 else "similar" if similarity >= 0.85 else "differ"


def _birth_date_level(a: str, b: str) -> str:
    if a == b:
        return "exact"
    if len(a) == len(b) == 10:
        if a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]:
            return "swapped"
        return "typo" if one_typo_apart(a, b) else "differ"
    shorter = min(len(a), len(b))
    return "partial" if a[:shorter] == b[:shorter] else "differ"


def _address_level(a: Demographics, b: Demographics) -> str | None:
    postcodes_agree = not (a.postcode and b.postcode) or a.postcode == b.postcode
    if a.address and b.address and postcodes_agree and _same_street(a.address, b.address):
        return "same"
    if a.postcode and b.postcode:
        return "postcode" if a.postcode == b.postcode else "differ"
    if a.address and b.address:
        return "differ"
    return None


def _same_street(a: str, b: str) -> bool:
    """Equal, or close with the same house numbers ('12 oak st' is not '21 oak st')."""
    return a == b or (_numbers(a) == _numbers(b) and jaro_winkler(a, b) >= 0.92)


def _numbers(address: str) -> list[str]:
    return [w for w in address.split() if w.isdigit()]


def _identifier_level(a: Demographics, b: Demographics) -> str | None:
    if not a.identifiers or not b.identifiers:
        return None
    if not set(a.identifiers).isdisjoint(b.identifiers):
        return "shared"
    national_a = {s for s, _ in a.identifiers if s in NATIONAL_ID_SYSTEMS}
    national_b = {s for s, _ in b.identifiers if s in NATIONAL_ID_SYSTEMS}
    return "conflict" if not national_a.isdisjoint(national_b) else None
