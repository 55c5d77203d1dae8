"""Whatever a feed sends, the converter answers with valid FHIR or a typed refusal.

Real messages (every supported fixture) mutated the ways feeds go wrong:
fields replaced by other values (numbers that are not, dates that cannot
be, codes from no table, delimiters, escapes, the HL7 null, non-ASCII),
segments deleted or repeated, the message type switched to another supported
one (an ADT read as a lab result), characters inserted, random bytes. Each
must give either a Conversion whose every resource validates with
fhir.resources R4B, the official R4 JSON schema and the required bindings,
or an HL7ParseError / ConversionError. Never any other exception.
"""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import ConversionError
from adapters.hl7v2 import HL7ParseError, iter_messages, parse_message
from adapters.hl7v2.to_fhir import SUPPORTED, Decimal, convert

DATA = Path(__file__).resolve().parents[1] / "data" / "hl7v2"


def _corpus() -> list[str]:
    texts = []
    for path in sorted(DATA.glob("*.hl7")):
        if path.name.startswith("bad_"):
            continue
        for msg in iter_messages(path.read_bytes()):
            if f"{msg.message_type}^{msg.trigger_event}" in SUPPORTED:
                texts.append(msg.er7)
    return texts


CORPUS = _corpus()
VALUES = [
    "", '""', "0", "-1", "+5", "1.50", ".", "1e9", "12,5", "NaN", "99999999999999999999999",
    "20240230", "2024", "202403151030", "20240315103000+0000", "20240315103000-1500",
    "20240315250000", "19000101", "00000000", "F", "M", "X", "Q", "U", "N", "CP", "RE", "D", "A",
    "NW", "CA", "SEL", "MTH", "DA", "SV", "LN", "UCUM", "HL70078", "99LOC", "I", "O", "P", "E",
    "NM", "SN", "ST", "TX", "FT", "CWE", "CE", "DT", "TS", "TM", "NR", "DR", "ED", "ZZ", "^",
    "^^^", "~", "~~", "&", "\\T\\", "\\X41\\", "\\H\\", "\\.br\\", "\\.sp3\\", "\\Zx\\", "é",
    "€", "\u0661", "<^5", ">=^3^-^7", "^1^:^8", "a^b^c^d^e^f^g^h^i^j^k^l^m^n",
    "123^^^HOSP^MR", "123^^^&2.16.840.1.113883.19&ISO^MR", "x" * 300, " padded ",
]  # fmt: skip
TYPES = sorted(SUPPORTED)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn) -> str | bytes:
    """A supported message with a few edits a broken feed could make."""
    segments = draw(st.sampled_from(CORPUS)).rstrip("\r").split("\r")
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        kind = draw(st.sampled_from(["field", "field", "field", "delete", "repeat", "type",
                                     "insert"]))  # fmt: skip
        index = draw(st.integers(min_value=0, max_value=len(segments) - 1))
        if kind == "field":
            fields = segments[index].split("|")
            number = draw(st.integers(min_value=1, max_value=max(1, len(fields) + 2)))
            if index == 0 and number <= 2:
                continue  # MSH-1/2 are the delimiters: the parser's fuzz test covers them
            fields += [""] * (number + 1 - len(fields))
            new = draw(st.sampled_from(VALUES) | st.text(max_size=8))
            fields[number] = new.replace("\r", "").replace("\n", "")
            segments[index] = "|".join(fields)
        elif kind == "delete" and index > 0:
            del segments[index]
        elif kind == "repeat":
            segments.insert(index + 1, segments[index])
        elif kind == "type":
            fields = segments[0].split("|")
            fields[8] = draw(st.sampled_from(TYPES))
            segments[0] = "|".join(fields)
        elif kind == "insert":
            text = segments[index]
            at = draw(st.integers(min_value=0, max_value=len(text)))
            piece = draw(st.sampled_from(["|", "^", "~", "&", "\\", '""', "\r", "ZZZ|1\r"]))
            segments[index] = text[:at] + piece + text[at:]
    text = "\r".join(segments) + "\r"
    if not draw(st.booleans()):
        return text
    data = bytearray(text.encode("utf-8"))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        data[draw(st.integers(min_value=0, max_value=len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(value.text)
    raise TypeError(type(value).__name__)


class Checker:
    """Converts one input and checks the outcome (validators cached per type)."""

    def __init__(self, r4_schema: dict[str, Any]) -> None:
        self.definitions = r4_schema["definitions"]
        self.validators: dict[str, jsonschema.Draft6Validator] = {}

    def __call__(self, data: str | bytes, zone: Any) -> None:
        try:
            msg = parse_message(data)
        except HL7ParseError:
            return
        try:
            conversion = convert(msg, source="fuzz-feed", timezone=zone)
        except ConversionError as error:
            assert error.code in {"100", "101", "102", "103", "200", "201", "205"}, error
            assert error.message
            return
        keys = [f"{r['resourceType']}/{r['id']}" for r in conversion.resources]
        assert len(keys) == len(set(keys)), keys
        for resource in conversion.resources:
            kind = resource["resourceType"]
            get_fhir_model_class(kind).model_validate(resource)
            if kind not in self.validators:
                schema = {"definitions": self.definitions, "$ref": f"#/definitions/{kind}"}
                self.validators[kind] = jsonschema.Draft6Validator(schema)
            as_json = orjson.loads(
                orjson.dumps(resource, default=_default, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
            )
            errors = [e.message for e in self.validators[kind].iter_errors(as_json)]
            assert not errors, (kind, errors[:3])
        assert all(isinstance(w, str) and w for w in conversion.warnings)


@pytest.fixture(scope="module")
def check(r4_schema: dict[str, Any]) -> Checker:
    return Checker(r4_schema)


@SETTINGS
@given(data=mutated(), zone=st.sampled_from([None, UTC, timezone(timedelta(hours=-5))]))
def test_mutated_real_messages_convert_or_are_refused(
    check: Checker, data: str | bytes, zone: Any
) -> None:
    check(data, zone)


def test_every_supported_fixture_survives_the_check_unmutated(check: Checker) -> None:
    assert len(CORPUS) > 25
    for text in CORPUS:
        check(text, None)
