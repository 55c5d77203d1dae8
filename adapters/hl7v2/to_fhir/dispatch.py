"""The entry point: which converter a message goes to (MSH-9), and what all share.

Message type and trigger come from MSH-9.1 and MSH-9.2, the trigger from
EVN-1 when a pre-v2.3 sender leaves MSH-9.2 empty. An unknown message type is
refused with table 0357 code 200 (at MSH-9), a known type with an unknown
trigger with 201 (at MSH-9.2). Z-segments are kept out, with a warning
naming them; so are values a v2.7+ sender truncated.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

from ...base import Conversion, ConversionError
from ..errors import ErrorCode, Location
from ..parser import Message
from .adt import convert_adt, convert_merge
from .context import Context, Resource
from .lab import convert_oru
from .orders import convert_rde, convert_rds, convert_vxu
from .timestamps import parse_dtm

__all__ = ["SUPPORTED", "convert"]

_Converter = Callable[[Context, str], list[Resource]]

_CONVERTERS: dict[str, dict[str, _Converter]] = {
    "ADT": {
        "A01": convert_adt,
        "A03": convert_adt,
        "A04": convert_adt,
        "A08": convert_adt,
        "A28": convert_adt,
        "A31": convert_adt,
        "A40": lambda ctx, _: convert_merge(ctx),
    },
    "ORU": {"R01": lambda ctx, _: convert_oru(ctx)},
    "VXU": {"V04": lambda ctx, _: convert_vxu(ctx)},
    "RDE": {"O11": lambda ctx, _: convert_rde(ctx)},
    "RDS": {"O13": lambda ctx, _: convert_rds(ctx)},
}

SUPPORTED: frozenset[str] = frozenset(
    f"{kind}^{trigger}" for kind, triggers in _CONVERTERS.items() for trigger in triggers
)
"""The message types ``convert`` accepts, as ``TYPE^TRIGGER``."""


def convert(message: Message, *, source: str, timezone: tzinfo | None = None) -> Conversion:
    """HL7 v2 message → FHIR R4 resources, referenced resources first (Patient first).

    ``source`` names the feed: it namespaces identifiers that neither their
    assigning authority nor MSH-4 does. ``timezone`` is the feed's zone, for
    timestamps sent without an offset (else MSH-7's offset is used; else such
    a time is kept as its date, with a warning).

    Raises ``ConversionError`` (with an HL7 table 0357 code, the v2 location
    and the FHIR path) when the message is not supported or lacks what a
    resource needs; everything else that cannot be converted is a warning.
    """
    msh = message.header
    ctx = Context(message, source, timezone)
    kind = ctx.value(msh, 9).upper()
    trigger = ctx.value(msh, 9, 2).upper()
    if not trigger:
        evn = message.segment("EVN")
        trigger = ctx.value(evn, 1).upper() if evn is not None else ""
    triggers = _CONVERTERS.get(kind)
    if triggers is None:
        raise ConversionError(
            f"message type {kind or '(none)'!r} is not supported (supported: "
            f"{', '.join(sorted(SUPPORTED))})",
            location=str(Location("MSH", 1, 9)),
            fhir_path="",
            code=str(int(ErrorCode.UNSUPPORTED_MESSAGE_TYPE)),
        )
    converter = triggers.get(trigger)
    if converter is None:
        raise ConversionError(
            f"{kind}^{trigger or '(no trigger)'} is not supported (supported {kind} events: "
            f"{', '.join(sorted(triggers))})",
            location=str(Location("MSH", 1, 9, component=2)),
            fhir_path="",
            code=str(int(ErrorCode.UNSUPPORTED_EVENT_CODE)),
        )
    sent = parse_dtm(ctx.value(msh, 7))
    if sent is not None:
        ctx.msh_offset = sent.offset
    resources = converter(ctx, trigger)
    _warn_truncated(ctx)
    local = [f"{s.name} (segment {s.position})" for s in message.z_segments]
    if local:
        ctx.warnings.insert(
            0, f"Z-segments are local extensions and were not converted: {', '.join(local)}"
        )
    return Conversion(resources=resources, warnings=ctx.warnings)


def _warn_truncated(ctx: Context) -> None:
    """v2.7+: a value ending in the truncation character (MSH-2.5) was cut short by
    the sender. It is converted as sent; the feed owner is told where."""
    mark = ctx.message.delimiters.truncation
    if not mark:
        return
    d = ctx.message.delimiters
    for segment in ctx.message.segments()[1:]:
        if mark not in segment.er7:
            continue
        for field in segment.fields:
            raw = field.er7
            if mark not in raw:
                continue
            for separator in (d.repetition, d.component, d.subcomponent):
                raw = raw.replace(separator, "\x00")
            if any(leaf.endswith(mark) for leaf in raw.split("\x00")):
                ctx.warn(
                    str(field.location),
                    f"a value ends with the truncation character "
                    f"{mark!r}: the sender cut it short; converted as sent",
                )
