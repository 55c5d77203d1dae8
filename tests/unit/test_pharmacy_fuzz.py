"""Whatever a pharmacy sends, the adapters answer with a Conversion or a ConversionError.

Arbitrary text and bytes, the sample SCRIPT messages mutated with the
characters and fragments that matter to XML (markup, entities, DOCTYPEs,
encodings), and CSV files built from a palette of good and bad values.
Whatever converts is valid FHIR R4B.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import Conversion, ConversionError
from adapters.pharmacy import convert_dispense_csv, convert_script
from adapters.pharmacy.csv_dispense import COLUMNS

DATA = Path(__file__).resolve().parents[1] / "data" / "pharmacy"
XML = [p.read_text() for p in sorted(DATA.glob("*.xml"))]
CSV = (DATA / "dispenses.csv").read_text()
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

XML_PALETTE = [
    "<", ">", "</", "/>", "&", "&amp;", "&lt;", "&#0;", "&#x110000;", "&#65;", "&xxe;", '"', "'", "=",
    "<!DOCTYPE Message>", "<!ENTITY a 'b'>", "<![CDATA[x]]>", "<?pi x?>", "<!-- c -->", "]]>",
    "<Dispensed/>", "<NotDispensed/>", "<NewRx>", "<RxFill>", "<Code>", "<Qualifier>ND</Qualifier>",
    "<NPI>1234567893</NPI>", "<Value>1e9</Value>", "<Date>2026-02-30</Date>", "<DateTime>2026-03-02T10:00:00</DateTime>",
    " xmlns='urn:x'", " xmlns:a='urn:a' a:b='c'", "\x00", "\ufeff", "é", "\ud7ff", "0", "-1", "99999999999", "",
]  # fmt: skip


def check(result: Conversion) -> None:
    assert isinstance(result, Conversion)
    for resource in result.resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


@st.composite
def mutated_xml(draw: st.DrawFn) -> str | bytes:
    text = draw(st.sampled_from(XML))
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        pos = draw(st.integers(min_value=0, max_value=len(text)))
        piece = draw(st.sampled_from(XML_PALETTE) | st.text(max_size=4))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        span = draw(st.integers(min_value=1, max_value=40))
        if kind == "insert":
            text = text[:pos] + piece + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + span :]
        elif kind == "replace":
            text = text[:pos] + piece + text[pos + span :]
        else:
            text = text[:pos]
    if draw(st.booleans()):
        return text
    return text.encode(draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), "replace")


@SETTINGS
@given(mutated_xml())
def test_mutated_script_messages(data: str | bytes) -> None:
    try:
        result = convert_script(data)
    except ConversionError:
        return
    check(result)


@SETTINGS
@given(st.text(max_size=300) | st.binary(max_size=300))
def test_arbitrary_input_as_script(data: str | bytes) -> None:
    with contextlib.suppress(ConversionError):
        check(convert_script(data))


@SETTINGS
@given(st.text(max_size=300) | st.binary(max_size=300))
def test_arbitrary_input_as_csv(data: str | bytes) -> None:
    with contextlib.suppress(ConversionError):
        check(convert_dispense_csv(data))


CELL = st.sampled_from(
    ["", "0", "1", "99", "100", "-1", "1.5", "1e3", "0999017", "RX1", "P-1", "68180051301", "6818-0051-01",
     "314076", "2026-03-03T16:12:00-05:00", "2026-03-03T16:12:00", "2026-03-03", "1961-07-14", "F", "male", "X",
     "1987654328", "1987654321", "C48542", "mL", "urn:oid:1.2.3", "a b", '"', '""', ",", "\n", "\r\n", "é", "\x00",
     " padded "]
) | st.text(max_size=6)  # fmt: skip


def quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\r\n') else cell


@st.composite
def csv_files(draw: st.DrawFn) -> str:
    columns = draw(st.permutations(COLUMNS))
    columns = columns[: draw(st.integers(min_value=len(COLUMNS) - 4, max_value=len(COLUMNS)))]
    lines = [",".join(columns)]
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        cells = [draw(CELL) for _ in columns]
        # Quoted as RFC 4180 wants, or raw: then quotes and newlines may break the row.
        line = ",".join(quoted(c) for c in cells) if draw(st.booleans()) else ",".join(cells)
        lines.append(line)
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))


@SETTINGS
@given(csv_files())
def test_generated_csv_files(text: str) -> None:
    try:
        result = convert_dispense_csv(text)
    except ConversionError:
        return
    check(result)
    for rejected in result.rejected:
        assert rejected.location.startswith("line ")


@SETTINGS
@given(st.data())
def test_mutated_sample_csv(data: st.DataObject) -> None:
    text = CSV
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        pos = data.draw(st.integers(min_value=0, max_value=len(text)))
        piece = data.draw(st.sampled_from([",", '"', "\n", "\r", "", "x", "\x00", "é"]))
        text = text[:pos] + piece + text[pos + data.draw(st.integers(min_value=0, max_value=5)) :]
    with contextlib.suppress(ConversionError):
        check(convert_dispense_csv(text))
