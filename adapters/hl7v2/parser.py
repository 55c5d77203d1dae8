"""HL7 v2 (2.1-2.8) ER7 messages and batches as a small immutable model.

``Message`` → ``Segment`` → ``Field`` → ``Repetition`` → ``Component`` →
subcomponents (decoded ``str``). Everything counts from 1, as HL7 does.

Parsing is lazy because a converter reads a few dozen of a message's
hundreds of values: ``parse_message`` splits segments and reads MSH eagerly
(so a bad header fails at once, with an ACK-able location), and each other
segment splits its fields on first access. Escape sequences are decoded on
access, after splitting. ``Segment.get``/``Message.get`` go straight from the
raw text to the decoded leaf without building intermediate objects; the
``Field``/``Repetition``/``Component`` objects are for walking and for naming
locations in errors.

On any ``str`` or ``bytes`` input, parsing raises nothing but
``HL7ParseError``. Accessors never raise on message content; they raise
``ValueError`` only for a position below 1 or a malformed path, which are
bugs in the caller.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from .encoding import Delimiters, codec_for_charset, unescape
from .errors import ErrorCode, HL7ParseError, Location

__all__ = [
    "Batch",
    "BatchFile",
    "Component",
    "Field",
    "Message",
    "Repetition",
    "Segment",
    "iter_messages",
    "parse_batch",
    "parse_message",
    "read_header",
]

# Segments whose field 1 is the field separator itself and field 2 the encoding characters.
_HEADER_SEGMENTS = frozenset({"MSH", "FHS", "BHS"})
_BATCH_SEGMENTS = frozenset({"FHS", "BHS", "BTS", "FTS"})
# MLLP block characters, whitespace and a byte-order mark before a message are noise.
# After it only framing is: a final field may end in spaces, and blank lines are dropped.
_LEADING_TEXT = " \t\r\n\x0b\x0c\x1c\ufeff"
_LEADING_BYTES = b" \t\r\n\x0b\x0c\x1c"
_TRAILING = "\x0b\x0c\x1c"
_UTF8_BOM = b"\xef\xbb\xbf"
_SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}")
_VALID_NAMES: set[str] = set()  # cache of names that passed _SEGMENT_NAME, bounded below


# -- syntax: delimiters plus the message's character set for \X..\ ------------


class _Syntax:
    """Delimiters unpacked for speed, plus how to decode hex escapes.

    Shared by every message with the same encoding characters and charset.
    """

    __slots__ = (
        "component",
        "delimiters",
        "escape",
        "field",
        "hex_codec",
        "repetition",
        "subcomponent",
    )

    def __init__(self, delimiters: Delimiters, hex_codec: str | None) -> None:
        self.delimiters = delimiters
        self.field = delimiters.field
        self.component = delimiters.component
        self.repetition = delimiters.repetition
        self.escape = delimiters.escape
        self.subcomponent = delimiters.subcomponent
        self.hex_codec = hex_codec

    def leaf(self, raw: str, repetition: int, component: int, subcomponent: int) -> str:
        """The decoded value at (repetition, component, subcomponent) of a raw field."""
        if repetition < 1 or component < 1 or subcomponent < 1:
            raise ValueError("HL7 positions count from 1")
        if not raw:
            return ""
        if self.repetition in raw:
            parts = raw.split(self.repetition, repetition)
            if repetition > len(parts):
                return ""
            raw = parts[repetition - 1]
        elif repetition != 1:
            return ""
        if self.component in raw:
            parts = raw.split(self.component, component)
            if component > len(parts):
                return ""
            raw = parts[component - 1]
        elif component != 1:
            return ""
        if self.subcomponent in raw:
            parts = raw.split(self.subcomponent, subcomponent)
            if subcomponent > len(parts):
                return ""
            raw = parts[subcomponent - 1]
        elif subcomponent != 1:
            return ""
        if self.escape in raw:
            return unescape(raw, self.delimiters, self.hex_codec)
        return raw

    def decode(self, raw: str) -> str:
        if self.escape in raw:
            return unescape(raw, self.delimiters, self.hex_codec)
        return raw


# MSH-1 and MSH-2 are never split nor unescaped: a syntax whose delimiters cannot occur.
_LITERAL = _Syntax(Delimiters("\x00", "\x01", "\x02", "\x03", "\x04"), None)
_SYNTAXES: dict[tuple[str, str, str | None, str], _Syntax] = {}


def _syntax_for(header: str, name: str, hex_codec: str | None) -> _Syntax:
    """The syntax declared by a header segment line (MSH, FHS or BHS)."""
    if len(header) < 4:
        raise HL7ParseError("the field separator is missing", Location(name, 1, 1, position=1))
    field = header[3]
    end = header.find(field, 4)
    encoding_characters = header[4:] if end < 0 else header[4:end]
    key = (field, encoding_characters, hex_codec, name)
    syntax = _SYNTAXES.get(key)
    if syntax is None:
        syntax = _Syntax(Delimiters.from_header(field, encoding_characters, name), hex_codec)
        if len(_SYNTAXES) < 256:
            _SYNTAXES[key] = syntax
    return syntax


# -- the model -------------------------------------------------------------------


class Component:
    """One component of one repetition; its subcomponents are decoded strings."""

    __slots__ = ("_er7", "_number", "_repetition", "_syntax")

    def __init__(self, er7: str, repetition: Repetition, number: int, syntax: _Syntax) -> None:
        self._er7 = er7
        self._repetition = repetition
        self._number = number
        self._syntax = syntax

    @property
    def er7(self) -> str:
        """The raw, still escaped, text."""
        return self._er7

    @property
    def number(self) -> int:
        return self._number

    @property
    def subcomponents(self) -> tuple[str, ...]:
        if not self._er7:
            return ()
        syntax = self._syntax
        return tuple(syntax.decode(s) for s in self._er7.split(syntax.subcomponent))

    def subcomponent(self, number: int = 1) -> str:
        return self._syntax.leaf(self._er7, 1, 1, number)

    def get(self, subcomponent: int = 1) -> str:
        return self._syntax.leaf(self._er7, 1, 1, subcomponent)

    @property
    def value(self) -> str:
        """The first subcomponent, decoded."""
        return self._syntax.leaf(self._er7, 1, 1, 1)

    @property
    def location(self) -> Location:
        rep = self._repetition
        field = rep._field
        segment = field._segment
        return Location(
            segment._name,
            segment._occurrence,
            field._number,
            rep._number,
            self._number,
            position=segment._position,
        )

    def __bool__(self) -> bool:
        return bool(self._er7)

    def __repr__(self) -> str:
        return f"<Component {self.location} {self._er7!r}>"


class Repetition:
    """One occurrence of a (possibly repeating) field."""

    __slots__ = ("_er7", "_field", "_number", "_syntax")

    def __init__(self, er7: str, field: Field, number: int, syntax: _Syntax) -> None:
        self._er7 = er7
        self._field = field
        self._number = number
        self._syntax = syntax

    @property
    def er7(self) -> str:
        return self._er7

    @property
    def number(self) -> int:
        return self._number

    @property
    def components(self) -> tuple[Component, ...]:
        if not self._er7:
            return ()
        syntax = self._syntax
        return tuple(
            Component(c, self, i, syntax)
            for i, c in enumerate(self._er7.split(syntax.component), 1)
        )

    def component(self, number: int = 1) -> Component:
        if number < 1:
            raise ValueError("HL7 positions count from 1")
        parts = self._er7.split(self._syntax.component, number)
        return Component(
            parts[number - 1] if number <= len(parts) else "", self, number, self._syntax
        )

    def get(self, component: int = 1, subcomponent: int = 1) -> str:
        return self._syntax.leaf(self._er7, 1, component, subcomponent)

    @property
    def value(self) -> str:
        return self._syntax.leaf(self._er7, 1, 1, 1)

    @property
    def text(self) -> str:
        """The whole repetition decoded, separators kept: see ``Segment.text``."""
        return self._syntax.decode(self._er7)

    @property
    def location(self) -> Location:
        field = self._field
        segment = field._segment
        return Location(
            segment._name, segment._occurrence, field._number, self._number,
            position=segment._position,
        )  # fmt: skip

    def __bool__(self) -> bool:
        return bool(self._er7)

    def __repr__(self) -> str:
        return f"<Repetition {self.location} {self._er7!r}>"


class Field:
    """A field of a segment: zero or more repetitions.

    An empty field has no repetitions; the HL7 null ``""`` (which tells the
    receiver to delete its value) is one repetition whose value is ``""``
    verbatim: see ``is_null``.
    """

    __slots__ = ("_er7", "_number", "_segment", "_syntax")

    def __init__(self, er7: str, segment: Segment, number: int, syntax: _Syntax) -> None:
        self._er7 = er7
        self._segment = segment
        self._number = number
        self._syntax = syntax

    @property
    def er7(self) -> str:
        return self._er7

    @property
    def number(self) -> int:
        return self._number

    @property
    def is_null(self) -> bool:
        """True for the explicit HL7 null ``""``: "delete what you have"."""
        return self._er7 == '""'

    @property
    def repetitions(self) -> tuple[Repetition, ...]:
        if not self._er7:
            return ()
        syntax = self._syntax
        return tuple(
            Repetition(r, self, i, syntax)
            for i, r in enumerate(self._er7.split(syntax.repetition), 1)
        )

    def repetition(self, number: int = 1) -> Repetition:
        if number < 1:
            raise ValueError("HL7 positions count from 1")
        parts = self._er7.split(self._syntax.repetition, number)
        return Repetition(
            parts[number - 1] if number <= len(parts) else "", self, number, self._syntax
        )

    def component(self, number: int = 1) -> Component:
        """A component of the first repetition."""
        return self.repetition(1).component(number)

    @property
    def components(self) -> tuple[Component, ...]:
        """The components of the first repetition."""
        return self.repetition(1).components

    def get(self, component: int = 1, subcomponent: int = 1, repetition: int = 1) -> str:
        return self._syntax.leaf(self._er7, repetition, component, subcomponent)

    @property
    def value(self) -> str:
        """First repetition, first component, first subcomponent, decoded."""
        return self._syntax.leaf(self._er7, 1, 1, 1)

    @property
    def location(self) -> Location:
        segment = self._segment
        return Location(
            segment._name, segment._occurrence, self._number, position=segment._position
        )

    def __len__(self) -> int:
        return self._er7.count(self._syntax.repetition) + 1 if self._er7 else 0

    def __iter__(self) -> Iterator[Repetition]:
        return iter(self.repetitions)

    def __bool__(self) -> bool:
        return bool(self._er7)

    def __repr__(self) -> str:
        return f"<Field {self.location} {self._er7!r}>"


class Segment:
    """One segment. Fields are split from the raw line on first access."""

    __slots__ = ("_er7", "_fields", "_name", "_occurrence", "_position", "_syntax")

    def __init__(
        self, name: str, er7: str, occurrence: int, position: int, syntax: _Syntax
    ) -> None:
        self._name = name
        self._er7 = er7
        self._occurrence = occurrence
        self._position = position
        self._syntax = syntax
        self._fields: list[str] | None = None

    def _split(self) -> list[str]:
        fs = self._syntax.field
        if self._name in _HEADER_SEGMENTS:
            fields = [self._name, fs]
            fields += self._er7[4:].split(fs)
        else:
            fields = self._er7.split(fs)
        self._fields = fields
        return fields

    @property
    def name(self) -> str:
        return self._name

    @property
    def er7(self) -> str:
        """The raw segment line, without terminator."""
        return self._er7

    @property
    def occurrence(self) -> int:
        """1 for the first segment of this name in the message, 2 for the second, …"""
        return self._occurrence

    @property
    def position(self) -> int:
        """Place in the message, MSH being 1."""
        return self._position

    @property
    def is_z(self) -> bool:
        """A locally defined Z-segment: kept, and worth a warning from the caller."""
        return self._name[0] == "Z"

    @property
    def location(self) -> Location:
        return Location(self._name, self._occurrence, position=self._position)

    def get(
        self, field: int, component: int = 1, subcomponent: int = 1, repetition: int = 1
    ) -> str:
        """The decoded value at ``field.component.subcomponent`` of a repetition; "" if absent.

        Omitted positions mean 1, so ``get(5)`` is the first component of
        PID-5 (the family name), not the whole field.
        """
        fields = self._fields
        if fields is None:
            fields = self._split()
        if field >= len(fields):
            if field < 1 or component < 1 or subcomponent < 1 or repetition < 1:
                raise ValueError("HL7 positions count from 1")
            return ""
        if field < 1:
            raise ValueError("HL7 positions count from 1")
        if field <= 2 and self._name in _HEADER_SEGMENTS:
            return _LITERAL.leaf(fields[field], repetition, component, subcomponent)
        return self._syntax.leaf(fields[field], repetition, component, subcomponent)

    def text(self, field: int, repetition: int = 1) -> str:
        """A whole repetition decoded as one string, component and subcomponent
        separators left in place.

        For free-text fields of primitive types (ST, TX, FT: OBX-5, NTE-3),
        where senders often leave ``&`` or ``^`` unescaped: ``get`` would cut
        "Adequate in number & normal" at the ``&``.
        """
        return self.field(field).repetition(repetition).text

    def field(self, number: int) -> Field:
        """Field ``number`` (an empty ``Field`` past the end of the segment)."""
        if number < 1:
            raise ValueError("HL7 positions count from 1")
        fields = self._fields
        if fields is None:
            fields = self._split()
        raw = fields[number] if number < len(fields) else ""
        syntax = _LITERAL if number <= 2 and self._name in _HEADER_SEGMENTS else self._syntax
        return Field(raw, self, number, syntax)

    @property
    def fields(self) -> tuple[Field, ...]:
        """Fields 1..n as present in the segment."""
        return tuple(self.field(n) for n in range(1, len(self) + 1))

    def __len__(self) -> int:
        fields = self._fields
        if fields is None:
            fields = self._split()
        return len(fields) - 1

    def __repr__(self) -> str:
        text = self._er7 if len(self._er7) <= 60 else self._er7[:57] + "..."
        return f"<Segment {self.location} {text!r}>"


class Message:
    """One HL7 v2 message. Build it with ``parse_message``."""

    __slots__ = ("_by_name", "_codec", "_segments", "_syntax")

    def __init__(
        self,
        segments: tuple[Segment, ...],
        by_name: dict[str, list[Segment]],
        syntax: _Syntax,
        codec: str,
    ) -> None:
        self._segments = segments
        self._by_name = by_name
        self._syntax = syntax
        self._codec = codec

    @property
    def delimiters(self) -> Delimiters:
        return self._syntax.delimiters

    @property
    def codec(self) -> str:
        """The Python codec to encode a reply with: MSH-18's, or what decoding found."""
        return self._codec

    @property
    def header(self) -> Segment:
        """The MSH segment."""
        return self._segments[0]

    @property
    def message_type(self) -> str:
        """MSH-9.1, e.g. "ORU"."""
        return self._segments[0].get(9)

    @property
    def trigger_event(self) -> str:
        """MSH-9.2, e.g. "R01"."""
        return self._segments[0].get(9, 2)

    @property
    def message_structure(self) -> str:
        """MSH-9.3 (v2.3.1+), e.g. "ORU_R01"; "" when the sender left it out."""
        return self._segments[0].get(9, 3)

    @property
    def control_id(self) -> str:
        """MSH-10, echoed in MSA-2 of the ACK."""
        return self._segments[0].get(10)

    @property
    def processing_id(self) -> str:
        """MSH-11.1: P (production), T (training) or D (debugging)."""
        return self._segments[0].get(11)

    @property
    def version(self) -> str:
        """MSH-12.1, e.g. "2.5.1"."""
        return self._segments[0].get(12)

    @property
    def version_info(self) -> tuple[int, ...]:
        """MSH-12.1 as numbers, e.g. (2, 5, 1); () when it is not a dotted number."""
        return _version_info(self.version)

    def segments(self, name: str | None = None) -> tuple[Segment, ...]:
        """All segments, or those named ``name``, in message order."""
        if name is None:
            return self._segments
        return tuple(self._by_name.get(name, ()))

    def segment(self, name: str, occurrence: int = 1) -> Segment | None:
        """The ``occurrence``-th segment named ``name``, or None."""
        if occurrence < 1:
            raise ValueError("HL7 positions count from 1")
        group = self._by_name.get(name)
        if group is None or occurrence > len(group):
            return None
        return group[occurrence - 1]

    @property
    def z_segments(self) -> tuple[Segment, ...]:
        return tuple(s for s in self._segments if s._name[0] == "Z")

    def get(self, path: str) -> str:
        """The decoded value at ``path``; "" when absent.

        ``PID-3.1``, ``OBX[3]-6.1`` (third OBX), ``PID-3[2].4.2`` (second
        repetition, component 4, subcomponent 2). Omitted positions mean 1:
        ``PID-5`` is the family name. The form is that of ``str(Location)``.
        """
        name, occurrence, field, repetition, component, subcomponent = _parse_path(path)
        group = self._by_name.get(name)
        if group is None or occurrence > len(group):
            return ""
        return group[occurrence - 1].get(field, component, subcomponent, repetition)

    @property
    def er7(self) -> str:
        """The message as ER7 text, each segment ended by CR."""
        return "\r".join(s._er7 for s in self._segments) + "\r"

    def __len__(self) -> int:
        return len(self._segments)

    def __iter__(self) -> Iterator[Segment]:
        return iter(self._segments)

    def __repr__(self) -> str:
        return (
            f"<Message {self.message_type}^{self.trigger_event} {self.control_id!r} "
            f"v{self.version}, {len(self._segments)} segments>"
        )


