"""Where something is in an HL7 v2 message, and what went wrong there.

The exception tree of this package::

    ValueError
     ├── HL7ParseError     the input is not a well-formed ER7 message or batch
     └── MLLPError         a byte stream is not well-formed MLLP (see mllp.py)
          └── MLLPFrameTooLarge

Parsing never raises anything else on any ``str``/``bytes`` input: a feed
owner gets a location and a reason, and the gateway an HL7 table 0357 code
for the ERR segment of its ACK.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = ["ErrorCode", "HL7ParseError", "Location"]


class ErrorCode(IntEnum):
    """HL7 table 0357, Message error condition codes (ERR-3 from v2.5, ELD-4 before)."""

    MESSAGE_ACCEPTED = 0
    SEGMENT_SEQUENCE_ERROR = 100
    REQUIRED_FIELD_MISSING = 101
    DATA_TYPE_ERROR = 102
    TABLE_VALUE_NOT_FOUND = 103
    VALUE_TOO_LONG = 104
    UNSUPPORTED_MESSAGE_TYPE = 200
    UNSUPPORTED_EVENT_CODE = 201
    UNSUPPORTED_PROCESSING_ID = 202
    UNSUPPORTED_VERSION_ID = 203
    UNKNOWN_KEY_IDENTIFIER = 204
    DUPLICATE_KEY_IDENTIFIER = 205
    APPLICATION_RECORD_LOCKED = 206
    APPLICATION_INTERNAL_ERROR = 207

    @property
    def text(self) -> str:
        """The table's display text, e.g. "Required field missing"."""
        return _CODE_TEXT[self]


_CODE_TEXT = {
    ErrorCode.MESSAGE_ACCEPTED: "Message accepted",
    ErrorCode.SEGMENT_SEQUENCE_ERROR: "Segment sequence error",
    ErrorCode.REQUIRED_FIELD_MISSING: "Required field missing",
    ErrorCode.DATA_TYPE_ERROR: "Data type error",
    ErrorCode.TABLE_VALUE_NOT_FOUND: "Table value not found",
    ErrorCode.VALUE_TOO_LONG: "Value too long",
    ErrorCode.UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    ErrorCode.UNSUPPORTED_EVENT_CODE: "Unsupported event code",
    ErrorCode.UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    ErrorCode.UNSUPPORTED_VERSION_ID: "Unsupported version id",
    ErrorCode.UNKNOWN_KEY_IDENTIFIER: "Unknown key identifier",
    ErrorCode.DUPLICATE_KEY_IDENTIFIER: "Duplicate key identifier",
    ErrorCode.APPLICATION_RECORD_LOCKED: "Application record locked",
    ErrorCode.APPLICATION_INTERNAL_ERROR: "Application internal error",
}


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a message, 1-based as HL7 counts; 0 means "not narrowed down to".

    ``str()`` gives the form used in error messages and accepted by
    ``Message.get``: ``OBX[3]-6.1`` is the first component of field 6 of the
    third OBX; a repetition other than the first shows as ``PID[1]-3[2].1``.
    ``position`` is the segment's place in the whole message (MSH is 1), kept
    for segments whose name could not be read.
    """

    segment: str = ""
    occurrence: int = 0
    field: int = 0
    repetition: int = 0
    component: int = 0
    subcomponent: int = 0
    position: int = 0

    def __str__(self) -> str:
        if self.segment:
            text = f"{self.segment}[{self.occurrence or 1}]"
        elif self.position:
            text = f"segment {self.position}"
        else:
            return "message"
        if self.field:
            text += f"-{self.field}"
            if self.repetition > 1:
                text += f"[{self.repetition}]"
            if self.component:
                text += f".{self.component}"
                if self.subcomponent:
                    text += f".{self.subcomponent}"
        return text

    def erl(self, component_separator: str = "^") -> str:
        """The location as an ERL value for ERR-2 (v2.5+): ``SEG^seq^field^rep^comp^sub``.

        Empty when the segment is unknown: ERL-1 and ERL-2 are required.
        """
        if not self.segment:
            return ""
        parts = [self.segment, str(self.occurrence or 1)]
        if self.field:
            parts += [str(self.field), str(self.repetition or 1)]
            if self.component:
                parts.append(str(self.component))
                if self.subcomponent:
                    parts.append(str(self.subcomponent))
        return component_separator.join(parts)


class HL7ParseError(ValueError):
    """The input is not a well-formed HL7 v2 ER7 message (or batch).

    ``location`` says where (``None`` when the input has no readable
    structure at all), ``reason`` says what, and ``code`` is the HL7 table
    0357 condition to report in an ACK.
    """

    def __init__(
        self,
        reason: str,
        location: Location | None = None,
        code: ErrorCode = ErrorCode.DATA_TYPE_ERROR,
    ) -> None:
        self.reason = reason
        self.location = location
        self.code = code
        super().__init__(f"{location}: {reason}" if location is not None else reason)
