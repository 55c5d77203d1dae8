"""What every segment converter needs: the message, its sender, warnings, errors.

One ``Context`` lives for one ``convert`` call. It knows the namespace that
stands in for a missing assigning authority (MSH-4, else the feed's
``source``), the time zone for timestamps sent without one, and collects
warnings. Its readers (``value``, ``components`` …) decode each segment once
(the parser's own accessors re-split a field at every read, and a converter
reads a few hundred values per message), and read the HL7 null ``""``
("delete this value") as absent: a FHIR resource is replaced whole, so what
is not sent is gone anyway.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from functools import lru_cache
from typing import Any, NoReturn

from ...base import ConversionError
from ..encoding import codec_for_charset, unescape
from ..errors import ErrorCode
from ..parser import Message, Segment

__all__ = ["Context", "Resource", "clean", "fail", "where"]

# A field: its repetitions, each a list of components, each a str or (with subcomponents)
# a tuple of str.
_Parsed = tuple[list[str | tuple[str, ...]], ...]

Resource = dict[str, Any]
"""A FHIR resource (or element) as the JSON-ready dict it will be stored as."""


# Whitespace a FHIR string may not hold (its pattern allows space, CR, LF and tab only):
# what \s matches beyond those, for Python's and JavaScript's regular expressions alike.
_ODD_SPACE = "".join(
    [
        "\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff",
        *(chr(c) for c in range(0x2000, 0x200B)),
    ]
)
_SPACES = str.maketrans(dict.fromkeys(_ODD_SPACE, " "))
_ASCII_ODD = re.compile("[\x0b\x0c\x1c-\x1f]")


def clean(text: str) -> str:
    """Text a FHIR string can hold: odd whitespace (vertical tab, no-break space …) as
    spaces, leading and trailing whitespace gone."""
    if not (text.isascii() and text.isprintable()) and (
        not text.isascii() or _ASCII_ODD.search(text) is not None
    ):
        text = text.translate(_SPACES)
    return text.strip()


@lru_cache(maxsize=64)
def _special(characters: str) -> re.Pattern[str]:
    """A pattern finding any of a message's component, repetition, subcomponent and
    escape characters."""
    return re.compile("[" + re.escape(characters) + "]")


def where(segment: Segment, field: int = 0, component: int = 0, rep: int = 0) -> str:
    """A location as ``Location`` and ERR-2 write it: ``OBX[3]-5``, ``PID[1]-3[2].4``."""
    text = f"{segment.name}[{segment.occurrence}]"
    if field:
        text += f"-{field}"
        if rep > 1:
            text += f"[{rep}]"
        if component:
            text += f".{component}"
    return text


def fail(message: str, location: str, fhir_path: str, code: ErrorCode) -> NoReturn:
    """Raise the ``ConversionError`` for data a resource cannot be made without."""
    raise ConversionError(message, location=location, fhir_path=fhir_path, code=str(int(code)))


class Context:
    """The state of one conversion: message, namespaces, time zones, warnings."""

    __slots__ = (
        "delimiters",
        "fields",
        "hex_codec",
        "last",
        "last_fields",
        "message",
        "msh_offset",
        "seen",
        "sender",
        "sender_key",
        "source",
        "special",
        "times",
        "timezone",
        "warnings",
    )

    def __init__(self, message: Message, source: str, timezone: tzinfo | None) -> None:
        self.message = message
        self.source = source
        self.timezone = timezone
        self.warnings: list[str] = []
        self.seen: dict[str, int] = {}  # ids given so far, see ids.unique_id
        self.times: dict[str, str] = {}  # DTM → FHIR dateTime, once converted with a zone
        self.msh_offset: int | None = None  # minutes east of UTC, from MSH-7
        self.delimiters = message.delimiters
        self.fields: dict[int, list[_Parsed]] = {}  # id(segment) → its fields, as read
        self.last: Segment | None = None  # the segment read last, and its fields
        self.last_fields: list[_Parsed] = []
        d = self.delimiters
        self.special = _special(d.component + d.repetition + d.subcomponent + d.escape)
        self.hex_codec: str | None = None
        msh = message.header
        # \X..\ escapes decode with MSH-18's charset, as the parser does (ASCII: guess).
        charset = self.value(msh, 18)
        if charset:
            codec = codec_for_charset(charset)
            self.hex_codec = None if codec == "ascii" else codec
            self.fields.clear()  # read MSH again with the declared charset
            self.last = None
        facility = (self.value(msh, 4, 2), self.value(msh, 4, 3), self.value(msh, 4, 1))
        # The namespace of identifiers sent without an assigning authority: MSH-4, else
        # the feed itself. ``sender`` is an HD (universal id, its type, namespace id).
        self.sender = facility if (facility[0] or facility[2]) else ("", "", source)
        self.sender_key = self.sender[0] or self.sender[2]

    # -- reading: each segment split and decoded once, leaves cleaned (see ``clean``) ----

    def _segment(self, segment: Segment) -> list[_Parsed]:
        """All fields of a segment, split and decoded in one pass (a converter reads
        most of the fields of the segments it reads)."""
        d = self.delimiters
        er7 = segment.er7
        raw_fields = er7.split(d.field)
        if segment.name == "MSH":  # MSH-1 is the separator itself, MSH-2 the encoding
            raw_fields[1:2] = ["", ""]
        rs, cs, ss = d.repetition, d.component, d.subcomponent
        special = self.special.search
        # Most segments have no escapes, no odd characters and no HL7 nulls: a leaf is
        # then just stripped.
        plain = d.escape not in er7 and '""' not in er7 and er7.isascii() and er7.isprintable()
        leaf = str.strip if plain else self._leaf
        parsed: list[_Parsed] = [()]
        for raw in raw_fields[1:]:
            if not raw or raw == '""':
                parsed.append(())
            elif special(raw) is None:
                parsed.append(([leaf(raw)],))
            else:
                repetitions = []
                for rep in raw.split(rs) if rs in raw else (raw,):
                    if ss in rep:
                        repetitions.append(
                            [
                                tuple(map(leaf, c.split(ss))) if ss in c else leaf(c)
                                for c in rep.split(cs)
                            ]
                        )
                    else:
                        repetitions.append(
                            list(map(leaf, rep.split(cs))) if cs in rep else [leaf(rep)]
                        )
                parsed.append(tuple(repetitions))
        self.fields[id(segment)] = parsed
        return parsed

    def _leaf(self, leaf: str) -> str:
        if not leaf:
            return ""
        if self.delimiters.escape in leaf:
            leaf = unescape(leaf, self.delimiters, self.hex_codec)
        leaf = clean(leaf)
        return "" if leaf == '""' else leaf

    def filled(self, segment: Segment, size: int) -> list[bool]:
        """Which fields (by number, up to ``size``) have a value: lets a converter skip
        the many optional fields most senders leave empty."""
        fields = self.fields.get(id(segment)) or self._segment(segment)
        found = [bool(f) for f in fields[:size]]
        return found + [False] * (size - len(found))

    def parts(self, segment: Segment, field: int) -> _Parsed:
        """A field split and decoded: its repetitions, each a list of components, each a
        string or, when it has subcomponents, a tuple of them."""
        fields = self.fields.get(id(segment)) or self._segment(segment)
        return fields[field] if field < len(fields) else ()

    def value(
        self, segment: Segment, field: int, component: int = 1, sub: int = 1, rep: int = 1
    ) -> str:
        """One decoded leaf, cleaned; "" when absent or the HL7 null."""
        if segment is self.last:  # converters read a segment field after field
            fields = self.last_fields
        else:
            fields = self.fields.get(id(segment)) or self._segment(segment)
            self.last, self.last_fields = segment, fields
        if field >= len(fields):
            return ""
        reps = fields[field]
        if rep > len(reps):
            return ""
        comps = reps[rep - 1]
        if component > len(comps):
            return ""
        found = comps[component - 1]
        if found.__class__ is str:
            return found if sub == 1 else ""
        return found[sub - 1] if sub <= len(found) else ""

    def components(self, segment: Segment, field: int, rep: int = 1) -> list[str]:
        """The components of one repetition (first subcomponent each); index 0 is
        component 1. [] when the repetition is empty."""
        if segment is self.last:
            fields = self.last_fields
        else:
            fields = self.fields.get(id(segment)) or self._segment(segment)
            self.last, self.last_fields = segment, fields
        if field >= len(fields) or rep > len(fields[field]):
            return []
        parts = [c if c.__class__ is str else c[0] for c in fields[field][rep - 1]]
        return parts if any(parts) else []

    def padded(self, segment: Segment, field: int, size: int, rep: int = 1) -> list[str]:
        """``components`` padded with "" to at least ``size`` entries: index without checks."""
        parts = self.components(segment, field, rep)
        return parts + [""] * (size - len(parts)) if len(parts) < size else parts

    def repetitions(self, segment: Segment, field: int) -> int:
        """How many repetitions a field has (0 when empty)."""
        return len(self.parts(segment, field))

    def warn(self, location: str, text: str) -> None:
        """Record something dropped or guessed, once per location and text."""
        line = f"{location}: {text}" if location else text
        if line not in self.warnings:
            self.warnings.append(line)