_PATH = re.compile(r"([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?-(\d+)(?:\[(\d+)\])?(?:\.(\d+)(?:\.(\d+))?)?")


@lru_cache(maxsize=1024)
def _parse_path(path: str) -> tuple[str, int, int, int, int, int]:
    match = _PATH.fullmatch(path)
    if match is None:
        raise ValueError(f"{path!r} is not an HL7 location like PID-3.1 or OBX[2]-5[1].1")
    name = match.group(1)
    occ, field, rep, comp, sub = (int(x) if x else 1 for x in match.groups()[1:])
    if min(occ, field, rep, comp, sub) < 1:
        raise ValueError(f"{path!r}: HL7 positions count from 1")
    return name, occ, field, rep, comp, sub


def _version_info(version: str) -> tuple[int, ...]:
    numbers: list[int] = []
    for part in version.split("."):
        if not part.isdigit() or not part.isascii() or len(part) > 3:
            break
        numbers.append(int(part))
    return tuple(numbers)


# -- parsing ---------------------------------------------------------------------


def parse_message(
    data: str | bytes | bytearray | memoryview, encoding: str | None = None
) -> Message:
    """Parse one ER7 message.

    Bytes are decoded with ``encoding`` if given, else with the charset that
    MSH-18 declares, else as UTF-8 falling back to Latin-1 (which cannot
    fail). Segments may end in CR, LF or CRLF (so a raw LF inside a text
    field ends its segment, as the standard says it does); MLLP block
    characters, leading whitespace and blank lines are ignored, trailing
    spaces of the last field are kept. A batch (FHS/BHS) or a second MSH is
    an error here: use ``iter_messages`` for those.

    Raises ``HL7ParseError`` (and nothing else) when the input is not a
    message: no MSH first, bad encoding characters, a malformed segment
    name, or an empty MSH-9, -10, -11 or -12.
    """
    text, codec = _to_text(data, encoding)
    lines = _split_segments(text)
    if not lines:
        raise HL7ParseError(
            "no segments: the input is empty", None, ErrorCode.SEGMENT_SEQUENCE_ERROR
        )
    head = lines[0][:3]
    if head in ("FHS", "BHS"):
        raise HL7ParseError(
            f"this is a batch ({head}); read it with iter_messages or parse_batch",
            Location(head, 1, position=1),
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )
    return _build_message(lines, codec)


