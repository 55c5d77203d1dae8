"""What the ledger shows the world: checkpoints, proofs and the $verify operation.

Framework-free, like the FHIR interactions: each function takes the store
(or a repository) and plain arguments and returns data or raises a
:class:`~records.errors.FHIRError`. Anyone can check the answers offline
with the verifier key alone (see docs/ledger.md).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from ledger.checkpoint import NoteVerifier, verify_note
from ledger.errors import LedgerError
from ledger.rfc9162 import leaf_hash
from ledger.verify import verify_inclusion
from records.access import Repository
from records.audit import version_entry
from records.canonical import canonical_sha256
from records.errors import BadRequest, NotFound
from records.storage import SQLStore
from records.validation import check_resource_type

__all__ = ["checkpoint_note", "consistency_proof", "inclusion_proof", "verify_version"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def checkpoint_note(store: SQLStore) -> str:
    """The latest signed checkpoint, as published (C2SP signed note)."""
    with store.read() as tx:
        latest = tx.ledger().latest_checkpoint()
    if latest is None:
        raise NotFound("No checkpoint has been signed yet")
    return latest.note


def _size(tx: Any, size: int | None, what: str) -> int:
    current = tx.ledger().size()
    if size is None:
        latest = tx.ledger().latest_checkpoint()
        if latest is None:
            raise NotFound("No checkpoint has been signed yet")
        return int(latest.size)
    if not 0 <= size <= current:
        raise BadRequest(f"{what}={size} is outside the log (0..{current})", expression=what)
    return size


def inclusion_proof(store: SQLStore, index: int, size: int | None = None) -> dict[str, Any]:
    """Audit path of leaf ``index`` in the tree of ``size`` (default: the latest checkpoint)."""
    with store.read() as tx:
        tree_size = _size(tx, size, "size")
        if not 0 <= index < tree_size:
            raise BadRequest(
                f"index={index} is not a leaf of the tree of size {tree_size}", expression="index"
            )
        log = tx.ledger()
        entry = log.leaf(index)
        path = log.inclusion_proof(index, tree_size)
        root = log.root(tree_size)
    return {
        "leafIndex": index,
        "treeSize": tree_size,
        "entry": entry.decode(),
        "leafHash": _b64(leaf_hash(entry)),
        "auditPath": [_b64(h) for h in path],
        "rootHash": _b64(root),
    }


def consistency_proof(store: SQLStore, first: int, second: int | None = None) -> dict[str, Any]:
    """Proof that the tree of ``first`` leaves is a prefix of the tree of ``second``."""
    with store.read() as tx:
        second_size = _size(tx, second, "second")
        if not 0 <= first <= second_size:
            raise BadRequest(
                f"first={first} must be between 0 and second={second_size}", expression="first"
            )
        log = tx.ledger()
        proof = log.consistency_proof(first, second_size)
        first_root, second_root = log.root(first), log.root(second_size)
    return {
        "first": first,
        "second": second_size,
        "proof": [_b64(h) for h in proof],
        "firstRootHash": _b64(first_root),
        "secondRootHash": _b64(second_root),
    }


def verify_version(
    repo: Repository,
    verifier: NoteVerifier,
    resource_type: str,
    resource_id: str,
    version_id: str,
) -> bytes:
    """``$verify`` on one version: a Parameters resource anyone can check offline."""
    check_resource_type(resource_type)
    if not version_id.isdigit():
        raise NotFound(f"{resource_type}/{resource_id} has no version {version_id!r}")
    with repo.read() as g:
        stored = g.visible(g.tx.version(resource_type, resource_id, int(version_id)))
        if stored is None:
            raise NotFound(f"{resource_type}/{resource_id} has no version {version_id}")
        expected = version_entry(stored)
        index = g.tx.leaf_index_of(stored.seq)
        pending = g.tx.is_pending(stored.seq)
        log = g.tx.ledger()
        latest = log.latest_checkpoint()
        params: list[dict[str, Any]] = [
            {
                "name": "resource",
                "valueString": f"{resource_type}/{resource_id}/_history/{version_id}",
            },
        ]
        if stored.data is not None:
            params.append({"name": "resourceSha256", "valueString": canonical_sha256(stored.data)})
        if index is None or latest is None or index >= latest.size:
            verdict = "unanchored" if pending or index is not None else "forged"
            params.insert(0, {"name": "verdict", "valueCode": verdict})
            params.append({"name": "entry", "valueString": expected.decode()})
            return orjson.dumps({"resourceType": "Parameters", "parameter": params})
        entry = log.leaf(index)
        path = log.inclusion_proof(index, latest.size)
    verdict = "ok" if entry == expected else "altered"
    try:
        checkpoint = verify_note(latest.note, verifier)
        verify_inclusion(leaf_hash(entry), index, checkpoint.size, path, checkpoint.root)
    except LedgerError as exc:
        verdict = "altered"
        params.append({"name": "problem", "valueString": str(exc)})
    params = [
        {"name": "verdict", "valueCode": verdict},
        *params,
        {"name": "entry", "valueString": entry.decode()},
        {"name": "leafIndex", "valueUnsignedInt": index},
        {"name": "treeSize", "valueUnsignedInt": latest.size},
        {"name": "leafHash", "valueBase64Binary": _b64(leaf_hash(entry))},
        *({"name": "auditPath", "valueBase64Binary": _b64(h)} for h in path),
        {"name": "rootHash", "valueBase64Binary": _b64(latest.root)},
        {"name": "checkpoint", "valueString": latest.note},
        {"name": "verifierKey", "valueString": verifier.key()},
    ]
    return orjson.dumps({"resourceType": "Parameters", "parameter": params})
