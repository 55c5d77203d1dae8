"""Match features of FHIR R4 Patients: what is kept, how it is normalised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from records.mpi import Demographics, demographics
from records.mpi.demographics import normalise_name


def example(r4_examples: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((r4_examples / f"Patient-{name}.json").read_text())
    return data


def test_every_name_telecom_address_and_identifier_of_the_official_example(
    r4_examples: Path,
) -> None:
    d = demographics(example(r4_examples, "example"))
    assert d.family == ("chalmers", "windsor")  # the maiden name counts too
    assert d.given == ("peter", "james", "jim")
    assert d.birth_date == "1974-12-25"
    assert d.sex == "male"
    assert d.postcode == "3999"
    assert d.address == "534 erewhon st pleasantville"
    # the work and mobile numbers; the "old" one is gone; last nine digits only
    assert d.phone == ("355556473", "334105613")
    assert d.identifiers == (("urn:oid:1.2.36.146.595.217.0.1", "12345"),)


def test_mother_and_genetics_example_are_the_same_features(r4_examples: Path) -> None:
    mom = demographics(example(r4_examples, "mom"))
    assert mom == demographics(example(r4_examples, "genetics-example1"))
    assert mom.identifiers == (("http://hl7.org/fhir/sid/us-ssn", "444222222"),)
    assert mom.phone == ("555552003",)


def test_dutch_example_with_email_and_a_value_less_identifier(r4_examples: Path) -> None:
    d = demographics(example(r4_examples, "f001"))
    assert d.family == ("van de heuvel",)
    assert d.email == ("p.heuvel@gmail.com",)
    assert d.postcode == "1024rj"
    assert d.identifiers == (("urn:oid:2.16.840.1.113883.2.4.6.3", "738472983"),)


def test_a_name_given_only_as_text_and_a_patient_with_nothing(r4_examples: Path) -> None:
    assert demographics(example(r4_examples, "ch-example")).family == ("张无忌",)
    newborn = demographics(example(r4_examples, "newborn"))
    assert newborn == Demographics(birth_date="2017-09-05", sex="male")


def test_every_official_example_round_trips_through_json(r4_examples: Path) -> None:
    for path in sorted(r4_examples.glob("Patient-*.json")):
        d = demographics(json.loads(path.read_text()))
        assert Demographics.from_json(d.to_json()) == d, path.name


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("José-María", "jose maria"),
        ("  O'Brien ", "obrien"),
        ("GARCÍA LÓPEZ", "garcia lopez"),
        ("Müller", "muller"),
        ("Núñez", "nunez"),
        ("Smith, Jr.", "smith jr"),
    ],
)
def test_names_are_casefolded_without_accents_or_punctuation(raw: str, normal: str) -> None:
    assert normalise_name(raw) == normal


def test_placeholders_and_temporary_values_are_dropped() -> None:
    d = demographics(
        {
            "resourceType": "Patient",
            "telecom": [
                {"system": "phone", "value": "000-000-0000"},
                {"system": "phone", "value": "555-5555"},
                {"system": "email", "value": "noemail@hospital.org"},
                {"system": "email", "value": "x@example.com"},
                {"system": "phone", "value": "(212) 555-0143", "use": "old"},
            ],
            "identifier": [
                {"system": "urn:temp", "value": "T1", "use": "temp"},
                {"system": "urn:mrn", "value": "999999999"},
                {"value": "no-system"},
                {"system": "urn:ssn", "value": " 123-45-6789 "},
            ],
            "gender": "unknown",
            "birthDate": "not a date",
        }
    )
    assert d == Demographics(identifiers=(("urn:ssn", "123456789"),))


def test_current_home_address_is_chosen() -> None:
    d = demographics(
        {
            "resourceType": "Patient",
            "address": [
                {"use": "old", "line": ["1 Old Road"], "postalCode": "11111"},
                {"use": "work", "line": ["9 Office Park"], "postalCode": "22222"},
                {"use": "home", "line": ["5 Elm Street"], "city": "Troy", "postalCode": "33 333"},
                {"use": "home", "line": ["7 Past Ave"], "period": {"end": "2020-01-01"}},
            ],
        }
    )
    assert (d.address, d.postcode) == ("5 elm st troy", "33333")


words = st.text(alphabet="abcdefghij ", min_size=1, max_size=10)
features = st.builds(
    Demographics,
    family=st.tuples(words),
    given=st.lists(words, max_size=3).map(tuple),
    birth_date=st.none() | st.sampled_from(["1980", "1980-03", "1980-03-05"]),
    sex=st.none() | st.sampled_from(["male", "female", "other"]),
    postcode=st.none() | words,
    address=st.none() | words,
    phone=st.lists(st.text("0123456789", min_size=7, max_size=9), max_size=2).map(tuple),
    email=st.lists(words, max_size=2).map(tuple),
    identifiers=st.lists(st.tuples(words, words), max_size=3).map(tuple),
)


@given(features)
def test_json_round_trip(d: Demographics) -> None:
    assert Demographics.from_json(d.to_json()) == d
