"""Signed checkpoints: byte-exact with Go's note package, and every forgery refused typed."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ledger import (
    Checkpoint,
    InvalidSignatureError,
    KeyFormatError,
    MalformedCheckpointError,
    MalformedNoteError,
    OriginMismatchError,
    UnverifiedNoteError,
    format_checkpoint,
    generate_signer,
    load_signer,
    load_verifier,
    open_note,
    parse_checkpoint,
    sign_checkpoint,
    sign_note,
    verify_note,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "ledger" / "notes.json").read_text()
)
GO = VECTORS["go_note"]
ROOT = bytes(range(32))


def test_go_note_vector_is_reproduced_byte_for_byte() -> None:
    signer = load_signer(GO["signer_key"])
    assert signer.name == "PeterNeumann"
    assert signer.verifier_key() == GO["verifier_key"]
    assert signer.private_key() == GO["signer_key"]
    assert sign_note(GO["text"], signer) == GO["signed"]
    assert open_note(GO["signed"], load_verifier(GO["verifier_key"])) == GO["text"]


def test_cosigned_go_note_opens_with_either_key() -> None:
    case = VECTORS["go_note_cosigned"]
    for key in case["verifier_keys"]:
        assert open_note(case["signed"], load_verifier(key)) == case["text"]
        assert open_note(case["signed"].encode(), load_verifier(key)) == case["text"]


def test_real_sum_golang_org_checkpoints_verify() -> None:
    case = VECTORS["sumdb_checkpoints"]
    for note in case["notes"]:
        checkpoint = verify_note(note["signed"], case["verifier_key"], origin=case["origin"])
        assert checkpoint == Checkpoint(
            case["origin"], note["size"], base64.b64decode(note["root"])
        )


def test_sign_verify_round_trip() -> None:
    signer = generate_signer("accord.example/ledger")
    checkpoint = Checkpoint("accord.example/ledger", 12345, ROOT)
    note = sign_checkpoint(checkpoint, signer)
    body = "accord.example/ledger\n12345\n" + base64.b64encode(ROOT).decode() + "\n"
    assert note.startswith(body + "\n\u2014 accord.example/ledger ")
    assert verify_note(note, signer.verifier_key(), origin="accord.example/ledger") == checkpoint
    assert verify_note(note, signer.verifier) == checkpoint
    again = load_signer(signer.private_key())
    assert again.verifier_key() == signer.verifier_key()
    assert sign_checkpoint(checkpoint, again) == note  # Ed25519 is deterministic
    assert "PRIVATE" not in repr(signer)


def test_key_hash_is_the_note_package_one() -> None:
    signer = generate_signer("log")
    _name, key_hash, key = signer.verifier_key().split("+", 2)
    raw = base64.b64decode(key)
    assert raw[0] == 1 and len(raw) == 33
    assert key_hash == hashlib.sha256(b"log\n" + raw).digest()[:4].hex()


def test_wrong_key_is_refused() -> None:
    signer, other = generate_signer("log"), generate_signer("log")
    note = sign_checkpoint(Checkpoint("log", 1, ROOT), signer)
    with pytest.raises(UnverifiedNoteError, match="signatures found: log\\+"):
        verify_note(note, other.verifier_key())
    with pytest.raises(UnverifiedNoteError):
        verify_note(note, generate_signer("another").verifier_key())


def test_tampered_body_is_refused() -> None:
    signer = generate_signer("log")
    note = sign_checkpoint(Checkpoint("log", 10, ROOT), signer)
    with pytest.raises(InvalidSignatureError):
        verify_note(note.replace("\n10\n", "\n11\n", 1), signer.verifier_key())
    forged_root = base64.b64encode(bytes(32)).decode()
    with pytest.raises(InvalidSignatureError):
        verify_note(note.replace(base64.b64encode(ROOT).decode(), forged_root), signer.verifier)


def test_tampered_signature_is_refused() -> None:
    signer = generate_signer("log")
    note = sign_checkpoint(Checkpoint("log", 10, ROOT), signer)
    head, sig = note.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sig))
    raw[10] ^= 1
    with pytest.raises(InvalidSignatureError):
        verify_note(head + " " + base64.b64encode(bytes(raw)).decode() + "\n", signer.verifier)


def test_checkpoint_of_another_log_is_refused() -> None:
    signer = generate_signer("log")
    note = sign_checkpoint(Checkpoint("other.example/log", 1, ROOT), signer)
    with pytest.raises(OriginMismatchError, match="want 'log'"):
        verify_note(note, signer.verifier, origin="log")


@pytest.mark.parametrize(
    "suffix",
    [
        "",  # no signature block
        "\n",  # blank line, no signatures
        "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        "\n\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\nUnexpected line.\n",
        "\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        "\n\u2014 PeterNeumann !!!!\n",
    ],
)
def test_malformed_notes_are_refused(suffix: str) -> None:
    """The Go suite's bad messages."""
    with pytest.raises(MalformedNoteError):
        open_note(GO["text"] + suffix, load_verifier(GO["verifier_key"]))


