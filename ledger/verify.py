"""Checking inclusion and consistency proofs (RFC 9162 §2.1.3.2, §2.1.4.2).

What a client runs: needs only hashes, never the log's storage. Every failure
is a ``ProofError`` subclass saying what it got and what it wanted. Port of
transparency-dev/merkle ``proof/verify.go``.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from .errors import (
    HashSizeError,
    IndexOutOfRangeError,
    ProofLengthError,
    RootMismatchError,
    TreeSizeError,
)
from .rfc9162 import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = [
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise unless ``proof`` shows leaf ``index`` with ``leaf_hash`` is in the tree ``root``."""
    _check_hash("root", root)
    _match(root, root_from_inclusion_proof(leaf_hash, index, size, proof))


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root of the tree of ``size`` implied by the leaf and its audit path."""
    if not 0 <= index < size:
        raise IndexOutOfRangeError(index, size)
    _check_hash("leaf hash", leaf_hash)
    inner, border = _decompose_inclusion(index, size)
    if len(proof) != inner + border:
        raise ProofLengthError(len(proof), inner + border)
    for i, h in enumerate(proof):
        _check_hash(f"proof[{i}]", h)
    h = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(h, proof[inner:])


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise unless ``proof`` shows the tree ``(size1, root1)`` is a prefix of ``(size2, root2)``."""
    _check_hash("root2", root2)
    if size1 == 0 and size2 > 0:
        # Every tree extends the empty one: nothing to prove but that root1 is empty.
        _check_hash("root1", root1)
        if proof:
            raise ProofLengthError(len(proof), 0)
        _match(EMPTY_ROOT, root1)
        return
    _match(root2, root_from_consistency_proof(size1, size2, proof, root1))


def root_from_consistency_proof(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> bytes:
    """The root of the tree of ``size2`` implied by ``root1`` and the proof, checking root1 on the way."""
    _check_hash("root1", root1)
    if size1 < 0 or size2 < size1:
        raise TreeSizeError(f"consistency from size {size1} to {size2}: want 0 <= size1 <= size2")
    if size1 == size2:
        # Nothing to prove; a non-empty proof is garbage, not a stronger claim.
        if proof:
            raise ProofLengthError(len(proof), 0)
        if size1 == 0:
            _match(EMPTY_ROOT, root1)
        return root1
    if size1 == 0:
        raise TreeSizeError(f"the empty tree implies no root for size {size2}: want size1 > 0")
    inner, border = _decompose_inclusion(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift  # shift < inner whenever size1 < size2
    # The proof starts with the subtree of 2^shift leaves ending at size1,
    # unless that subtree is the whole old tree (then the client has it: root1).
    if size1 == 1 << shift:
        seed, start = root1, 0
    else:
        if not proof:
            raise ProofLengthError(0, 1 + inner + border)
        seed, start = proof[0], 1
    if len(proof) != start + inner + border:
        raise ProofLengthError(len(proof), start + inner + border)
    for i, h in enumerate(proof):
        _check_hash(f"proof[{i}]", h)
    path = proof[start:]
    mask = (size1 - 1) >> shift
    hash1 = _chain_border_right(_chain_inner_right(seed, path[:inner], mask), path[inner:])
    _match(root1, hash1)
    return _chain_border_right(_chain_inner(seed, path[:inner], mask), path[inner:])


def _decompose_inclusion(index: int, size: int) -> tuple[int, int]:
    """(inner, border): proof hashes below and above where the paths to
    ``index`` and ``size-1`` meet."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if (index >> i) & 1 == 0 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    """Like ``_chain_inner``, using only hashes left of the path: the older tree's view."""
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def _check_hash(what: str, h: bytes) -> None:
    if len(h) != HASH_SIZE:
        raise HashSizeError(what, len(h), HASH_SIZE)


def _match(expected: bytes, calculated: bytes) -> None:
    if not hmac.compare_digest(expected, calculated):
        raise RootMismatchError(expected, calculated)
