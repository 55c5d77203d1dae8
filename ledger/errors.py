"""Every failure the ledger reports, each saying what it got and what it wanted.

::

    LedgerError
    ├── ProofError                  a proof cannot be made, or does not check out
    │   ├── IndexOutOfRangeError    leaf index not below the tree size
    │   ├── TreeSizeError           sizes out of order, or beyond the log
    │   ├── ProofLengthError        a proof with too many or too few hashes
    │   ├── HashSizeError           a hash that is not 32 bytes
    │   └── RootMismatchError       the proof leads to another root
    ├── StorageError
    │   ├── MissingNodeError        a node the tree needs is not stored
    │   ├── SequenceConflictError   an append that does not start at the log's end
    │   └── DuplicateError          a leaf, node, version or checkpoint already stored
    ├── InconsistentLogError        the log refused to sign a fork of its own history
    └── CheckpointError
        ├── KeyFormatError          a signer or verifier key string is malformed
        ├── MalformedNoteError      not a C2SP signed note
        ├── MalformedCheckpointError  the note's text is not a tlog-checkpoint
        ├── InvalidSignatureError   the key's signature is there and wrong
        ├── UnverifiedNoteError     no signature by the expected key
        └── OriginMismatchError     a checkpoint of another log

A verifier only needs ``except ProofError`` or ``except CheckpointError``; the
subclasses exist so tests and logs can tell a truncated proof from a forged one.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CheckpointError",
    "DuplicateError",
    "HashSizeError",
    "InconsistentLogError",
    "IndexOutOfRangeError",
    "InvalidSignatureError",
    "KeyFormatError",
    "LedgerError",
    "MalformedCheckpointError",
    "MalformedNoteError",
    "MissingNodeError",
    "OriginMismatchError",
    "ProofError",
    "ProofLengthError",
    "RootMismatchError",
    "SequenceConflictError",
    "StorageError",
    "TreeSizeError",
    "UnverifiedNoteError",
]


class LedgerError(Exception):
    """Root of the ledger's errors."""


# -- proofs --------------------------------------------------------------------


class ProofError(LedgerError):
    """A proof cannot be made for these arguments, or it does not verify."""


class IndexOutOfRangeError(ProofError):
    def __init__(self, index: int, size: int) -> None:
        self.index, self.size = index, size
        super().__init__(
            f"leaf index {index} out of range for tree size {size}: want 0 <= index < size"
        )


class TreeSizeError(ProofError):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class ProofLengthError(ProofError):
    def __init__(self, got: int, want: int) -> None:
        self.got, self.want = got, want
        super().__init__(f"wrong proof length: got {got} hashes, want {want}")


class HashSizeError(ProofError):
    def __init__(self, what: str, got: int, want: int) -> None:
        self.what, self.got, self.want = what, got, want
        super().__init__(f"{what} has {got} bytes, want {want}")


class RootMismatchError(ProofError):
    """The proof is well formed but leads to another root: a forgery or a fork."""

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        self.expected, self.calculated = expected, calculated
        super().__init__(
            f"calculated root {calculated.hex()} does not match expected root {expected.hex()}"
        )


# -- storage -------------------------------------------------------------------


class StorageError(LedgerError):
    """The store is not in the state the log needs."""


class MissingNodeError(StorageError):
    def __init__(self, missing: Sequence[tuple[int, int]]) -> None:
        self.missing = list(missing)
        ids = ", ".join(f"(level {lv}, index {ix})" for lv, ix in self.missing)
        super().__init__(f"nodes not stored: {ids}")


class SequenceConflictError(StorageError):
    def __init__(self, got: int, want: int) -> None:
        self.got, self.want = got, want
        super().__init__(f"append starts at leaf {got}, but the log ends at {want}")


class DuplicateError(StorageError):
    """Something written once is being written again: roll the transaction back."""


class InconsistentLogError(LedgerError):
    """Signing would publish a tree that does not extend the last signed one."""

    def __init__(self, size1: int, size2: int, cause: LedgerError) -> None:
        self.size1, self.size2, self.cause = size1, size2, cause
        super().__init__(
            f"refusing to sign size {size2}: not consistent with the checkpoint "
            f"signed at size {size1} ({cause})"
        )


# -- checkpoints and signed notes ----------------------------------------------


class CheckpointError(LedgerError):
    """A signed note or checkpoint that cannot be trusted."""


class KeyFormatError(CheckpointError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed key: {reason}")


class MalformedNoteError(CheckpointError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed signed note: {reason}")


class MalformedCheckpointError(CheckpointError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"malformed checkpoint: {reason}")


class InvalidSignatureError(CheckpointError):
    def __init__(self, name: str, key_hash: bytes) -> None:
        self.name, self.key_hash = name, key_hash
        super().__init__(f"invalid signature for key {name}+{key_hash.hex()}")


class UnverifiedNoteError(CheckpointError):
    def __init__(self, name: str, key_hash: bytes, found: Sequence[str]) -> None:
        self.name, self.key_hash, self.found = name, key_hash, list(found)
        have = ", ".join(self.found) or "none"
        super().__init__(f"no signature by key {name}+{key_hash.hex()}; signatures found: {have}")


class OriginMismatchError(CheckpointError):
    def __init__(self, expected: str, got: str) -> None:
        self.expected, self.got = expected, got
        super().__init__(f"checkpoint origin {got!r}, want {expected!r}")
