"""The ledger endpoints and $verify, checked the way a third party would."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text

from ledger import leaf_hash, verify_consistency, verify_inclusion, verify_note

FHIR = "application/fhir+json"
OFFLINE = Path(__file__).resolve().parents[2] / "docs" / "verify_offline.py"


def put(client: Any, resource: dict[str, Any]) -> None:
    r = client.put(
        f"/fhir/{resource['resourceType']}/{resource['id']}",
        data=orjson.dumps(resource),
        content_type=FHIR,
    )
    assert r.status_code in (200, 201), r.data


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def test_checkpoint_is_signed_by_the_published_key(client: Any) -> None:
    for n in range(5):
        put(client, {"resourceType": "Patient", "id": f"p{n}"})
    key = client.get("/ledger/key").data.decode().strip()
    note = client.get("/ledger/checkpoint")
    assert note.mimetype == "text/plain"
    checkpoint = verify_note(note.data.decode(), key)
    assert checkpoint.size == 5
    assert checkpoint.origin == "accord.localhost/ledger"


def test_inclusion_and_consistency_proofs_verify(client: Any) -> None:
    put(client, {"resourceType": "Patient", "id": "p0"})
    first = verify_note(
        client.get("/ledger/checkpoint").data.decode(),
        client.get("/ledger/key").data.decode().strip(),
    )
    for n in range(1, 12):
        put(client, {"resourceType": "Patient", "id": f"p{n}"})
    latest = verify_note(
        client.get("/ledger/checkpoint").data.decode(),
        client.get("/ledger/key").data.decode().strip(),
    )
    assert latest.size == 12
    for index in (0, 5, 11):
        proof = client.get(f"/ledger/proof/inclusion?index={index}").get_json()
        assert proof["treeSize"] == 12
        assert b64(proof["leafHash"]) == leaf_hash(proof["entry"].encode())
        verify_inclusion(
            b64(proof["leafHash"]), index, 12, [b64(h) for h in proof["auditPath"]], latest.root
        )
    consistency = client.get(
        f"/ledger/proof/consistency?first={first.size}&second={latest.size}"
    ).get_json()
    verify_consistency(
        first.size, latest.size, [b64(h) for h in consistency["proof"]], first.root, latest.root
    )


def test_proof_requests_are_checked(client: Any) -> None:
    put(client, {"resourceType": "Patient", "id": "p0"})
    assert client.get("/ledger/proof/inclusion").status_code == 400
    assert client.get("/ledger/proof/inclusion?index=abc").status_code == 400
    r = client.get("/ledger/proof/inclusion?index=5")
    assert r.status_code == 400 and r.get_json(force=True)["issue"][0]["expression"] == ["index"]
    assert client.get("/ledger/proof/consistency?first=3&second=99").status_code == 400


def test_no_checkpoint_yet_is_a_404(client: Any) -> None:
    assert client.get("/ledger/checkpoint").status_code == 404


def _verify_offline(
    tmp_path: Path, params: bytes, key: str, resource: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "params.json").write_bytes(params)
    args = [sys.executable, str(OFFLINE), str(tmp_path / "params.json"), "--key", key]
    if resource is not None:
        (tmp_path / "resource.json").write_bytes(resource)
        args += ["--resource", str(tmp_path / "resource.json")]
    return subprocess.run(args, capture_output=True, text=True, check=False)


def test_verify_operation_checks_out_offline(client: Any, tmp_path: Path) -> None:
    obs = {
        "resourceType": "Observation",
        "id": "bp",
        "status": "final",
        "code": {"text": "weight"},
        "valueQuantity": {"value": 68.50, "unit": "kg"},
    }
    put(client, obs)
    put(client, {**obs, "valueQuantity": {"value": 1.0e-7, "unit": "kg"}})
    key = client.get("/ledger/key").data.decode().strip()
    for version in (1, 2):
        r = client.get(f"/fhir/Observation/bp/_history/{version}/$verify")
        params = {p["name"]: p for p in r.get_json(force=True)["parameter"]}
        assert params["verdict"]["valueCode"] == "ok"
        resource = client.get(f"/fhir/Observation/bp/_history/{version}").data
        done = _verify_offline(tmp_path, r.data, key, resource)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "verified" in done.stdout


def test_verify_operation_exposes_an_altered_version(app: Any, client: Any, tmp_path: Path) -> None:
    put(client, {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"})
    key = client.get("/ledger/key").data.decode().strip()
    genuine = client.get("/fhir/Patient/p1/_history/1/$verify").data
    with app.extensions["accord"].store.engine.begin() as conn:
        data = bytes(
            conn.execute(
                text("select data from resource_version where resource_id='p1'")
            ).scalar_one()
        )
        conn.execute(
            text("update resource_version set data=:d where resource_id='p1'"),
            {"d": data.replace(b"1970", b"1980")},
        )
    r = client.get("/fhir/Patient/p1/_history/1/$verify")
    params = {p["name"]: p for p in r.get_json(force=True)["parameter"]}
    assert params["verdict"]["valueCode"] == "altered"
    # and a third party holding the earlier (genuine) proof sees that the served resource is not the anchored one
    served = client.get("/fhir/Patient/p1/_history/1").data
    done = _verify_offline(tmp_path, genuine, key, served)
    assert done.returncode == 1
    assert "the resource hashes to" in done.stdout


def test_offline_check_refuses_a_foreign_key(client: Any, tmp_path: Path) -> None:
    from ledger import generate_signer

    put(client, {"resourceType": "Patient", "id": "p1"})
    params = client.get("/fhir/Patient/p1/_history/1/$verify").data
    other = generate_signer("accord.localhost/ledger").verifier_key()
    done = _verify_offline(tmp_path, params, other)
    assert done.returncode == 1


def test_verify_operation_on_unknown_version_is_404(client: Any) -> None:
    assert client.get("/fhir/Patient/none/_history/1/$verify").status_code == 404