def read_header(data: str | bytes | bytearray | memoryview) -> Message | None:
    """The MSH segment alone, as a Message, or None when its delimiters are unreadable.

    For answering input that failed to parse: the ACK can still go back in
    the sender's delimiters and version, to its application, naming its
    control id. Unlike ``parse_message`` it lets MSH-9 to -12 be empty.
    """
    try:
        text, codec = _to_text(data, None)
        lines = _split_segments(text)
        return _build_message(lines[:1], codec, required=False) if lines else None
    except (HL7ParseError, TypeError):
        return None


def _build_message(lines: list[str], codec: str | None, required: bool = True) -> Message:
    first = lines[0]
    if first[:3] != "MSH":
        raise HL7ParseError(
            f"a message starts with MSH, not {first[:20]!r}",
            Location(position=1),
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )
    syntax = _syntax_for(first, "MSH", None)
    msh = Segment("MSH", first, 1, 1, syntax)
    charset = msh.get(18)
    declared = codec_for_charset(charset) if charset else None
    if declared == "ascii":  # senders declare ASCII for "whatever we have": guess instead
        declared = None
    if declared is not None:
        syntax = _syntax_for(first, "MSH", declared)
        msh = Segment("MSH", first, 1, 1, syntax)
    for number in (9, 10, 11, 12) if required else ():
        if not msh.get(number):
            raise HL7ParseError(
                f"MSH-{number} ({_MSH_NAMES[number]}) is required",
                Location("MSH", 1, number, position=1),
                ErrorCode.REQUIRED_FIELD_MISSING,
            )

    segments = [msh]
    by_name: dict[str, list[Segment]] = {"MSH": [msh]}
    fs = syntax.field
    valid = _VALID_NAMES
    for position in range(2, len(lines) + 1):
        line = lines[position - 1]
        name = line[:3]
        if name not in valid:
            _check_name(name, position)
        if len(line) > 3 and line[3] != fs:
            raise HL7ParseError(
                f"the segment name is followed by {line[3]!r}, not the field separator {fs!r}",
                Location(name, len(by_name.get(name, ())) + 1, position=position),
                ErrorCode.SEGMENT_SEQUENCE_ERROR,
            )
        if name in _HEADER_SEGMENTS or name in _BATCH_SEGMENTS:
            raise HL7ParseError(
                f"{name} inside a message: more than one message, or a batch; "
                "read it with iter_messages",
                Location(name, len(by_name.get(name, ())) + 1, position=position),
                ErrorCode.SEGMENT_SEQUENCE_ERROR,
            )
        group = by_name.get(name)
        if group is None:
            group = by_name[name] = []
        segment = Segment(name, line, len(group) + 1, position, syntax)
        group.append(segment)
        segments.append(segment)
    return Message(tuple(segments), by_name, syntax, codec or declared or "utf-8")


