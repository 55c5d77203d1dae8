"""Node ids and the compact range: the O(log n) right edge of an append-only tree.

A node is a complete (perfect) subtree, named ``(level, index)``: it covers the
leaves ``[index·2^level, (index+1)·2^level)``. Once complete, a node never
changes, which is why storage can keep exactly these nodes and never update a
row. A tree of size n is covered by one complete subtree per set bit of n (the
compact range); appending a leaf merges it with the trailing subtrees, creating
one new node per merge — amortised one node per leaf.

Shaped after transparency-dev/merkle's ``compact`` package, restricted to
ranges that start at leaf 0 (the only ones a log needs).
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256
from itertools import repeat
from typing import NamedTuple

from .errors import HashSizeError, TreeSizeError
from .rfc9162 import EMPTY_ROOT, HASH_SIZE, NODE_PREFIX, node_hash

__all__ = ["CompactRange", "NewNode", "NodeID", "decompose", "range_nodes", "range_size"]


class NodeID(NamedTuple):
    """A complete subtree: ``level`` 0 is a leaf; covers ``[index·2^level, (index+1)·2^level)``."""

    level: int
    index: int  # type: ignore[assignment]  # the RFC's word, shadowing tuple.index on purpose

    def coverage(self) -> tuple[int, int]:
        """The leaf range ``[begin, end)`` under this node."""
        return self.index << self.level, (self.index + 1) << self.level

    def parent(self) -> NodeID:
        return NodeID(self.level + 1, self.index >> 1)

    def sibling(self) -> NodeID:
        return NodeID(self.level, self.index ^ 1)


NewNode = tuple[int, int, bytes]
"""``(level, index, hash)`` of a node created by an append; a flat tuple so a
store can hand a list of them straight to ``executemany``."""


def decompose(begin: int, end: int) -> tuple[int, int]:
    """Split ``[begin, end)`` into the fewest complete subtrees, as two bit masks.

    Bit k of ``left`` (read from low to high) is a subtree of 2^k leaves on the
    left border; bit k of ``right`` (read from high to low) one on the right.
    """
    if begin == 0:
        return 0, end
    xbegin = begin - 1
    # Only the nodes strictly below the point where the paths to leaves
    # begin-1 and end diverge lie inside the range.
    mask = (1 << ((xbegin ^ end).bit_length() - 1)) - 1
    return ~xbegin & mask, end & mask


def range_size(begin: int, end: int) -> int:
    """How many complete subtrees cover ``[begin, end)``."""
    left, right = decompose(begin, end)
    return left.bit_count() + right.bit_count()


def range_nodes(begin: int, end: int) -> list[NodeID]:
    """The complete subtrees covering ``[begin, end)``, ordered left to right."""
    if end < begin:
        raise TreeSizeError(f"invalid range [{begin}, {end}): want begin <= end")
    left, right = decompose(begin, end)
    ids: list[NodeID] = []
    pos = begin
    while left:  # left border, lower levels first
        level = (left & -left).bit_length() - 1
        ids.append(NodeID(level, pos >> level))
        pos += 1 << level
        left ^= 1 << level
    while right:  # right border, upper levels first
        level = right.bit_length() - 1
        ids.append(NodeID(level, pos >> level))
        pos += 1 << level
        right ^= 1 << level
    return ids


class CompactRange:
    """The roots of the complete subtrees covering leaves ``[0, size)``, left to right.

    Enough to append leaves and to compute the root of the current size, in
    O(log n) memory; built from storage with ``range_nodes(0, size)``.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0:
            raise TreeSizeError(f"tree size {size} is negative")
        if len(hashes) != size.bit_count():
            raise TreeSizeError(
                f"compact range of size {size} needs {size.bit_count()} hashes, got {len(hashes)}"
            )
        for h in hashes:
            if len(h) != HASH_SIZE:
                raise HashSizeError("compact range hash", len(h), HASH_SIZE)
        self._size = size
        self._hashes = list(hashes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        return list(self._hashes)

    def extend(self, leaf_hashes: Sequence[bytes]) -> list[NewNode]:
        """Append leaves (their RFC 9162 leaf hashes); return the new inner nodes.

        Leaves themselves (level 0) are not in the result: the caller has them.
        Works a level at a time — pair up the new nodes of one level (the
        first one with its compact-range sibling when it is a right child),
        carry the odd one out — so each SHA-256 runs in a comprehension, not
        a per-leaf loop: about one hash per leaf, whatever the batch split.
        """
        for h in leaf_hashes:
            if len(h) != HASH_SIZE:
                raise HashSizeError("leaf hash", len(h), HASH_SIZE)
        edge = self._hashes
        created: list[NewNode] = []
        carried: list[bytes] = []  # odd nodes left at the right end, lowest level last
        level, start, row = 0, self._size, list(leaf_hashes)
        while row:
            if start & 1:  # the first node is a right child: its sibling is on the edge
                row.insert(0, edge.pop())
                start -= 1
            if len(row) & 1:
                carried.append(row.pop())
            row = [
                sha256(NODE_PREFIX + a + b).digest()
                for a, b in zip(row[::2], row[1::2], strict=True)
            ]
            level += 1
            start >>= 1
            created.extend(zip(repeat(level), range(start, start + len(row)), row))
        edge.extend(reversed(carried))
        self._size += len(leaf_hashes)
        return created

    def append(self, leaf_hash: bytes) -> list[NewNode]:
        """Append one leaf; return the inner nodes it completed."""
        return self.extend((leaf_hash,))

    def root(self) -> bytes:
        """MTH of leaves ``[0, size)``: fold the subtrees from the right."""
        if not self._hashes:
            return EMPTY_ROOT
        it = reversed(self._hashes)
        h = next(it)
        for left in it:
            h = node_hash(left, h)
        return h

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, hashes={len(self._hashes)})"
