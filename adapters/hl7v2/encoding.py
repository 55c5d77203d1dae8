"""ER7 encoding characters, escape sequences and character sets.

Each message names its own delimiters in MSH-1 and MSH-2 (and batches in
FHS/BHS-1 and -2), so nothing here assumes ``|^~\\&``. Escape sequences are
decoded only on access, after splitting, so an escaped delimiter can never
split a value.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from .errors import ErrorCode, HL7ParseError, Location

__all__ = ["Delimiters", "codec_for_charset", "escape", "unescape"]

_HEX = re.compile(r"[0-9A-Fa-f]+")


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The encoding characters of one message (HL7 v2 chapter 2.5.4).

    ``truncation`` is the v2.7+ fifth character of MSH-2, or ``None``. A
    value that ends with it was cut short by the sender; it is kept in the
    value so a converter can tell.
    """

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str | None = None

    @property
    def encoding_characters(self) -> str:
        """The MSH-2 value: component, repetition, escape, subcomponent[, truncation]."""
        return (self.component + self.repetition + self.escape + self.subcomponent) + (
            self.truncation or ""
        )

    @classmethod
    def from_header(cls, field: str, encoding_characters: str, segment: str = "MSH") -> Delimiters:
        """Read and check MSH-1 and MSH-2 (or FHS/BHS-1 and -2).

        Four characters, or five from v2.7 on (the fifth is accepted whatever
        MSH-12 says: it is unambiguous, and rejecting it helps nobody). All
        distinct, none a letter, digit, whitespace or the field separator.
        """
        if len(field) != 1 or not _usable(field):
            raise HL7ParseError(
                f"field separator {field!r} is not a usable delimiter",
                Location(segment, 1, 1),
                ErrorCode.DATA_TYPE_ERROR,
            )
        chars = encoding_characters
        if len(chars) not in (4, 5):
            raise HL7ParseError(
                f"encoding characters {chars!r} must be 4 characters (5 from v2.7)",
                Location(segment, 1, 2),
                ErrorCode.DATA_TYPE_ERROR,
            )
        if len(set(chars + field)) != len(chars) + 1 or not all(_usable(c) for c in chars):
            raise HL7ParseError(
                f"encoding characters {chars!r} must be distinct, differ from the field "
                f"separator {field!r}, and be neither letters, digits nor whitespace",
                Location(segment, 1, 2),
                ErrorCode.DATA_TYPE_ERROR,
            )
        return cls(
            field, chars[0], chars[1], chars[2], chars[3], chars[4] if len(chars) == 5 else None
        )


def _usable(char: str) -> bool:
    return char.isprintable() and not char.isalnum() and not char.isspace()


# -- escape sequences (chapter 2.7) --------------------------------------------


def unescape(value: str, delimiters: Delimiters, hex_codec: str | None = None) -> str:
    """Decode the escape sequences of one leaf value.

    ``\\F\\ \\S\\ \\T\\ \\R\\ \\E\\`` (and ``\\P\\`` for the v2.7 truncation
    character) give the delimiters back, ``\\Xhh..\\`` the bytes it spells
    decoded with ``hex_codec`` (the message's character set; when unknown,
    UTF-8 and then Latin-1), ``\\.br\\`` a newline. Any other sequence
    (highlighting ``\\H\\ \\N\\``, ``\\.sp\\``, ``\\Cxxyy\\``, local ``\\Z..\\``)
    and an escape character without its closing partner are kept verbatim:
    a converter can still see them, and nothing is silently lost.
    """
    esc = delimiters.escape
    start = value.find(esc)
    if start < 0:
        return value
    out: list[str] = []
    pos = 0
    while start >= 0:
        end = value.find(esc, start + 1)
        if end < 0:
            break
        out.append(value[pos:start])
        decoded = _decode_sequence(value[start + 1 : end], delimiters, hex_codec)
        out.append(value[start : end + 1] if decoded is None else decoded)
        pos = end + 1
        start = value.find(esc, pos)
    out.append(value[pos:])
    return "".join(out)


def _decode_sequence(seq: str, d: Delimiters, hex_codec: str | None) -> str | None:
    if len(seq) == 1:
        if seq == "F":
            return d.field
        if seq == "S":
            return d.component
        if seq == "T":
            return d.subcomponent
        if seq == "R":
            return d.repetition
        if seq == "E":
            return d.escape
        if seq == "P" and d.truncation is not None:
            return d.truncation
        return None
    if seq == ".br":
        return "\n"
    if seq[:1] == "X" and len(seq) % 2 == 1 and _HEX.fullmatch(seq, 1):
        data = bytes.fromhex(seq[1:])
        if hex_codec is not None:
            try:
                return data.decode(hex_codec)
            except (UnicodeDecodeError, LookupError):
                return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    return None


def escape(text: str, delimiters: Delimiters) -> str:
    """Encode ``text`` for one leaf value: delimiters as ``\\F\\``-style
    sequences, control characters (CR and LF included) as ``\\Xhh\\``.

    Control characters are escaped because a raw CR ends a segment and a raw
    0x1C ends an MLLP frame.
    """
    table = _ESCAPE_TABLES.get(delimiters)
    if table is None:
        table = _escape_table(delimiters)
        if len(_ESCAPE_TABLES) < 64:
            _ESCAPE_TABLES[delimiters] = table
    return text.translate(table)


_ESCAPE_TABLES: dict[Delimiters, dict[int, str]] = {}


def _escape_table(d: Delimiters) -> dict[int, str]:
    e = d.escape
    table = {c: f"{e}X{c:02X}{e}" for c in range(32) if c != 9}
    table[0x7F] = f"{e}X7F{e}"
    table[ord(d.escape)] = f"{e}E{e}"
    table[ord(d.field)] = f"{e}F{e}"
    table[ord(d.component)] = f"{e}S{e}"
    table[ord(d.subcomponent)] = f"{e}T{e}"
    table[ord(d.repetition)] = f"{e}R{e}"
    if d.truncation is not None:
        table[ord(d.truncation)] = f"{e}P{e}"
    return table


# -- character sets (MSH-18, HL7 table 0211) -----------------------------------

_CHARSETS = {
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "ISO IR192": "utf-8",
    "ISO IR100": "iso8859-1",
    "ISO IR101": "iso8859-2",
    "ISO IR109": "iso8859-3",
    "ISO IR110": "iso8859-4",
    "ISO IR144": "iso8859-5",
    "ISO IR127": "iso8859-6",
    "ISO IR126": "iso8859-7",
    "ISO IR138": "iso8859-8",
    "ISO IR148": "iso8859-9",
    "GB 18030-2000": "gb18030",
    "BIG-5": "big5",
    "KS X 1001": "euc_kr",
}


def codec_for_charset(charset: str) -> str | None:
    """The Python codec for an MSH-18 value (``8859/1``, ``UNICODE UTF-8``, …).

    ``None`` for an empty or unknown value: the caller then guesses.
    """
    name = charset.strip().upper()
    if not name:
        return None
    known = _CHARSETS.get(name)
    if known is not None:
        return known
    if name.startswith("8859/") and name[5:].isdigit() and name[5:].isascii():
        candidate = "iso8859-" + name[5:]
        try:
            codecs.lookup(candidate)
        except LookupError:
            return None
        return candidate
    return None
