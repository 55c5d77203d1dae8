"""Patient matching quality: precision and recall of automatic links, and the review load.

Generates labelled registrations (bench/mpi_data.py: people with 1-4 records
each, with typos, nicknames, marriages, moves, twins, juniors and namesakes),
then feeds them one by one, in arrival order, through the real path: FHIR
Patient -> ``demographics`` -> ``find_matches`` against a fresh SQLite index
-> ``index_patient``. For each arriving record:

- every auto-link pair is right or wrong (same person or not): **precision**;
- if its person already had records in the index, it is *found* when it was
  auto-linked to at least one of them: **recall** = found / arrivals with a
  prior record;
- what went to review instead, and what was lost (neither linked nor reviewed).

Tuning is done on seed 1 and reported on seed 2 (the default). ``--sweep``
prints the precision/recall of a grid of thresholds (on the tuning seed);
``--fit`` measures m and u of each field level on labelled pairs (same
person: all pairs of their records; different people: random pairs), the
figures behind records/mpi/scoring.py.

    .venv/bin/python bench/mpi_quality_bench.py                  # report, seed 2
    .venv/bin/python bench/mpi_quality_bench.py --seed 1 --sweep  # tune
    .venv/bin/python bench/mpi_quality_bench.py --seed 1 --fit    # m and u

Targets: precision >= 0.99 and recall >= 0.95 of automatic links.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import math
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import describe_source, print_result
from mpi_data import Record, records

from records.mpi import DEFAULT_THRESHOLDS, Thresholds, classify, demographics
from records.mpi.matcher import Match, find_matches, index_patient
from records.mpi.scoring import LEVELS, levels
from records.storage import StoreTransaction, make_engine, upgrade_schema

TARGET_PRECISION = 0.99
TARGET_RECALL = 0.95
EVERYTHING = Thresholds(link=math.inf, review=-math.inf)


@dataclass
class Arrival:
    record: Record
    prior: bool  # the person already had a record in the index
    matches: list[Match]


@dataclass
class Outcome:
    thresholds: Thresholds
    links: int = 0
    wrong_links: int = 0
    with_prior: int = 0
    found: int = 0
    reviewed: int = 0  # records with a prior, not linked, whose right match was in review
    review_records: int = 0  # records with at least one review pair
    review_pairs: int = 0
    review_true_pairs: int = 0
    wrong_by_kind: collections.Counter[str] = field(default_factory=collections.Counter)
    wrong_examples: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return 1 - self.wrong_links / self.links if self.links else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.with_prior if self.with_prior else 1.0


def load(recs: list[Record], thresholds: Thresholds) -> tuple[list[Arrival], float]:
    """Match and index each record in turn; returns the arrivals and ms per record."""
    seen: set[int] = set()
    arrivals = []
    with tempfile.TemporaryDirectory(prefix="accord-mpi-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'mpi.db'}")
        upgrade_schema(engine)
        started = time.perf_counter()
        with engine.connect().execution_options(accord_write=True) as conn:
            tx = StoreTransaction(conn)
            for start in range(0, len(recs), 500):
                with conn.begin():
                    for rec in recs[start : start + 500]:
                        d = demographics(rec.patient)
                        matches = find_matches(tx, rec.id, d, thresholds)
                        arrivals.append(Arrival(rec, rec.person in seen, matches))
                        index_patient(tx, rec.id, d)
                        seen.add(rec.person)
        elapsed = time.perf_counter() - started
        engine.dispose()
    return arrivals, elapsed * 1000 / len(recs)


def evaluate(arrivals: list[Arrival], t: Thresholds, person_of: dict[str, int]) -> Outcome:
    out = Outcome(t)
    for a in arrivals:
        decisions = [(m, classify(m.comparison, t)) for m in a.matches]
        links = [m for m, d in decisions if d == "link"]
        reviews = [m for m, d in decisions if d == "review"]
        out.links += len(links)
        for m in links:
            if person_of[m.other_id] != a.record.person:
                out.wrong_links += 1
                out.wrong_by_kind[a.record.kind] += 1
                if len(out.wrong_examples) < 15:
                    out.wrong_examples.append(
                        f"{a.record.id} ~ {m.other_id} ({a.record.kind}): "
                        f"{m.comparison.score:.1f} {m.comparison.detail}"
                    )
        out.review_pairs += len(reviews)
        out.review_true_pairs += sum(person_of[m.other_id] == a.record.person for m in reviews)
        out.review_records += bool(reviews)
        if a.prior:
            out.with_prior += 1
            if any(person_of[m.other_id] == a.record.person for m in links):
                out.found += 1
            elif any(person_of[m.other_id] == a.record.person for m in reviews):
                out.reviewed += 1
    return out


def report(out: Outcome, records_count: int) -> None:
    t = out.thresholds
    print(f"thresholds: link >= {t.link}, review >= {t.review}")
    print(
        f"auto-links: {out.links:,} pairs, {out.wrong_links} wrong: "
        f"precision {out.precision:.4f} (wrong by kind: {dict(out.wrong_by_kind)})"
    )
    print(
        f"arrivals whose person was already indexed: {out.with_prior:,}; auto-linked to them: "
        f"{out.found:,}: recall {out.recall:.4f}"
    )
    lost = out.with_prior - out.found - out.reviewed
    print(
        f"  not linked but their match in review: {out.reviewed:,} "
        f"({out.reviewed / max(out.with_prior, 1):.2%}); lost (separate): {lost:,} "
        f"({lost / max(out.with_prior, 1):.2%})"
    )
    print(
        f"review queue: {out.review_records:,} of {records_count:,} arrivals "
        f"({out.review_records / records_count:.2%}), {out.review_pairs:,} pairs, "
        f"{out.review_true_pairs:,} of them the same person"
    )


def sweep(arrivals: list[Arrival], person_of: dict[str, int]) -> None:
    print(f"{'link':>6} {'review':>6} {'precision':>9} {'recall':>7} {'review%':>7} {'lost%':>6}")
    for link in range(14, 34, 2):
        for review in (4, 6, 8, 10, 12):
            out = evaluate(arrivals, Thresholds(float(link), float(review)), person_of)
            lost = (out.with_prior - out.found - out.reviewed) / max(out.with_prior, 1)
            print(
                f"{link:>6} {review:>6} {out.precision:>9.4f} {out.recall:>7.4f} "
                f"{out.review_records / len(arrivals):>7.2%} {lost:>6.2%}"
            )


def fit(recs: list[Record], seed: int) -> None:
    """m and u of each field level, from labelled pairs."""
    features = {r.id: demographics(r.patient) for r in recs}
    by_person: dict[int, list[str]] = collections.defaultdict(list)
    for r in recs:
        by_person[r.person].append(r.id)
    same = [p for ids in by_person.values() for p in itertools.combinations(ids, 2)]
    rng = random.Random(seed)
    ids = [r.id for r in recs]
    person_of = {r.id: r.person for r in recs}
    different: list[tuple[str, str]] = []
    while len(different) < 200_000:
        a, b = rng.choice(ids), rng.choice(ids)
        if person_of[a] != person_of[b]:
            different.append((a, b))

    def tally(pairs: list[tuple[str, str]]) -> dict[str, collections.Counter[str]]:
        counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for a, b in pairs:
            for name, level in levels(features[a], features[b]).items():
                counts[name][level] += 1
        return counts

    m_counts, u_counts = tally(same), tally(different)
    print(f"{len(same):,} same-person pairs, {len(different):,} random different-person pairs")
    print(f"{'field':<11} {'level':<9} {'m':>8} {'u':>10} {'log2(m/u)':>9}   (in scoring.py: m, u)")
    for name, table in LEVELS.items():
        m_total = sum(m_counts[name].values()) or 1
        u_total = sum(u_counts[name].values()) or 1
        for level, (m0, u0) in table.items():
            m = m_counts[name][level] / m_total
            u = u_counts[name][level] / u_total
            weight = math.log2(m / u) if m and u else float("nan")
            print(f"{name:<11} {level:<9} {m:>8.4f} {u:>10.6f} {weight:>9.2f}   ({m0}, {u0})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2, help="2 reports; 1 is the tuning seed")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--sweep", action="store_true", help="precision/recall over a grid")
    parser.add_argument("--fit", action="store_true", help="measure m and u of each level")
    parser.add_argument("--examples", action="store_true", help="print some wrong links")
    parser.add_argument("--link", type=float, help="link threshold (default: DEFAULT_THRESHOLDS)")
    parser.add_argument("--review", type=float, help="review threshold")
    args = parser.parse_args(argv)

    recs = records(args.seed, args.records)
    person_of = {r.id: r.person for r in recs}
    people = len(set(person_of.values()))
    print(
        f"patient matching quality, {describe_source()}, seed {args.seed}: "
        f"{len(recs):,} records of {people:,} people"
    )
    if args.fit:
        fit(recs, args.seed)
        return 0
    thresholds = Thresholds(
        link=DEFAULT_THRESHOLDS.link if args.link is None else args.link,
        review=DEFAULT_THRESHOLDS.review if args.review is None else args.review,
    )
    if args.sweep:
        thresholds = EVERYTHING
    arrivals, ms = load(recs, thresholds)
    print(f"loaded through find_matches + index_patient: {ms:.2f} ms per record (SQLite)")
    if args.sweep:
        candidates = sum(len(a.matches) for a in arrivals)
        blocked = sum(
            any(person_of[m.other_id] == a.record.person for m in a.matches)
            for a in arrivals
            if a.prior
        )
        with_prior = sum(a.prior for a in arrivals)
        print(
            f"blocking: {candidates / len(arrivals):.1f} candidates per record; a prior record "
            f"was a candidate for {blocked:,} of {with_prior:,} ({blocked / with_prior:.2%})"
        )
        sweep(arrivals, person_of)
        return 0
    out = evaluate(arrivals, thresholds, person_of)
    report(out, len(recs))
    if args.examples:
        print("\n".join(out.wrong_examples))
    missed = []
    if out.precision < TARGET_PRECISION:
        missed.append(f"precision {out.precision:.4f} < {TARGET_PRECISION}")
    if out.recall < TARGET_RECALL:
        missed.append(f"recall {out.recall:.4f} < {TARGET_RECALL}")
    print("targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    print_result(
        "mpi_quality",
        seed=args.seed,
        records=len(recs),
        precision=round(out.precision, 4),
        recall=round(out.recall, 4),
        review_share=round(out.review_records / len(recs), 4),
        ms_per_record=round(ms, 2),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
