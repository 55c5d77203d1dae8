"""Patient identity inside one write transaction: match, link, and make both sides say so.

A :class:`PatientLinks` lives beside one ``Writer``. Before each Patient
version it matches the Patient against the master patient index and states
links to automatic matches in the new version; doubtful matches go to the
review queue. The matched peers must state the link back, and that waits for
:meth:`PatientLinks.settle`, just before the transaction's versions are
written: by then every Patient this transaction writes is known, so a peer
written here too gets the link in its own (rebuilt) version rather than a
second version or a "written twice" error. Each automatic link gets a
Provenance naming the index, on behalf of the writer.

A person's "these are different people" (a rejected candidate, an unmerge)
stops automatic links between the two linked sets, not only between the two
Patients, so a third record matching both cannot join them again: such a
match waits for review.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import orjson

from records.linking import stated_links, thresholds, with_link, without_link
from records.mpi import demographics
from records.mpi.matcher import find_matches, index_patient, remove_patient
from records.storage import StoredVersion, candidate_sql, link_sql
from records.storage.store import NewVersion

if TYPE_CHECKING:
    from records.interactions import Writer, Written

__all__ = ["MPI_AGENT", "PatientLinks", "change_links"]

MPI_AGENT = "Accord master patient index"


def change_links(
    patient: dict[str, Any], other_id: str, link_type: str | None, changes: dict[str, Any]
) -> dict[str, Any]:
    """``patient`` stating (or, with no type, no longer stating) a link, with ``changes``
    applied to other elements (a None value removes the element)."""
    if link_type is None:
        changed = without_link(patient, other_id)
    elif (other_id, link_type) in stated_links(patient):
        changed = dict(patient)
    else:
        changed = with_link(patient, other_id, link_type)
    for key, value in changes.items():
        if value is None:
            changed.pop(key, None)
        else:
            changed[key] = value
    return changed


class PatientLinks:
    """The Patient-identity work of one write transaction."""

    def __init__(self, writer: Writer) -> None:
        # weak: the writer holds this object, and a cycle would keep every version
        # the writer made alive until the cyclic collector ran (feeds pause it)
        self._writer = weakref.ref(writer)
        self.written: dict[str, Written] = {}  # Patients this transaction writes
        self.back: list[tuple[str, str]] = []  # (peer, patient): peer must state the link
        self.matched: list[tuple[str, list[str]]] = []  # automatic links, for Provenance

    @property
    def w(self) -> Writer:
        writer = self._writer()
        assert writer is not None, "a writer's PatientLinks outlived it"
        return writer

    # -- around each Patient version ---------------------------------------------
    def before(self, patient_id: str, patient: dict[str, Any], matching: bool) -> None:
        """Match ``patient`` (adding links to it) and index it; before its version is made."""
        tx = self.w.g.tx
        features = demographics(patient)
        # this version's own statement replaces the last one, before the walk below
        link_sql.set_links(tx.conn, patient_id, stated_links(patient))
        if matching:
            self._match(patient_id, patient, features)
        index_patient(tx, patient_id, features)

    def after(self, patient_id: str, written: Written) -> None:
        self.written[patient_id] = written

    def deleted(self, patient_id: str) -> None:
        """A deleted Patient is joined to no one: its links, and others' links to it, go."""
        conn = self.w.g.tx.conn
        link_sql.set_links(conn, patient_id, ())
        remove_patient(self.w.g.tx, patient_id)
        candidate_sql.drop_pending(conn, patient_id)
        changed = [
            self.w.relink(other, patient_id, None, {})
            for other in link_sql.stated_by_others(conn, patient_id)
            if self.w.g.tx.try_lock(f"Patient/{other}")
        ]
        self.w.provenance("unlink", changed, MPI_AGENT, self.w.ctx.source)

    def _match(self, patient_id: str, patient: dict[str, Any], features: Any) -> None:
        tx, conn = self.w.g.tx, self.w.g.tx.conn
        known = set(link_sql.linked_ids(conn, patient_id))
        refused = candidate_sql.rejected_peers(conn, patient_id)
        limits = self.w.ctx.thresholds or thresholds()
        peers = []
        for match in find_matches(tx, patient_id, features, limits):
            other = match.other_id
            if other in known or other in refused:
                continue
            theirs = link_sql.linked_ids(conn, other)
            decision = match.decision
            if decision == "link" and candidate_sql.any_rejected(conn, known, theirs):
                decision = "review"  # a person kept part of one set apart from the other
            if decision == "link":
                patient["link"] = with_link(patient, other, "seealso")["link"]
                known.update(theirs)
                peers.append(other)
            else:
                detail = orjson.dumps(match.comparison.detail).decode()
                candidate_sql.queue(
                    conn, patient_id, other, match.comparison.score, detail, self.w.instant
                )
        if peers:
            link_sql.set_links(conn, patient_id, stated_links(patient))  # with the new links
            self.back += [(peer, patient_id) for peer in peers]
            self.matched.append((patient_id, peers))

    # -- at the end of the transaction --------------------------------------------
    def settle(self) -> None:
        """Every matched peer states the link back; one Provenance per automatic match."""
        while self.back:
            peer, patient_id = self.back.pop(0)
            if peer in self.written:
                self.restate(peer, patient_id, "seealso", {})
            elif self.w.g.tx.try_lock(f"Patient/{peer}"):
                # without the lock now, skip: the link stated on the other side joins them,
                # and the peer's writer may be matching this very Patient
                self.w.relink(peer, patient_id, "seealso", {})
        for patient_id, peers in self.matched:
            versions = [self.written[p] for p in (patient_id, *peers) if p in self.written]
            self.w.provenance("link", versions, MPI_AGENT, self.w.ctx.source)
        self.matched = []

    def restate(
        self, patient_id: str, other_id: str, link_type: str | None, changes: dict[str, Any]
    ) -> Written | None:
        """Change the links of a Patient this transaction already wrote, in its own version."""
        written = self.written.get(patient_id)
        if written is None or written.version.data is None:
            return None
        version = written.version
        data = version.data
        assert data is not None
        patient = change_links(orjson.loads(data), other_id, link_type, changes)
        if isinstance(version, NewVersion):
            at = next(i for i, v in enumerate(self.w.pending) if v is version)
            del self.w.pending[at]
            previous = _previous(version)
            method = version.method
        else:  # unchanged by this transaction: a new version on top of the stored one
            previous, method = version, "update"
        with self.w.acting_as(version.source):
            written.version = self.w._version("Patient", patient_id, patient, previous, method)
        link_sql.set_links(self.w.g.tx.conn, patient_id, stated_links(patient))
        return written


def _previous(version: NewVersion) -> StoredVersion | None:
    """What a pending version was made on top of: enough of it to make the version again."""
    if version.previous_seq is None:
        return None
    return StoredVersion(
        version.previous_seq,
        version.resource_type,
        version.resource_id,
        version.version_id - 1,
        "",
        "update",
        False,
        None,
        version.source,
    )
