"""What every adapter returns, and the one error type it raises.

Adapters are pure translators: feed bytes in, FHIR R4 resource dicts out, no
I/O. Each resource carries a deterministic id derived from the source's own
identifiers (``stable_id``), so the ingest service stores it with
``PUT Type/id``: a replayed or corrected message updates instead of
duplicating.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Conversion", "ConversionError", "Rejected", "collector_paused", "stable_id"]


def stable_id(kind: str, *parts: str) -> str:
    """A FHIR id (``[A-Za-z0-9-.]{1,64}``) that depends only on ``parts``.

    ``kind`` is a short readable prefix (``pat``, ``obs``…); the rest is the
    SHA-256 of the parts, so ids from different sources or authorities never
    collide and the same source identifier always maps to the same id.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"{kind}-{digest}"


@dataclass(slots=True)
class Rejected:
    """One item of a batch that could not be converted; the rest still counts."""

    index: int
    reason: str
    location: str = ""  # e.g. "OBX[3]-6.1" or "body[12].heart_rate.value"


@dataclass(slots=True)
class Conversion:
    """The FHIR resources one message (or batch) becomes.

    ``resources`` are complete R4 resources with ids; the order is the order
    to store them in (referenced resources first). ``warnings`` are kept with
    the message (e.g. an ignored Z-segment); ``rejected`` lists batch items
    that were refused while the rest were converted.
    """

    resources: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class ConversionError(ValueError):
    """The message cannot be converted; says where (source location and FHIR path)."""

    def __init__(
        self,
        message: str,
        *,
        location: str = "",
        fhir_path: str = "",
        code: str = "207",  # HL7 table 0357: 207 application internal error
    ) -> None:
        self.message = message
        self.location = location
        self.fhir_path = fhir_path
        self.code = code
        where = " ".join(p for p in (location, fhir_path and f"({fhir_path})") if p)
        super().__init__(f"{where}: {message}" if where else message)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (if it runs) for the block.

    Converting and storing a feed batch allocates hundreds of thousands of
    short-lived dicts that reference counting frees; the cyclic collector
    would walk the whole heap again and again meanwhile and double the cost.
    """
    running = gc.isenabled()
    if running:
        gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()
