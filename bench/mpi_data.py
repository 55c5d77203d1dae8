"""Synthetic labelled patients for the patient index benchmarks.

A population of people, each registered 1-4 times by different sources
(hospitals, a pharmacy, a lab), each registration a FHIR R4 Patient carrying
the errors real registration data has, at rates in line with published
studies of duplicate records (a few percent per field):

- typos in names, nicknames (Bill / William, Paco / Francisco), initials,
  middle name given as first name, given and family names swapped;
- birth dates with a keying error, day and month swapped, or missing;
- a surname changed on marriage (sometimes with the maiden name kept), a
  Spanish double surname written in full or in part;
- a move (new address and postcode), a new phone number, missing phone,
  e-mail, address or sex, a national number (SSN) present in some feeds only,
  occasionally mistyped;

and the people who are *not* the same but look it:

- twins: same surname, birth date, address and phone, different given names,
  sometimes on one family insurance number;
- juniors: a son with his father's name, address and phone;
- namesakes: common names (Maria Garcia, John Smith) shared by several people
  born in the same year.

Names follow real frequencies at the head (US census surnames, common English
and Spanish given names) and a long synthetic tail. ``(seed, count)`` always
gives the same data.

    .venv/bin/python bench/mpi_data.py --records 20        # print a few records
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

SSN = "http://hl7.org/fhir/sid/us-ssn"
INSURER = "urn:oid:2.16.840.1.113883.3.7777.1"  # one insurer's member numbers
SOURCES = [f"urn:oid:2.16.840.1.113883.3.{n}.2.1" for n in range(101, 109)]  # MRN systems
SSN_RATE = [0.0, 0.2, 0.4, 0.5, 0.6, 0.3, 0.0, 0.7]  # how often each source sends the SSN

SURNAMES = """smith 828 johnson 655 williams 550 brown 488 jones 482 garcia 473 miller 424
davis 386 rodriguez 377 martinez 371 hernandez 362 lopez 293 gonzalez 281 wilson 272
anderson 267 thomas 261 taylor 256 moore 242 jackson 241 martin 240 lee 233 perez 230
thompson 229 white 227 harris 207 sanchez 204 clark 183 ramirez 181 lewis 178 robinson 176
walker 175 young 164 allen 163 king 160 wright 158 scott 152 torres 147 nguyen 145 hill 145
flores 144 green 143 adams 141 nelson 140 baker 138 hall 137 rivera 130 campbell 129
mitchell 128 carter 124 roberts 123 gomez 115 phillips 111 evans 109 turner 108 diaz 107
parker 104 cruz 103 edwards 101 collins 100 reyes 98 stewart 97 morris 95 morales 94
murphy 93 cook 92 rogers 90 gutierrez 90 ortiz 89 morgan 89 cooper 88 peterson 88 bailey 86
reed 86 kelly 84 howard 83 ramos 82 kim 82 cox 82 ward 81 richardson 80 watson 79 brooks 78
chavez 78 wood 77 james 77 bennett 76 gray 76 mendoza 76 ruiz 75 hughes 74 price 74
alvarez 74 castillo 73 sanders 73 patel 72 myers 72 long 71 ross 70 foster 70 jimenez 70"""

HISPANIC_SURNAMES = """garcia rodriguez martinez hernandez lopez gonzalez perez sanchez ramirez
torres flores rivera gomez diaz cruz reyes morales gutierrez ortiz ramos chavez mendoza ruiz
alvarez castillo jimenez moreno romero herrera medina aguilar vargas guzman castro vasquez"""

MALE = """james 33 john 32 robert 31 michael 30 william 24 david 23 richard 15 joseph 13
thomas 12 charles 12 christopher 10 daniel 10 matthew 8 anthony 7 mark 7 donald 7 steven 6
paul 6 andrew 6 joshua 6 kenneth 5 kevin 5 brian 5 george 5 edward 5 ronald 5 timothy 4
jason 4 jeffrey 4 ryan 4 jacob 4 gary 4 nicholas 4 eric 4 jonathan 4 stephen 4 larry 3
justin 3 scott 3 brandon 3 benjamin 3 samuel 3 frank 3 gregory 3 raymond 3 alexander 3
patrick 3 jack 3 dennis 2 jerry 2 tyler 2 aaron 2 henry 2 peter 2 walter 2 harold 2"""

FEMALE = """mary 35 patricia 16 jennifer 15 linda 14 elizabeth 13 barbara 13 susan 11
jessica 11 sarah 10 karen 10 nancy 8 lisa 8 margaret 8 betty 7 sandra 7 ashley 7 dorothy 7
kimberly 6 emily 6 donna 6 michelle 6 carol 6 amanda 6 melissa 5 deborah 5 stephanie 5
rebecca 5 laura 5 sharon 5 cynthia 4 kathleen 4 amy 4 shirley 4 angela 4 helen 4 anna 4
brenda 4 pamela 4 nicole 4 samantha 4 katherine 4 emma 3 ruth 3 christine 3 catherine 3
debra 3 rachel 3 carolyn 3 janet 3 virginia 3 maria 3 heather 3 diane 3 julie 3 joyce 3"""

HISPANIC_MALE = """jose 30 juan 20 luis 14 carlos 14 jesus 10 miguel 10 francisco 10 antonio 8
manuel 8 pedro 6 alejandro 6 jorge 6 ricardo 5 roberto 5 eduardo 5 rafael 4 fernando 4
javier 4 guillermo 4 ignacio 3 enrique 3 ramon 3 alberto 3 gonzalo 2 santiago 2 diego 3"""

HISPANIC_FEMALE = """maria 40 guadalupe 12 ana 10 rosa 9 carmen 9 juana 6 josefina 5 teresa 5
patricia 5 martha 5 gabriela 4 alejandra 4 veronica 4 dolores 4 elizabeth 4 mercedes 3
isabel 3 lucia 3 beatriz 3 concepcion 2 rosario 2 margarita 3 daniela 3 sofia 3 valentina 2"""

# nicknames the people below actually use (a subset of records.mpi.nicknames, plus
# none for names that have none)
NICKNAMES = {
    "william": ["bill", "will", "billy"], "robert": ["bob", "rob", "bobby"],
    "richard": ["rick", "dick", "rich"], "james": ["jim", "jimmy"], "john": ["jack", "johnny"],
    "michael": ["mike"], "joseph": ["joe"], "thomas": ["tom", "tommy"],
    "charles": ["charlie", "chuck"], "christopher": ["chris"], "daniel": ["dan", "danny"],
    "matthew": ["matt"], "anthony": ["tony"], "steven": ["steve"], "andrew": ["andy"],
    "edward": ["ed", "ted"], "ronald": ["ron"], "timothy": ["tim"], "jeffrey": ["jeff"],
    "nicholas": ["nick"], "stephen": ["steve"], "benjamin": ["ben"], "samuel": ["sam"],
    "gregory": ["greg"], "alexander": ["alex"], "patrick": ["pat"], "kenneth": ["ken"],
    "elizabeth": ["liz", "beth", "betty"], "margaret": ["peggy", "maggie", "meg"],
    "patricia": ["pat", "patty"], "jennifer": ["jen", "jenny"], "susan": ["sue"],
    "katherine": ["kate", "kathy"], "catherine": ["cathy", "kate"], "rebecca": ["becky"],
    "deborah": ["debbie"], "samantha": ["sam"], "pamela": ["pam"], "kimberly": ["kim"],
    "jose": ["pepe"], "francisco": ["paco", "pancho"], "guadalupe": ["lupe"],
    "jesus": ["chucho", "chuy"], "manuel": ["manolo"], "ignacio": ["nacho"],
    "eduardo": ["lalo"], "alberto": ["beto"], "roberto": ["beto"], "guillermo": ["memo"],
    "dolores": ["lola"], "concepcion": ["concha"], "rosario": ["charo"], "antonio": ["tono"],
    "alejandro": ["alex"], "enrique": ["quique"], "gonzalo": ["chalo"], "teresa": ["tere"],
}  # fmt: skip

STREETS = """oak maple cedar pine elm washington lake hill park main church mill river spring
ridge forest highland sunset lincoln jackson franklin madison jefferson adams walnut cherry
willow meadow valley north south west east center union market broad water bridge school"""
STREET_KINDS = [("street", "st"), ("avenue", "ave"), ("road", "rd"), ("drive", "dr"),
                ("lane", "ln"), ("court", "ct"), ("boulevard", "blvd"), ("place", "pl")]  # fmt: skip
_CITY_TEXT = """springfield riverside franklin greenville bristol clinton fairview salem madison
georgetown arlington ashland burlington manchester milton newport oxford dover hudson
kingston lebanon marion troy auburn dayton jackson lexington monroe winchester"""
CITIES = _CITY_TEXT.split()
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com"]
_SYLLABLES_1 = "bra bel cal dan der fal gar hal kel lan mar nor pal ral sal tal val wal bur cor"
_SYLLABLES_2 = "ton ley son man berg field wood ford well dale worth ham land more ridge ner"
_SYLLABLES_G = "ja ka la ma na ra sa ta da ke li mi ni ri lo no jo ro ny"
_SYLLABLES_GE = "den lyn son ra na ya ton rie ley an el on is ah"


def _weighted(table: str) -> tuple[list[str], list[float]]:
    words = table.split()
    if all(w.isalpha() for w in words):
        return words, [1.0] * len(words)
    return words[::2], [float(w) for w in words[1::2]]


@dataclass
class Person:
    """The truth about one person: what a careful registrar would record."""

    id: int
    sex: str
    given: str
    middle: str | None
    family: str  # at birth
    birth: datetime.date
    street: tuple[int, str, int]  # house number, street name, kind index
    city: str
    postcode: str
    phone: str | None
    email: str | None
    ssn: str
    member: str | None  # insurance member number
    hispanic: bool = False
    second_family: str | None = None  # the second of a Spanish double surname
    married_family: str | None = None  # taken between two registrations
    moved_to: tuple[tuple[int, str, int], str, str] | None = None  # later address
    new_phone: str | None = None
    kind: str = "person"  # person | twin | junior | namesake: how this one was made


@dataclass
class Record:
    id: str
    person: int
    kind: str  # how the person was made: person | twin | junior | namesake
    source: str
    patient: dict[str, Any] = field(repr=False)


class Population:
    """Draws people and their registrations from one seeded random generator."""

    def __init__(self, seed: int, postcodes: int = 3000) -> None:
        self.rng = random.Random(seed)
        self.surnames = _weighted(SURNAMES)
        self.hispanic_surnames = HISPANIC_SURNAMES.split()
        self.male, self.female = _weighted(MALE), _weighted(FEMALE)
        self.hmale, self.hfemale = _weighted(HISPANIC_MALE), _weighted(HISPANIC_FEMALE)
        self.streets = STREETS.split()
        self.postcodes = [f"{self.rng.randrange(10000, 99999)}" for _ in range(postcodes)]
        self.used_ssn: set[str] = set()
        self.count = 0

    # -- people ---------------------------------------------------------------

    def family_name(self, hispanic: bool) -> str:
        r = self.rng
        if hispanic and r.random() < 0.7:
            return r.choice(self.hispanic_surnames)
        if r.random() < 0.3:
            return r.choices(*self.surnames)[0]
        return r.choice(_SYLLABLES_1.split()) + r.choice(_SYLLABLES_2.split())

    def given_name(self, sex: str, hispanic: bool) -> str:
        r = self.rng
        if r.random() < 0.12:  # the long tail
            return (
                r.choice(_SYLLABLES_G.split())
                + r.choice(_SYLLABLES_G.split())
                + r.choice(_SYLLABLES_GE.split())
            )
        if hispanic:
            return r.choices(*(self.hmale if sex == "male" else self.hfemale))[0]
        return r.choices(*(self.male if sex == "male" else self.female))[0]

    def _ssn(self) -> str:
        while True:
            ssn = f"{self.rng.randrange(1, 899):03d}{self.rng.randrange(1, 99):02d}{self.rng.randrange(1, 9999):04d}"
            if ssn not in self.used_ssn:
                self.used_ssn.add(ssn)
                return ssn

    def _phone(self) -> str:
        r = self.rng
        return f"{r.randrange(201, 989)}{r.randrange(200, 999)}{r.randrange(0, 9999):04d}"

    def _address(self) -> tuple[tuple[int, str, int], str, str]:
        r = self.rng
        postcode = r.choice(self.postcodes)
        city = CITIES[int(postcode) % len(CITIES)]
        return (
            (r.randrange(1, 9999), r.choice(self.streets), r.randrange(len(STREET_KINDS))),
            city,
            postcode,
        )

    def person(self) -> Person:
        r = self.rng
        self.count += 1
        hispanic = r.random() < 0.3
        sex = r.choice(("male", "female"))
        given = self.given_name(sex, hispanic)
        middle = self.given_name(sex, hispanic) if r.random() < 0.5 else None
        family = self.family_name(hispanic)
        birth = datetime.date(1930, 1, 1) + datetime.timedelta(days=r.randrange(0, 94 * 365))
        street, city, postcode = self._address()
        phone = self._phone() if r.random() < 0.9 else None
        email = None
        if r.random() < 0.5:
            email = f"{given}.{family}{r.randrange(1, 999)}@{r.choice(DOMAINS)}"
        p = Person(
            id=self.count, sex=sex, given=given, middle=middle, family=family, birth=birth,
            street=street, city=city, postcode=postcode, phone=phone, email=email,
            ssn=self._ssn(), member=f"M{r.randrange(10**8, 10**9)}" if r.random() < 0.4 else None,
            hispanic=hispanic,
        )  # fmt: skip
        if hispanic and r.random() < 0.4:
            p.second_family = self.family_name(True)
        age = (datetime.date(2025, 1, 1) - birth).days / 365
        if sex == "female" and age > 20 and r.random() < 0.12:
            p.married_family = self.family_name(hispanic)
        if r.random() < 0.3:
            p.moved_to = self._address()
        if r.random() < 0.25:
            p.new_phone = self._phone()
        return p

    def twin(self, p: Person) -> Person:
        """Same family, birthday, home and phone; another given name; maybe one policy."""
        r = self.rng
        self.count += 1
        sex = r.choice(("male", "female"))
        given = self.given_name(sex, p.hispanic)
        while given == p.given:
            given = self.given_name(sex, p.hispanic)
        return replace(
            p, id=self.count, sex=sex, given=given,
            middle=self.given_name(sex, p.hispanic) if r.random() < 0.5 else None,
            email=None, ssn=self._ssn(), married_family=None, kind="twin",
            member=p.member if r.random() < 0.5 else None,
        )  # fmt: skip

    def junior(self, p: Person) -> Person:
        """A son with his father's name, living at the father's address."""
        r = self.rng
        self.count += 1
        birth = p.birth + datetime.timedelta(days=r.randrange(20 * 365, 40 * 365))
        return replace(
            p, id=self.count, sex="male", birth=birth, email=None, ssn=self._ssn(),
            member=None, married_family=None, kind="junior",
        )  # fmt: skip

    def namesake(self, p: Person) -> Person:
        """Another person with the same (common) name, born the same year."""
        q = self.person()
        birth = datetime.date(p.birth.year, 1, 1) + datetime.timedelta(days=self.rng.randrange(365))
        email = f"{p.given}.{p.family}{self.rng.randrange(1, 999)}@gmail.com" if q.email else None
        return replace(
            q, sex=p.sex, given=p.given, family=p.family, hispanic=p.hispanic, email=email,
            birth=birth, second_family=None, married_family=None, kind="namesake",
        )  # fmt: skip

    def people(self, count: int) -> Iterator[Person]:
        """``count`` people: mostly independent, some twins, juniors and namesake groups."""
        made = 0
        while made < count:
            p = self.person()
            group = [p]
            roll = self.rng.random()
            if roll < 0.02:
                group.append(self.twin(p))
            elif roll < 0.03 and p.sex == "male":
                group.append(self.junior(p))
            elif roll < 0.05:
                if p.hispanic:
                    p.given = "maria" if p.sex == "female" else self.rng.choice(("jose", "juan"))
                    p.family = self.rng.choice(("garcia", "rodriguez", "lopez", "martinez"))
                else:
                    p.given = "mary" if p.sex == "female" else self.rng.choice(("john", "james"))
                    p.family = self.rng.choice(("smith", "johnson", "williams", "brown"))
                if p.email:
                    p.email = f"{p.given}.{p.family}{self.rng.randrange(1, 999)}@{self.rng.choice(DOMAINS)}"
                group += [self.namesake(p) for _ in range(self.rng.randrange(1, 5))]
            if len(group) > 1:
                p.kind = group[1].kind  # both twins are twins
            for q in group[: count - made]:
                made += 1
                yield q

    # -- registrations -----------------------------------------------------------

    def registrations(self, p: Person, count: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """``count`` Patients for ``p`` from different sources, in time order."""
        sources = self.rng.sample(range(len(SOURCES)), count)
        change = self.rng.randrange(
            1, count + 1
        )  # registrations from here on are after life events
        for n, source in enumerate(sources):
            yield SOURCES[source], self.patient(p, source, later=n >= change)

    def patient(self, p: Person, source: int, later: bool) -> dict[str, Any]:
        r = self.rng
        given, family = p.given, p.family
        if p.second_family and r.random() < 0.65:
            family = f"{family} {p.second_family}"
        maiden = None
        if later and p.married_family:
            maiden = family if r.random() < 0.4 else None
            family = p.married_family
        if r.random() < 0.10 and given in NICKNAMES:
            given = r.choice(NICKNAMES[given])
        if r.random() < 0.04:
            given = _typo(r, given)
        if r.random() < 0.04:
            family = _typo(r, family)
        givens = [given]
        if p.middle and r.random() < 0.5:
            givens.append(p.middle)
        if p.middle and r.random() < 0.02:
            givens = [p.middle]  # goes by the middle name
        elif r.random() < 0.01:
            givens = [given[0]]  # initial only
        if r.random() < 0.015:
            givens, family = [family], " ".join(givens)  # swapped by the feed
        name: dict[str, Any] = {"use": "official", "family": _style(r, family), "given": [_style(r, g) for g in givens]}  # fmt: skip
        patient: dict[str, Any] = {"resourceType": "Patient", "name": [name]}
        if maiden:
            patient["name"].append(
                {"use": "maiden", "family": _style(r, maiden), "given": name["given"]}
            )
        if r.random() < 0.98:
            patient["birthDate"] = _birth_date(r, p.birth)
        if r.random() < 0.98:
            sex = p.sex if r.random() < 0.99 else ("female" if p.sex == "male" else "male")
            patient["gender"] = sex
        street, city, postcode = (p.street, p.city, p.postcode)
        if later and p.moved_to:
            street, city, postcode = p.moved_to
        if r.random() < 0.9:
            number, street_name, kind = street
            long_form, short_form = STREET_KINDS[kind]
            line = f"{number} {street_name.title()} {(long_form if r.random() < 0.5 else short_form).title()}"
            patient["address"] = [
                {"use": "home", "line": [line], "city": city.title(), "postalCode": postcode}
            ]
        phone = p.new_phone if later and p.new_phone else p.phone
        telecom = []
        if phone and r.random() < 0.85:
            telecom.append({"system": "phone", "value": _format_phone(r, phone), "use": "home"})
        if p.email and r.random() < 0.6:
            telecom.append({"system": "email", "value": p.email})
        if telecom:
            patient["telecom"] = telecom
        identifiers = [{"system": SOURCES[source], "value": f"{source}{r.randrange(10**7, 10**8)}"}]
        if r.random() < SSN_RATE[source]:
            ssn = p.ssn if r.random() < 0.99 else _typo(r, p.ssn, digits=True)
            identifiers.append({"system": SSN, "value": f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}"})
        if p.member and r.random() < 0.5:
            identifiers.append({"system": INSURER, "value": p.member})
        patient["identifier"] = identifiers
        return patient


def _typo(r: random.Random, text: str, digits: bool = False) -> str:
    """One keying error: a substitution, deletion, insertion or swap of neighbours."""
    if len(text) < 3:
        return text
    i = r.randrange(1, len(text) - 1)  # the first letter is the one least often mistyped
    alphabet = "0123456789" if digits else "abcdefghijklmnopqrstuvwxyz"
    kind = r.randrange(4) if not digits else r.choice((0, 3))
    if kind == 0:
        return text[:i] + r.choice(alphabet) + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text[:i] + r.choice(alphabet) + text[i:]
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]


def _style(r: random.Random, name: str) -> str:
    """How a feed writes a name: Title case, UPPER case, or with the accents."""
    accented = {"jose": "José", "jesus": "Jesús", "concepcion": "Concepción", "garcia": "García",
                "rodriguez": "Rodríguez", "martinez": "Martínez", "hernandez": "Hernández",
                "lopez": "López", "gonzalez": "González", "perez": "Pérez", "ramon": "Ramón"}  # fmt: skip
    roll = r.random()
    if roll < 0.3:
        return name.upper()
    if roll < 0.6 and name in accented:
        return accented[name]
    return name.title()


def _birth_date(r: random.Random, birth: datetime.date) -> str:
    text = birth.isoformat()
    roll = r.random()
    if roll < 0.02 and birth.day <= 12 and birth.day != birth.month:
        return f"{birth.year:04d}-{birth.day:02d}-{birth.month:02d}"
    if roll < 0.045:
        for _ in range(20):
            i = r.choice([2, 3, 5, 6, 8, 9])
            typed = text[:i] + str(r.randrange(10)) + text[i + 1 :]
            try:
                datetime.date.fromisoformat(typed)
            except ValueError:
                continue
            if typed != text:
                return typed
    return text


def _format_phone(r: random.Random, digits: str) -> str:
    return r.choice(
        (
            f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
            f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
            f"+1 {digits[:3]} {digits[3:6]} {digits[6:]}",
            digits,
        )
    )


def records(seed: int, count: int) -> list[Record]:
    """At least ``count`` registrations of 1-4 per person, in a shuffled arrival order."""
    population = Population(seed)
    r = population.rng
    made: list[Record] = []
    people = population.people(10**9)
    while len(made) < count:
        p = next(people)
        n = r.choices((1, 2, 3, 4), (0.35, 0.30, 0.20, 0.15))[0]
        for source, patient in population.registrations(p, n):
            rid = f"r{len(made):07d}"
            patient["id"] = rid
            made.append(Record(rid, p.id, p.kind, source, patient))
    r.shuffle(made)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--records", type=int, default=10)
    args = parser.parse_args(argv)
    for rec in itertools.islice(records(args.seed, args.records), args.records):
        print(rec.person, json.dumps(rec.patient, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
