"""Fellegi-Sunter comparison and the link / review / separate decision."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from records.mpi import DEFAULT_THRESHOLDS, Comparison, Demographics, Thresholds, classify, compare
from records.mpi.demographics import normalise_name
from records.mpi.scoring import LEVELS, WEIGHTS, levels

SSN = "http://hl7.org/fhir/sid/us-ssn"
MEMBER = "urn:oid:2.16.840.1.113883.3.7777.1"

WILLIAM = Demographics(
    family=("smith",),
    given=("william", "john"),
    birth_date="1980-03-05",
    sex="male",
    postcode="12345",
    address="12 oak st troy",
    phone=("551234567",),
    email=("will.smith@mail.com",),
    identifiers=(("urn:oid:1.2.3", "A1"),),
)


def test_weights_are_log2_m_over_u() -> None:
    for field, table in LEVELS.items():
        for level, (m, u) in table.items():
            assert 0 < m <= 1 and 0 < u <= 1, (field, level)
            assert WEIGHTS[field][level] == pytest.approx(math.log2(m / u), abs=1e-3)
        agree = [WEIGHTS[field][lv] for lv in table if lv != "differ" and lv != "conflict"]
        assert all(w > 0 for w in agree), field
        assert all(WEIGHTS[field][lv] < 0 for lv in ("differ", "conflict") if lv in table)


def test_the_same_record_links() -> None:
    c = compare(WILLIAM, WILLIAM)
    assert c.score == pytest.approx(sum(c.detail.values()), abs=1e-2)
    assert set(c.detail) == {
        "family", "given", "birth_date", "sex", "address", "phone", "email", "identifier"
    }  # fmt: skip
    assert c.identifier and c.caution is None
    assert classify(c, DEFAULT_THRESHOLDS) == "link"


def test_missing_fields_weigh_nothing() -> None:
    bare = Demographics(family=("smith",), given=("william",))
    c = compare(WILLIAM, bare)
    assert set(c.detail) == {"family", "given"}
    assert compare(Demographics(), WILLIAM) == Comparison(0.0, {}, False, None)


def test_typos_nicknames_and_a_swapped_birth_date_still_link() -> None:
    other = Demographics(
        family=("smyth",),
        given=("bill",),
        birth_date="1980-05-03",
        sex="male",
        postcode="12345",
        address="12 oak street troy",
    )
    found = levels(WILLIAM, other)
    assert found["family"] == "similar"  # one letter in five: Jaro-Winkler 0.89
    assert found["given"] == "nickname"
    assert found["birth_date"] == "swapped"
    assert found["address"] == "same"
    assert classify(compare(WILLIAM, other), DEFAULT_THRESHOLDS) == "link"


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("johnson", "jonhson", "close"),
        ("smith-jones", "Smith Jones", "exact"),
        ("smith", "smith-jones", "part"),
        ("garcia lopez", "garcia", "part"),
        ("garcia", "garza", "similar"),
        ("smith", "nguyen", "differ"),
    ],
)
def test_family_levels(a: str, b: str, level: str) -> None:
    found = levels(
        replace(WILLIAM, family=(normalise_name(a),)), replace(WILLIAM, family=(normalise_name(b),))
    )
    assert found["family"] == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("1980-03-05", "1980-03-05", "exact"),
        ("1980-03-05", "1980-05-03", "swapped"),
        ("1980-03-05", "1980-03-06", "typo"),
        ("1980-03-05", "1908-03-05", "typo"),
        ("1980-03-05", "1980", "partial"),
        ("1980-03", "1980-03-05", "partial"),
        ("1980-03-05", "1981-04-05", "differ"),
        ("1980-03-05", "1979", "differ"),
        ("1980-03-13", "1980-13-03", "swapped"),
    ],
)
def test_birth_date_levels(a: str, b: str, level: str) -> None:
    found = levels(replace(WILLIAM, birth_date=a), replace(WILLIAM, birth_date=b))
    assert found["birth_date"] == level


def test_given_and_family_swapped_by_a_feed() -> None:
    swapped = replace(WILLIAM, family=("william",), given=("smith",))
    found = levels(WILLIAM, swapped)
    assert (found["family"], found["given"]) == ("exact", "exact")


def test_a_move_and_a_new_phone_go_to_review_only_with_a_birth_date_typo() -> None:
    moved = replace(
        WILLIAM, postcode="99999", address="1 elm st dover", phone=("559876543",), email=(),
        identifiers=(),
    )  # fmt: skip
    assert classify(compare(WILLIAM, moved), DEFAULT_THRESHOLDS) == "link"
    mistyped = replace(moved, birth_date="1980-03-08")
    assert classify(compare(WILLIAM, mistyped), DEFAULT_THRESHOLDS) == "review"


def test_a_stranger_is_separate() -> None:
    stranger = Demographics(
        family=("garcia",), given=("maria",), birth_date="1955-10-20", sex="female",
        postcode="54321", address="3 pine rd salem", phone=("559990000",),
    )  # fmt: skip
    c = compare(WILLIAM, stranger)
    assert c.score < 0
    assert classify(c, DEFAULT_THRESHOLDS) == "separate"


def test_twins_are_never_linked_automatically() -> None:
    twin = replace(WILLIAM, given=("robert",), email=(), identifiers=())
    c = compare(WILLIAM, twin)
    assert c.score >= DEFAULT_THRESHOLDS.link  # everything else agrees...
    assert c.caution == "first given names differ"
    assert classify(c, DEFAULT_THRESHOLDS) == "review"  # ...so a person decides


def test_twins_sharing_a_middle_name_are_not_linked_either() -> None:
    a = replace(WILLIAM, given=("barbara", "mary"), sex="female", email=(), identifiers=())
    b = replace(a, given=("mary",))
    c = compare(a, b)
    assert levels(a, b)["given"] == "middle"
    assert classify(c, DEFAULT_THRESHOLDS) == "review"


def test_a_junior_is_not_linked_to_his_father() -> None:
    junior = replace(WILLIAM, birth_date="2006-07-19", email=(), identifiers=())
    c = compare(WILLIAM, junior)
    assert c.caution == "birth dates differ"
    assert classify(c, DEFAULT_THRESHOLDS) == "review"


def test_a_shared_strong_identifier_links_whatever_else_differs() -> None:
    a = replace(WILLIAM, identifiers=((SSN, "123456789"),))
    b = Demographics(
        family=("smith jones",), given=("will",), birth_date="1980-03-05",
        identifiers=((SSN, "123456789"), ("urn:oid:9.9", "X")),
    )  # fmt: skip
    c = compare(a, b)
    assert c.identifier
    assert classify(c, Thresholds(link=1000, review=900)) == "link"


def test_an_identifier_contradicted_by_birth_date_or_given_name_is_only_evidence() -> None:
    mother = replace(WILLIAM, given=("ana",), sex="female", identifiers=((MEMBER, "M1"),))
    newborn = Demographics(
        family=("smith",), given=("baby",), birth_date="2024-01-02", sex="male",
        identifiers=((MEMBER, "M1"),),
    )  # fmt: skip
    c = compare(mother, newborn)
    assert not c.identifier
    assert c.detail["identifier"] == WEIGHTS["identifier"]["shared"]
    assert c.caution is not None
    assert classify(c, DEFAULT_THRESHOLDS) != "link"


def test_a_differing_sex_does_not_contradict_an_identifier() -> None:
    a = replace(WILLIAM, identifiers=((SSN, "123456789"),))
    b = replace(a, sex="female", phone=(), email=())
    assert compare(a, b).identifier


def test_two_national_numbers_conflict_but_two_record_numbers_do_not() -> None:
    a = replace(WILLIAM, identifiers=((SSN, "123456789"), ("urn:mrn", "1")))
    b = replace(WILLIAM, identifiers=((SSN, "987654321"), ("urn:mrn", "2")))
    assert levels(a, b)["identifier"] == "conflict"
    c = replace(WILLIAM, identifiers=(("urn:mrn", "2"),))
    assert "identifier" not in levels(a, c)


@pytest.mark.parametrize(
    ("score", "identifier", "caution", "decision"),
    [
        (30.0, False, None, "link"),
        (20.0, False, None, "link"),
        (19.9, False, None, "review"),
        (10.0, False, None, "review"),
        (9.9, False, None, "separate"),
        (-50.0, True, None, "link"),
        (80.0, False, "birth dates differ", "review"),
        (5.0, False, "birth dates differ", "separate"),
    ],
)
def test_classification(score: float, identifier: bool, caution: str | None, decision: str) -> None:
    c = Comparison(score, {}, identifier, caution)
    assert classify(c, Thresholds(link=20.0, review=10.0)) == decision


names = st.sampled_from(["smith", "smyth", "garcia", "garcia lopez", "lee", "nguyen"])
firsts = st.sampled_from(["william", "bill", "maria", "mary", "j", "jose", "pepe"])
dates = st.sampled_from([None, "1980", "1980-03-05", "1980-05-03", "1980-03-06", "1990-01-01"])
people = st.builds(
    Demographics,
    family=st.lists(names, max_size=2).map(tuple),
    given=st.lists(firsts, max_size=2).map(tuple),
    birth_date=dates,
    sex=st.sampled_from([None, "male", "female"]),
    postcode=st.sampled_from([None, "12345", "54321"]),
    phone=st.lists(st.sampled_from(["551234567", "559876543"]), max_size=1).map(tuple),
    identifiers=st.lists(st.sampled_from([(SSN, "1"), (SSN, "2"), ("urn:x", "3")]), max_size=2).map(
        tuple
    ),
)


@given(people, people)
def test_comparison_is_symmetric_and_sums_its_detail(a: Demographics, b: Demographics) -> None:
    ab, ba = compare(a, b), compare(b, a)
    assert ab.score == pytest.approx(ba.score, abs=1e-6)
    assert ab.identifier == ba.identifier
    assert ab.score == pytest.approx(sum(ab.detail.values()), abs=1e-2)
