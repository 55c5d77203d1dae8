"""Which stored nodes make a proof: pure index math, no hashes, no I/O.

A proof hash is either a complete subtree (stored, read by id) or an
*ephemeral* node on the tree's right edge that only exists for this tree size;
the ephemeral node is recomputed from the complete subtrees under it
(``Nodes.rehash``). So a proof costs one batched point read of O(log n) node
ids, never a scan. Port of transparency-dev/merkle ``proof.Inclusion`` /
``proof.Consistency``; RFC 9162 §2.1.3 (inclusion) and §2.1.4 (consistency).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .compact import NodeID, range_nodes
from .errors import IndexOutOfRangeError, ProofLengthError, TreeSizeError
from .rfc9162 import node_hash

__all__ = ["Nodes", "consistency", "inclusion"]


@dataclass(frozen=True, slots=True)
class Nodes:
    """The node ids to fetch for one proof, and how to fold them into proof hashes.

    ``ids[begin:end]`` (possibly empty) are the complete subtrees under the
    ephemeral node ``ephem``, lowest level first; every other id is one proof
    hash as it is.
    """

    ids: tuple[NodeID, ...]
    begin: int = 0
    end: int = 0
    ephem: NodeID | None = None

    def rehash(
        self,
        hashes: Sequence[bytes],
        hash_children: Callable[[bytes, bytes], bytes] = node_hash,
    ) -> list[bytes]:
        """Turn the hashes of ``ids`` (same order) into the proof."""
        if len(hashes) != len(self.ids):
            raise ProofLengthError(len(hashes), len(self.ids))
        if self.end - self.begin < 2:
            return list(hashes)
        ephemeral = hashes[self.begin]
        for h in hashes[self.begin + 1 : self.end]:
            ephemeral = hash_children(h, ephemeral)
        return [*hashes[: self.begin], ephemeral, *hashes[self.end :]]

    def skip_first(self) -> Nodes:
        """Drop ``ids[0]``: the leaf or subtree the verifier already holds."""
        begin, end = (self.begin - 1, self.end - 1) if self.begin < self.end else (0, 0)
        return Nodes(self.ids[1:], begin, end, self.ephem)


def inclusion(index: int, size: int) -> Nodes:
    """Nodes of the inclusion proof (audit path) of leaf ``index`` in the tree of ``size``."""
    if not 0 <= index < size:
        raise IndexOutOfRangeError(index, size)
    return _nodes(index, 0, size).skip_first()


def consistency(size1: int, size2: int) -> Nodes:
    """Nodes of the consistency proof that the tree of ``size1`` is a prefix of ``size2``.

    Empty when ``size1`` is 0 (every tree extends the empty one) or equal to
    ``size2``.
    """
    if size1 < 0 or size1 > size2:
        raise TreeSizeError(f"consistency from size {size1} to {size2}: want 0 <= size1 <= size2")
    if size1 == 0 or size1 == size2:
        return Nodes(())
    # The root of the largest complete subtree of [0, size1) that ends at size1.
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    nodes = _nodes(index, level, size2)
    # When size1 is a power of two, that subtree is the old root: the verifier has it.
    return nodes.skip_first() if size1 & (size1 - 1) == 0 else nodes


def _nodes(index: int, level: int, size: int) -> Nodes:
    """Ids proving node ``(level, index)`` is in the tree of ``size``, the node first.

    The path climbs to the ``fork`` node, where it leaves the right edge of
    the tree; the fork's sibling is the ephemeral node, covered by complete
    subtrees to the right; complete subtrees to the left finish the cover.
    """
    inner = (index ^ (size >> level)).bit_length() - 1
    fork = NodeID(level + inner, index >> inner)
    begin, end = fork.coverage()

    ids = [NodeID(level, index)]
    ids.extend(NodeID(level + i, (index >> i) ^ 1) for i in range(inner))  # path siblings
    len1 = len(ids)
    ids.extend(reversed(range_nodes(end, size)))  # the ephemeral node's parts, lower first
    len2 = len(ids)
    ids.extend(reversed(range_nodes(0, begin)))  # left subtrees, lower levels first
    if len1 >= len2:
        len1 = len2 = 0
    return Nodes(tuple(ids), len1, len2, fork.sibling())
