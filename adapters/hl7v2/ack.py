"""Original-mode acknowledgements (ACK) for received HL7 v2 messages.

The gateway answers every message it has safely stored, and every message it
cannot read. These functions only build the text; sending it is the
gateway's job. The ACK speaks the received message's language: same
delimiters, same version (so a v2.3 sender gets ERR-1 and MSA-3, a v2.5+
sender ERR-2 … ERR-8), and the sending and receiving application and
facility swapped.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from .encoding import Delimiters, escape
from .errors import ErrorCode, HL7ParseError, Location
from .parser import Message, read_header

__all__ = [
    "UNKNOWN_CONTROL_ID",
    "AckCode",
    "AckError",
    "Severity",
    "build_ack",
    "build_nak",
]

#: MSA-2 of a NAK for input whose MSH-10 could not be found: MSA-2 is required.
UNKNOWN_CONTROL_ID = "UNKNOWN"
_NAK_VERSION = "2.5.1"
_MSA3_MAX = 80  # MSA-3's length in v2.3 and v2.4


class AckCode(StrEnum):
    """HL7 table 0008, acknowledgment code (MSA-1)."""

    ACCEPT = "AA"
    ERROR = "AE"
    REJECT = "AR"
    COMMIT_ACCEPT = "CA"
    COMMIT_ERROR = "CE"
    COMMIT_REJECT = "CR"


class Severity(StrEnum):
    """HL7 table 0516, error severity (ERR-4)."""

    ERROR = "E"
    WARNING = "W"
    INFORMATION = "I"


@dataclass(frozen=True, slots=True)
class AckError:
    """One problem to report: becomes one ERR segment (one ERR-1 repetition before v2.5)."""

    code: ErrorCode
    message: str = ""
    location: Location | None = None
    severity: Severity = Severity.ERROR

    @classmethod
    def from_parse_error(cls, error: HL7ParseError) -> AckError:
        return cls(error.code, error.reason, error.location)


def build_ack(
    received: Message,
    code: AckCode | str = AckCode.ACCEPT,
    errors: Sequence[AckError] = (),
    *,
    control_id: str | None = None,
    timestamp: datetime | None = None,
    sending_application: str | None = None,
    sending_facility: str | None = None,
) -> str:
    """The ACK for ``received``, as ER7 text with CR segment terminators.

    MSH-3/4 are the received MSH-5/6 (the name the sender knows us by) unless
    ``sending_application``/``sending_facility`` are given; MSH-5/6 are the
    received MSH-3/4. MSH-9 is
    ``ACK^<trigger>^ACK`` (``ACK^<trigger>`` before v2.3.1, which had no
    message structure component); MSH-10 is ``control_id`` or a new random
    one; MSH-11, -12 and -18 are copied (P and 2.5.1 when missing); MSA-2 is
    the received MSH-10. Encode the text with ``received.codec``.
    """
    ack_code = AckCode(code)
    d = received.delimiters
    header = received.header
    version = received.version_info or (2, 5)
    trigger = escape(received.trigger_event, d)
    if version >= (2, 3, 1):
        msh9 = d.component.join(["ACK", trigger, "ACK"])
    else:
        msh9 = f"ACK{d.component}{trigger}" if trigger else "ACK"
    msh = [
        d.encoding_characters,
        header.field(5).er7 if sending_application is None else escape(sending_application, d),
        header.field(6).er7 if sending_facility is None else escape(sending_facility, d),
        header.field(3).er7,
        header.field(4).er7,
        _timestamp(timestamp),
        "",
        msh9,
        escape(control_id, d) if control_id is not None else _new_control_id(),
        header.field(11).er7 if header.get(11) else "P",
        header.field(12).er7 if header.get(12) else escape(_NAK_VERSION, d),
    ]
    charset = header.field(18).er7
    if charset:
        msh += ["", "", "", "", "", charset]
    received_id = header.field(10).er7 if header.get(10) else UNKNOWN_CONTROL_ID
    return _assemble(d, msh, ack_code, received_id, errors, version)


def build_nak(
    data: str | bytes | bytearray | memoryview,
    error: HL7ParseError | AckError,
    *,
    code: AckCode | str = AckCode.REJECT,
    sending_application: str = "",
    sending_facility: str = "",
    control_id: str | None = None,
    timestamp: datetime | None = None,
) -> str:
    """A negative ACK for input that did not parse.

    When MSH's delimiters still read (MSH-9 to -12 may be missing), this is
    ``build_ack`` of that header, so the sender gets an answer in its own
    delimiters and version; ``sending_application``/``sending_facility``
    then stand in only for an empty received MSH-5/6.
    When even that fails, it is a v2.5.1 ACK with standard
    delimiters, from ``sending_application``/``sending_facility``, whose
    MSA-2 is whatever MSH-10 can still be made out (or ``UNKNOWN``): the ACK
    stays valid, and the ERR segment says what was wrong and where.
    """
    problem = AckError.from_parse_error(error) if isinstance(error, HL7ParseError) else error
    header = read_header(data)
    if header is not None:
        return build_ack(
            header,
            code,
            [problem],
            control_id=control_id,
            timestamp=timestamp,
            sending_application=None if header.get("MSH-5") else sending_application,
            sending_facility=None if header.get("MSH-6") else sending_facility,
        )
    d = Delimiters()
    msh = [
        d.encoding_characters,
        escape(sending_application, d),
        escape(sending_facility, d),
        "",
        "",
        _timestamp(timestamp),
        "",
        f"ACK{d.component}{d.component}ACK",
        escape(control_id, d) if control_id is not None else _new_control_id(),
        "P",
        _NAK_VERSION,
    ]
    received_id = escape(_salvage_control_id(data), d) or UNKNOWN_CONTROL_ID
    return _assemble(d, msh, AckCode(code), received_id, [problem], (2, 5, 1))


def _assemble(
    d: Delimiters,
    msh: list[str],
    code: AckCode,
    received_id: str,
    errors: Sequence[AckError],
    version: tuple[int, ...],
) -> str:
    fs = d.field
    segments = ["MSH" + fs + fs.join(msh)]
    modern = version >= (2, 5)
    msa = ["MSA", code.value, received_id]
    if errors and not modern and errors[0].message:
        msa.append(escape(errors[0].message[:_MSA3_MAX], d))
    segments.append(fs.join(msa))
    if modern:
        segments += [_err_v25(e, d) for e in errors]
    elif errors:
        segments.append("ERR" + fs + d.repetition.join(_eld(e, d) for e in errors))
    return "\r".join(segments) + "\r"


def _err_v25(error: AckError, d: Delimiters) -> str:
    """ERR-2 location (ERL), ERR-3 code (CWE, table 0357), ERR-4 severity, ERR-8 user message."""
    c = d.component
    location = error.location.erl(c) if error.location is not None else ""
    code = c.join([str(int(error.code)), escape(error.code.text, d), "HL70357"])
    fields = ["ERR", "", location, code, error.severity.value]
    if error.message:
        fields += ["", "", "", escape(error.message, d)]
    return d.field.join(fields)


def _eld(error: AckError, d: Delimiters) -> str:
    """ERR-1 before v2.5 (ELD): segment ^ sequence ^ field ^ code&text&HL70357."""
    loc = error.location or Location()
    code = d.subcomponent.join([str(int(error.code)), escape(error.code.text, d), "HL70357"])
    return d.component.join(
        [
            loc.segment,
            str(loc.occurrence or 1) if loc.segment else "",
            str(loc.field) if loc.segment and loc.field else "",
            code,
        ]
    )


def _salvage_control_id(data: str | bytes | bytearray | memoryview) -> str:
    """Best effort at MSH-10 from input that does not parse."""
    if isinstance(data, str):
        text = data
    elif isinstance(data, bytes | bytearray | memoryview):
        text = bytes(data).decode("latin-1")
    else:
        return ""
    start = text.find("MSH")
    if start < 0 or len(text) < start + 4:
        return ""
    fs = text[start + 3]
    if fs.isalnum() or fs.isspace() or not fs.isprintable():
        return ""
    line = text[start:].split("\r", 1)[0].split("\n", 1)[0]
    parts = line.split(fs)
    if len(parts) < 10:
        return ""
    value = parts[9]
    for separator in parts[1][:4]:
        value = value.split(separator, 1)[0]
    value = "".join(ch for ch in value if ch.isprintable())
    return value[:199]


def _timestamp(when: datetime | None) -> str:
    when = when or datetime.now(UTC)
    text = when.strftime("%Y%m%d%H%M%S")
    return text + when.strftime("%z") if when.tzinfo is not None else text


def _new_control_id() -> str:
    """20 random hex characters: unique, and within MSH-10's v2.3-v2.5 length of 20."""
    return secrets.token_hex(10)
