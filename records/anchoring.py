"""Ledger entries for resource versions: what gets anchored, and nothing clinical.

An entry names a version (type, id, versionId, lastUpdated), what happened
(create/update/delete), who wrote it (``meta.source``) and the SHA-256 of the
resource's RFC 8785 canonical form. It is itself RFC 8785 canonical JSON: a
flat object of strings, for which orjson with sorted keys writes exactly the
JCS bytes. No health data goes on the ledger, only this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from records.canonical import canonical_sha256, canonical_sha256_of

__all__ = ["LedgerEntry", "entry_bytes", "parse_entry"]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    resource_type: str
    resource_id: str
    version_id: int
    last_updated: str  # the FHIR instant, as in meta.lastUpdated
    operation: str  # create | update | delete
    source: str | None
    sha256: str | None  # None for a deletion

    def as_json(self) -> dict[str, Any]:
        return {
            "resourceType": self.resource_type,
            "id": self.resource_id,
            "versionId": str(self.version_id),
            "lastUpdated": self.last_updated,
            "operation": self.operation,
            "source": self.source,
            "sha256": self.sha256,
        }


def entry_bytes(
    resource_type: str,
    resource_id: str,
    version_id: int,
    last_updated: str,
    operation: str,
    source: str | None,
    data: bytes | None,
    resource: Any = None,
) -> bytes:
    """The canonical entry for one version, hashing the stored resource bytes.

    ``resource``, if given, is what ``data`` was serialised from: its canonical
    form is then written from it rather than read back from ``data`` (the same
    bytes, see :func:`records.canonical.canonical_of`). The entry is the same
    bytes as ``LedgerEntry(...).as_json()`` with sorted keys, without the
    intermediate object (a feed writes thousands of entries a second).
    """
    if data is None:
        digest = None
    elif resource is None:
        digest = canonical_sha256(data)
    else:
        digest = canonical_sha256_of(resource, data)
    return orjson.dumps(
        {
            "resourceType": resource_type,
            "id": resource_id,
            "versionId": str(version_id),
            "lastUpdated": last_updated,
            "operation": operation,
            "source": source,
            "sha256": digest,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def parse_entry(raw: bytes) -> LedgerEntry:
    """Read an entry back; ValueError if it is not one (a tampered leaf, say)."""
    try:
        data = orjson.loads(raw)
        return LedgerEntry(
            data["resourceType"],
            data["id"],
            int(data["versionId"]),
            data["lastUpdated"],
            data["operation"],
            data["source"],
            data["sha256"],
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a ledger entry: {exc}") from None
