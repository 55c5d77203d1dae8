"""The Merkle log service: append, roots, proofs and signed checkpoints over a store.

The log keeps no state between calls: every operation reads the O(log n)
nodes it needs from the store, so one ``MerkleLog`` can be made per
transaction and two processes never disagree about a cached right edge. It is
meant for a single sequencer (like Trillian and Tessera): the store's primary
keys make a racing second writer fail rather than fork the tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from typing import Protocol

from .checkpoint import Checkpoint, NoteSigner, parse_checkpoint, sign_checkpoint
from .compact import CompactRange, NewNode, NodeID, range_nodes
from .errors import (
    InconsistentLogError,
    IndexOutOfRangeError,
    LedgerError,
    MissingNodeError,
    RootMismatchError,
    TreeSizeError,
)
from .proof import consistency, inclusion
from .rfc9162 import LEAF_PREFIX
from .verify import verify_consistency

__all__ = ["LedgerStore", "MerkleLog", "StoredCheckpoint"]


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as the log signed it; ``note`` is the published signed note."""

    size: int
    root: bytes
    note: str
    signed_at: str  # UTC, ISO 8601 to the microsecond, 26 characters: a sort key


class LedgerStore(Protocol):
    """The storage port: the few operations the log needs, all O(log n) or less.

    Implementations never update or delete: leaves, complete-subtree nodes and
    checkpoints are written once.
    """

    def size(self) -> int:
        """Number of leaves stored."""
        ...

    def node_hashes(self, ids: Sequence[NodeID]) -> list[bytes]:
        """Hashes of complete subtrees, in the order of ``ids``; level 0 is a leaf hash.

        Raises ``MissingNodeError`` if any is not stored.
        """
        ...

    def entry(self, index: int) -> bytes:
        """The entry stored at leaf ``index``; ``IndexOutOfRangeError`` if none."""
        ...

    def append(
        self,
        first_index: int,
        leaf_hashes: Sequence[bytes],
        entries: Sequence[bytes],
        nodes: Sequence[NewNode],
        version_seqs: Sequence[int | None] | None = None,
    ) -> None:
        """Store leaves ``first_index…`` and the inner nodes they complete, atomically."""
        ...

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint with the largest tree size, if any."""
        ...

    def store_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Record a signed checkpoint (one per tree size)."""
        ...


