"""Patient identity, the pure part: reading and changing ``Patient.link``.

The scheme (see README, "One patient across sources"): no golden record.
Each source's Patient stays its own resource; the master patient index joins
records of one person with ``seealso`` links, stated on both Patients. A
merge (``Patient/$merge`` or HL7 ADT A40) marks the merged Patient inactive
and ``replaced-by`` the survivor, which gets ``replaces``. Any link, of any
type and stated by either side, puts two Patients in one linked set; the
linked set is what ``Patient/$everything`` and every reference search to a
Patient cover. Changing links writes new versions, so every change is in the
history, anchored in the ledger, and can be undone.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

from records.mpi import DEFAULT_THRESHOLDS, Thresholds
from records.settings import Settings

__all__ = [
    "keep_stored",
    "linked_id",
    "stated_links",
    "thresholds",
    "with_link",
    "without_link",
]

_LOCAL_PATIENT = re.compile(r"Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?")

# Elements a feed's Patient does not replace when it leaves them out.
_NEVER_KEPT = frozenset({"resourceType", "id", "meta", "text"})


def linked_id(link: Any) -> str | None:
    """The local Patient id a ``Patient.link`` entry points at, or None.

    Only relative references (``Patient/<id>``, optionally versioned) are this
    server's Patients: ``https://elsewhere.example/fhir/Patient/1`` is another
    server's Patient 1, not ours, and a RelatedPerson is not a Patient.
    """
    if not isinstance(link, dict) or not isinstance(link.get("other"), dict):
        return None
    reference = link["other"].get("reference")
    if not isinstance(reference, str):
        return None
    match = _LOCAL_PATIENT.fullmatch(reference)
    return match.group(1) if match else None


def stated_links(patient: dict[str, Any] | None) -> list[tuple[str, str]]:
    """``(other Patient id, link type)`` for each link a Patient states."""
    if not patient:
        return []
    found = []
    for link in patient.get("link") or ():
        other = linked_id(link)
        if other is not None:
            found.append((other, str(link.get("type") or "seealso")))
    return found


def with_link(patient: dict[str, Any], other_id: str, link_type: str) -> dict[str, Any]:
    """A copy of ``patient`` stating one more link (or the same link with a new type)."""
    changed = copy.deepcopy(patient)
    links = [link for link in changed.get("link") or () if linked_id(link) != other_id]
    links.append({"other": {"reference": f"Patient/{other_id}"}, "type": link_type})
    changed["link"] = links
    return changed


def without_link(patient: dict[str, Any], other_id: str) -> dict[str, Any]:
    """A copy of ``patient`` no longer stating any link to ``other_id``."""
    changed = copy.deepcopy(patient)
    links = [link for link in changed.get("link") or () if linked_id(link) != other_id]
    if links:
        changed["link"] = links
    else:
        changed.pop("link", None)
    return changed


def keep_stored(incoming: dict[str, Any], stored: dict[str, Any]) -> None:
    """A feed's Patient update keeps what it does not send.

    HL7 v2 says so (an empty field means "no change"; only ``""`` deletes), and
    feeds differ in what they know: a lab result's PID carries a name and a
    birth date, the hospital's ADT feed the address and next of kin. Without
    this rule the sparser message would erase the fuller one. Links are kept
    as well, so a late message cannot undo a merge or an MPI link.
    """
    for key, value in stored.items():
        if key not in _NEVER_KEPT and key not in incoming:
            incoming[key] = value
    kept = [link for link in stored.get("link") or () if linked_id(link) is not None]
    if kept:
        sent = {linked_id(link) for link in incoming.get("link") or ()}
        incoming["link"] = [
            *(link for link in kept if linked_id(link) not in sent),
            *(incoming.get("link") or ()),
        ]


def thresholds(settings: Settings | None = None) -> Thresholds:
    """Match thresholds: ACCORD_MPI_LINK_THRESHOLD and ACCORD_MPI_REVIEW_THRESHOLD, else defaults."""
    s = settings or _environment()
    return Thresholds(
        link=DEFAULT_THRESHOLDS.link if s.mpi_link_threshold is None else s.mpi_link_threshold,
        review=(
            DEFAULT_THRESHOLDS.review if s.mpi_review_threshold is None else s.mpi_review_threshold
        ),
    )


@cache
def _environment() -> Settings:
    return Settings()
