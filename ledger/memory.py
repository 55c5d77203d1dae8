"""A ``LedgerStore`` in memory: for tests and tools that need no database."""

from __future__ import annotations

from collections.abc import Sequence

from .compact import NewNode, NodeID
from .errors import DuplicateError, IndexOutOfRangeError, MissingNodeError, SequenceConflictError
from .log import StoredCheckpoint

__all__ = ["MemoryLedgerStore"]


class MemoryLedgerStore:
    """Leaves, complete-subtree nodes and checkpoints in dicts; append-only like the SQL store."""

    def __init__(self) -> None:
        self.leaf_hashes: list[bytes] = []
        self.entries: list[bytes] = []
        self.version_seqs: dict[int, int] = {}
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.checkpoints: dict[int, StoredCheckpoint] = {}

    def size(self) -> int:
        return len(self.leaf_hashes)

    def node_hashes(self, ids: Sequence[NodeID]) -> list[bytes]:
        found: list[bytes] = []
        missing: list[tuple[int, int]] = []
        n = len(self.leaf_hashes)
        for level, index in ids:
            if level == 0:
                h = self.leaf_hashes[index] if 0 <= index < n else None
            else:
                h = self.nodes.get((level, index))
            if h is None:
                missing.append((level, index))
            else:
                found.append(h)
        if missing:
            raise MissingNodeError(missing)
        return found

    def entry(self, index: int) -> bytes:
        if not 0 <= index < len(self.entries):
            raise IndexOutOfRangeError(index, len(self.entries))
        return self.entries[index]

    def append(
        self,
        first_index: int,
        leaf_hashes: Sequence[bytes],
        entries: Sequence[bytes],
        nodes: Sequence[NewNode],
        version_seqs: Sequence[int | None] | None = None,
    ) -> None:
        if first_index != len(self.leaf_hashes):
            raise SequenceConflictError(first_index, len(self.leaf_hashes))
        if len(entries) != len(leaf_hashes):
            raise ValueError(f"{len(entries)} entries for {len(leaf_hashes)} leaf hashes")
        links = {
            seq: first_index + i for i, seq in enumerate(version_seqs or ()) if seq is not None
        }
        taken = links.keys() & self.version_seqs.keys()
        if taken or len(links) != sum(s is not None for s in version_seqs or ()):
            raise DuplicateError(
                f"version_seqs anchored twice: {sorted(taken) or 'within the batch'}"
            )
        for level, index, _ in nodes:
            if (level, index) in self.nodes:
                raise DuplicateError(f"node (level {level}, index {index}) already stored")
        self.leaf_hashes.extend(leaf_hashes)
        self.entries.extend(entries)
        self.version_seqs.update(links)
        self.nodes.update(((level, index), h) for level, index, h in nodes)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self.checkpoints[max(self.checkpoints)] if self.checkpoints else None

    def store_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        if checkpoint.size in self.checkpoints:
            raise DuplicateError(f"a checkpoint of size {checkpoint.size} is already stored")
        self.checkpoints[checkpoint.size] = checkpoint

    def leaf_index_of_version(self, version_seq: int) -> int | None:
        return self.version_seqs.get(version_seq)
