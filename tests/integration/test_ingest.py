"""Feeds end to end: HL7 v2 over HTTP and MLLP, pharmacy, wearables, dead letters."""

from __future__ import annotations

import gc
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from adapters.hl7v2 import MLLPDecoder, frame, iter_messages
from adapters.hl7v2.to_fhir import SUPPORTED
from records import fhirjson, ingest
from records.anchoring import parse_entry
from records.canonical import canonical_sha256
from records.facts import fact_keys
from records.search.extract import index_entries
from records.storage import inbox_sql

DATA = Path(__file__).resolve().parents[1] / "data"
HL7 = {"Content-Type": "x-application/hl7-v2+er7"}
TOKEN = "st-mary-secret-token"


def supported_fixtures() -> list[Path]:
    out = []
    for path in sorted((DATA / "hl7v2").glob("*.hl7")):
        try:
            messages = list(iter_messages(path.read_bytes()))
        except ValueError:
            continue
        if messages and all(f"{m.message_type}^{m.trigger_event}" in SUPPORTED for m in messages):
            out.append(path)
    return out


@pytest.fixture
def feed(app: Any, client: Any) -> Any:
    assert ingest.add_source(app.extensions["accord"].store, "st-mary", TOKEN)
    return client


def auth(**headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", **headers}


def count(app: Any, table: str, where: str = "1=1") -> int:
    with app.extensions["accord"].store.engine.connect() as conn:
        return int(conn.execute(text(f"select count(*) from {table} where {where}")).scalar_one())


def test_feeds_must_authenticate(feed: Any) -> None:
    r = feed.post("/ingest/hl7v2", data=b"MSH|^~\\&|", headers=HL7)
    assert r.status_code == 401
    assert "Bearer" in r.headers["WWW-Authenticate"]
    r = feed.post(
        "/ingest/hl7v2", data=b"MSH|^~\\&|", headers={**HL7, "Authorization": "Bearer nope"}
    )
    assert r.status_code == 401


def test_every_supported_fixture_is_acked_stored_and_traced(app: Any, feed: Any) -> None:
    fixtures = supported_fixtures()
    assert len(fixtures) >= 10
    for path in fixtures:
        r = feed.post(
            "/ingest/hl7v2", data=path.read_bytes(), headers=auth(**HL7, Accept="application/json")
        )
        assert r.status_code == 200, path.name
        summary = r.get_json()
        assert [m["ack"] for m in summary["messages"]] == ["AA"] * len(summary["messages"]), (
            path.name,
            summary,
        )
        assert "MSA|AA|" in summary["ack"]
    assert count(app, "inbox_message", "status = 'converted'") == count(app, "inbox_message")
    assert count(app, "inbox_message", "status = 'failed'") == 0
    # a Provenance per message: the source, the raw message's hash, every resource produced
    prov = feed.get("/fhir/Provenance?_count=1000").get_json()
    assert prov["total"] == count(app, "inbox_message")
    one = prov["entry"][0]["resource"]
    assert one["agent"][0]["who"]["identifier"]["value"] == "st-mary"
    assert len(one["entity"][0]["what"]["identifier"]["value"]) == 64
    assert one["meta"]["source"] == "urn:accord:source:st-mary"
    for target in one["target"]:
        assert feed.get("/fhir/" + target["reference"]).status_code == 200
    patients = feed.get("/fhir/Patient?_count=1000").get_json()
    assert patients["total"] > 0
    assert all(
        e["resource"]["meta"]["source"] == "urn:accord:source:st-mary" for e in patients["entry"]
    )


def test_replaying_every_fixture_creates_nothing_new(app: Any, feed: Any) -> None:
    fixtures = supported_fixtures()
    for path in fixtures:
        feed.post("/ingest/hl7v2", data=path.read_bytes(), headers=auth(**HL7))
    versions = count(app, "resource_version")
    messages = count(app, "inbox_message")
    for path in fixtures:
        r = feed.post("/ingest/hl7v2", data=path.read_bytes(), headers=auth(**HL7))
        assert "MSA|AA|" in r.get_data(as_text=True)
    assert count(app, "resource_version") == versions
    assert count(app, "inbox_message") == messages


def test_corrected_message_updates_instead_of_duplicating(app: Any, feed: Any) -> None:
    a01 = (DATA / "hl7v2" / "handwritten_adt_a01_v251.hl7").read_bytes()
    a08 = (DATA / "hl7v2" / "handwritten_adt_a08_v251.hl7").read_bytes()
    feed.post("/ingest/hl7v2", data=a01, headers=auth(**HL7))
    patients = feed.get("/fhir/Patient").get_json()["total"]
    r = feed.post("/ingest/hl7v2", data=a08, headers=auth(**HL7))
    assert "MSA|AA|" in r.get_data(as_text=True)
    assert feed.get("/fhir/Patient").get_json()["total"] == patients
    assert count(app, "resource_version", "resource_type = 'Patient' and version_id = 2") >= 1


def test_bad_hl7_is_refused_naming_the_field_and_kept_as_a_dead_letter(app: Any, feed: Any) -> None:
    oru = (DATA / "hl7v2" / "handwritten_oru_r01_v251.hl7").read_bytes().decode()
    lines = oru.split("\r")
    for i, line in enumerate(lines):
        if line.startswith("OBX|") and "|NM|" in line:
            fields = line.split("|")
            fields[5] = "not-a-number"
            lines[i] = "|".join(fields)
            bad_obx = sum(1 for earlier in lines[: i + 1] if earlier.startswith("OBX|"))
            break
    bad = "\r".join(lines).encode()
    r = feed.post("/ingest/hl7v2", data=bad, headers=auth(**HL7))
    ack = r.get_data(as_text=True)
    assert "MSA|AE|" in ack
    err = next(seg for seg in ack.split("\r") if seg.startswith("ERR|"))
    assert f"OBX^{bad_obx}^5" in err
    garbage = feed.post("/ingest/hl7v2", data=b"this is not HL7", headers=auth(**HL7)).get_data(
        as_text=True
    )
    assert "MSA|AR|" in garbage
    failed = feed.get("/ingest/messages?status=failed", headers=auth()).get_json()
    assert failed["total"] == 2
    assert any("OBX[" in (m["error"] or "") for m in failed["messages"])
    assert count(app, "resource_version", "resource_type = 'Observation'") == 0
    # retry after a mapping fix: back to received, converted or failed again, attempts counted
    message_id = failed["messages"][0]["id"]
    assert feed.post(f"/ingest/messages/{message_id}/retry", headers=auth()).status_code == 202
    again = feed.get("/ingest/messages?status=failed", headers=auth()).get_json()
    assert next(m for m in again["messages"] if m["id"] == message_id)["attempts"] == 2
    assert feed.post("/ingest/messages/99999/retry", headers=auth()).status_code == 404


def test_wearables_keep_the_good_readings_and_say_which_were_refused(app: Any, feed: Any) -> None:
    points = orjson.loads((DATA / "wearables" / "batch.json").read_bytes())
    body = orjson.dumps({"userId": "u-7f3", "dataPoints": points})
    r = feed.post("/ingest/wearables", data=body, content_type="application/json", headers=auth())
    assert r.status_code == 202, r.get_json()
    summary = r.get_json()
    assert {x["index"] for x in summary["rejected"]} == set(range(13, 28))
    assert any("time zone" in x["reason"] for x in summary["rejected"])
    observations = feed.get("/fhir/Observation?_summary=count").get_json()["total"]
    assert observations >= 13
    again = feed.post(
        "/ingest/wearables", data=body, content_type="application/json", headers=auth()
    )
    assert again.get_json()["duplicate"] is True
    assert feed.get("/fhir/Observation?_summary=count").get_json()["total"] == observations
    hr = feed.get("/fhir/Observation?code=http://loinc.org|8867-4").get_json()
    assert hr["total"] >= 1


def test_wearable_batches_are_capped(feed: Any) -> None:
    body = orjson.dumps({"userId": "u", "dataPoints": [{}] * 10_001})
    assert (
        feed.post(
            "/ingest/wearables", data=body, content_type="application/json", headers=auth()
        ).status_code
        == 413
    )


def test_pharmacy_script_and_csv(feed: Any) -> None:
    newrx = (DATA / "pharmacy" / "newrx_lisinopril.xml").read_bytes()
    r = feed.post("/ingest/pharmacy", data=newrx, content_type="application/xml", headers=auth())
    assert r.status_code == 202, r.get_json()
    assert (
        feed.get(
            "/fhir/MedicationRequest?code=http://www.nlm.nih.gov/research/umls/rxnorm|314076"
        ).get_json()["total"]
        == 1
    )
    csv = (DATA / "pharmacy" / "dispenses.csv").read_bytes()
    r = feed.post("/ingest/pharmacy", data=csv, content_type="text/csv", headers=auth())
    assert r.status_code == 202
    assert feed.get("/fhir/MedicationDispense?_summary=count").get_json()["total"] >= 1
    r = feed.post(
        "/ingest/pharmacy",
        data=b"<Message><Broken>",
        content_type="application/xml",
        headers=auth(),
    )
    assert r.status_code == 422 and r.get_json()["error"]
    assert (
        feed.post(
            "/ingest/pharmacy", data=b"x", content_type="application/pdf", headers=auth()
        ).status_code
        == 415
    )


def test_ingested_resources_are_anchored(app: Any, feed: Any) -> None:
    for path in supported_fixtures()[:5]:
        feed.post("/ingest/hl7v2", data=path.read_bytes(), headers=auth(**HL7))
    versions = count(app, "resource_version")
    assert versions > 5
    assert count(app, "ledger_leaf") == versions
    assert count(app, "ledger_outbox") == 0


def _heart_rate(i: int) -> dict[str, Any]:
    return {
        "header": {
            "uuid": f"hr-{i:05d}",
            "schema_id": {"namespace": "omh", "name": "heart-rate", "version": "2.0"},
            "source_creation_date_time": "2026-03-02T07:31:12Z",
            "acquisition_provenance": {"source_name": "Acme Band 4", "modality": "sensed"},
        },
        "body": {
            "heart_rate": {"value": 50 + i % 90, "unit": "beats/min"},
            "effective_time_frame": {"date_time": f"2026-03-02T07:{i % 60:02d}:00+01:00"},
        },
    }


def _wearables(
    store: Any, points: list[Any], user: str = "u1", indent: bool = False, source: str = "st-mary"
) -> None:
    body = {"userId": user, "dataPoints": points}
    data = orjson.dumps(body, option=orjson.OPT_INDENT_2 if indent else None)
    ingest.receive(store, source, "wearables", data, {"userId": user})


def _every_version_is_anchorable_and_indexed(app: Any) -> None:
    """Each version has its pending ledger entry, hashing its stored bytes as JCS does,
    and the index rows and fact keys its stored bytes give."""
    store = app.extensions["accord"].store
    with store.read() as tx:
        rows = tx.conn.execute(
            text(
                "select v.seq, v.resource_type, v.resource_id, v.version_id, v.data, o.entry"
                " from resource_version v left join ledger_outbox o on o.version_seq = v.seq"
            )
        ).all()
        tokens: dict[int, set[tuple[str, str | None, str]]] = {}
        for seq, param, system, code in tx.conn.execute(
            text("select seq, param, system, code from idx_token")
        ):
            tokens.setdefault(seq, set()).add((param, system, code))
        facts: dict[int, set[str]] = {}
        for seq, key in tx.conn.execute(text("select seq, key from fact_key")):
            facts.setdefault(seq, set()).add(key)
    assert rows
    for seq, resource_type, resource_id, version_id, data, entry in rows:
        assert entry is not None, (resource_type, resource_id)
        parsed = parse_entry(bytes(entry))
        assert (parsed.resource_type, parsed.resource_id) == (resource_type, resource_id)
        assert parsed.version_id == version_id
        assert parsed.sha256 == canonical_sha256(bytes(data))
        resource = fhirjson.loads(bytes(data))
        assert tokens.get(seq, set()) == set(index_entries(resource).tokens), resource_id
        assert facts.get(seq, set()) == set(fact_keys(resource)), resource_id


def test_groups_prepared_while_the_one_before_is_written_store_what_one_by_one_would(
    app: Any,
) -> None:
    """process_pending writes a group on a helper thread while it converts the next and
    computes its resources' first versions; what that guessed wrong is redone in the
    transaction: the shared Patient and Device, a replayed reading."""
    store = app.extensions["accord"].store
    assert ingest.add_source(store, "st-mary", TOKEN)
    points = [_heart_rate(i) for i in range(60)]
    for n in range(3):  # one user's batches: the same Patient and Device in each
        _wearables(store, points[n * 20 : (n + 1) * 20])
    batch = orjson.loads((DATA / "wearables" / "batch.json").read_bytes())
    _wearables(store, batch, user="u2")  # every schema; weights and temperatures as decimals
    _wearables(store, points[:20], indent=True)  # other bytes, the same readings again
    assert ingest.receive_hl7v2(store, "st-mary", _message(1))[0].code == "AA"
    # groups of at most 25 resources: one message each, six transactions
    assert ingest.process_pending(store, group_size=25) == 6
    assert count(app, "inbox_message", "status = 'converted'") == 6
    heart_rates = count(app, "idx_token", "param = 'code' and code = '8867-4'")
    assert heart_rates == 60 + 2  # the batch has two heart rate readings
    # each resource once (the pure conversions say which), none ever versioned again
    unique = set()
    with store.read() as tx:
        for row in inbox_sql.load_messages(tx.conn, list(range(1, 7))):
            conversion = ingest.convert(
                row.kind, bytes(row.body), row.source, orjson.loads(row.params)
            )
            unique |= {(r["resourceType"], r["id"]) for r in conversion.resources}
    assert count(app, "resource_version", "resource_type <> 'Provenance'") == len(unique)
    assert count(app, "resource_version", "version_id > 1") == 0
    replay = next(m for m in ingest.list_messages(store, "st-mary", None, 10, 0)[1] if m["id"] == 5)
    assert replay["summary"]["created"] == 0 and replay["summary"]["resources"] == 22
    _every_version_is_anchorable_and_indexed(app)


def test_a_message_that_no_longer_converts_fails_alone(app: Any) -> None:
    store = app.extensions["accord"].store
    assert ingest.add_source(store, "st-mary", TOKEN)
    points = [_heart_rate(i) for i in range(30)]
    _wearables(store, points[:15])
    with store.write() as tx:  # accepted once, unreadable now (say, a mapping changed)
        bad, _ = inbox_sql.insert_message(
            tx.conn,
            {
                "source": "st-mary",
                "kind": "wearables",
                "received_at": "2026-03-02T07:00:00.000000",
                "sha256": "0" * 64,
                "body": b"not json",
                "params": '{"userId": "u1"}',
                "status": "received",
                "error": None,
                "attempts": 0,
                "summary": None,
            },
        )
    _wearables(store, points[15:])
    assert ingest.process_pending(store) == 3
    assert count(app, "inbox_message", "status = 'converted'") == 2
    failed = ingest.list_messages(store, "st-mary", "failed", 10, 0)[1]
    assert [m["id"] for m in failed] == [bad]
    assert "not JSON" in failed[0]["error"]
    assert count(app, "idx_token", "param = 'code' and code = '8867-4'") == 30
    _every_version_is_anchorable_and_indexed(app)


# SQLite has one writer at a time and no advisory locks: these are PostgreSQL's questions
postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _until_a_lock_wait(store: Any, failure: str) -> None:
    """Return once a session of this database waits on a lock (PostgreSQL)."""
    waiting = (
        "select count(*) from pg_stat_activity"
        " where datname = current_database() and wait_event_type = 'Lock'"
    )
    with store.engine.connect() as conn:
        for _ in range(300):
            if conn.execute(text(waiting)).scalar_one():
                return
            conn.commit()
            time.sleep(0.05)
    raise AssertionError(failure)


@postgresql_only
def test_a_group_takes_no_lock_per_new_resource(app: Any, monkeypatch: Any) -> None:
    """PostgreSQL's shared lock table holds about 6,400 locks by default: a group of
    10,000 readings locking each resource left a second worker 'out of shared memory'."""
    store = app.extensions["accord"].store
    assert ingest.add_source(store, "st-mary", TOKEN)
    _wearables(store, [_heart_rate(i) for i in range(3000)])
    held: list[int] = []
    mark = inbox_sql.mark_messages

    def counting(conn: Any, marks: Any) -> None:  # inside the group's transaction
        locks = (
            "select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()"
        )
        held.append(int(conn.execute(text(locks)).scalar_one()))
        mark(conn, marks)

    monkeypatch.setattr(inbox_sql, "mark_messages", counting)
    assert ingest.process_pending(store) == 1
    assert count(app, "idx_token", "param = 'code' and code = '8867-4'") == 3000
    assert held and max(held) <= 2  # the message and its Patient


@postgresql_only
def test_a_resource_written_concurrently_is_retried_not_failed(app: Any, monkeypatch: Any) -> None:
    """Two messages carry the same reading (two users' batches from one vendor): the
    second transaction, writing version 1 while the first has it uncommitted, fails
    on the unique version and is redone on what the first committed."""
    store = app.extensions["accord"].store
    assert ingest.add_source(store, "st-mary", TOKEN)
    first, second = _heart_rate(1), _heart_rate(1)
    second["body"]["heart_rate"]["value"] = 99
    _wearables(store, [first], user="u1")
    _wearables(store, [second], user="u2")
    paused, release = threading.Event(), threading.Event()
    mark = inbox_sql.mark_messages

    def pausing(conn: Any, marks: Any) -> None:
        if marks[0][0] == 1:  # message 1, its resources written, not yet committed
            paused.set()
            assert release.wait(30)
        mark(conn, marks)

    monkeypatch.setattr(inbox_sql, "mark_messages", pausing)
    with ThreadPoolExecutor(2) as pool:
        one = pool.submit(ingest.process, store, 1)
        assert paused.wait(30)
        two = pool.submit(ingest.process, store, 2)
        _until_a_lock_wait(store, "message 2 never waited for message 1")
        release.set()
        assert (one.result(30), two.result(30)) == ("converted", "converted")
    with store.read() as tx:
        versions = tx.conn.execute(
            text(
                "select version_id, data from resource_version"
                " where resource_type = 'Observation' order by version_id"
            )
        ).all()
    assert [v for v, _ in versions] == [1, 2]
    assert orjson.loads(bytes(versions[1][1]))["valueQuantity"]["value"] == 99


def _statuses(app: Any) -> dict[str, list[str]]:
    with app.extensions["accord"].store.read() as tx:
        rows = tx.conn.execute(text("select source, status from inbox_message order by id"))
        found: dict[str, list[str]] = {}
        for source, status in rows:
            found.setdefault(source, []).append(status)
        return found


def test_a_source_another_worker_holds_is_left_to_it_then_drained_in_turn(app: Any) -> None:
    """One worker at a time drains a source (in order); the others take the other
    sources meanwhile, then wait their turn, so nothing that arrived is left behind."""
    store = app.extensions["accord"].store
    assert ingest.add_source(store, "st-mary", TOKEN)
    assert ingest.add_source(store, "acme", "acme-secret-token")
    _wearables(store, [_heart_rate(i) for i in range(3)], user="u1")
    _wearables(store, [_heart_rate(i) for i in range(3)], user="u2", source="acme")
    holding, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        with store.claims() as claims:
            assert claims.take(ingest._claim_key("st-mary"))
            holding.set()
            assert release.wait(30)

    other = threading.Thread(target=other_worker)
    other.start()
    assert holding.wait(30)
    with ThreadPoolExecutor(1) as pool:
        done = pool.submit(ingest.process_pending, store)
        for _ in range(600):
            if _statuses(app)["acme"] == ["converted"]:
                break
            time.sleep(0.05)
        time.sleep(0.2)
        assert _statuses(app)["st-mary"] == ["received"]  # left to the worker holding it
        assert not done.done()  # waiting for its turn
        release.set()
        assert done.result(30) == 2
    other.join(30)
    assert _statuses(app) == {"st-mary": ["converted"], "acme": ["converted"]}


def test_a_worker_keeping_up_with_a_feed_stores_what_arrived_together(
    app: Any, monkeypatch: Any
) -> None:
    """Messages trickling in are taken a look apart (``linger``), many to a transaction,
    not each in its own as soon as it is seen."""
    store = app.extensions["accord"].store
    assert ingest.add_source(store, "st-mary", TOKEN)
    groups: list[int] = []
    store_group = ingest._store_group

    def counting(store: Any, group: Any, prepared: Any = None) -> int:
        groups.append(len(group))
        return int(store_group(store, group, prepared))

    monkeypatch.setattr(ingest, "_store_group", counting)
    assert ingest.receive_hl7v2(store, "st-mary", _message(0))[0].code == "AA"
    with ThreadPoolExecutor(1) as pool:
        worker = pool.submit(ingest.process_pending, store, keep_for=30, linger=0.5)
        while not groups:  # the first message taken, alone
            time.sleep(0.01)
        for n in range(1, 21):  # then twenty, while the worker lingers
            assert ingest.receive_hl7v2(store, "st-mary", _message(n))[0].code == "AA"
        assert worker.result(60) == 21
    assert groups[0] == 1 and sum(groups) == 21
    assert len(groups) <= 3, groups


@postgresql_only
def test_two_workers_convert_each_message_once(app: Any, monkeypatch: Any) -> None:
    """Two workers on one inbox (a worker's pool is two processes by default): the
    second used to convert every message the first was storing, only to skip it."""
    store = app.extensions["accord"].store
    assert ingest.add_source(store, "st-mary", TOKEN)
    for user in ("u1", "u2", "u3"):
        _wearables(store, [_heart_rate(i) for i in range(3)], user=user)
    conversions: Counter[int] = Counter()
    counted = threading.Lock()
    convert = ingest._conversion_of

    def counting(row: Any) -> Any:
        with counted:
            conversions[int(row.id)] += 1
        return convert(row)

    paused, release = threading.Event(), threading.Event()
    mark = inbox_sql.mark_messages

    def pausing(conn: Any, marks: Any) -> None:  # the first group, stored, not yet committed
        if not paused.is_set():
            paused.set()
            assert release.wait(30)
        mark(conn, marks)

    monkeypatch.setattr(ingest, "_conversion_of", counting)
    monkeypatch.setattr(inbox_sql, "mark_messages", pausing)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(ingest.process_pending, store)
        assert paused.wait(30)
        second = pool.submit(ingest.process_pending, store)
        _until_a_lock_wait(store, "the second worker never waited")
        release.set()
        handled = first.result(30) + second.result(30)
    assert handled == 3
    assert sorted(conversions.values()) == [1, 1, 1]
    assert _statuses(app) == {"st-mary": ["converted"] * 3}


def test_storing_a_feed_leaves_no_cycles_for_the_collector(app: Any) -> None:
    """The worker pauses the cyclic collector while it stores feeds, so every version
    it makes must be freed by reference counting. A writer and its PatientLinks once
    referred to each other and kept a whole group alive: a million objects that the
    first collection after the pause walked (0.8 s for 50,000 readings)."""
    store = app.extensions["accord"].store
    assert ingest.add_source(store, "st-mary", TOKEN)
    _wearables(store, [_heart_rate(i) for i in range(200)])
    assert ingest.receive_hl7v2(store, "st-mary", _message(1))[0].code == "AA"
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        assert ingest.process_pending(store) == 2
        gc.collect()
        kept = Counter(type(o).__qualname__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    ours = {"NewVersion", "IndexEntries", "Writer", "_FeedWriter", "PatientLinks", "Written"}
    assert not ours & set(kept), kept.most_common(10)


def test_wearables_keep_the_body_as_posted(app: Any, feed: Any) -> None:
    body = orjson.dumps(
        {"userId": "u-9", "dataPoints": [_heart_rate(1)]}, option=orjson.OPT_INDENT_2
    )
    r = feed.post("/ingest/wearables", data=body, content_type="application/json", headers=auth())
    assert r.status_code == 202, r.get_json()
    with app.extensions["accord"].store.read() as tx:
        kept = tx.conn.execute(text("select body from inbox_message")).scalar_one()
    assert bytes(kept) == body
    assert count(app, "inbox_message", "status = 'converted'") == 1
    assert fhirjson.loads(bytes(kept))["userId"] == "u-9"


# -- MLLP ----------------------------------------------------------------------------


def _message(n: int) -> bytes:
    oru = (DATA / "hl7v2" / "handwritten_oru_r01_v251.hl7").read_bytes().decode()
    segments = oru.split("\r")
    msh = segments[0].split("|")
    msh[9] = f"MLLP-{n:05d}"
    segments[0] = "|".join(msh)
    # each message its own order, so each stores its own resources
    return "\r".join(s.replace("LAB7781002", f"LAB{n:07d}") for s in segments).encode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_mllp_acks_a_thousand_messages_over_four_connections(app: Any) -> None:
    from gateway.mllp import MLLPServer

    ext = app.extensions["accord"]
    assert ingest.add_source(ext.store, "st-mary", TOKEN)
    server = MLLPServer(("127.0.0.1", 0), ext, "st-mary")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    def send(conn_no: int) -> list[str]:
        acks: list[str] = []
        decoder = MLLPDecoder()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            for n in range(conn_no * 250, conn_no * 250 + 250):
                sock.sendall(frame(_message(n)))
                while True:
                    got = list(decoder.feed(sock.recv(65536)))
                    if got:
                        acks += [bytes(a).decode() for a in got]
                        break
        return acks

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            acks = [a for batch in pool.map(send, range(4)) for a in batch]
    finally:
        server.shutdown()
        server.server_close()
    assert len(acks) == 1000
    assert all("MSA|AA|MLLP-" in a for a in acks)
    controls = {a.split("MSA|AA|")[1].split("|")[0].split("\r")[0] for a in acks}
    assert len(controls) == 1000
    assert count(app, "inbox_message") == 1000
    assert count(app, "inbox_message", "status = 'converted'") == 1000
    # one report per message for the order that varies, plus the message's two other
    # orders, identical in every message: stored once, never versioned again
    assert count(app, "resource_version", "resource_type = 'DiagnosticReport'") == 1002
    assert (
        count(app, "resource_version", "resource_type = 'DiagnosticReport' and version_id > 1") == 0
    )
