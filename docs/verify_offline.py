#!/usr/bin/env python3
"""Check an Accord ``$verify`` answer offline, trusting nothing but the log's public key.

Needs only the Python standard library and ``cryptography``:

    python verify_offline.py PARAMETERS.json --key 'origin+hash+base64' [--resource VERSION.json]

PARAMETERS.json is the body of ``GET /fhir/{type}/{id}/_history/{vid}/$verify``;
the key is the log's verifier key, obtained once and independently of the
answer (``GET /ledger/key``, a published copy, a colleague). VERSION.json,
the body of ``GET /fhir/{type}/{id}/_history/{vid}``, is re-hashed too.

It checks, in order: the key's own checksum; the checkpoint's Ed25519
signature; that the entry's leaf hash and audit path lead to the signed root
(RFC 9162 inclusion proof); that the entry names this version; and that the
resource's RFC 8785 canonical form hashes to the entry's sha256. Exit status
0 means every check held.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(message: str) -> None:
    print(f"FAILED: {message}")
    sys.exit(1)


# -- RFC 8785 canonical JSON (what the entry's sha256 is taken over) ---------------


def es6_number(x: float) -> str:
    if x == 0:
        return "0"
    if x < 0:
        return "-" + es6_number(-x)
    mantissa, _, exp = repr(x).partition("e")
    whole, _, fraction = mantissa.partition(".")
    fraction = fraction.rstrip("0")
    n = int(exp or 0)
    if whole != "0":
        digits, n = whole + fraction, n + len(whole)
    else:
        stripped = fraction.lstrip("0")
        digits, n = stripped, n - (len(fraction) - len(stripped))
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    return (
        digits[0] + ("." + digits[1:] if k > 1 else "") + ("e+" if e >= 0 else "e-") + str(abs(e))
    )


def jcs(value: object) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        number = float(value)
        if math.isinf(number) or math.isnan(number):
            raise ValueError("not a JSON number")
        return es6_number(number)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return (
            "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(v) for k, v in items) + "}"
        )
    raise TypeError(type(value).__name__)


# -- RFC 9162 ------------------------------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        fail(f"leaf index {index} is not in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            fail("the audit path is too long")
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        fail("the audit path is too short")
    return r


# -- C2SP signed note with an Ed25519 key ----------------------------------------------------


def open_checkpoint(note: str, key: str) -> tuple[str, int, bytes]:
    name, key_hash_hex, key_b64 = key.split("+", 2)
    raw = base64.b64decode(key_b64)
    if raw[0] != 1 or len(raw) != 33:
        fail("the verifier key is not an Ed25519 key")
    public = raw[1:]
    key_hash = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    if key_hash.hex() != key_hash_hex:
        fail("the verifier key's checksum is wrong")
    text, _, signatures = note.partition("\n\n")
    text += "\n"
    for line in signatures.splitlines():
        dash, signer, blob_b64 = line.split(" ")
        blob = base64.b64decode(blob_b64)
        if dash != "\u2014" or signer != name or blob[:4] != key_hash:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode())
        except InvalidSignature:
            fail("the checkpoint signature does not verify")
        origin, size, root = text.splitlines()[:3]
        return origin, int(size), base64.b64decode(root)
    fail("the checkpoint carries no signature by this key")
    raise AssertionError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("parameters")
    parser.add_argument("--key", required=True, help="the log's verifier key")
    parser.add_argument("--resource", help="the version's JSON, to re-hash")
    args = parser.parse_args()

    with open(args.parameters, "rb") as fh:
        params = json.load(fh)
    values: dict[str, list[object]] = {}
    for p in params["parameter"]:
        value = next(v for k, v in p.items() if k.startswith("value"))
        values.setdefault(p["name"], []).append(value)
    one = {k: v[0] for k, v in values.items()}
    if one.get("verdict") != "ok":
        fail(f"the server itself says {one.get('verdict')!r}")

    origin, size, root = open_checkpoint(str(one["checkpoint"]), args.key)
    print(f"ok  checkpoint of {origin!r}, {size} leaves, signed by the key")
    entry = str(one["entry"]).encode()
    index = int(str(one["leafIndex"]))
    path = [base64.b64decode(str(h)) for h in values.get("auditPath", [])]
    if root_from_inclusion(index, size, leaf_hash(entry), path) != root:
        fail("the entry and audit path do not lead to the signed root")
    print(f"ok  leaf {index} is included in the signed tree")
    fields = json.loads(entry)
    resource = f"{fields['resourceType']}/{fields['id']}/_history/{fields['versionId']}"
    if resource != one["resource"]:
        fail(f"the entry anchors {resource}, not {one['resource']}")
    print(
        f"ok  the entry anchors {resource}: {fields['operation']} at {fields['lastUpdated']} by {fields['source']}"
    )
    if args.resource:
        with open(args.resource, "rb") as fh:
            document = json.load(fh)
        digest = hashlib.sha256(jcs(document).encode()).hexdigest()
        if digest != fields["sha256"]:
            fail(f"the resource hashes to {digest}, the ledger says {fields['sha256']}")
        print("ok  the resource is exactly the anchored version")
    print("verified")


if __name__ == "__main__":
    main()
