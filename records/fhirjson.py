"""FHIR JSON in and out, keeping every decimal exactly as it was written.

FHIR decimals carry their precision ("0.010 is different to 0.01"), and a
resource's hash must not change between what a sender wrote and what we
store. Numbers with a fraction or exponent are parsed into :class:`Decimal`,
a float that remembers its text; :func:`dumps` writes that text back.
orjson does the writing; the parsing uses the standard library, the only
parser with a hook for floats.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

__all__ = ["Decimal", "JSONError", "dumps", "loads"]

JSONError = json.JSONDecodeError


class Decimal(float):
    """A JSON number with a fraction or exponent, and its original text."""

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> Decimal:
        number = super().__new__(cls, text)
        if math.isinf(number):
            raise ValueError(f"number {text} is out of range")
        number.text = text
        return number

    def __repr__(self) -> str:
        return self.text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises :data:`JSONError` (or ValueError for NaN/Infinity)."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    return _DECODER.decode(text)


def _default(value: Any) -> Any:
    # Any float that remembers its text (ours, or an adapter's) is written as that text.
    text = getattr(value, "text", None)
    if isinstance(value, float) and isinstance(text, str):
        return orjson.Fragment(text)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """Serialise compactly; decimals come out with the digits they came in with."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
