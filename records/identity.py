"""Patient identity operations: ``Patient/$merge``, ``Patient/$unmerge`` and the review queue.

Nothing here moves or rewrites clinical data. A merge states links (the
merged Patient becomes inactive and ``replaced-by`` the survivor, which
``replaces`` it); an unmerge takes them away and restores ``active``; accepting
a review candidate links two Patients with ``seealso``. Each is a set of new
Patient versions, anchored like any other, plus a Provenance saying who did
it. Resources keep pointing at the Patient their source named: the linked set
(see :mod:`records.linking`) is what joins them, so undoing a merge is exact.

``$merge`` and ``$unmerge`` take the parameters of FHIR R5's Patient merge
operation (``source-patient``, ``target-patient``, ``preview``), which R4
servers have adopted. A person's decision is remembered: an unmerged or
rejected pair is never linked automatically again.
"""

from __future__ import annotations

from typing import Any, overload

import orjson

from records.access import GuardedTransaction, Repository
from records.errors import BadRequest, Conflict, NotFound
from records.interactions import Context, Outcome, Writer, Written
from records.linking import linked_id, stated_links
from records.storage import candidate_sql, link_sql

__all__ = ["decide_candidate", "list_candidates", "merge", "unmerge"]

# -- $merge / $unmerge ---------------------------------------------------------


def merge(repo: Repository, ctx: Context, parameters: Any) -> Outcome:
    """Merge ``source-patient`` into ``target-patient`` (or, with ``preview``, say what would happen)."""
    source_id, target_id, preview = _merge_parameters(parameters)
    with repo.write() as g:
        _lock_pair(g, source_id, target_id)
        source, target = _patient(g, source_id), _patient(g, target_id)
        if _replaced_by(source) is not None:
            raise Conflict(
                f"Patient/{source_id} is already merged into another Patient",
                expression="Parameters.source-patient",
            )
        if _replaced_by(target) is not None:
            raise BadRequest(
                f"Patient/{target_id} is itself merged into another Patient:"
                " merge into the surviving record",
                expression="Parameters.target-patient",
            )
        if preview:
            return _result(parameters, "Preview only: nothing was changed", target)
        w = Writer(g, ctx)
        changed = [
            w.relink(source_id, target_id, "replaced-by", {"active": False}),
            w.relink(target_id, source_id, "replaces", {}),
        ]
        w.provenance("merge", changed, g.principal.subject)
        candidate_sql.record_decision(
            g.tx.conn, source_id, target_id, "accepted", g.principal.subject, w.instant
        )
        w.flush()
        result = _data(changed[1], target)
    return _result(parameters, f"Patient/{source_id} merged into Patient/{target_id}", result)


def unmerge(repo: Repository, ctx: Context, parameters: Any) -> Outcome:
    """Undo a merge or a link between ``source-patient`` and ``target-patient``.

    Either may be given first. The merged one gets back the ``active`` it had
    before the merge. A side that has been deleted since is left as it is.
    """
    source_id, target_id, preview = _merge_parameters(parameters)
    with repo.write() as g:
        _lock_pair(g, source_id, target_id)
        source, target = _patient(g, source_id, live=False), _patient(g, target_id, live=False)
        if source is None and target is None:
            raise NotFound(f"Patient/{source_id} is not known")
        stated = {o for o, _ in stated_links(source)} | {o for o, _ in stated_links(target)}
        if target_id not in stated and source_id not in stated:
            raise BadRequest(
                f"Patient/{source_id} and Patient/{target_id} are not linked",
                expression="Parameters.source-patient",
            )
        if preview:
            return _result(parameters, "Preview only: nothing was changed", source or target or {})
        w = Writer(g, ctx)
        changed = []
        for me, other, patient in ((source_id, target_id, source), (target_id, source_id, target)):
            if patient is None:
                continue
            restore = {}
            if _replaced_by(patient) == other:
                restore = {"active": _active_before_merge(g, me, other)}
            changed.append(w.relink(me, other, None, restore))
        w.provenance("unmerge", changed, g.principal.subject)
        candidate_sql.record_decision(
            g.tx.conn, source_id, target_id, "rejected", g.principal.subject, w.instant
        )
        w.flush()
        result = _data(changed[0], source or target or {})
    return _result(parameters, f"Patient/{source_id} unmerged from Patient/{target_id}", result)


def _lock_pair(g: GuardedTransaction, a: str, b: str) -> None:
    """Both Patients' locks, in the one order every writer uses (no deadlock)."""
    g.tx.lock_many([f"Patient/{a}", f"Patient/{b}"])


def _merge_parameters(parameters: Any) -> tuple[str, str, bool]:
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise BadRequest("The body must be a Parameters resource", expression="Parameters")
    given = parameters.get("parameter", [])
    if not isinstance(given, list) or not all(isinstance(p, dict) for p in given):
        raise BadRequest(
            "Parameters.parameter must be a list of parameters", expression="Parameters.parameter"
        )
    found: dict[str, dict[str, Any]] = {}
    for p in given:
        name = p.get("name")
        if not isinstance(name, str):
            raise BadRequest("Every parameter needs a name", expression="Parameters.parameter")
        if name in found:
            raise BadRequest(f"'{name}' is given twice", expression=f"Parameters.{name}")
        found[name] = p
    unknown = set(found) - {"source-patient", "target-patient", "preview"}
    if unknown:
        name = sorted(unknown)[0]
        raise BadRequest(f"Unsupported parameter '{name}'", expression=f"Parameters.{name}")
    ids = []
    for name in ("source-patient", "target-patient"):
        reference = found.get(name, {}).get("valueReference")
        patient_id = linked_id({"other": reference}) if isinstance(reference, dict) else None
        if patient_id is None:
            raise BadRequest(
                f"'{name}' must be a reference to a Patient (valueReference 'Patient/<id>')",
                expression=f"Parameters.{name}",
            )
        ids.append(patient_id)
    if ids[0] == ids[1]:
        raise BadRequest(
            "source-patient and target-patient are the same Patient",
            expression="Parameters.target-patient",
        )
    preview = found.get("preview", {}).get("valueBoolean", False)
    if not isinstance(preview, bool):
        raise BadRequest("'preview' must be a valueBoolean", expression="Parameters.preview")
    return ids[0], ids[1], preview