_MSH_NAMES = {9: "message type", 10: "message control id", 11: "processing id", 12: "version id"}


def _check_name(name: str, position: int) -> None:
    if _SEGMENT_NAME.fullmatch(name) is None:
        raise HL7ParseError(
            f"{name!r} is not a segment name (three upper-case letters or digits)",
            Location(position=position),
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )
    if len(_VALID_NAMES) < 4096:
        _VALID_NAMES.add(name)


def _to_text(
    data: str | bytes | bytearray | memoryview, encoding: str | None
) -> tuple[str, str | None]:
    """The input as text without framing, and the codec that decoded it (None for text)."""
    if isinstance(data, str):
        return data.lstrip(_LEADING_TEXT), None
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"an HL7 message is str or bytes, not {type(data).__name__}")
    raw = bytes(data).lstrip(_LEADING_BYTES)
    if raw.startswith(_UTF8_BOM):
        raw = raw[3:]
    codec = encoding or _sniff_charset(raw)
    if codec is not None and codec != "ascii":
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError as exc:
            raise HL7ParseError(
                f"byte {exc.start} is not valid {codec}, the character set the message declares",
                Location("MSH", 1, 18, position=1) if encoding is None else None,
                ErrorCode.DATA_TYPE_ERROR,
            ) from None
    else:
        # Undeclared, or declared ASCII (which senders use for "whatever we have").
        try:
            text, codec = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, codec = raw.decode("latin-1"), "latin-1"
    return text.lstrip(_LEADING_TEXT), codec