def test_control_characters_and_bad_utf8_are_refused() -> None:
    verifier = load_verifier(GO["verifier_key"])
    with pytest.raises(MalformedNoteError):
        open_note("\x01" + GO["signed"], verifier)
    with pytest.raises(MalformedNoteError):
        open_note(b"\xff" + GO["signed"].encode(), verifier)
    with pytest.raises(MalformedNoteError):
        sign_note("no final newline", load_signer(GO["signer_key"]))


def test_too_many_signatures_are_refused() -> None:
    line = GO["signed"].split("\n\n", 1)[1]
    with pytest.raises(MalformedNoteError, match="at most 100"):
        open_note(GO["text"] + "\n" + line * 101, load_verifier(GO["verifier_key"]))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("log\n10\n", "lines"),
        ("\n10\n" + base64.b64encode(ROOT).decode() + "\n", "origin"),
        ("log\n010\n" + base64.b64encode(ROOT).decode() + "\n", "canonical"),
        ("log\n-1\n" + base64.b64encode(ROOT).decode() + "\n", "canonical"),
        ("log\n18446744073709551616\n" + base64.b64encode(ROOT).decode() + "\n", "uint64"),
        ("log\n10\n" + base64.b64encode(ROOT[:31]).decode() + "\n", "32 bytes"),
        ("log\n10\n" + base64.b64encode(ROOT).decode().rstrip("=") + "\n", "base64"),
        ("log\n10\n" + base64.b64encode(ROOT).decode() + "\n\n", "extension"),
        ("log\n10\n" + base64.b64encode(ROOT).decode(), "newline"),
    ],
)
def test_malformed_checkpoints_are_refused(body: str, reason: str) -> None:
    with pytest.raises(MalformedCheckpointError, match=reason):
        parse_checkpoint(body)


def test_checkpoint_extensions_round_trip() -> None:
    checkpoint = Checkpoint("log", 7, ROOT, ("ext one", "ext two"))
    assert parse_checkpoint(format_checkpoint(checkpoint)) == checkpoint
    with pytest.raises(MalformedCheckpointError):
        format_checkpoint(Checkpoint("log", 7, ROOT[:5]))


def test_mangled_keys_are_refused() -> None:
    """Go's TestNewVerifier / TestNewSigner: every substring and every one-byte change fails."""
    for key, load in ((GO["verifier_key"], load_verifier), (GO["signer_key"], load_signer)):
        for i in range(len(key) + 1):
            for j in range(i + 1, len(key) + 1):
                if (i, j) != (0, len(key)):
                    with pytest.raises(KeyFormatError):
                        load(key[i:j])
        for i in range(len(key)):
            with pytest.raises(KeyFormatError):
                load(key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :])
    with pytest.raises(KeyFormatError, match="algorithm"):
        load_verifier("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    with pytest.raises(KeyFormatError):
        generate_signer("two words")
