"""RFC 9162 Merkle log: hashing, append, proofs, C2SP checkpoints signed with Ed25519.

Why not ``merkletools``, which the design brief named: it does not install on
Python 3.11 (its pysha3 dependency fails to build); it hashes leaves and inner
nodes alike, with no 0x00/0x01 domain separation, so the two-leaf tree whose
leaves are the four-leaf tree's inner hashes has the same root — a
second-preimage forgery of any entry; and it has neither incremental append
(it rebuilds the tree) nor consistency proofs, without which a log can
rewrite its history unnoticed. RFC 9162 fixes all three, and the proof
shapes here follow transparency-dev/merkle, the Go reference.

Modules, one concern each: ``rfc9162`` hashes, ``compact`` is the
append-only right edge, ``proof`` picks node ids (pure index math),
``verify`` checks proofs, ``checkpoint`` signs and opens notes, ``log`` is
the service over a storage port, ``memory`` and ``storage`` (SQL; import it
explicitly, so this package stays free of SQLAlchemy) implement the port.
"""

from .checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    format_checkpoint,
    generate_signer,
    load_signer,
    load_verifier,
    open_note,
    parse_checkpoint,
    sign_checkpoint,
    sign_note,
    verify_note,
)
from .compact import CompactRange, NodeID
from .errors import (
    CheckpointError,
    DuplicateError,
    HashSizeError,
    InconsistentLogError,
    IndexOutOfRangeError,
    InvalidSignatureError,
    KeyFormatError,
    LedgerError,
    MalformedCheckpointError,
    MalformedNoteError,
    MissingNodeError,
    OriginMismatchError,
    ProofError,
    ProofLengthError,
    RootMismatchError,
    SequenceConflictError,
    StorageError,
    TreeSizeError,
    UnverifiedNoteError,
)
from .log import LedgerStore, MerkleLog, StoredCheckpoint
from .memory import MemoryLedgerStore
from .rfc9162 import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash
from .verify import (
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Checkpoint",
    "CheckpointError",
    "CompactRange",
    "DuplicateError",
    "HashSizeError",
    "InconsistentLogError",
    "IndexOutOfRangeError",
    "InvalidSignatureError",
    "KeyFormatError",
    "LedgerError",
    "LedgerStore",
    "MalformedCheckpointError",
    "MalformedNoteError",
    "MemoryLedgerStore",
    "MerkleLog",
    "MissingNodeError",
    "NodeID",
    "NoteSigner",
    "NoteVerifier",
    "OriginMismatchError",
    "ProofError",
    "ProofLengthError",
    "RootMismatchError",
    "SequenceConflictError",
    "StorageError",
    "StoredCheckpoint",
    "TreeSizeError",
    "UnverifiedNoteError",
    "format_checkpoint",
    "generate_signer",
    "leaf_hash",
    "load_signer",
    "load_verifier",
    "node_hash",
    "open_note",
    "parse_checkpoint",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "sign_checkpoint",
    "sign_note",
    "verify_consistency",
    "verify_inclusion",
    "verify_note",
]
