"""The MerkleLog service over the in-memory store: append, proofs, checkpoints that never fork."""

from __future__ import annotations

import pytest

from ledger import (
    DuplicateError,
    InconsistentLogError,
    IndexOutOfRangeError,
    MemoryLedgerStore,
    MerkleLog,
    MissingNodeError,
    RootMismatchError,
    SequenceConflictError,
    TreeSizeError,
    generate_signer,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
    verify_note,
)

ENTRIES = [f"entry {i}".encode() for i in range(100)]


def _log(n: int = 100) -> tuple[MerkleLog, MemoryLedgerStore]:
    store = MemoryLedgerStore()
    log = MerkleLog(store)
    log.append(ENTRIES[:n])
    return log, store


def test_append_returns_the_first_index_and_keeps_entries() -> None:
    log = MerkleLog(MemoryLedgerStore())
    assert log.append([]) == 0
    assert log.append(ENTRIES[:3]) == 0
    assert log.append(ENTRIES[3:10]) == 3
    assert log.append([]) == 10
    assert log.size() == 10
    assert log.leaf(4) == ENTRIES[4]
    assert log.leaf_hash(4) == leaf_hash(ENTRIES[4])
    with pytest.raises(IndexOutOfRangeError):
        log.leaf(10)
    with pytest.raises(IndexOutOfRangeError):
        log.leaf_hash(-1)


def test_proofs_from_the_log_verify() -> None:
    log, _ = _log()
    for size in (1, 2, 3, 37, 64, 100):
        root = log.root(size)
        for index in range(0, size, 7):
            verify_inclusion(
                leaf_hash(ENTRIES[index]), index, size, log.inclusion_proof(index, size), root
            )
        for size1 in range(0, size + 1, 5):
            verify_consistency(
                size1, size, log.consistency_proof(size1, size), log.root(size1), root
            )
    assert log.inclusion_proof(99) == log.inclusion_proof(99, 100)


def test_sizes_beyond_the_log_are_refused() -> None:
    log, _ = _log(10)
    with pytest.raises(TreeSizeError, match="the log has 10 leaves"):
        log.root(11)
    with pytest.raises(TreeSizeError):
        log.inclusion_proof(0, 11)
    with pytest.raises(IndexOutOfRangeError):
        log.inclusion_proof(10, 10)
    with pytest.raises(TreeSizeError):
        log.consistency_proof(5, 11)
    with pytest.raises(TreeSizeError):
        log.consistency_proof(6, 5)
    with pytest.raises(TreeSizeError):
        log.consistency_proof(11, 11)  # no node to read: the size is asked for
    with pytest.raises(TreeSizeError):
        log.consistency_proof(0, 11)
    with pytest.raises(IndexOutOfRangeError):
        log.leaf_hash(10)
    with pytest.raises(TreeSizeError):
        log.root(-1)
    assert log.consistency_proof(10, 10) == []


def test_version_seqs_link_leaves_and_are_unique() -> None:
    store = MemoryLedgerStore()
    log = MerkleLog(store)
    log.append(ENTRIES[:3], version_seqs=[7, None, 9])
    assert store.leaf_index_of_version(9) == 2
    assert store.leaf_index_of_version(8) is None
    with pytest.raises(DuplicateError):
        log.append(ENTRIES[3:4], version_seqs=[7])
    with pytest.raises(ValueError):
        log.append(ENTRIES[3:5], version_seqs=[1])
    assert log.size() == 3


def test_store_refuses_a_gap_or_overlap() -> None:
    store = MemoryLedgerStore()
    with pytest.raises(SequenceConflictError, match="starts at leaf 1, but the log ends at 0"):
        store.append(1, [leaf_hash(b"x")], [b"x"], [])


def test_checkpoint_signs_the_current_tree_and_is_idempotent() -> None:
    log, store = _log(10)
    signer = generate_signer("accord.test/log")
    first = log.checkpoint(signer, signed_at="2024-01-01T00:00:00.000000")
    assert (first.size, first.root) == (10, log.root())
    checkpoint = verify_note(first.note, signer.verifier_key(), origin="accord.test/log")
    assert (checkpoint.size, checkpoint.root) == (10, log.root())
    assert log.checkpoint(signer) == first  # nothing appended: the same note
    log.append(ENTRIES[10:20])
    second = log.checkpoint(signer)
    assert second.size == 20 and log.latest_checkpoint() == second
    assert sorted(store.checkpoints) == [10, 20]


def test_checkpoint_of_the_empty_log() -> None:
    log = MerkleLog(MemoryLedgerStore())
    signer = generate_signer("log")
    empty = log.checkpoint(signer)
    assert verify_note(empty.note, signer.verifier).size == 0
    log.append(ENTRIES[:5])
    assert log.checkpoint(signer).size == 5


def test_refuses_to_sign_a_tree_that_does_not_extend_the_signed_one() -> None:
    log, store = _log(10)
    signer = generate_signer("log")
    log.checkpoint(signer)
    log.append(ENTRIES[10:20])
    store.nodes[(3, 0)] = bytes(32)  # tamper with the subtree over leaves 0..7
    with pytest.raises(InconsistentLogError, match="signed at size 10") as info:
        log.checkpoint(signer)
    assert info.value.size1 == 10 and info.value.size2 == 20
    assert sorted(store.checkpoints) == [10]


def test_refuses_to_resign_a_tampered_tree_of_the_same_size() -> None:
    log, store = _log(12)
    signer = generate_signer("log")
    log.checkpoint(signer)
    store.nodes[(2, 2)] = bytes(32)  # the subtree over leaves 8..11, on the right edge
    with pytest.raises(InconsistentLogError):
        log.checkpoint(signer)


def test_a_rewritten_leaf_fails_its_inclusion_proof_against_the_signed_root() -> None:
    """The log trusts its stored subtrees; a client checking a proof does not."""
    log, store = _log(12)
    signed = log.checkpoint(generate_signer("log"))
    store.leaf_hashes[11] = leaf_hash(b"rewritten")
    with pytest.raises(RootMismatchError):
        verify_inclusion(log.leaf_hash(11), 11, 12, log.inclusion_proof(11, 12), signed.root)


def test_refuses_to_sign_a_shrunken_log() -> None:
    log, store = _log(12)
    signer = generate_signer("log")
    log.checkpoint(signer)
    del store.leaf_hashes[8:], store.entries[8:]
    with pytest.raises(InconsistentLogError, match="fewer than the signed 12"):
        log.checkpoint(signer)


def test_missing_node_is_reported_with_its_id() -> None:
    log, store = _log(16)
    del store.nodes[(2, 1)]
    with pytest.raises(MissingNodeError, match=r"\(level 2, index 1\)"):
        log.inclusion_proof(0, 16)
