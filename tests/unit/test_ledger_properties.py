"""Properties of random trees, cross-checked against an independent implementation.

pymerkle's RFC 9162-compatible configuration is its default: sha256 with its
"security" on — that setting *is* the RFC's 0x00 leaf / 0x01 node prefix
(``disable_security=True`` would drop the prefixes and give other roots). Its
indices count from 1; its inclusion path is the leaf hash followed by the
RFC audit path. Its consistency paths are laid out differently from RFC 9162,
so those are cross-checked by verification, not by equality.
"""

from __future__ import annotations

import math

import pymerkle
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import (
    EMPTY_ROOT,
    CompactRange,
    MemoryLedgerStore,
    MerkleLog,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.compact import range_nodes
from ledger.proof import consistency, inclusion

entries_st = st.lists(st.binary(max_size=24), max_size=150)


def _log(entries: list[bytes]) -> MerkleLog:
    log = MerkleLog(MemoryLedgerStore())
    log.append(entries)
    return log


def _reference(entries: list[bytes]) -> pymerkle.InmemoryTree:
    tree = pymerkle.InmemoryTree(algorithm="sha256")  # security (RFC prefixes) on by default
    for entry in entries:
        tree.append_entry(entry)
    return tree


@settings(max_examples=60, deadline=None)
@given(entries_st)
def test_roots_agree_with_pymerkle_for_every_prefix(entries: list[bytes]) -> None:
    log, ref = _log(entries), _reference(entries)
    for size in range(len(entries) + 1):
        assert log.root(size) == ref.get_root(size)
    assert log.root(0) == EMPTY_ROOT


@settings(max_examples=60, deadline=None)
@given(entries_st.filter(bool), st.data())
def test_every_inclusion_proof_verifies_and_matches_pymerkle(
    entries: list[bytes], data: st.DataObject
) -> None:
    log, ref = _log(entries), _reference(entries)
    for _ in range(10):
        size = data.draw(st.integers(1, len(entries)))
        index = data.draw(st.integers(0, size - 1))
        proof = log.inclusion_proof(index, size)
        verify_inclusion(leaf_hash(entries[index]), index, size, proof, log.root(size))
        assert proof == ref.prove_inclusion(index + 1, size).path[1:]


@settings(max_examples=60, deadline=None)
@given(entries_st.filter(bool), st.data())
def test_every_consistency_proof_verifies_and_pymerkle_agrees(
    entries: list[bytes], data: st.DataObject
) -> None:
    log, ref = _log(entries), _reference(entries)
    for _ in range(10):
        size2 = data.draw(st.integers(1, len(entries)))
        size1 = data.draw(st.integers(0, size2))
        proof = log.consistency_proof(size1, size2)
        verify_consistency(size1, size2, proof, log.root(size1), log.root(size2))
        if size1:
            theirs = ref.prove_consistency(size1, size2)
            pymerkle.verify_consistency(log.root(size1), log.root(size2), theirs)


def test_all_proofs_of_small_trees_verify() -> None:
    """Exhaustive below 70 leaves: every (index, size) and every (size1, size2)."""
    entries = [i.to_bytes(2, "big") for i in range(70)]
    log = _log(entries)
    roots = [log.root(n) for n in range(71)]
    for size in range(1, 71):
        for index in range(size):
            proof = log.inclusion_proof(index, size)
            verify_inclusion(leaf_hash(entries[index]), index, size, proof, roots[size])
        for size1 in range(size + 1):
            verify_consistency(
                size1, size, log.consistency_proof(size1, size), roots[size1], roots[size]
            )


@settings(max_examples=80, deadline=None)
@given(entries_st, st.lists(st.integers(1, 40), max_size=60))
def test_any_batch_split_gives_the_same_tree(entries: list[bytes], cuts: list[int]) -> None:
    whole_store, split_store = MemoryLedgerStore(), MemoryLedgerStore()
    whole, split = MerkleLog(whole_store), MerkleLog(split_store)
    whole.append(entries)
    start = 0
    for cut in cuts:
        if start >= len(entries):
            break
        assert split.append(entries[start : start + cut]) == start
        start += cut
        assert split.root() == whole.root(min(start, len(entries)))
    split.append(entries[start:])
    assert split.root() == whole.root()
    assert split_store.nodes == whole_store.nodes


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 2**40), st.data())
def test_proofs_read_logarithmically_many_nodes(size: int, data: st.DataObject) -> None:
    """Proof node ids are complete subtrees inside the tree, at most ~2·log2(n) of them."""
    bound = 2 * math.ceil(math.log2(size + 1)) + 2
    index = data.draw(st.integers(0, size - 1))
    size1 = data.draw(st.integers(0, size))
    for nodes in (inclusion(index, size), consistency(size1, size)):
        assert len(nodes.ids) <= bound
        for node in nodes.ids:
            assert node.coverage()[1] <= size
    edge = range_nodes(0, size)
    assert len(edge) == size.bit_count()
    assert [n.coverage() for n in edge][-1][1] == size


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=100))
def test_compact_range_round_trips_through_its_hashes(entries: list[bytes]) -> None:
    edge = CompactRange()
    edge.extend([leaf_hash(e) for e in entries])
    again = CompactRange(edge.size, edge.hashes)
    assert again.root() == edge.root() == _log(entries).root()
