"""Nickname equivalence: the names one person goes by."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from records.mpi.nicknames import GROUPS, canonical_names, same_name


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("william", "bill"),
        ("bill", "will"),
        ("billy", "william"),
        ("robert", "bob"),
        ("rob", "robert"),
        ("elizabeth", "liz"),
        ("beth", "betty"),
        ("margaret", "peggy"),
        ("maggie", "margaret"),
        ("jose", "pepe"),
        ("francisco", "paco"),
        ("pancho", "paco"),
        ("guadalupe", "lupe"),
        ("jesus", "chucho"),
        ("ignacio", "nacho"),
        ("dolores", "lola"),
    ],
)
def test_nicknames_name_the_same_person(a: str, b: str) -> None:
    assert same_name(a, b)
    assert same_name(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("william", "robert"),
        ("jonathan", "nathaniel"),  # both may be "nathan", but they are not each other
        ("christopher", "christina"),  # both "chris"
        ("pepe", "paco"),
        ("maria", "mario"),
        ("zelda", "zora"),  # not in the table at all
    ],
)
def test_different_names_are_not_nicknames(a: str, b: str) -> None:
    assert not same_name(a, b)


def test_a_few_hundred_names_in_english_and_spanish() -> None:
    names = {name for group in GROUPS for name in group}
    assert len(names) >= 400
    assert {"paco", "pepe", "lupe", "chucho", "bill", "peggy"} <= names
    assert all(name.isascii() and name.isalpha() and name.islower() for name in names)


def test_canonical_names_are_the_formal_ones() -> None:
    assert canonical_names("bill") == ("william",)
    assert canonical_names("william") == ("william",)
    assert canonical_names("paco") == ("francisco",)
    assert set(canonical_names("al")) >= {"albert", "alfred", "alan"}
    assert canonical_names("zelda") == ("zelda",)


@given(st.sampled_from(GROUPS), st.data())
def test_every_name_in_a_group_is_the_same_as_every_other(
    group: tuple[str, ...], data: st.DataObject
) -> None:
    a = data.draw(st.sampled_from(group))
    b = data.draw(st.sampled_from(group))
    assert same_name(a, b)
    assert group[0] in canonical_names(a)
