"""MLLP framing: whole, split, merged, interrupted and oversized frames."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.hl7v2 import MLLPDecoder, MLLPError, MLLPFrameTooLarge, frame, parse_message, unframe

ONE = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||123\r"
TWO = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|2|P|2.5\rPID|1||456\r"


def test_frame_and_unframe() -> None:
    framed = frame(ONE)
    assert framed == b"\x0b" + ONE + b"\x1c\r"
    assert unframe(framed) == ONE
    assert unframe(framed[:-1]) == ONE  # end block without the CR
    assert parse_message(framed).control_id == "1"  # the parser strips framing too


@pytest.mark.parametrize("message", [b"a\x0bb", b"a\x1cb"])
def test_frame_refuses_block_characters(message: bytes) -> None:
    with pytest.raises(MLLPError):
        frame(message)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (ONE, "starts with 0x0B"),
        (b"\x0b" + ONE, "no end block"),
        (b"\x0b" + ONE + b"\x1c\rjunk", "bytes follow"),
        (b"\x0bab\x0bcd\x1c\r", "second start block"),
    ],
)
def test_unframe_rejects(data: bytes, reason: str) -> None:
    with pytest.raises(MLLPError, match=reason):
        unframe(data)


def test_one_frame_per_chunk() -> None:
    decoder = MLLPDecoder()
    assert list(decoder.feed(frame(ONE))) == [ONE]
    assert list(decoder.feed(frame(TWO))) == [TWO]
    assert not decoder.in_frame and decoder.discarded == 0


def test_several_frames_in_one_chunk() -> None:
    decoder = MLLPDecoder()
    assert list(decoder.feed(frame(ONE) + frame(TWO) + frame(ONE))) == [ONE, TWO, ONE]


def test_a_frame_split_at_every_byte() -> None:
    stream = frame(ONE) + frame(TWO)
    for cut in range(1, len(stream)):
        decoder = MLLPDecoder()
        got = list(decoder.feed(stream[:cut])) + list(decoder.feed(stream[cut:]))
        assert got == [ONE, TWO], cut


def test_byte_by_byte() -> None:
    decoder = MLLPDecoder()
    got: list[bytes] = []
    for byte in frame(ONE) + b"\r\n" + frame(TWO):
        got += decoder.feed(bytes([byte]))
    assert got == [ONE, TWO]


def test_in_frame_tells_a_half_received_message() -> None:
    decoder = MLLPDecoder()
    assert list(decoder.feed(frame(ONE)[:10])) == []
    assert decoder.in_frame
    assert list(decoder.feed(frame(ONE)[10:])) == [ONE]
    assert not decoder.in_frame


def test_garbage_between_frames_is_dropped_and_counted() -> None:
    decoder = MLLPDecoder()
    stream = b"hello" + frame(ONE) + b"\r\n \t" + frame(TWO) + b"xyz"
    assert list(decoder.feed(stream)) == [ONE, TWO]
    assert decoder.discarded == len(b"hello") + len(b"xyz")  # whitespace not counted


def test_a_new_start_block_abandons_the_partial_frame() -> None:
    decoder = MLLPDecoder()
    assert list(decoder.feed(b"\x0bMSH|partial")) == []
    assert list(decoder.feed(frame(ONE))) == [ONE]
    assert decoder.discarded == len(b"MSH|partial")


def test_messages_not_taken_stay_buffered() -> None:
    decoder = MLLPDecoder()
    iterator = decoder.feed(frame(ONE) + frame(TWO))
    assert next(iterator) == ONE
    assert list(decoder.feed(b"")) == [TWO]


def test_oversized_frame_is_dropped_and_decoding_goes_on() -> None:
    decoder = MLLPDecoder(max_frame_bytes=len(ONE))
    big = frame(ONE + b"OBX|1\r")
    stream = frame(ONE) + big + frame(TWO)
    iterator = decoder.feed(stream)
    assert next(iterator) == ONE
    with pytest.raises(MLLPFrameTooLarge):
        next(iterator)
    assert list(decoder.feed(b"")) == [TWO]
    assert decoder.discarded == len(ONE) + len(b"OBX|1\r") + 1


def test_oversized_frame_without_end_is_cut_off_while_streaming() -> None:
    decoder = MLLPDecoder(max_frame_bytes=100)
    assert list(decoder.feed(b"\x0b" + b"x" * 60)) == []
    with pytest.raises(MLLPFrameTooLarge):
        list(decoder.feed(b"y" * 60))
    assert decoder.in_frame  # still inside the dropped frame
    assert list(decoder.feed(b"z" * 1000)) == []
    assert list(decoder.feed(b"\x1c\r" + frame(ONE))) == [ONE]
    assert not decoder.in_frame
    assert decoder.discarded == 60 + 60 + 1000 + 1


def test_max_frame_bytes_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MLLPDecoder(0)


@settings(max_examples=200, deadline=None)
@given(
    messages=st.lists(st.binary(max_size=80).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b"")),
                      min_size=1, max_size=6),
    junk=st.lists(st.sampled_from([b"", b"\r", b"\n", b"\r\n", b"  "]), min_size=7, max_size=7),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=10),
)  # fmt: skip
def test_any_chunking_of_any_frames_gives_the_messages_back(
    messages: list[bytes], junk: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(j + frame(m) for j, m in zip(junk, messages, strict=False)) + junk[-1]
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    decoder = MLLPDecoder()
    got: list[bytes] = []
    for start, end in itertools.pairwise(points):
        got += decoder.feed(stream[start:end])
    assert got == messages
    assert decoder.discarded == 0 and not decoder.in_frame


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8), st.integers(min_value=1, max_value=64))
def test_arbitrary_bytes_never_break_the_decoder(chunks: list[bytes], limit: int) -> None:
    decoder = MLLPDecoder(max_frame_bytes=limit)
    for chunk in chunks:
        try:
            for message in decoder.feed(chunk):
                assert b"\x0b" not in message and b"\x1c" not in message
                assert len(message) <= limit
        except MLLPFrameTooLarge:
            pass
