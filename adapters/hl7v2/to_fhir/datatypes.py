"""HL7 v2 data types to FHIR data types: NM, CWE, CX/EI, XPN, XAD, XTN, XCN, FT.

Each function reads one value (usually one field repetition) and returns the
FHIR element as a dict, or ``None`` when there is nothing to say. They never
raise on message content: an unreadable optional value is dropped (with a
warning where a feed owner would want to know), and the caller decides
whether a value is required. Timestamps are in ``timestamps``.
"""

from __future__ import annotations

import re
from math import isinf

from ..encoding import unescape
from ..parser import Segment
from .context import Context, Resource, clean
from .ids import HD, identifier_system
from .terminology import (
    ADDRESS_TYPE,
    ADDRESS_USE,
    CONTACT_SYSTEM,
    CONTACT_USE,
    IDENTIFIER_TYPES,
    NAME_USE,
    UCUM,
    UCUM_UNITS,
    V2_TABLE,
    system_uri,
)
from .timestamps import date_time

__all__ = [
    "Decimal",
    "address",
    "addresses",
    "code",
    "codeable_concept",
    "codeable_concepts",
    "coding",
    "concept_from",
    "contact_points",
    "ei_identifier",
    "formatted_text",
    "human_names",
    "identifier",
    "identifiers",
    "number",
    "practitioner",
    "quantity",
]


# -- numbers ------------------------------------------------------------------------


class Decimal(float):
    """A FHIR decimal that remembers the digits it was sent with ("1.30" stays "1.30").

    The same shape as ``records.fhirjson.Decimal``: a float for validators and
    arithmetic, ``text`` for writing the JSON back exactly.
    """

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> Decimal:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __repr__(self) -> str:
        return self.text


_INT64 = 2**63 - 1


def number(text: str) -> int | Decimal | None:
    """An HL7 NM (``[+|-]digits[.digits]``) as a FHIR decimal; None if it is not one.

    Leading zeros and a "+" go (FHIR forbids them), trailing zeros stay (they
    are precision). Integers come back as ``int``, except beyond 64 bits.
    """
    text = text.strip()
    if not text.isascii():
        return None
    sign = "-" if text[:1] == "-" else ""
    whole, _, fraction = (text[1:] if text[:1] in ("-", "+") else text).partition(".")
    if (whole and not whole.isdigit()) or (fraction and not fraction.isdigit()):
        return None
    if not whole and not fraction:
        return None
    whole = whole.lstrip("0") or "0"
    if not fraction:
        integer = int(sign + whole)
        if -_INT64 <= integer <= _INT64:
            return integer
    written = f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"
    result = float.__new__(Decimal, written)  # Decimal(written), without its Python __new__
    result.text = written
    return None if isinf(result) else result


# -- codes --------------------------------------------------------------------------


def code(text: str) -> str:
    """A FHIR ``code``: no leading, trailing or repeated whitespace."""
    return " ".join(text.split())


def coding(system: str, code_value: str, display: str = "", version: str = "") -> Resource:
    """A Coding with only the parts that have a value, in FHIR's element order."""
    result: Resource = {}
    if system:
        result["system"] = system
    if version:
        result["version"] = version
    result["code"] = code(code_value)
    if display:
        result["display"] = display
    return result


def codeable_concept(
    ctx: Context, segment: Segment, field: int, rep: int = 1, default_system: str = ""
) -> Resource | None:
    """A CWE/CE/CNE repetition as a CodeableConcept: identifier, alternate and second
    alternate codings, original text (CWE.9).

    ``default_system`` names the HL7 table a code without CWE.3 comes from, for
    the fields bound to an HL7-defined table.
    """
    parts = ctx.components(segment, field, rep)
    return concept_from(ctx, parts, default_system)


# CWE component indexes (from 0) of each coding: code, display, system, version, OID.
_CODINGS = ((0, 1, 2, 6, 13), (3, 4, 5, 7, 16), (9, 10, 11, 12, 19))


def concept_from(ctx: Context, parts: list[str], default_system: str = "") -> Resource | None:
    """The CodeableConcept of CWE components already read (index 0 is CWE.1)."""
    if not parts:
        return None
    p = parts + [""] * (20 - len(parts)) if len(parts) < 20 else parts
    codings = []
    for c, d, s, v, oid in _CODINGS if len(parts) > 3 else _CODINGS[:1]:
        if not p[c] or not code(p[c]):
            continue
        name = p[s]
        system = system_uri(name, p[oid], ctx.sender_key) if name or p[oid] else ""
        if not system and c == 0:
            system = default_system
        codings.append(coding(system, p[c], p[d], p[v]))
    result: Resource = {}
    if codings:
        result["coding"] = codings
    text = p[8] or ("" if codings else p[1] or p[4])
    if text:
        result["text"] = text
    return result or None


def codeable_concepts(
    ctx: Context, segment: Segment, field: int, default_system: str = ""
) -> list[Resource]:
    """Every repetition of a CWE field as a CodeableConcept."""
    result = []
    for rep in range(1, ctx.repetitions(segment, field) + 1):
        concept = codeable_concept(ctx, segment, field, rep, default_system)
        if concept is not None:
            result.append(concept)
    return result


