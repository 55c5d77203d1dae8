"""``accord verify`` catches tampering done behind the API's back, through direct SQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from gateway.cli import main

FHIR = "application/fhir+json"


def put(client: Any, resource: dict[str, Any]) -> None:
    r = client.put(
        f"/fhir/{resource['resourceType']}/{resource['id']}",
        data=orjson.dumps(resource),
        content_type=FHIR,
    )
    assert r.status_code in (200, 201), r.data


def verify(app_config: dict[str, Any], *args: str) -> Any:
    env = {
        "DATABASE_URL": app_config["database_url"],
        "ACCORD_LEDGER_KEY_FILE": app_config["ledger_key_file"],
        "REDIS_URL": "",
    }
    return CliRunner().invoke(main, ["verify", *args], env=env, catch_exceptions=False)


@pytest.fixture
def history(app: Any, client: Any) -> Engine:
    """Three resources, one updated twice, one deleted: all anchored (in-process tasks)."""
    put(
        client,
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-01-01"},
    )
    put(
        client,
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1971-01-01"},
    )
    put(client, {"resourceType": "Patient", "id": "p2", "gender": "male"})
    med = {
        "resourceType": "MedicationRequest",
        "id": "rx1",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "lisinopril 10 mg"},
        "subject": {"reference": "Patient/p1"},
        "dosageInstruction": [{"text": "once daily"}],
    }
    put(client, med)
    put(client, {**med, "dosageInstruction": [{"text": "twice daily"}]})
    client.delete("/fhir/Patient/p2")
    engine: Engine = app.extensions["accord"].store.engine
    return engine


def sql(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def test_an_untouched_store_verifies(app_config: dict[str, Any], history: Engine) -> None:
    result = verify(app_config, "--json", "-")
    assert result.exit_code == 0, result.output
    assert "6 versions, 6 leaves" in result.output
    assert "6 ok" in result.output
    report = orjson.loads(result.output[result.output.index("{") :])
    assert report["ok"] is True and report["findings"] == []


def test_changed_resource_json_is_altered_and_says_who_and_when(
    app_config: dict[str, Any], history: Engine
) -> None:
    # the prescription's dose quietly changed back in the database
    with history.connect() as conn:
        data = conn.execute(
            text("select data from resource_version where resource_id='rx1' and version_id=2")
        ).scalar_one()
    forged = bytes(data).replace(b"twice daily", b"four times daily")
    sql(
        history,
        "update resource_version set data=:d where resource_id='rx1' and version_id=2",
        d=forged,
    )
    result = verify(app_config)
    assert result.exit_code == 1
    line = next(ln for ln in result.output.splitlines() if "ALTERED" in ln)
    assert "MedicationRequest/rx1/_history/2" in line
    assert "content" in line
    assert "written by urn:accord:principal:anonymous at 20" in line
    assert "changed between" in line


def test_deleted_version_is_missing(app_config: dict[str, Any], history: Engine) -> None:
    sql(history, "delete from resource_version where resource_id='p1' and version_id=1")
    result = verify(app_config)
    assert result.exit_code == 1
    assert "MISSING  Patient/p1/_history/1" in result.output


def test_inserted_version_is_forged(app_config: dict[str, Any], history: Engine) -> None:
    sql(
        history,
        "insert into resource_version (resource_type, resource_id, version_id, last_updated, method, deleted, data, source)"
        " values ('Patient', 'p9', 1, '2026-01-01T00:00:00.000000', 'create', false, :d, 'urn:evil')",
        d=b'{"resourceType":"Patient","id":"p9"}',
    )
    result = verify(app_config)
    assert result.exit_code == 1
    assert "FORGED  Patient/p9/_history/1" in result.output


def test_changed_leaf_is_caught(app_config: dict[str, Any], history: Engine) -> None:
    sql(history, "update ledger_leaf set entry = :e where leaf_index = 0", e=b'{"forged":true}')
    result = verify(app_config)
    assert result.exit_code == 1
    assert "ledger leaf 0 was changed" in result.output or "FAIL" in result.output


def test_leaf_rewritten_consistently_still_breaks_the_signed_root(
    app_config: dict[str, Any], history: Engine
) -> None:
    import hashlib

    with history.connect() as conn:
        entry = bytes(
            conn.execute(text("select entry from ledger_leaf where leaf_index=1")).scalar_one()
        )
    forged = entry.replace(b'"create"', b'"update"') if b'"create"' in entry else entry + b" "
    leaf_hash = hashlib.sha256(b"\x00" + forged).digest()
    sql(
        history,
        "update ledger_leaf set entry=:e, leaf_hash=:h where leaf_index=1",
        e=forged,
        h=leaf_hash,
    )
    result = verify(app_config)
    assert result.exit_code == 1
    assert "no longer hash to the signed root" in result.output


def test_truncated_log_is_caught(app_config: dict[str, Any], history: Engine) -> None:
    sql(history, "delete from ledger_leaf where leaf_index >= 3")
    result = verify(app_config)
    assert result.exit_code == 1
    assert "truncated" in result.output
    assert "FORGED  MedicationRequest/rx1/_history/2" in result.output


def test_resigned_rewritten_history_is_caught_by_a_saved_checkpoint(
    app_config: dict[str, Any], history: Engine, tmp_path: Path, app: Any
) -> None:
    saved = tmp_path / "checkpoint.txt"
    assert verify(app_config, "--save", str(saved)).exit_code == 0
    # An insider with the signing key rewrites a version and re-anchors everything.
    with history.connect() as conn:
        data = bytes(
            conn.execute(
                text("select data from resource_version where resource_id='p1' and version_id=1")
            ).scalar_one()
        )
    sql(
        history,
        "update resource_version set data=:d where resource_id='p1' and version_id=1",
        d=data.replace(b"1970", b"1969"),
    )
    from records.audit import version_entry
    from records.sequencer import integrate_pending
    from workers.tasks import runtime

    sql(history, "delete from ledger_checkpoint")
    sql(history, "delete from ledger_node")
    sql(history, "delete from ledger_leaf")
    with history.begin() as conn:
        rows = conn.execute(text("select * from resource_version order by seq")).all()
        for row in rows:
            conn.execute(
                text("insert into ledger_outbox (version_seq, entry) values (:s, :e)"),
                {"s": row.seq, "e": version_entry(row)},
            )
    rt = runtime(app.extensions["celery"])
    integrate_pending(rt.store, rt.signer, rt.origin)
    assert verify(app_config).exit_code == 0  # consistent with itself...
    result = verify(app_config, "--since", str(saved))
    assert result.exit_code == 1  # ...but not with what the auditor saved
    assert "saved checkpoint" in result.output and "rewritten" in result.output


def test_checkpoint_signed_with_another_key_is_refused(
    app_config: dict[str, Any], history: Engine
) -> None:
    from ledger.checkpoint import Checkpoint, generate_signer, sign_checkpoint

    impostor = generate_signer("accord.localhost/ledger")
    with history.connect() as conn:
        size, root = conn.execute(
            text("select tree_size, root from ledger_checkpoint order by tree_size desc")
        ).first()
    note = sign_checkpoint(Checkpoint("accord.localhost/ledger", size, bytes(root)), impostor)
    sql(history, "update ledger_checkpoint set note=:n where tree_size=:s", n=note, s=size)
    result = verify(app_config)
    assert result.exit_code == 1
    assert "checkpoint signature" in result.output


def test_pending_versions_are_unanchored_not_tampered(
    app_config: dict[str, Any], history: Engine
) -> None:
    from records.audit import version_entry

    with history.begin() as conn:
        row = conn.execute(
            text("select * from resource_version where resource_id='p2' order by version_id desc")
        ).first()
        conn.execute(text("delete from ledger_leaf where version_seq=:s"), {"s": row.seq})
        conn.execute(
            text("insert into ledger_outbox (version_seq, entry) values (:s, :e)"),
            {"s": row.seq, "e": version_entry(row)},
        )
    # the leaf was the last one, so the tree is merely shorter than signed: that is a finding too
    result = verify(app_config)
    assert "UNANCHORED  Patient/p2/_history/2" in result.output
