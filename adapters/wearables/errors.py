"""The one internal signal a reading is refused: which part, which field, why."""

from __future__ import annotations

__all__ = ["Invalid"]


class Invalid(Exception):
    """A single reading cannot be converted; the batch goes on without it.

    ``part`` is ``"header"``, ``"body"`` or ``"point"``; ``path`` is the dotted
    path inside that part (``"heart_rate.value"``), so the caller can say
    ``body[12].heart_rate.value`` without knowing the schema.
    """

    def __init__(self, part: str, path: str, reason: str) -> None:
        super().__init__(reason)
        self.part = part
        self.path = path
        self.reason = reason