def _sniff_charset(raw: bytes) -> str | None:
    """MSH-18 of the first MSH in raw bytes, as a Python codec, read before decoding."""
    start = raw.find(b"MSH")
    if start < 0 or len(raw) < start + 8:
        return None
    fs = raw[start + 3 : start + 4]
    end = len(raw)
    for terminator in (b"\r", b"\n"):
        found = raw.find(terminator, start)
        if 0 <= found < end:
            end = found
    parts = raw[start:end].split(fs)
    if len(parts) < 18 or not parts[17]:
        return None
    value = parts[17]
    if len(parts[1]) >= 2:
        value = value.split(parts[1][1:2])[0]  # first repetition: the default charset
    return codec_for_charset(value.decode("ascii", "replace"))


def _split_segments(text: str) -> list[str]:
    """Segment lines: CR, LF or CRLF ends a segment; blank lines go, and so does framing
    stuck to the end of the last line."""
    if "\n" in text:
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    lines = [line for line in text.split("\r") if line and not line.isspace()]
    if lines and lines[-1][-1] in _TRAILING:
        lines[-1] = lines[-1].rstrip(_TRAILING)
    return lines


# -- batches -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Batch:
    """A BHS … BTS group (header and trailer None when the sender sent bare messages)."""

    header: Segment | None
    messages: tuple[Message, ...]
    trailer: Segment | None