class MerkleLog:
    """An RFC 9162 append-only log over a ``LedgerStore``."""

    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    def size(self) -> int:
        return self.store.size()

    def append(
        self, entries: Sequence[bytes], version_seqs: Sequence[int | None] | None = None
    ) -> int:
        """Append ``entries`` as leaves; return the index of the first one.

        O(log n) reads for the right edge, then amortised one node hash and two
        row inserts per leaf: batch as much as a transaction can hold.
        ``version_seqs`` (same length) links each leaf to what it anchors.
        """
        if version_seqs is not None and len(version_seqs) != len(entries):
            raise ValueError(f"{len(version_seqs)} version_seqs for {len(entries)} entries")
        size = self.store.size()
        if not entries:
            return size
        edge = self._compact_range(size)
        leaf_hashes = [sha256(LEAF_PREFIX + e).digest() for e in entries]
        nodes = edge.extend(leaf_hashes)
        self.store.append(size, leaf_hashes, entries, nodes, version_seqs)
        return size

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all)."""
        if size is None:
            size = self.store.size()
        ids = range_nodes(0, size)
        return CompactRange(size, self._read_cover(ids, size)).root()

    def leaf(self, index: int) -> bytes:
        """The entry at leaf ``index``."""
        return self.store.entry(index)

    def leaf_hash(self, index: int) -> bytes:
        if index < 0:
            raise IndexOutOfRangeError(index, self.store.size())
        return self._read_cover([NodeID(0, index)], index + 1, index)[0]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of leaf ``index`` in the tree of ``size`` leaves (default: all)."""
        if size is None:
            size = self.store.size()
        nodes = inclusion(index, size)
        # The leaf itself completes the cover of [0, size): see _read_cover.
        hashes = self._read_cover([*nodes.ids, NodeID(0, index)], size)
        return nodes.rehash(hashes[:-1])

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Proof that the tree of ``size1`` is a prefix of the tree of ``size2`` (default: all)."""
        if size2 is None:
            size2 = self.store.size()
        nodes = consistency(size1, size2)
        if not nodes.ids:  # nothing to read, so nothing proves size2 exists: ask
            self._check_size(size2, self.store.size())
            return []
        # The ids cover [size1's largest right-edge subtree, size2) — the
        # rightmost leaf included — so reading them all proves size2 exists.
        return nodes.rehash(self._read_cover(nodes.ids, size2))

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self.store.latest_checkpoint()

    def checkpoint(
        self, signer: NoteSigner, *, origin: str | None = None, signed_at: str | None = None
    ) -> StoredCheckpoint:
        """Sign and store a checkpoint of the current tree — never a fork of a signed one.

        Before signing size n it proves, from storage, that the tree of n
        extends the tree in the last *published* note (its text, not a column
        that could drift), and raises ``InconsistentLogError`` otherwise: a
        tampered or lost node must stop the log, not be signed. If nothing was
        appended since, the stored checkpoint is returned as it is.
        """
        size = self.store.size()
        root = self.root(size)
        latest = self.store.latest_checkpoint()
        if latest is not None:
            try:
                published = parse_checkpoint(latest.note[: latest.note.rfind("\n\n") + 1])
            except LedgerError as exc:  # a stored note we cannot read stops the log too
                raise InconsistentLogError(latest.size, size, exc) from exc
            self._check_extends(published, size, root)
            if published.size == size:
                return latest
        note = sign_checkpoint(Checkpoint(origin or signer.name, size, root), signer)
        stamp = signed_at or datetime.now(UTC).isoformat(timespec="microseconds")[:26]
        stored = StoredCheckpoint(size, root, note, stamp)
        self.store.store_checkpoint(stored)
        return stored

    def _check_extends(self, published: Checkpoint, size: int, root: bytes) -> None:
        try:
            if published.size > size:
                raise TreeSizeError(
                    f"the log has {size} leaves, fewer than the signed {published.size}"
                )
            if published.size == size:
                if published.root != root:
                    raise RootMismatchError(published.root, root)
                return
            proof = self.consistency_proof(published.size, size)
            verify_consistency(published.size, size, proof, published.root, root)
        except LedgerError as exc:
            raise InconsistentLogError(published.size, size, exc) from exc

    def _compact_range(self, size: int) -> CompactRange:
        ids = range_nodes(0, size)
        return CompactRange(size, self.store.node_hashes(ids) if ids else [])

    def _read_cover(
        self, ids: Sequence[NodeID], size: int, index: int | None = None
    ) -> list[bytes]:
        """Read node hashes whose subtrees reach leaf ``size - 1``, checking ``size`` for free.

        A node is stored only once all its leaves are, so if every id is
        found, leaf ``size - 1`` exists and the log has at least ``size``
        leaves: no separate size query (one round trip per proof, not two).
        Only a miss costs the size query, to tell a size beyond the log
        (``TreeSizeError``, or ``IndexOutOfRangeError`` for a leaf) from a
        lost node (``MissingNodeError``).
        """
        if not ids:
            return []
        try:
            return self.store.node_hashes(ids)
        except MissingNodeError:
            current = self.store.size()
            if index is not None and index >= current:
                raise IndexOutOfRangeError(index, current) from None
            self._check_size(size, current)
            raise

    @staticmethod
    def _check_size(size: int | None, current: int) -> int:
        if size is None:
            return current
        if not 0 <= size <= current:
            raise TreeSizeError(f"tree size {size} out of range: the log has {current} leaves")
        return size
