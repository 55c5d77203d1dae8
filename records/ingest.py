"""Feeds in: keep the raw message first, convert it into FHIR after.

A feed's answer (2xx, or an HL7 ACK) is given once its raw message is
committed in the inbox, together with the verdict of a dry-run conversion
(pure and fast), so bad input is refused then and there, naming the field,
and still kept as ``failed`` for retry after a mapping fix. Conversion and
storage happen in :func:`process_pending` (a Celery task, or in-process on
the embedded default): the resources, their ledger entries, a Provenance
(who sent it, the raw message's hash, every resource produced) and the
inbox status commit in one transaction, so a crash mid-way leaves the
message ``received`` and the next run redoes it; resource ids are
deterministic, so redoing it changes nothing.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from adapters.base import Conversion, ConversionError, collector_paused, stable_id
from adapters.hl7v2 import (
    AckCode,
    AckError,
    ErrorCode,
    HL7ParseError,
    Message,
    build_ack,
    build_nak,
    iter_messages,
    parse_location,
    parse_message,
)
from adapters.hl7v2.to_fhir import convert as convert_hl7v2
from adapters.pharmacy import convert_dispense_csv, convert_script
from adapters.wearables import convert_batch
from records.access import AllowAll, GuardedTransaction, Principal
from records.errors import Conflict, FHIRError
from records.interactions import Context, Prepared, prepare_resources, store_resources
from records.storage import Claims, SQLStore
from records.storage import inbox_sql as sql

__all__ = [
    "KINDS",
    "HL7Result",
    "Receipt",
    "add_source",
    "convert",
    "list_messages",
    "process",
    "process_pending",
    "receive",
    "receive_hl7v2",
    "retry",
    "source_for_token",
    "source_uri",
    "token_hash",
]

KINDS = ("hl7v2", "ncpdp", "dispense-csv", "wearables")


def source_uri(source: str) -> str:
    """meta.source of everything a feed writes, and the 'who' of its ledger entries."""
    return f"urn:accord:source:{source}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")[:26]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_source(store: SQLStore, name: str, token: str) -> bool:
    with store.write() as tx:
        return sql.add_source(tx.conn, name, token_hash(token), _now())


def source_for_token(store: SQLStore, token: str) -> str | None:
    with store.read() as tx:
        return sql.source_for_token(tx.conn, token_hash(token))


def convert(
    kind: str, body: bytes, source: str, params: dict[str, Any], parsed: Any = None
) -> Conversion:
    """The pure conversion of one inbox message; ValueError (ConversionError, HL7ParseError) if impossible.

    ``parsed``: the JSON body already read by the caller (wearables), so it is not read twice.
    """
    if kind == "hl7v2":
        return convert_hl7v2(parse_message(body), source=source)
    if kind == "ncpdp":
        return convert_script(body)
    if kind == "dispense-csv":
        return convert_dispense_csv(body)
    if kind == "wearables":
        if parsed is None:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise ConversionError(f"not JSON: {exc}") from None
        # the request as posted, {"userId": ..., "dataPoints": [...]}, or (older
        # messages) the list of data points alone
        points: Any = parsed.get("dataPoints") if isinstance(parsed, dict) else parsed
        return convert_batch(points, vendor=source, user_id=str(params["userId"]))
    raise ConversionError(f"unknown feed kind {kind!r}")


@dataclass(slots=True)
class Receipt:
    message_id: int
    status: str  # received | failed | converted (a duplicate already processed)
    duplicate: bool
    error: str | None = None
    conversion: Conversion | None = None


def receive(
    store: SQLStore,
    source: str,
    kind: str,
    body: bytes,
    params: dict[str, Any] | None = None,
    message: Message | None = None,
    parsed: Any = None,
) -> Receipt:
    """Dry-run the conversion, then commit the raw message with its verdict.

    ``message``: the HL7 v2 message already parsed from ``body``, so it is not parsed
    twice; ``parsed``: likewise, a JSON body already read.
    """
    params = params or {}
    error, conversion = None, None
    try:
        if message is not None:
            conversion = convert_hl7v2(message, source=source)
        else:
            conversion = convert(kind, body, source, params, parsed)
        if not conversion.resources and conversion.rejected:
            error = "every item was rejected"
    except ValueError as exc:
        error = str(exc)
    status = "failed" if error else "received"
    row = {
        "source": source,
        "kind": kind,
        "received_at": _now(),
        "sha256": hashlib.sha256(body).hexdigest(),
        "body": body,
        "params": orjson.dumps(params).decode(),
        "status": status,
        "error": error,
        "attempts": 0,
        "summary": None,
    }
    # Committed before the answer. (Committing it on another thread while the dry run
    # converts was tried: the GIL kept the two from overlapping, and the hand-over
    # made an MLLP round trip slower, not faster.)
    with store.autocommit() as tx:  # one round trip on PostgreSQL
        message_id, duplicate = sql.insert_message(tx.conn, row)
        if duplicate:
            existing = sql.load_message(tx.conn, message_id)
            status, error = existing.status, existing.error
    return Receipt(message_id, status, duplicate, error, conversion)


# -- HL7 v2: batches, ACKs ------------------------------------------------------


@dataclass(slots=True)
class HL7Result:
    control_id: str
    ack: str  # ER7, CR-terminated segments
    code: str  # AA | AE | AR
    message_id: int | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def _ack_error(exc: ValueError) -> AckError:
    if isinstance(exc, HL7ParseError):
        return AckError.from_parse_error(exc)
    if isinstance(exc, ConversionError):
        try:
            location = parse_location(exc.location) if exc.location else None
        except ValueError:
            location = None
        try:
            code = ErrorCode(int(exc.code))
        except ValueError:
            code = ErrorCode.APPLICATION_INTERNAL_ERROR
        text = exc.message + (f" ({exc.fhir_path})" if exc.fhir_path else "")
        return AckError(code, text, location)
    return AckError(ErrorCode.APPLICATION_INTERNAL_ERROR, str(exc))


def receive_hl7v2(store: SQLStore, source: str, raw: bytes) -> list[HL7Result]:
    """One message or a batch: every message kept, and answered AA, AE or AR.

    AA: stored and will be converted. AE: stored as failed (a mapping or data
    error, named in ERR) for retry after a fix. AR: not an HL7 message at all
    (or a broken batch); the raw bytes are still kept as failed.
    """
    try:
        messages: list[Message] = list(iter_messages(raw))
    except HL7ParseError as exc:
        receipt = receive(store, source, "hl7v2", raw)  # kept as failed, for the record
        nak = build_nak(raw, exc)
        return [HL7Result("", nak, "AR", receipt.message_id, str(exc))]
    results = []
    for message in messages:
        body = message.er7.encode("utf-8")
        receipt = receive(store, source, "hl7v2", body, message=message)
        if receipt.status == "failed":
            try:
                convert("hl7v2", body, source, {})
                error_obj: AckError = AckError(
                    ErrorCode.APPLICATION_INTERNAL_ERROR, receipt.error or ""
                )
            except ValueError as exc:
                error_obj = _ack_error(exc)
            ack = build_ack(message, AckCode.ERROR, [error_obj])
            results.append(
                HL7Result(message.control_id, ack, "AE", receipt.message_id, receipt.error)
            )
        else:
            warnings = receipt.conversion.warnings if receipt.conversion else []
            ack = build_ack(message, AckCode.ACCEPT)
            results.append(
                HL7Result(message.control_id, ack, "AA", receipt.message_id, None, warnings)
            )
    return results


# -- processing -------------------------------------------------------------------


def _provenance(row: Any, written: list[Any]) -> dict[str, Any]:
    targets = [
        {
            "reference": f"{w.version.resource_type}/{w.version.resource_id}/_history/{w.version.version_id}"
        }
        for w in written
    ]
    return {
        "resourceType": "Provenance",
        "id": stable_id("prov", row.source, row.kind, row.sha256),
        "target": targets,
        "recorded": row.received_at + "+00:00",
        "activity": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                    "code": "UPDATE",
                }
            ]
        },
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "assembler",
                        }
                    ]
                },
                "who": {
                    "identifier": {"system": "urn:accord:source", "value": row.source},
                    "display": row.source,
                },
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {
                    "identifier": {"system": "urn:accord:inbox:sha256", "value": row.sha256},
                    "display": f"{row.kind} message {row.id}",
                },
            }
        ],
    }


def process(store: SQLStore, message_id: int) -> str:
    """Convert and store one inbox message; returns its status afterwards."""
    with store.read() as tx:
        row = sql.load_message(tx.conn, message_id)
    if row is None:
        return "missing"
    if row.status != "received":
        return str(row.status)
    try:
        stored = _convert_and_store(store, row)
    except (ValueError, FHIRError) as exc:
        with store.write() as tx:
            sql.mark_message(tx.conn, message_id, "failed", str(exc))
        return "failed"
    if stored:
        return "converted"
    with store.read() as tx:  # another worker got there first
        return str(sql.load_message(tx.conn, message_id).status)


def _convert_and_store(store: SQLStore, row: Any) -> int:
    """Convert and store one message. A Conflict (another transaction wrote one of its
    resources first: feed writes are optimistic) is retried on what is stored then,
    from a fresh conversion (storing fills in the resources it is given)."""
    retries = _CONFLICT_RETRIES
    while True:
        try:
            return _store_group(store, [(row, _conversion_of(row))])
        except Conflict:
            if not retries:
                raise
            retries -= 1


def _conversion_of(row: Any) -> Conversion:
    """The pure conversion of an inbox row; ValueError if it does not convert."""
    return convert(row.kind, bytes(row.body), row.source, orjson.loads(row.params))


_CONFLICT_RETRIES = 3


def process_pending(
    store: SQLStore,
    limit: int = 500,
    group_size: int = 10_000,
    load_bytes: int = 8 << 20,
    keep_for: float = 0.0,
    linger: float = 0.1,
) -> int:
    """Process the messages waiting in the inbox; idempotent. Returns how many were handled.

    One worker at a time drains a source, in order: it claims the source
    (:meth:`SQLStore.claims`) for as long as it takes. Sources another worker
    holds are left to it meanwhile, then waited for, and drained in turn: what
    arrived as that worker finished is not left behind, and no worker converts
    a message another one is converting (two workers draining one inbox did,
    the later one only to find the message stored).

    Messages are stored in groups, one transaction per group of up to
    ``group_size`` resources: a commit per message would cap a feed at the
    disk's fsync rate. A resource two messages of a group both carry must be
    identical in both (the same Patient in every lab result, say), else the
    later message waits for the next group, so no version is skipped. If a
    group fails, its messages are redone one by one, so one bad message
    fails alone. Bodies are read ``load_bytes`` at a time (a wearables batch
    is megabytes). Messages that arrive meanwhile are taken too, for up to
    ``keep_for`` seconds (a worker keeps up with a busy feed before it anchors),
    ``linger`` seconds apart while each look finds less than a full ``limit``:
    a transaction has a fixed cost (locks, statuses, current versions,
    commit), and taking an MLLP feed's messages as they came, one or two at a
    time, cost the worker a third more CPU per message and slowed the
    listener beside it.

    Two stages overlap: while a helper thread stores a group (the database's
    work: index rows, commit), this thread reads and converts the next one and
    computes the first versions of its resources (:func:`prepare_resources`),
    which the store takes for every resource it finds new. The cyclic garbage
    collector is paused meanwhile: conversion and storage make and free
    millions of objects but hardly any cycles, and on the worker's large heap
    its passes took a third of the time.
    """
    until = time.monotonic() + keep_for
    drain = functools.partial(
        _drain,
        store,
        limit=limit,
        group_size=group_size,
        load_bytes=load_bytes,
        until=until,
        linger=linger,
    )
    with collector_paused(), _quick_switches(), _Writes(store) as writes:
        # The groups are freed when _drain returns, before the collector resumes:
        # everything alive then is new since the pause, and its first pass walks it all.
        with store.claims() as claims:
            mine = _Mine(claims)
            handled = drain(writes, mine.take)
            mine.let_go()
            for source in sorted(mine.busy):  # in turn, holding one at a time
                claims.take(_claim_key(source), wait=True)
                handled += drain(writes, _just(source))
                claims.release(_claim_key(source))
        return handled


def _claim_key(source: str) -> str:
    return f"inbox:{source}"


def _just(source: str) -> Callable[[list[str]], list[str]]:
    """A ``select`` for :func:`_drain`: this one source, when it has messages waiting."""
    return lambda waiting: [source] if source in waiting else []


class _Mine:
    """The sources a worker drains: claimed as it finds them waiting. Those another
    worker holds are noted as ``busy``, to be waited for after."""

    def __init__(self, claims: Claims) -> None:
        self.claims = claims
        self.held: set[str] = set()
        self.busy: set[str] = set()

    def take(self, waiting: list[str]) -> list[str]:
        """Of the sources with messages waiting, those this worker holds (claiming the new)."""
        for source in waiting:
            if source not in self.held and source not in self.busy:
                if self.claims.take(_claim_key(source)):
                    self.held.add(source)
                else:
                    self.busy.add(source)
        return [source for source in waiting if source in self.held]

    def let_go(self) -> None:
        """Release every source held, before waiting for another (never hold and wait)."""
        for source in self.held:
            self.claims.release(_claim_key(source))
        self.held.clear()


def _drain(
    store: SQLStore,
    writes: _Writes,
    select: Callable[[list[str]], list[str]],
    limit: int,
    group_size: int,
    load_bytes: int,
    until: float,
    linger: float,
) -> int:
    """Convert and store the messages of the sources ``select`` picks (from those with
    messages waiting), until none is left or, once ``until`` is past, fewer than ``limit``;
    ``linger`` seconds between looks that find fewer."""
    handled = 0
    after: dict[str, int] = {}  # each source's newest message taken (its group may be in flight)
    while True:
        with store.read() as tx:
            waiting = sql.pending_sources(tx.conn)
        taken = full = False
        for source in select(waiting):
            with store.read() as tx:
                pending = sql.pending_sizes(tx.conn, source, limit, after.get(source, 0))
            for ids in _chunks(pending, load_bytes):
                with store.read() as tx:
                    rows = sql.load_messages(tx.conn, ids)
                for group in _groups(rows, group_size):
                    writes.submit(group, _prepare(group))
            handled += len(pending)
            if pending:
                after[source] = pending[-1][0]
                taken = True
            full = full or len(pending) == limit
        if not full and (not taken or time.monotonic() > until):
            writes.settle()
            return handled
        if not full:
            time.sleep(linger)  # the group just submitted is stored meanwhile


class _Writes:
    """Groups stored one at a time on a helper thread, in order; a failed group's
    messages are then redone one by one (in this thread, before the next group)."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store
        self.executor: ThreadPoolExecutor | None = None
        self.inflight: tuple[Future[int], list[tuple[Any, Conversion | None]]] | None = None

    def __enter__(self) -> _Writes:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True)

    def submit(
        self, group: list[tuple[Any, Conversion | None]], prepared: dict[str, Prepared]
    ) -> None:
        self.settle()
        if self.executor is None:
            self.executor = ThreadPoolExecutor(1, thread_name_prefix="accord-ingest")
        future = self.executor.submit(_store_group, self.store, group, prepared)
        self.inflight = (future, group)

    def settle(self) -> None:
        """Wait for the group being stored; redo its messages alone if it failed."""
        if self.inflight is None:
            return
        future, group = self.inflight
        self.inflight = None
        try:
            future.result()
        except (ValueError, FHIRError):
            for row, _ in group:
                process(self.store, int(row.id))