@overload
def _patient(g: GuardedTransaction, patient_id: str) -> dict[str, Any]: ...
@overload
def _patient(g: GuardedTransaction, patient_id: str, live: bool) -> dict[str, Any] | None: ...
def _patient(g: GuardedTransaction, patient_id: str, live: bool = True) -> dict[str, Any] | None:
    """The current Patient; 404 if unknown, and if deleted unless ``live`` is False (then None)."""
    current = g.visible(g.tx.current("Patient", patient_id))
    if current is None or (current.data is None and live):
        raise NotFound(f"Patient/{patient_id} is not known")
    if current.data is None:
        return None
    patient: dict[str, Any] = orjson.loads(current.data)
    return patient


def _replaced_by(patient: dict[str, Any] | None) -> str | None:
    return next((o for o, t in stated_links(patient) if t == "replaced-by"), None)


def _active_before_merge(g: GuardedTransaction, source_id: str, target_id: str) -> bool | None:
    """``active`` as it was in the last version before the merge (None: it was not stated)."""
    current = g.tx.current("Patient", source_id)
    assert current is not None
    for version_id in range(current.version_id - 1, 0, -1):
        older = g.tx.version("Patient", source_id, version_id)
        if older is None or older.data is None:
            continue
        patient = orjson.loads(older.data)
        if (target_id, "replaced-by") not in stated_links(patient):
            active = patient.get("active")
            return active if isinstance(active, bool) else None
    return None


def _data(written: Written | None, unchanged: dict[str, Any]) -> dict[str, Any]:
    if written is None or written.version.data is None:
        return unchanged
    patient: dict[str, Any] = orjson.loads(written.version.data)
    return patient


def _result(parameters: Any, message: str, patient: dict[str, Any]) -> Outcome:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "input", "resource": parameters},
            {
                "name": "outcome",
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {"severity": "information", "code": "informational", "diagnostics": message}
                    ],
                },
            },
            {"name": "result", "resource": patient},
        ],
    }
    return Outcome(200, orjson.dumps(body), {"Content-Type": "application/fhir+json"})


# -- the review queue -----------------------------------------------------------


def list_candidates(repo: Repository, status: str, count: int, offset: int) -> dict[str, Any]:
    """Candidates with the status, oldest first, each with both Patients as they are now."""
    if status not in ("pending", "accepted", "rejected"):
        raise BadRequest(f"Unknown status {status!r}: pending, accepted or rejected")
    with repo.read() as g:
        total, rows = candidate_sql.list_candidates(g.tx.conn, status, count, offset)
        candidates = [_candidate(g, row) for row in rows]
    return {"total": total, "count": count, "offset": offset, "candidates": candidates}


def decide_candidate(
    repo: Repository, ctx: Context, candidate_id: int, accept: bool
) -> dict[str, Any]:
    """Accept (link the two Patients, ``seealso`` both ways) or reject a candidate.

    Accepting a pair already joined some other way meanwhile (a merge, say)
    records the decision and changes no link.
    """
    with repo.write() as g:
        row = candidate_sql.get(g.tx.conn, candidate_id)
        if row is None:
            raise NotFound(f"No match candidate {candidate_id}")
        _lock_pair(g, row.patient_id, row.other_id)
        w = Writer(g, ctx)
        status = "accepted" if accept else "rejected"
        if not candidate_sql.decide(
            g.tx.conn, candidate_id, status, g.principal.subject, w.instant
        ):
            raise Conflict(f"Candidate {candidate_id} was already decided")
        if accept and row.other_id not in link_sql.linked_ids(g.tx.conn, row.patient_id):
            _patient(g, row.patient_id), _patient(g, row.other_id)
            changed = [
                w.relink(row.patient_id, row.other_id, "seealso", {}),
                w.relink(row.other_id, row.patient_id, "seealso", {}),
            ]
            w.provenance("link", changed, g.principal.subject)
        w.flush()
        return _candidate(g, candidate_sql.get(g.tx.conn, candidate_id))


def _candidate(g: GuardedTransaction, row: Any) -> dict[str, Any]:
    patients = []
    for patient_id in (row.patient_id, row.other_id):
        current = g.visible(g.tx.current("Patient", patient_id))
        entry: dict[str, Any] = {"reference": f"Patient/{patient_id}"}
        if current is not None and current.data is not None:
            entry["resource"] = orjson.Fragment(current.data)
        entry["linked"] = link_sql.linked_ids(g.tx.conn, patient_id)
        patients.append(entry)
    return {
        "id": int(row.id),
        "status": row.status,
        "score": row.score,
        "detail": orjson.loads(row.detail),
        "patients": patients,
        "created": row.created_at,
        "decidedAt": row.decided_at,
        "decidedBy": row.decided_by,
    }
