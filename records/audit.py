"""The ledger audit behind ``accord verify``: is every stored version what was anchored?

One pass over the leaves re-hashes every entry and rebuilds the tree, so a
changed leaf, a truncated log or a rewritten history shows up against the
signed checkpoint (and against a checkpoint the auditor saved earlier). One
pass over the versions re-computes each version's entry from the stored row
and compares it with its leaf. Per version the verdict is:

* ``ok``: the stored version is exactly what was anchored;
* ``altered``: the stored row differs from its anchored entry — we report who
  wrote the last genuine version, when, and the window the change fell in;
* ``missing``: the ledger anchors a version that is no longer stored;
* ``forged``: a stored version that no leaf and no pending entry accounts for;
* ``unanchored``: written and still pending (normal for a few seconds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from ledger.checkpoint import Checkpoint, NoteVerifier, verify_note
from ledger.compact import CompactRange
from ledger.errors import CheckpointError
from ledger.rfc9162 import LEAF_PREFIX
from records.anchoring import LedgerEntry, entry_bytes, parse_entry
from records.storage import SQLStore
from records.storage.audit_sql import iter_checkpoints, iter_leaves, iter_versions

__all__ = ["AuditReport", "Finding", "audit_ledger", "version_entry"]

TAMPERING = ("altered", "missing", "forged")


@dataclass(slots=True)
class Finding:
    status: str  # altered | missing | forged | unanchored
    resource: str  # Type/id/_history/vid
    detail: str
    leaf_index: int | None = None
    last_genuine_source: str | None = None
    last_genuine_at: str | None = None
    window_start: str | None = None
    window_end: str | None = None


@dataclass(slots=True)
class TreeCheck:
    name: str
    ok: bool
    detail: str


@dataclass(slots=True)
class AuditReport:
    verified_at: str
    versions: int = 0
    leaves: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    tree: list[TreeCheck] = field(default_factory=list)
    checkpoint: dict[str, Any] | None = None

    @property
    def tampered(self) -> bool:
        return any(f.status in TAMPERING for f in self.findings) or not all(t.ok for t in self.tree)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = not self.tampered
        return out


def version_entry(row: Any) -> bytes:
    """The ledger entry a stored version row should have."""
    return entry_bytes(
        row.resource_type,
        row.resource_id,
        int(row.version_id),
        row.last_updated + "+00:00",
        row.method,
        row.source,
        bytes(row.data) if row.data is not None else None,
    )


def _name(entry: LedgerEntry) -> str:
    return f"{entry.resource_type}/{entry.resource_id}/_history/{entry.version_id}"


def _entry_or_none(raw: bytes) -> LedgerEntry | None:
    try:
        return parse_entry(raw)
    except ValueError:
        return None


def audit_ledger(
    store: SQLStore,
    verifier: NoteVerifier,
    *,
    since: Checkpoint | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditReport:
    """Check every version and the whole tree; ``progress`` is told how many rows were read."""
    report = AuditReport(datetime.now(UTC).isoformat(timespec="seconds"))
    tick = progress or (lambda n: None)
    with store.read() as tx:
        latest = _checkpoints(tx.conn, verifier, report)
        _leaves(tx.conn, report, latest, since, tick)
        _versions(tx.conn, report, tick)
    for finding in report.findings:
        report.counts[finding.status] = report.counts.get(finding.status, 0) + 1
    report.counts["ok"] = report.versions - sum(
        1 for f in report.findings if f.status in ("altered", "forged", "unanchored")
    )
    return report


def _checkpoints(conn: Any, verifier: NoteVerifier, report: AuditReport) -> Checkpoint | None:
    latest: Checkpoint | None = None
    bad = 0
    for row in iter_checkpoints(conn):
        try:
            checkpoint = verify_note(row.note, verifier)
        except CheckpointError as exc:
            bad += 1
            report.tree.append(
                TreeCheck(
                    "checkpoint signature", False, f"checkpoint of size {row.tree_size}: {exc}"
                )
            )
            continue
        if checkpoint.size != row.tree_size:
            bad += 1
            report.tree.append(
                TreeCheck(
                    "checkpoint size",
                    False,
                    f"row says {row.tree_size}, note says {checkpoint.size}",
                )
            )
            continue
        latest = checkpoint
        report.checkpoint = {"size": checkpoint.size, "signedAt": row.signed_at, "note": row.note}
    if latest is None and not bad:
        report.tree.append(TreeCheck("checkpoint", True, "no checkpoint signed yet"))
    elif not bad:
        report.tree.append(TreeCheck("checkpoint signatures", True, "every checkpoint verifies"))
    return latest


def _leaves(
    conn: Any,
    report: AuditReport,
    latest: Checkpoint | None,
    since: Checkpoint | None,
    tick: Callable[[int], None],
) -> None:
    tree = CompactRange()
    roots: dict[int, bytes] = {}
    wanted = {c.size for c in (latest, since) if c is not None}
    if 0 in wanted:
        roots[0] = tree.root()
    for row in iter_leaves(conn):
        if row.leaf_index != tree.size:
            report.tree.append(
                TreeCheck(
                    "leaf sequence",
                    False,
                    f"leaf {tree.size} is missing (next stored: {row.leaf_index})",
                )
            )
            break
        entry_raw = bytes(row.entry)
        computed = sha256(LEAF_PREFIX + entry_raw).digest()
        entry = _entry_or_none(entry_raw)
        named = _name(entry) if entry else f"(unreadable entry of leaf {row.leaf_index})"
        if computed != bytes(row.leaf_hash):
            report.findings.append(
                Finding(
                    "altered",
                    named,
                    f"ledger leaf {row.leaf_index} was changed: its hash does not match its entry",
                    row.leaf_index,
                )
            )
        if row.version_seq is not None and row.version_exists is None:
            report.findings.append(
                Finding(
                    "missing",
                    named,
                    "anchored in the ledger but no longer stored",
                    row.leaf_index,
                    entry.source if entry else None,
                    entry.last_updated if entry else None,
                    entry.last_updated if entry else None,
                    report.verified_at,
                )
            )
        tree.append(computed)
        if tree.size in wanted:
            roots[tree.size] = tree.root()
        report.leaves += 1
        if report.leaves % 1000 == 0:
            tick(1000)
    tick(report.leaves % 1000)
    for label, checkpoint in (("latest signed checkpoint", latest), ("saved checkpoint", since)):
        if checkpoint is None:
            continue
        root = roots.get(checkpoint.size)
        if root is None:
            report.tree.append(
                TreeCheck(
                    label,
                    False,
                    f"the log holds {tree.size} leaves, fewer than the {checkpoint.size} it signed: truncated",
                )
            )
        elif root != checkpoint.root:
            report.tree.append(
                TreeCheck(
                    label,
                    False,
                    f"the first {checkpoint.size} leaves no longer hash to the signed root: the ledger was rewritten",
                )
            )
        else:
            report.tree.append(TreeCheck(label, True, f"the first {checkpoint.size} leaves match"))


def _versions(conn: Any, report: AuditReport, tick: Callable[[int], None]) -> None:
    for row in iter_versions(conn):
        report.versions += 1
        if report.versions % 1000 == 0:
            tick(1000)
        name = f"{row.resource_type}/{row.resource_id}/_history/{row.version_id}"
        try:
            expected = version_entry(row)
        except ValueError as exc:
            report.findings.append(Finding("altered", name, f"stored JSON is unreadable: {exc}"))
            continue
        anchored = row.leaf_entry if row.leaf_entry is not None else row.pending_entry
        if anchored is None:
            report.findings.append(
                Finding(
                    "forged", name, "stored, but no ledger leaf or pending entry accounts for it"
                )
            )
            continue
        anchored = bytes(anchored)
        if expected == anchored:
            if row.leaf_entry is None:
                report.findings.append(Finding("unanchored", name, "written; anchoring pending"))
            continue
        genuine = _entry_or_none(anchored)
        if genuine is None:
            report.findings.append(
                Finding("altered", name, "its ledger entry is unreadable", row.leaf_index)
            )
            continue
        report.findings.append(
            Finding(
                "altered",
                name,
                _difference(genuine, parse_entry(expected)),
                row.leaf_index,
                genuine.source,
                genuine.last_updated,
                genuine.last_updated,
                report.verified_at,
            )
        )
    tick(report.versions % 1000)


def _difference(genuine: Any, stored: Any) -> str:
    changed = [
        label
        for label, a, b in (
            ("content", genuine.sha256, stored.sha256),
            ("lastUpdated", genuine.last_updated, stored.last_updated),
            ("source", genuine.source, stored.source),
            ("operation", genuine.operation, stored.operation),
        )
        if a != b
    ]
    return "stored version differs from what was anchored: " + (", ".join(changed) or "entry")
