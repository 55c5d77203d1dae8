"""Blocking keys: the likely errors leave a shared key; missing values make none."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from records.mpi import Demographics, blocking_keys

MARIA = Demographics(
    family=("garcia lopez",),
    given=("maria", "guadalupe"),
    birth_date="1975-04-09",
    sex="female",
    postcode="78701",
    address="5 elm st austin",
    phone=("125550143",),
    email=("maria@mail.com",),
    identifiers=(("http://hl7.org/fhir/sid/us-ssn", "123456789"),),
)


def shared(a: Demographics, b: Demographics) -> set[str]:
    return set(blocking_keys(a) & blocking_keys(b))


def test_keys_of_a_full_record() -> None:
    keys = blocking_keys(MARIA)
    kinds = {k.split(":", 1)[0] for k in keys}
    assert kinds == {"fy", "dg", "fd", "pn", "ph", "em", "id"}
    assert "fy:G620:1975:m" in keys and "fy:L120:1975:m" in keys  # each surname word
    assert "dg:1975-04-09:g" in keys  # initial of a family word
    assert all(len(k) <= 128 for k in keys)


def test_missing_values_make_no_keys() -> None:
    assert blocking_keys(Demographics()) == frozenset()
    assert blocking_keys(Demographics(family=("garcia",), given=("maria",), sex="female")) == (
        frozenset()
    )
    no_date = replace(MARIA, birth_date=None, postcode=None, phone=(), email=(), identifiers=())
    assert blocking_keys(no_date) == frozenset()
    for key in blocking_keys(replace(MARIA, given=())):
        assert not key.endswith(":")
        assert "::" not in key


def test_likely_errors_keep_a_shared_key() -> None:
    cases = {
        "nickname": replace(MARIA, given=("lupe",), phone=(), email=(), identifiers=()),
        "married": replace(MARIA, family=("smith",), phone=(), email=(), identifiers=()),
        "day and month swapped": replace(
            MARIA, birth_date="1975-09-04", postcode=None, phone=(), email=(), identifiers=()
        ),
        "year mistyped": replace(
            MARIA, birth_date="1957-04-09", postcode=None, phone=(), email=(), identifiers=()
        ),
        "day mistyped, moved": replace(
            MARIA, birth_date="1975-04-19", postcode="10001", phone=(), email=(), identifiers=()
        ),
        "names swapped": replace(
            MARIA, family=("maria",), given=("garcia",), phone=(), email=(), identifiers=()
        ),
        "no birth date": replace(MARIA, birth_date=None, phone=(), email=(), identifiers=()),
        "everything changed but the phone": Demographics(given=("x",), phone=("125550143",)),
    }
    for error, other in cases.items():
        assert shared(MARIA, other), error


def test_bill_and_william_share_a_block() -> None:
    bill = Demographics(family=("smith",), given=("bill",), birth_date="1960-01-30")
    william = Demographics(family=("smith",), given=("william",), birth_date="1960-01-30")
    assert "fy:S530:1960:w" in shared(bill, william)


def test_long_identifiers_and_emails_are_hashed() -> None:
    d = Demographics(
        email=("a" * 200 + "@mail.com",), identifiers=(("urn:oid:" + "1." * 100, "X" * 50),)
    )
    assert all(len(k) <= 40 for k in blocking_keys(d))


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzáéñ", min_size=1, max_size=12)


@given(
    family=words,
    given_name=words,
    date=st.dates().map(lambda d: d.isoformat()),
    postcode=st.none() | st.text("0123456789", min_size=5, max_size=5),
)
def test_a_reasonable_patient_always_has_keys(
    family: str, given_name: str, date: str, postcode: str | None
) -> None:
    d = Demographics(family=(family,), given=(given_name,), birth_date=date, postcode=postcode)
    keys = blocking_keys(d)
    assert any(k.startswith("dg:") for k in keys)
    assert all(len(k) <= 128 and k.count(":") >= 1 for k in keys)