@dataclass(frozen=True, slots=True)
class BatchFile:
    """An FHS … FTS file of batches; one message alone reads as a file of one batch."""

    header: Segment | None
    batches: tuple[Batch, ...]
    trailer: Segment | None

    @property
    def messages(self) -> tuple[Message, ...]:
        return tuple(m for b in self.batches for m in b.messages)


class _OpenBatch:
    __slots__ = ("closed", "header", "messages", "trailer")

    def __init__(self, header: Segment | None) -> None:
        self.header = header
        self.messages: list[list[str]] = []
        self.trailer: Segment | None = None
        self.closed = False


def parse_batch(
    data: str | bytes | bytearray | memoryview, encoding: str | None = None
) -> BatchFile:
    """Parse a batch file: ``[FHS] { [BHS] { MSH … } [BTS] } [FTS]``, or one bare message.

    Every message is parsed (lazily, as ``parse_message`` does) and the
    counts are checked: BTS-1 against the messages of its batch, FTS-1
    against the batches of the file. All or nothing: a bad message makes the
    whole input an ``HL7ParseError`` naming the message and its location.
    """
    text, codec = _to_text(data, encoding)
    lines = _split_segments(text)
    if not lines:
        raise HL7ParseError(
            "no segments: the input is empty", None, ErrorCode.SEGMENT_SEQUENCE_ERROR
        )

    syntax = _Syntax(Delimiters(), None)
    file_header: Segment | None = None
    file_trailer: Segment | None = None
    batches: list[_OpenBatch] = []
    current: _OpenBatch | None = None
    message: list[str] | None = None
    seen: dict[str, int] = {}

    def control(name: str, line: str, position: int) -> Segment:
        nonlocal syntax
        if name in _HEADER_SEGMENTS:
            syntax = _syntax_for(line, name, None)
        elif len(line) > 3 and line[3] != syntax.field:
            raise HL7ParseError(
                f"the segment name is followed by {line[3]!r}, not the field separator",
                Location(name, seen.get(name, 0) + 1, position=position),
                ErrorCode.SEGMENT_SEQUENCE_ERROR,
            )
        seen[name] = seen.get(name, 0) + 1
        return Segment(name, line, seen[name], position, syntax)

    def fail(reason: str, name: str, position: int) -> HL7ParseError:
        return HL7ParseError(
            reason,
            Location(name, seen.get(name, 0) + 1, position=position),
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )

    for position, line in enumerate(lines, 1):
        name = line[:3]
        if file_trailer is not None:
            raise fail("nothing may follow FTS", name, position)
        if name == "MSH":
            if current is None or current.closed:
                current = _OpenBatch(None)
                batches.append(current)
            message = [line]
            current.messages.append(message)
            if current.header is None and file_header is None:
                # BTS/FTS use the delimiters of the messages when no BHS/FHS declares them;
                # a bad MSH is reported with the message's own location below.
                with contextlib.suppress(HL7ParseError):
                    syntax = _syntax_for(line, "MSH", None)
        elif name == "FHS":
            if position != 1:
                raise fail("FHS must be the first segment, and only one per file", name, position)
            file_header = control(name, line, position)
        elif name == "BHS":
            if current is not None and not current.closed and current.header is not None:
                raise fail("a batch cannot have more than one BHS (BTS missing?)", name, position)
            current = _OpenBatch(control(name, line, position))
            batches.append(current)
            message = None
        elif name == "BTS":
            if current is None:
                current = _OpenBatch(None)
                batches.append(current)
            elif current.closed:
                raise fail("BTS without a batch to close", name, position)
            current.trailer = control(name, line, position)
            current.closed = True
            message = None
        elif name == "FTS":
            file_trailer = control(name, line, position)
            message = None
        else:
            if message is None:
                if name not in _VALID_NAMES:
                    _check_name(name, position)
                raise fail(f"{name} before any message header (MSH)", name, position)
            message.append(line)

    if not batches and file_header is None:
        raise HL7ParseError("no message header (MSH)", None, ErrorCode.SEGMENT_SEQUENCE_ERROR)

    built: list[Batch] = []
    index = 0
    for open_batch in batches:
        messages: list[Message] = []
        for lines_of_message in open_batch.messages:
            index += 1
            try:
                messages.append(_build_message(lines_of_message, codec))
            except HL7ParseError as exc:
                raise HL7ParseError(
                    f"message {index}: {exc.reason}", exc.location, exc.code
                ) from None
        _check_count(open_batch.trailer, len(messages), "messages in the batch")
        built.append(Batch(open_batch.header, tuple(messages), open_batch.trailer))
    _check_count(file_trailer, len(built), "batches in the file")
    return BatchFile(file_header, tuple(built), file_trailer)