def _chunks(pending: list[tuple[int, int]], load_bytes: int) -> Iterator[list[int]]:
    """Message ids in runs of at most ``load_bytes`` of bodies (at least one message each)."""
    chunk: list[int] = []
    size = 0
    for message_id, length in pending:
        if chunk and size + length > load_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(message_id)
        size += length
    if chunk:
        yield chunk


@contextmanager
def _quick_switches() -> Iterator[None]:
    """Let threads take turns every 0.5 ms instead of 5 (restored after).

    The helper thread's work is short steps between database round trips; after
    each it waited for this thread to give up the interpreter, up to 5 ms at a
    time, twenty-odd times a group: 8 % of a wearables batch.
    """
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0005))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _context(source: str) -> Context:
    return Context("urn:accord", source_uri(source), "minimal")


def _unique(
    items: list[tuple[Any, Conversion]],
) -> dict[str, dict[tuple[str, str], dict[str, Any]]]:
    """Each source's resources, each (type, id) once: its first occurrence."""
    by_source: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for row, conversion in items:
        unique = by_source.setdefault(row.source, {})
        for r in conversion.resources:
            unique.setdefault((r["resourceType"], r["id"]), r)
    return by_source


def _prepare(group: list[tuple[Any, Conversion | None]]) -> dict[str, Prepared]:
    """The group's first versions, computed ahead; {} if there is nothing to prepare."""
    if any(conversion is None for _, conversion in group):
        return {}
    items = [(row, c) for row, c in group if c is not None]
    try:
        return {
            source: prepare_resources(_context(source), list(unique.values()))
            for source, unique in _unique(items).items()
        }
    except Exception:  # only a head start: the transaction redoes it, and says why
        return {}


