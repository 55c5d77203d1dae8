"""Whatever arrives on the wire, the parser answers with a model or an HL7ParseError.

Arbitrary bytes and text, and real messages mutated with the characters that
matter to ER7 (delimiters, terminators, escapes, MLLP block characters,
batch headers, non-ASCII). Whatever parses is then walked completely, and its
ACK must parse too; whatever does not still gets a NAK that parses.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.hl7v2 import (
    AckError,
    Delimiters,
    ErrorCode,
    HL7ParseError,
    Message,
    build_ack,
    build_nak,
    escape,
    iter_messages,
    parse_batch,
    parse_message,
    read_header,
    unescape,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "hl7v2"
CORPUS = [p.read_bytes() for p in sorted(DATA.glob("*.hl7"))]
PALETTE = [
    "|", "^", "~", "\\", "&", "#", "$", "\r", "\n", "\r\n", "\x0b", "\x1c", "\x00", " ", '""',
    "\\F\\", "\\S\\", "\\T\\", "\\R\\", "\\E\\", "\\P\\", "\\X", "\\X0D0A\\", "\\XC3\\", "\\.br\\",
    "\\H\\", "\\Zx\\", "MSH|^~\\&|", "MSH#$%!*#", "BHS|^~\\&", "BTS|", "BTS|9", "FHS|^~\\&", "FTS|",
    "ZZ1|", "é", "€", "\ufeff", "8859/1", "UNICODE UTF-8", "99999999999", "2.7", "^~\\&#",
]  # fmt: skip
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn) -> str | bytes:
    """A corpus message with a few edits: inserts, deletions, swaps, duplications, cuts."""
    text = draw(st.sampled_from(CORPUS)).decode("utf-8")
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        pos = draw(st.integers(min_value=0, max_value=len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "duplicate", "truncate"]))
        piece = draw(st.sampled_from(PALETTE) | st.text(max_size=3))
        span = draw(st.integers(min_value=1, max_value=12))
        if kind == "insert":
            text = text[:pos] + piece + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + span :]
        elif kind == "replace":
            text = text[:pos] + piece + text[pos + len(piece) :]
        elif kind == "duplicate":
            text = text[:pos] + text[pos : pos + span * 8] + text[pos:]
        else:
            text = text[:pos]
    if not draw(st.booleans()):
        return text
    data = bytearray(text.encode(draw(st.sampled_from(["utf-8", "latin-1"])), "replace"))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        if data:
            data[draw(st.integers(min_value=0, max_value=len(data) - 1))] = draw(
                st.integers(0, 255)
            )
    return bytes(data)


def walk(msg: Message) -> None:
    """Read everything a converter could read; nothing may raise."""
    assert msg.message_type and msg.control_id and msg.version
    _ = (msg.trigger_event, msg.message_structure, msg.processing_id, msg.version_info, msg.codec)
    _ = (msg.z_segments, repr(msg), msg.delimiters.encoding_characters)
    for segment in msg:
        assert msg.segment(segment.name, segment.occurrence) is segment
        _ = (str(segment.location), repr(segment), segment.is_z)
        for field in segment.fields:
            n = field.number
            _ = (field.value, field.is_null, len(field), str(field.location), repr(field))
            _ = (segment.text(n), segment.get(n, 2, 2, repetition=2), segment.get(n, 9, 9))
            assert msg.get(f"{segment.name}[{segment.occurrence}]-{n}") == field.value
            for rep in field:
                _ = (rep.value, rep.text, str(rep.location), rep.get(3, 2))
                for comp in rep.components:
                    _ = (comp.subcomponents, comp.value, comp.location.erl(), comp.subcomponent(2))
    assert parse_message(msg.er7).er7 == msg.er7


def answer_parses(received: Message) -> None:
    pid = received.segment("PID")
    where = pid.field(3).location if pid is not None else received.header.location
    ack = build_ack(received, "AE", [AckError(ErrorCode.DATA_TYPE_ERROR, "x|^~\\&\r\n", where)])
    reply = parse_message(ack)
    assert reply.get("MSA-1") == "AE"
    assert reply.segment("MSA").field(2).er7 in (received.header.field(10).er7, "UNKNOWN")  # type: ignore[union-attr]


def check(data: str | bytes) -> None:
    try:
        msg = parse_message(data)
    except HL7ParseError as error:
        nak = parse_message(build_nak(data, error))
        assert nak.get("MSA-1") == "AR"
        if nak.version_info >= (2, 5) or not nak.version_info:
            assert nak.get("ERR-8") == error.reason
        else:  # before v2.5 the text goes in MSA-3, 80 characters at most
            assert nak.get("MSA-3") == error.reason[:80]
    else:
        walk(msg)
        answer_parses(msg)
    try:
        messages = list(iter_messages(data))
    except HL7ParseError:
        pass
    else:
        for m in messages:
            walk(m)
    with contextlib.suppress(HL7ParseError):
        parse_batch(data)
    header = read_header(data)
    if header is not None:
        answer_parses(header)


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@SETTINGS
@given(st.text(max_size=300))
def test_arbitrary_text(data: str) -> None:
    check(data)
    check("MSH|^~\\&|" + data)


@SETTINGS
@given(mutated())
def test_mutated_real_messages(data: str | bytes) -> None:
    check(data)


def test_every_fixture_survives_the_checks_unmutated() -> None:
    for data in CORPUS:
        check(data)
        check(data.decode())


USABLE = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


@st.composite
def delimiters(draw: st.DrawFn) -> Delimiters:
    chars = draw(st.lists(st.sampled_from(USABLE), min_size=6, max_size=6, unique=True))
    field, component, repetition, escape_char, subcomponent, truncation = chars
    return Delimiters(field, component, repetition, escape_char, subcomponent,
                      truncation if draw(st.booleans()) else None)  # fmt: skip


@SETTINGS
@given(st.text(), delimiters())
def test_escape_round_trips_for_any_delimiters(text: str, d: Delimiters) -> None:
    encoded = escape(text, d)
    for char in (d.field, d.component, d.repetition, d.subcomponent, "\r", "\n", "\x1c"):
        assert char not in encoded
    assert unescape(encoded, d) == text


@SETTINGS
@given(
    st.lists(
        st.lists(st.lists(st.lists(st.text(max_size=6), min_size=1, max_size=3), min_size=1, max_size=3),
                 min_size=1, max_size=3),
        min_size=1, max_size=8),
    delimiters(),
)  # fmt: skip
def test_any_structure_reads_back_under_any_delimiters(
    fields: list[list[list[list[str]]]], d: Delimiters
) -> None:
    """Values escaped and joined with any delimiters come back out of ``get`` unchanged."""

    def encode(field: list[list[list[str]]]) -> str:
        return d.repetition.join(
            d.component.join(d.subcomponent.join(escape(s, d) for s in comp) for comp in rep)
            for rep in field
        )

    msh = [
        "MSH",
        d.encoding_characters,
        "A",
        "B",
        "C",
        "D",
        "1",
        "",
        f"ADT{d.component}A01",
        "1",
        "P",
        "2.7",
    ]
    text = d.field.join(msh) + "\r" + d.field.join(["ZZZ", *map(encode, fields)]) + "\r"
    msg = parse_message(text)
    segment = msg.segment("ZZZ")
    assert segment is not None
    for f, field in enumerate(fields, 1):
        for r, rep in enumerate(field, 1):
            for c, comp in enumerate(rep, 1):
                for s, value in enumerate(comp, 1):
                    assert segment.get(f, c, s, repetition=r) == value