def _check_count(trailer: Segment | None, actual: int, what: str) -> None:
    """BTS-1 / FTS-1, when sent, must count what the batch or file holds."""
    if trailer is None:
        return
    declared = trailer.get(1)
    if not declared:
        return
    location = Location(trailer.name, trailer.occurrence, 1, position=trailer.position)
    if not (declared.isascii() and declared.isdigit()):
        raise HL7ParseError(
            f"the count {declared!r} is not a number", location, ErrorCode.DATA_TYPE_ERROR
        )
    if int(declared) != actual:
        raise HL7ParseError(
            f"declares {int(declared)} {what}, but there are {actual}",
            location,
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        )


def iter_messages(
    data: str | bytes | bytearray | memoryview, encoding: str | None = None
) -> Iterator[Message]:
    """The messages of a single message, a batch or a batch file, in order.

    The whole input is checked before the first message is returned (see
    ``parse_batch``), so a consumer never acts on half a bad batch.
    """
    return iter(parse_batch(data, encoding).messages)


def parse_location(path: str) -> Location:
    """The :class:`Location` that a path like ``OBX[3]-5.1`` (as errors print it) names."""
    name, occurrence, field, repetition, component, subcomponent = _parse_path(path)
    has_component = "." in path.split("-", 1)[-1]
    return Location(
        name,
        occurrence,
        field,
        repetition,
        component if has_component else 0,
        subcomponent if path.count(".") >= 2 else 0,
    )
