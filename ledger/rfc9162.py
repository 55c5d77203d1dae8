"""RFC 9162 §2.1.1 hashing: the only place that knows how leaves and nodes are hashed.

The one-byte prefixes are domain separation: a leaf hash can never equal a node
hash, so nobody can present an inner node as a leaf (a second-preimage forgery).
"""

from __future__ import annotations

from hashlib import sha256

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "leaf_hash", "node_hash"]

HASH_SIZE = 32
EMPTY_ROOT = sha256(b"").digest()
"""MTH({}) — the root of the empty tree."""

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """MTH({d0}) = SHA-256(0x00 ‖ d0)."""
    return sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right)."""
    return sha256(NODE_PREFIX + left + right).digest()
