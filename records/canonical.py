"""RFC 8785 (JCS) canonical JSON of FHIR resources, fast enough for the hot path.

The ledger hashes the canonical form of each resource version, so the hash
does not depend on key order, white space or how a number was spelled. The
reference package ``rfc8785`` manages ~8,000 resources/s here; ``accord
verify`` must re-hash 10,000/s. This module gets the same bytes from orjson:
keys sorted, strings escaped as JCS requires, and every number written in the
ECMAScript form (``1.00`` → ``1``, ``1e21`` → ``1e+21``) by re-reading the
stored JSON so that each float reaches a hook. Tests compare it with
``rfc8785`` on arbitrary documents.

A writer that holds the resource it just serialised can skip reading the bytes
back (:func:`canonical_of`): when the resource holds only strings, booleans,
nulls, integers within ±(2^53 - 1) and decimals that remember their text, orjson
writes the same canonical bytes from it directly, in a fraction of the time.

Integers beyond ±2^53 are numbers like any other to JCS, which reads them as
IEEE doubles (``1000000000000000000`` stays, ``12345678901234567890`` becomes
``12345678901234567000``); the reference package refuses them instead, and a
resource it cannot hash could never be anchored. Object keys are sorted by
code point, which equals JCS's UTF-16 order except between keys holding
characters above U+FFFF and keys holding U+E000 to U+FFFF (FHIR keys are ASCII).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

import orjson

from records import fhirjson

__all__ = [
    "canonical_json",
    "canonical_of",
    "canonical_sha256",
    "canonical_sha256_of",
    "es6_number",
]

_MAX_SAFE = 2**53 - 1
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _integer(text: str) -> int | float:
    value = int(text)
    return value if abs(value) <= _MAX_SAFE else fhirjson.Decimal(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(
    parse_float=fhirjson.Decimal, parse_int=_integer, parse_constant=_reject_constant
)


def es6_number(value: float) -> str:
    """The ECMAScript Number::toString form of a finite double (ECMA-262 7.1.12.1)."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{value} has no JSON form")
    if value == 0:
        return "0"
    if value < 0:
        return "-" + es6_number(-value)
    mantissa, _, exp = float.__repr__(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    fraction = fraction.rstrip("0")
    n = int(exp or 0)
    if whole != "0":
        digits, n = whole + fraction, n + len(whole)
    else:
        stripped = fraction.lstrip("0")
        digits, n = stripped, n - (len(fraction) - len(stripped))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    sign = "+" if e >= 0 else "-"
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{head}e{sign}{abs(e)}"


def _default(value: Any) -> Any:
    if isinstance(value, float):
        return orjson.Fragment(es6_number(value))
    raise TypeError(f"{type(value).__name__} is not JSON")


def canonical_json(data: bytes) -> bytes:
    """The JCS form of a JSON document given as bytes."""
    try:
        document = _DECODER.decode(data.decode("utf-8"))
        return orjson.dumps(document, default=_default, option=_OPTIONS)
    except TypeError as exc:  # orjson.JSONEncodeError: a lone surrogate, say
        raise ValueError(f"cannot canonicalise: {exc}") from None


def canonical_sha256(data: bytes) -> str:
    """Hex SHA-256 of the canonical form: the resource hash the ledger entry carries."""
    return hashlib.sha256(canonical_json(data)).hexdigest()


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_OF_OPTIONS = _OPTIONS | orjson.OPT_STRICT_INTEGER


def _decimal_default(value: Any) -> Any:
    # A decimal written as its text (records.fhirjson): JCS writes the double that text is.
    text = getattr(value, "text", None)
    if isinstance(value, float) and isinstance(text, str) and _JSON_NUMBER.fullmatch(text):
        return orjson.Fragment(es6_number(float(text)))
    raise TypeError(f"{type(value).__name__} is not a decimal with its text")


def _direct(document: Any) -> bool:
    """True when orjson writes ``document`` as JCS by itself (plus :func:`_decimal_default`):
    no plain float (orjson's spelling of one is not ECMAScript's), nothing but JSON types."""
    stack = [document]
    pop, push = stack.pop, stack.extend
    while stack:
        value = pop()
        kind = type(value)
        if kind is dict:
            push(value.values())
        elif kind is list:
            push(value)
        elif kind is str or kind is int or kind is bool or value is None:
            continue
        elif kind is float or not isinstance(value, float):
            return False
    return True


def canonical_of(document: Any, data: bytes) -> bytes:
    """``canonical_json(data)`` where ``data`` is ``fhirjson.dumps(document)``.

    Read from ``document`` when orjson can write it canonically (integers beyond
    2^53 and texts that are no JSON number make it decline); otherwise from ``data``.
    """
    if _direct(document):
        try:
            return orjson.dumps(document, default=_decimal_default, option=_OF_OPTIONS)
        except orjson.JSONEncodeError:
            pass  # a big integer, a lone surrogate...: the bytes say what JCS makes of it
    return canonical_json(data)


def canonical_sha256_of(document: Any, data: bytes) -> str:
    """:func:`canonical_sha256` of ``data``, which is ``fhirjson.dumps(document)``."""
    return hashlib.sha256(canonical_of(document, data)).hexdigest()
