"""Our fast JCS must give exactly the bytes of the reference ``rfc8785`` package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from records import fhirjson
from records.canonical import canonical_json, canonical_sha256, es6_number

safe_ints = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
# Keys: FHIR's are ASCII; values: any text, including controls and astral characters.
keys = st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=8)
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
documents = st.recursive(
    st.none() | st.booleans() | safe_ints | finite_floats | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=25,
)


@given(finite_floats)
@settings(max_examples=3000)
def test_numbers_are_written_as_ecmascript_does(value: float) -> None:
    assert es6_number(value).encode() == rfc8785.dumps(value)


@given(documents)
@settings(max_examples=1500)
def test_documents_match_the_reference_implementation(document: Any) -> None:
    data = json.dumps(document).encode()
    assert canonical_json(data) == rfc8785.dumps(json.loads(data))


@pytest.mark.parametrize(
    ("spelled", "canonical"),
    [("1.00", b"1"), ("0.010", b"0.01"), ("1E3", b"1000"), ("1e21", b"1e+21"), ("-0.0", b"0")],
)
def test_number_spelling_does_not_change_the_hash(spelled: str, canonical: bytes) -> None:
    data = f'{{"value": {spelled}}}'.encode()
    assert canonical_json(data) == b'{"value":' + canonical + b"}"


def test_key_order_and_whitespace_do_not_change_the_hash() -> None:
    a = b'{"b": [1, {"y": 2, "x": 1}], "a": "\\u00e9"}'
    b = '{"a":"é","b":[1,{"x":1,"y":2}]}'.encode()
    assert canonical_sha256(a) == canonical_sha256(b)


def test_official_examples_match_the_reference(r4_examples: Path) -> None:
    files = sorted(r4_examples.glob("Observation-*.json"))
    compared = 0
    for path in files:
        data = path.read_bytes()
        try:
            reference = rfc8785.dumps(fhirjson.loads(data))
        except rfc8785.IntegerDomainError:
            continue  # Observation-decimal: see the next test
        assert canonical_json(data) == reference, path.name
        compared += 1
    assert compared >= 60


def test_integers_beyond_2_to_53_are_read_as_doubles_as_jcs_says() -> None:
    assert canonical_json(b'{"n": 1000000000000000000}') == b'{"n":1000000000000000000}'
    assert canonical_json(b'{"n": 12345678901234567890}') == b'{"n":12345678901234567000}'
    with pytest.raises(ValueError, match="out of range"):
        canonical_json(b'{"n": 1e400}')
    assert orjson.loads(canonical_json(b'{"n": 9007199254740991}')) == {"n": 2**53 - 1}
