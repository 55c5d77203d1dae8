"""HL7 v2 ER7 syntax: parse messages and batches, build ACKs, frame MLLP.

No I/O and no knowledge of FHIR: this is the layer the HL7 v2 → FHIR
converters and the gateway's listeners stand on.

    msg = parse_message(raw)                 # HL7ParseError on bad input
    msg.get("PID-3.1"); msg.segments("OBX")[2].get(5)
    ack = build_ack(msg, "AA")               # or build_nak(raw, error)
"""

from .ack import UNKNOWN_CONTROL_ID, AckCode, AckError, Severity, build_ack, build_nak
from .encoding import Delimiters, escape, unescape
from .errors import ErrorCode, HL7ParseError, Location
from .mllp import MLLPDecoder, MLLPError, MLLPFrameTooLarge, frame, unframe
from .parser import (
    Batch,
    BatchFile,
    Component,
    Field,
    Message,
    Repetition,
    Segment,
    iter_messages,
    parse_batch,
    parse_location,
    parse_message,
    read_header,
)

__all__ = [
    "UNKNOWN_CONTROL_ID",
    "AckCode",
    "AckError",
    "Batch",
    "BatchFile",
    "Component",
    "Delimiters",
    "ErrorCode",
    "Field",
    "HL7ParseError",
    "Location",
    "MLLPDecoder",
    "MLLPError",
    "MLLPFrameTooLarge",
    "Message",
    "Repetition",
    "Segment",
    "Severity",
    "build_ack",
    "build_nak",
    "escape",
    "frame",
    "iter_messages",
    "parse_batch",
    "parse_location",
    "parse_message",
    "read_header",
    "unescape",
    "unframe",
]
