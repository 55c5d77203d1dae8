"""The single sequencer: pending ledger entries become leaves, then a signed checkpoint.

Like Trillian's, queueing (the outbox row written with each version) and
integrating are separate steps, and only one sequencer integrates at a time:
it holds a database lock (an advisory lock on PostgreSQL, the write lock on
SQLite), so workers on many hosts may all run it safely. Appending the leaves
and deleting their outbox rows commit together, and the ledger refuses a
version twice, so a redelivered or duplicated task adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.checkpoint import NoteSigner
from ledger.log import StoredCheckpoint
from records.storage import SQLStore

__all__ = ["SEQUENCER_LOCK", "Integration", "integrate_pending"]

SEQUENCER_LOCK = "accord.ledger.sequencer"


@dataclass(frozen=True, slots=True)
class Integration:
    appended: int
    checkpoint: StoredCheckpoint


def integrate_pending(
    store: SQLStore, signer: NoteSigner, origin: str, batch_size: int = 5000
) -> Integration:
    """Integrate everything pending, ``batch_size`` leaves per transaction."""
    appended = 0
    while True:
        with store.write() as tx:
            tx.lock(SEQUENCER_LOCK)
            pending = tx.pending_entries(batch_size)
            log = tx.ledger()
            if pending:
                log.append([entry for _, entry in pending], [seq for seq, _ in pending])
                tx.clear_pending([seq for seq, _ in pending])
            checkpoint = log.checkpoint(signer, origin=origin)
        appended += len(pending)
        if len(pending) < batch_size:
            return Integration(appended, checkpoint)