def _groups(rows: list[Any], group_size: int) -> Iterator[list[tuple[Any, Conversion | None]]]:
    """Convert messages and gather them into groups (lazily: each group is stored before
    the next message is converted)."""
    current: list[tuple[Any, Conversion | None]] = []
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    size = 0
    for row in rows:
        try:
            conversion: Conversion | None = _conversion_of(row)
        except ValueError:
            conversion = None  # fails on its own, in its group, via process()
        resources = conversion.resources if conversion else []
        clash = False
        for r in resources:
            earlier = seen.get((r["resourceType"], r["id"]))
            if earlier is not None and earlier is not r and earlier != r:
                clash = True
                break
        if current and (clash or size + len(resources) > group_size):
            yield current
            current, seen, size = [], {}, 0
        current.append((row, conversion))
        size += len(resources)
        for r in resources:
            seen.setdefault((r["resourceType"], r["id"]), r)
    if current:
        yield current


def _store_group(
    store: SQLStore,
    group: list[tuple[Any, Conversion | None]],
    prepared: dict[str, Prepared] | None = None,
) -> int:
    """Store a group's resources, Provenances and statuses in one transaction.

    Messages another worker has handled meanwhile are skipped; returns how many were stored.
    """
    if any(conversion is None for _, conversion in group):
        raise ConversionError("a message of the group does not convert")
    with store.write() as tx:
        tx.lock_many([f"inbox/{row.id}" for row, _ in group])
        fresh = sql.statuses(tx.conn, [int(row.id) for row, _ in group])
        todo = [
            (row, c) for row, c in group if c is not None and fresh.get(int(row.id)) == "received"
        ]
        by_source: dict[str, list[tuple[Any, Conversion]]] = {}
        for row, conversion in todo:
            by_source.setdefault(row.source, []).append((row, conversion))
        marks: list[tuple[int, str, str | None, str | None]] = []
        for source, unique in _unique(todo).items():
            g = GuardedTransaction(tx, Principal(source, kind="system"), AllowAll())
            ctx = _context(source)
            ahead = (prepared or {}).get(source)
            written = dict(
                zip(unique, store_resources(g, ctx, list(unique.values()), ahead), strict=True)
            )
            provenances = []
            for row, conversion in by_source[source]:
                mine = [written[(r["resourceType"], r["id"])] for r in conversion.resources]
                if mine:
                    provenances.append(_provenance(row, mine))
                summary = {
                    "resources": len(mine),
                    "created": sum(1 for w in mine if w.status == 201),
                    "rejected": [
                        {"index": r.index, "reason": r.reason, "location": r.location}
                        for r in conversion.rejected
                    ],
                    "warnings": conversion.warnings,
                }
                marks.append((int(row.id), "converted", None, orjson.dumps(summary).decode()))
            if provenances:
                store_resources(g, ctx, provenances)
        sql.mark_messages(tx.conn, marks)
    return len(todo)


def retry(store: SQLStore, source: str, message_id: int) -> str:
    """Put a failed message back in the queue (after a mapping fix)."""
    with store.write() as tx:
        row = sql.load_message(tx.conn, message_id)
        if row is None or row.source != source:
            return "missing"
        if row.status != "failed":
            return str(row.status)
        sql.mark_message(tx.conn, message_id, "received", None, None)
    return "received"


def list_messages(
    store: SQLStore, source: str, status: str | None, count: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    with store.read() as tx:
        total, rows = sql.list_messages(tx.conn, source, status, count, offset)
    return total, [
        {
            "id": r.id,
            "kind": r.kind,
            "receivedAt": r.received_at + "+00:00",
            "sha256": r.sha256,
            "status": r.status,
            "error": r.error,
            "attempts": r.attempts,
            "summary": orjson.loads(r.summary) if r.summary else None,
        }
        for r in rows
    ]
