"""The published Certificate Transparency vectors, and every mutation of them failing typed.

The data files hold the eight-leaf reference tree and its published proofs
(tests/data/ledger). Each case below is a published proof as it is, or one
mutation of it — the set transparency-dev/merkle's verify_test.go uses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from ledger import (
    EMPTY_ROOT,
    CompactRange,
    HashSizeError,
    IndexOutOfRangeError,
    MemoryLedgerStore,
    MerkleLog,
    NodeID,
    ProofError,
    ProofLengthError,
    RootMismatchError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.verify import root_from_inclusion_proof

DATA = Path(__file__).resolve().parents[1] / "data" / "ledger"
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


TREE = _load("tree.json")
LEAVES = [bytes.fromhex(x) for x in TREE["leaves"]]
ROOTS = [bytes.fromhex(x) for x in TREE["roots"]]


def _flip(proof: list[bytes], i: int, bit: int) -> list[bytes]:
    out = list(proof)
    out[i] = bytes([out[i][0] ^ bit]) + out[i][1:]
    return out


# -- inclusion ---------------------------------------------------------------------


@dataclass(frozen=True)
class Inclusion:
    leaf_hash: bytes
    index: int
    size: int
    proof: list[bytes]
    root: bytes


Mutation = Callable[[Any], Any]

# name -> (mutation, the error it must raise; ProofError where the exact kind
# depends on the vector)
INCLUSION_MUTATIONS: dict[str, tuple[Mutation, type[ProofError]]] = {
    "leaf index - 1": (lambda c: replace(c, index=c.index - 1), ProofError),
    "leaf index + 1": (lambda c: replace(c, index=c.index + 1), ProofError),
    "leaf index ^ 2": (lambda c: replace(c, index=c.index ^ 2), ProofError),
    "leaf index = size": (lambda c: replace(c, index=c.size), IndexOutOfRangeError),
    "tree size * 2": (lambda c: replace(c, size=c.size * 2), ProofError),
    "tree size / 2": (lambda c: replace(c, size=c.size // 2), ProofError),
    "wrong leaf": (lambda c: replace(c, leaf_hash=leaf_hash(b"WrongLeaf")), RootMismatchError),
    "short leaf hash": (lambda c: replace(c, leaf_hash=b"WrongLeaf"), HashSizeError),
    "empty root": (lambda c: replace(c, root=EMPTY_ROOT), RootMismatchError),
    "random root": (lambda c: replace(c, root=SOME_HASH), RootMismatchError),
    "trailing garbage": (lambda c: replace(c, proof=[*c.proof, b""]), ProofLengthError),
    "trailing root": (lambda c: replace(c, proof=[*c.proof, c.root]), ProofLengthError),
    "preceding garbage": (lambda c: replace(c, proof=[b"", *c.proof]), ProofLengthError),
    "preceding root": (lambda c: replace(c, proof=[c.root, *c.proof]), ProofLengthError),
}
INCLUSION_NONEMPTY: dict[str, tuple[Mutation, type[ProofError]]] = {
    "flipped bit 3 of proof[0]": (
        lambda c: replace(c, proof=_flip(c.proof, 0, 8)),
        RootMismatchError,
    ),
    "flipped bit 3 of proof[-1]": (
        lambda c: replace(c, proof=_flip(c.proof, len(c.proof) - 1, 8)),
        RootMismatchError,
    ),
    "removed component": (lambda c: replace(c, proof=c.proof[:-1]), ProofLengthError),
    "inserted component": (
        lambda c: replace(c, proof=[c.proof[0], SOME_HASH, *c.proof[1:]]),
        ProofLengthError,
    ),
}


# -- consistency -------------------------------------------------------------------


@dataclass(frozen=True)
class Consistency:
    size1: int
    size2: int
    proof: list[bytes]
    root1: bytes
    root2: bytes


CONSISTENCY_MUTATIONS: dict[str, tuple[Mutation, type[ProofError]]] = {
    "size1 - 1": (lambda c: replace(c, size1=c.size1 - 1), ProofError),
    "size1 + 1": (lambda c: replace(c, size1=c.size1 + 1), ProofError),
    "size1 ^ 2": (lambda c: replace(c, size1=c.size1 ^ 2), ProofError),
    "size2 * 2": (lambda c: replace(c, size2=c.size2 * 2), ProofError),
    "size2 / 2": (lambda c: replace(c, size2=c.size2 // 2), ProofError),
    "wrong root1": (lambda c: replace(c, root1=SOME_HASH), RootMismatchError),
    "wrong root2": (lambda c: replace(c, root2=SOME_HASH), RootMismatchError),
    "short root1": (lambda c: replace(c, root1=b"WrongRoot"), HashSizeError),
    "swapped roots": (lambda c: replace(c, root1=c.root2, root2=c.root1), RootMismatchError),
    "empty proof": (lambda c: replace(c, proof=[]), ProofLengthError),
    "trailing garbage": (lambda c: replace(c, proof=[*c.proof, b""]), ProofLengthError),
    "trailing root1": (lambda c: replace(c, proof=[*c.proof, c.root1]), ProofLengthError),
    "trailing root2": (lambda c: replace(c, proof=[*c.proof, c.root2]), ProofLengthError),
    "preceding garbage": (lambda c: replace(c, proof=[b"", *c.proof]), ProofLengthError),
    "preceding root1": (lambda c: replace(c, proof=[c.root1, *c.proof]), ProofLengthError),
    "preceding root2": (lambda c: replace(c, proof=[c.root2, *c.proof]), ProofLengthError),
    "preceding proof[0]": (lambda c: replace(c, proof=[c.proof[0], *c.proof]), ProofLengthError),
    "truncated proof": (lambda c: replace(c, proof=c.proof[:-1]), ProofLengthError),
    "flipped bit 4 of proof[0]": (
        lambda c: replace(c, proof=_flip(c.proof, 0, 16)),
        RootMismatchError,
    ),
    "flipped bit 4 of proof[-1]": (
        lambda c: replace(c, proof=_flip(c.proof, len(c.proof) - 1, 16)),
        RootMismatchError,
    ),
}


# -- the walk ----------------------------------------------------------------------


def _cases() -> Iterator[Any]:
    for p in _load("inclusion.json")["proofs"]:
        index, size = p["leaf_index"], p["tree_size"]
        case = Inclusion(
            leaf_hash(LEAVES[index]),
            index,
            size,
            [bytes.fromhex(h) for h in p["proof"]],
            ROOTS[size],
        )
        name = f"inclusion of {index} in {size}"
        yield pytest.param(case, None, id=f"{name}: happy path")
        mutations = {**INCLUSION_MUTATIONS, **(INCLUSION_NONEMPTY if case.proof else {})}
        for what, (mutate, error) in mutations.items():
            yield pytest.param(mutate(case), error, id=f"{name}: {what}")
    for p in _load("consistency.json")["proofs"]:
        size1, size2 = p["size1"], p["size2"]
        ccase = Consistency(
            size1, size2, [bytes.fromhex(h) for h in p["proof"]], ROOTS[size1], ROOTS[size2]
        )
        name = f"consistency {size1} to {size2}"
        yield pytest.param(ccase, None, id=f"{name}: happy path")
        if ccase.proof:  # like the Go suite: mutate only non-trivial proofs
            for what, (mutate, error) in CONSISTENCY_MUTATIONS.items():
                yield pytest.param(mutate(ccase), error, id=f"{name}: {what}")


@pytest.mark.parametrize(("case", "error"), list(_cases()))
def test_published_vector_verifies_and_each_mutation_fails_typed(
    case: Inclusion | Consistency, error: type[ProofError] | None
) -> None:
    def check() -> None:
        if isinstance(case, Inclusion):
            verify_inclusion(case.leaf_hash, case.index, case.size, case.proof, case.root)
        else:
            verify_consistency(case.size1, case.size2, case.proof, case.root1, case.root2)

    if error is None:
        check()
    else:
        with pytest.raises(error):
            check()


def test_log_reproduces_published_roots_nodes_and_proofs() -> None:
    log = MerkleLog(MemoryLedgerStore())
    for entry in LEAVES:
        log.append([entry])
    assert [log.root(n) for n in range(len(ROOTS))] == ROOTS
    for level, hashes in enumerate(TREE["nodes"]):
        for index, h in enumerate(hashes):
            assert log.store.node_hashes([NodeID(level, index)]) == [bytes.fromhex(h)]
    for p in _load("inclusion.json")["proofs"]:
        want = [bytes.fromhex(h) for h in p["proof"]]
        assert log.inclusion_proof(p["leaf_index"], p["tree_size"]) == want
    for p in _load("consistency.json")["proofs"]:
        want = [bytes.fromhex(h) for h in p["proof"]]
        assert log.consistency_proof(p["size1"], p["size2"]) == want


def test_compact_range_reproduces_published_roots() -> None:
    edge = CompactRange()
    assert edge.root() == ROOTS[0]
    for n, entry in enumerate(LEAVES, start=1):
        edge.append(leaf_hash(entry))
        assert edge.root() == ROOTS[n]


def test_hashes_are_domain_separated() -> None:
    """The forgery merkletools allows: inner hashes presented as leaves give another root."""
    inner = [
        node_hash(leaf_hash(LEAVES[0]), leaf_hash(LEAVES[1])),
        node_hash(leaf_hash(LEAVES[2]), leaf_hash(LEAVES[3])),
    ]
    forged = MerkleLog(MemoryLedgerStore())
    forged.append(inner)
    assert forged.root() != ROOTS[4]
    assert leaf_hash(b"") == bytes.fromhex(TREE["nodes"][0][0])
    assert ROOTS[0] == EMPTY_ROOT


def test_single_leaf_tree_proof_is_empty_and_checks_the_leaf() -> None:
    h = leaf_hash(b"data")
    verify_inclusion(h, 0, 1, [], h)
    with pytest.raises(RootMismatchError):
        verify_inclusion(h, 0, 1, [], SOME_HASH)
    with pytest.raises(IndexOutOfRangeError):
        root_from_inclusion_proof(h, 0, 0, [])


def test_consistency_edge_sizes() -> None:
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    verify_consistency(0, 5, [], EMPTY_ROOT, ROOTS[5])  # every tree extends the empty one
    verify_consistency(3, 3, [], ROOTS[3], ROOTS[3])
    with pytest.raises(RootMismatchError):
        verify_consistency(0, 5, [], ROOTS[1], ROOTS[5])
    with pytest.raises(ProofLengthError):
        verify_consistency(3, 3, [ROOTS[3]], ROOTS[3], ROOTS[3])
    with pytest.raises(RootMismatchError):
        verify_consistency(3, 3, [], ROOTS[3], ROOTS[4])
    with pytest.raises(ProofError):
        verify_consistency(4, 3, [], ROOTS[4], ROOTS[3])


def test_errors_say_got_and_want() -> None:
    with pytest.raises(ProofLengthError, match="got 4 hashes, want 3"):
        verify_inclusion(leaf_hash(LEAVES[0]), 0, 8, [SOME_HASH] * 4, ROOTS[8])
    with pytest.raises(RootMismatchError) as info:
        verify_inclusion(leaf_hash(LEAVES[1]), 0, 1, [], ROOTS[1])
    assert info.value.expected == ROOTS[1]
    assert info.value.calculated == leaf_hash(LEAVES[1])
    assert ROOTS[1].hex() in str(info.value)