# -- identifiers --------------------------------------------------------------------


def _identifier_type(type_code: str) -> Resource | None:
    type_code = code(type_code)
    if not type_code:
        return None
    if type_code in IDENTIFIER_TYPES:
        return {"coding": [coding(V2_TABLE + "0203", type_code)]}
    return {"text": type_code}


def identifier(ctx: Context, segment: Segment, field: int, rep: int = 1) -> Resource | None:
    """A CX repetition as an Identifier: value, type (CX.5), system from the assigning
    authority (CX.4, see ``ids.identifier_system``), period (CX.7/CX.8)."""
    parts = ctx.components(segment, field, rep)
    if not parts or not parts[0]:
        return None
    type_code = parts[4] if len(parts) > 4 else ""
    authority: HD = (
        ctx.value(segment, field, 4, 2, rep),
        ctx.value(segment, field, 4, 3, rep),
        parts[3] if len(parts) > 3 else "",
    )
    result: Resource = {}
    kind = _identifier_type(type_code)
    if kind is not None:
        result["type"] = kind
    result["system"] = identifier_system(authority, code(type_code), ctx)
    result["value"] = parts[0]
    location = f"{segment.name}[{segment.occurrence}]-{field}"
    start = date_time(ctx, parts[6], location + ".7") if len(parts) > 6 else None
    end = date_time(ctx, parts[7], location + ".8") if len(parts) > 7 else None
    if start or end:
        result["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    return result


def identifiers(ctx: Context, segment: Segment, field: int) -> list[Resource]:
    """Every repetition of a CX field as an Identifier."""
    result = []
    for rep in range(1, ctx.repetitions(segment, field) + 1):
        found = identifier(ctx, segment, field, rep)
        if found is not None:
            result.append(found)
    return result


def ei_identifier(ctx: Context, entity: str, authority: HD, type_code: str) -> Resource | None:
    """An EI (entity id + namespace/universal id) as an Identifier of v2-0203 type
    ``type_code`` (PLAC, FILL …)."""
    if not entity:
        return None
    return {
        "type": {"coding": [coding(V2_TABLE + "0203", type_code)]},
        "system": identifier_system(authority, "", ctx),
        "value": entity,
    }


# -- people, places, numbers --------------------------------------------------------


_ALNUM = re.compile(r"[^\W_]")


def _words(parts: list[str], size: int) -> list[str]:
    """Components padded to ``size``; punctuation alone (a city of ",") counts as empty."""
    words = [p if p[:1].isalnum() or _ALNUM.search(p) else "" for p in parts]
    return words + [""] * size


def human_names(ctx: Context, segment: Segment, field: int) -> list[Resource]:
    """Every repetition of an XPN field as a HumanName (XPN.7 name type → use)."""
    result = []
    for rep in range(1, ctx.repetitions(segment, field) + 1):
        p = _words(ctx.components(segment, field, rep), 14)
        name: Resource = {}
        use = NAME_USE.get(p[6].upper())
        if use:
            name["use"] = use
        if p[0]:
            name["family"] = p[0]
        given = [g for g in (p[1], p[2]) if g]
        if given:
            name["given"] = given
        if p[4]:
            name["prefix"] = [p[4]]
        suffix = [s for s in (p[3], p[5], p[13]) if s]
        if suffix:
            name["suffix"] = suffix
        if "family" in name or "given" in name:
            location = f"{segment.name}[{segment.occurrence}]-{field}"
            start = date_time(ctx, p[11], location + ".12")
            end = date_time(ctx, p[12], location + ".13")
            if start or end:
                name["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
            result.append(name)
    return result


def address(ctx: Context, segment: Segment, field: int, rep: int = 1) -> Resource | None:
    """An XAD repetition as an Address (XAD.7 type → use/type, XAD.9 county → district)."""
    p = _words(ctx.components(segment, field, rep), 9)
    result: Resource = {}
    kind = p[6].upper()
    if kind in ADDRESS_USE:
        result["use"] = ADDRESS_USE[kind]
    if kind in ADDRESS_TYPE:
        result["type"] = ADDRESS_TYPE[kind]
    lines = [line for line in (p[0], p[1]) if line]
    if lines:
        result["line"] = lines
    for key, text in (
        ("city", p[2]),
        ("district", p[8]),
        ("state", p[3]),
        ("postalCode", p[4]),
        ("country", p[5]),
    ):
        if text:
            result[key] = text
    if len(result) == ("use" in result) + ("type" in result):
        return None
    return result


def addresses(ctx: Context, segment: Segment, field: int) -> list[Resource]:
    """Every repetition of an XAD field as an Address."""
    result = []
    for rep in range(1, ctx.repetitions(segment, field) + 1):
        found = address(ctx, segment, field, rep)
        if found is not None:
            result.append(found)
    return result


def contact_points(
    ctx: Context, segment: Segment, field: int, default_use: str = ""
) -> list[Resource]:
    """Every repetition of an XTN field as a ContactPoint.

    The number is XTN.12 (unformatted), else country/area/local/extension
    (XTN.5-8), else the pre-v2.5 XTN.1; an e-mail address is XTN.4. XTN.2
    gives the use, ``default_use`` when it is empty (PID-13 home, PID-14 work).
    """
    result = []
    for rep in range(1, ctx.repetitions(segment, field) + 1):
        p = ctx.padded(segment, field, 12, rep)
        equipment = p[2].upper()
        system = CONTACT_SYSTEM.get(equipment, "")
        if p[3] and (system == "email" or not (p[0] or p[6] or p[11])):
            system, number_text = "email", p[3]
        elif p[11]:
            number_text = p[11]
        elif p[6]:
            number_text = " ".join(x for x in (p[4] and "+" + p[4], p[5], p[6]) if x)
            if p[7]:
                number_text += f" ext. {p[7]}"
        else:
            number_text = p[0]
        if not number_text:
            continue
        point: Resource = {"system": system or "phone", "value": number_text}
        # A cell phone is "mobile" whatever XTN.2 says (the guide maps CP to that use).
        use = "mobile" if equipment == "CP" else CONTACT_USE.get(p[1].upper(), "")
        if not use and not p[1]:
            use = default_use
        if use:
            point["use"] = use
        result.append(point)
    return result


def practitioner(ctx: Context, segment: Segment, field: int, rep: int = 1) -> Resource | None:
    """An XCN repetition as a logical Reference to a Practitioner: identifier (XCN.1
    in the namespace of XCN.9) and display name. No Practitioner resource is
    made: a v2 message says too little about one to own it."""
    p = ctx.padded(segment, field, 13, rep)
    display = " ".join(x for x in (p[5], p[2], p[3], p[1], p[4]) if x)
    if not (p[0] or display):
        return None
    result: Resource = {"type": "Practitioner"}
    if p[0]:
        authority: HD = (
            ctx.value(segment, field, 9, 2, rep),
            ctx.value(segment, field, 9, 3, rep),
            p[8],
        )
        result["identifier"] = {
            "system": identifier_system(authority, code(p[12]), ctx),
            "value": p[0],
        }
    if display:
        result["display"] = display
    return result


def quantity(ctx: Context, amount: int | Decimal, units: list[str]) -> Resource:
    """A Quantity of ``amount`` in the units of a CWE (OBX-6, RXA-7 …).

    The unit's code system when CWE.3 names one (UCUM, an HL7 table …); with no
    system (or ISO+/ANSI, which have no FHIR URI), UCUM when the unit is a
    common UCUM unit written in any case (``mg/dl`` is ``mg/dL``); otherwise
    the unit text alone, since a code without its system is not allowed.
    """
    result: Resource = {"value": amount}
    unit_code = code(units[0]) if units else ""
    text = (units[1] if len(units) > 1 else "") or unit_code
    name = units[2].upper() if len(units) > 2 else ""
    if text:
        result["unit"] = text
    if not unit_code:
        return result
    system = system_uri(name, "", ctx.sender_key) if name not in ("", "ISO+", "ANSI") else ""
    if system:
        result["system"], result["code"] = system, unit_code
    else:
        known = UCUM_UNITS.get(unit_code.casefold())
        if known is not None:
            result["system"], result["code"] = UCUM, known
    return result


# -- text ---------------------------------------------------------------------------

_FORMATTING = {"H": "", "N": "", ".fi": "", ".nf": "", ".ce": "\n"}
_COMMAND = re.compile(r"\.(sp|sk|in|ti)([+-]?\d*)", re.ASCII)


def formatted_text(ctx: Context, segment: Segment, field: int) -> str:
    """An FT (or TX/ST) field as plain text: repetitions are lines, ``\\.br\\`` and
    ``\\.sp\\`` newlines; highlighting and indentation commands go.

    The raw text is walked once, so a sender's literal ``\\E\\H\\E\\`` stays text
    instead of being taken for a formatting command.
    """
    delimiters = ctx.message.delimiters
    esc = delimiters.escape
    lines = []
    for repetition in segment.field(field):
        raw = repetition.er7
        if raw == '""':
            continue
        out: list[str] = []
        pos = 0
        start = raw.find(esc)
        while start >= 0:
            end = raw.find(esc, start + 1)
            if end < 0:
                break
            out.append(unescape(raw[pos:start], delimiters, ctx.hex_codec))
            seq = raw[start + 1 : end]
            replacement = _FORMATTING.get(seq)
            if replacement is None:
                command = _COMMAND.fullmatch(seq)
                if command is None:
                    replacement = unescape(raw[start : end + 1], delimiters, ctx.hex_codec)
                elif command.group(1) == "sp":
                    replacement = "\n" * max(1, int(command.group(2) or 1))
                elif command.group(1) == "sk":
                    replacement = " " * max(1, int(command.group(2) or 1))
                else:
                    replacement = ""
            out.append(replacement)
            pos = end + 1
            start = raw.find(esc, pos)
        out.append(unescape(raw[pos:], delimiters, ctx.hex_codec))
        lines.append("".join(out))
    while lines and not lines[-1].strip():
        lines.pop()
    return clean("\n".join(lines))
