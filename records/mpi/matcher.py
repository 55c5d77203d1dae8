"""The patient index in the store: keep each patient's features and keys, find its matches.

``find_matches`` reads the patients that share a blocking key with the
newcomer, at most ``MAX_CANDIDATES`` of them (those sharing the most keys
first), compares each, and keeps the links and the reviews, best first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from records.mpi.blocking import blocking_keys
from records.mpi.demographics import Demographics
from records.mpi.scoring import Comparison, Thresholds, classify, compare
from records.storage import StoreTransaction, mpi_sql

__all__ = [
    "MAX_CANDIDATES",
    "MAX_PER_KEY",
    "Match",
    "find_matches",
    "index_patient",
    "remove_patient",
]

MAX_CANDIDATES = 200
"""Patients compared per query: a bound on the time one incoming patient can cost."""

MAX_PER_KEY = 500
"""Patients read per blocking key: a key shared by more is a placeholder, not a person."""


@dataclass(frozen=True, slots=True)
class Match:
    other_id: str
    comparison: Comparison
    decision: Literal["link", "review"]


def index_patient(tx: StoreTransaction, patient_id: str, d: Demographics) -> None:
    """Insert or replace a patient's features and blocking keys."""
    mpi_sql.put_entry(tx.conn, patient_id, d.to_json(), blocking_keys(d))


def remove_patient(tx: StoreTransaction, patient_id: str) -> None:
    mpi_sql.delete_entry(tx.conn, patient_id)


def find_matches(
    tx: StoreTransaction, patient_id: str, d: Demographics, thresholds: Thresholds
) -> list[Match]:
    """Known patients that ``d`` links to or should be reviewed against, best first."""
    keys = sorted(blocking_keys(d))
    found = mpi_sql.candidates(tx.conn, keys, patient_id, MAX_PER_KEY, MAX_CANDIDATES)
    matches = []
    for other_id, features in found:
        comparison = compare(d, Demographics.from_json(features))
        decision = classify(comparison, thresholds)
        if decision != "separate":
            matches.append(Match(other_id, comparison, decision))
    matches.sort(key=lambda m: (m.decision != "link", -m.comparison.score, m.other_id))
    return matches
