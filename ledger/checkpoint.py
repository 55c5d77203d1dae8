"""Signed checkpoints: C2SP ``tlog-checkpoint`` bodies in C2SP ``signed-note`` envelopes.

A checkpoint commits the log to one tree (origin, size, root). It is signed
as a note with Ed25519, byte for byte the format of Go's
``golang.org/x/mod/sumdb/note`` (which sum.golang.org, Sigstore and the
transparency-dev witnesses speak), so any of their tools can verify ours::

    <origin>
    <tree size, decimal>
    <base64 root hash>
    [extension lines]

    — <key name> <base64(4-byte key hash ‖ 64-byte Ed25519 signature)>

The key hash is SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]. Keys travel
as the note package's strings, never as raw bytes:

* verifier key ``<name>+<hex key hash>+<base64(0x01 ‖ public key)>`` — public,
  hand it to anyone who checks our checkpoints;
* signer key ``PRIVATE+KEY+<name>+<hex key hash>+<base64(0x01 ‖ 32-byte seed)>``
  — secret; the literal prefix keeps it from being mistaken for the public one.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from dataclasses import dataclass
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from .errors import (
    InvalidSignatureError,
    KeyFormatError,
    MalformedCheckpointError,
    MalformedNoteError,
    OriginMismatchError,
    UnverifiedNoteError,
)
from .rfc9162 import HASH_SIZE

__all__ = [
    "Checkpoint",
    "NoteSigner",
    "NoteVerifier",
    "format_checkpoint",
    "generate_signer",
    "load_signer",
    "load_verifier",
    "open_note",
    "parse_checkpoint",
    "sign_checkpoint",
    "sign_note",
    "verify_note",
]

ALG_ED25519 = 0x01
MAX_SIGNATURES = 100  # like Go's note.Open: bound the work a hostile note can cause
SIG_PREFIX = "\u2014 "  # em dash, space
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
MAX_TREE_SIZE = (1 << 64) - 1


# -- keys ----------------------------------------------------------------------


def _valid_name(name: str) -> bool:
    """Non-empty, no whitespace, no '+' (the key string separator)."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _key_hash(name: str, public_key: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


class NoteVerifier:
    """An Ed25519 public key with its note name and key hash."""

    __slots__ = ("_key", "key_hash", "name", "public_key")

    def __init__(self, name: str, public_key: bytes) -> None:
        if not _valid_name(name):
            raise KeyFormatError(f"key name {name!r} must be non-empty, without spaces or '+'")
        if len(public_key) != 32:
            raise KeyFormatError(f"Ed25519 public key has {len(public_key)} bytes, want 32")
        self.name = name
        self.public_key = public_key
        self.key_hash = _key_hash(name, public_key)
        self._key = Ed25519PublicKey.from_public_bytes(public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def key(self) -> str:
        """The verifier key string: ``<name>+<hex hash>+<base64(0x01 ‖ key)>``."""
        encoded = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"

    def __repr__(self) -> str:
        return f"NoteVerifier({self.key()!r})"


class NoteSigner:
    """An Ed25519 private key with its note name; signs note texts."""

    __slots__ = ("_key", "verifier")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = NoteVerifier(name, public)
        self._key = private_key

    @property
    def name(self) -> str:
        return self.verifier.name

    @property
    def key_hash(self) -> bytes:
        return self.verifier.key_hash

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def verifier_key(self) -> str:
        """The public verifier key string to publish."""
        return self.verifier.key()

    def private_key(self) -> str:
        """The secret signer key string ``PRIVATE+KEY+...``; store it as a secret."""
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        encoded = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_hash.hex()}+{encoded}"

    def __repr__(self) -> str:  # never print the secret
        return f"NoteSigner({self.verifier_key()!r})"


def generate_signer(name: str) -> NoteSigner:
    """A fresh Ed25519 signer named ``name`` (by convention the log's origin)."""
    return NoteSigner(name, Ed25519PrivateKey.generate())


def load_signer(key: str) -> NoteSigner:
    """Parse a ``PRIVATE+KEY+<name>+<hash>+<base64>`` signer key (Go ``note.NewSigner``)."""
    parts = key.strip().split("+", 4)  # base64 has '+' too: split off the fields only
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise KeyFormatError("signer key must be PRIVATE+KEY+<name>+<hash>+<key>")
    name, hash_hex, data = parts[2], parts[3], parts[4]
    raw = _key_bytes(hash_hex, data)
    if len(raw) != 33:
        raise KeyFormatError(f"Ed25519 seed has {len(raw) - 1} bytes, want 32")
    signer = NoteSigner(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if signer.key_hash.hex() != hash_hex.lower():
        raise KeyFormatError(f"key hash {hash_hex}, want {signer.key_hash.hex()} for this key")
    return signer


def load_verifier(key: str) -> NoteVerifier:
    """Parse a ``<name>+<hash>+<base64>`` verifier key (Go ``note.NewVerifier``)."""
    parts = key.strip().split("+", 2)
    if len(parts) != 3:
        raise KeyFormatError("verifier key must be <name>+<hash>+<key>")
    name, hash_hex, data = parts
    raw = _key_bytes(hash_hex, data)
    if len(raw) != 33:
        raise KeyFormatError(f"Ed25519 public key has {len(raw) - 1} bytes, want 32")
    verifier = NoteVerifier(name, raw[1:])
    if verifier.key_hash.hex() != hash_hex.lower():
        raise KeyFormatError(f"key hash {hash_hex}, want {verifier.key_hash.hex()} for this key")
    return verifier


def _key_bytes(hash_hex: str, data: str) -> bytes:
    if not re.fullmatch(r"[0-9a-fA-F]{8}", hash_hex):
        raise KeyFormatError(f"key hash {hash_hex!r} is not 8 hex digits")
    try:
        raw = _b64decode(data)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError(f"key data is not base64: {exc}") from None
    if not raw:
        raise KeyFormatError("key data is empty")
    if raw[0] != ALG_ED25519:
        raise KeyFormatError(f"algorithm {raw[0]}, want {ALG_ED25519} (Ed25519)")
    return raw


# -- signed notes ----------------------------------------------------------------


def sign_note(text: str, signer: NoteSigner) -> str:
    """``text`` + blank line + one signature line (Go ``note.Sign`` with one signer)."""
    _check_note_text(text)
    signature = signer.sign(text.encode())
    line = base64.b64encode(signer.key_hash + signature).decode()
    return f"{text}\n{SIG_PREFIX}{signer.name} {line}\n"


def open_note(note: str | bytes, verifier: NoteVerifier) -> str:
    """The note's text, if ``verifier``'s key signed it; other keys' signatures are ignored.

    Raises ``MalformedNoteError``, ``InvalidSignatureError`` (the key's line is
    there but wrong) or ``UnverifiedNoteError`` (no line by this key).
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNoteError("not valid UTF-8") from None
    if any(c < " " and c != "\n" for c in note):
        raise MalformedNoteError("control character other than newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise MalformedNoteError("signature block does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"{len(lines)} signatures, want at most {MAX_SIGNATURES}")
    message = text.encode()
    found: list[str] = []
    verified = False
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise MalformedNoteError(f"signature line {line!r} does not start with an em dash")
        name, _, encoded = line[len(SIG_PREFIX) :].partition(" ")
        try:
            raw = _b64decode(encoded)
        except (binascii.Error, ValueError):
            raise MalformedNoteError(f"signature of {name!r} is not base64") from None
        if not _valid_name(name) or len(raw) < 5:
            raise MalformedNoteError(f"signature line {line!r}")
        key_hash, signature = raw[:4], raw[4:]
        found.append(f"{name}+{key_hash.hex()}")
        if name != verifier.name or not hmac.compare_digest(key_hash, verifier.key_hash):
            continue  # another key (a witness, a rotated key): not ours to judge
        if not verifier.verify(message, signature):
            raise InvalidSignatureError(name, key_hash)
        verified = True
    if not verified:
        raise UnverifiedNoteError(verifier.name, verifier.key_hash, found)
    return text


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    if any(c < " " and c != "\n" for c in text):
        raise MalformedNoteError("control character other than newline")


# -- checkpoints -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One tree the log commits to: which log, how many leaves, which root."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """The note text of a checkpoint (C2SP tlog-checkpoint body)."""
    if not checkpoint.origin or "\n" in checkpoint.origin:
        raise MalformedCheckpointError(f"origin {checkpoint.origin!r} must be one non-empty line")
    if not 0 <= checkpoint.size <= MAX_TREE_SIZE:
        raise MalformedCheckpointError(f"tree size {checkpoint.size} is not a uint64")
    if len(checkpoint.root) != HASH_SIZE:
        raise MalformedCheckpointError(f"root has {len(checkpoint.root)} bytes, want {HASH_SIZE}")
    for ext in checkpoint.extensions:
        if not ext or "\n" in ext:
            raise MalformedCheckpointError(f"extension {ext!r} must be one non-empty line")
    lines = [
        checkpoint.origin,
        str(checkpoint.size),
        base64.b64encode(checkpoint.root).decode(),
        *checkpoint.extensions,
    ]
    return "".join(line + "\n" for line in lines)


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The signed note for ``checkpoint``: what the log publishes."""
    return sign_note(format_checkpoint(checkpoint), signer)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint body (the note's text, signatures already stripped).

    Strict: canonical decimal size, canonical base64 of exactly 32 bytes, so a
    checkpoint has one spelling and its note one signature input.
    """
    if not text.endswith("\n"):
        raise MalformedCheckpointError("text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedCheckpointError(f"{len(lines)} lines, want origin, size and root")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise MalformedCheckpointError("empty origin line")
    if not _DECIMAL.fullmatch(size_text) or int(size_text) > MAX_TREE_SIZE:
        raise MalformedCheckpointError(f"tree size {size_text!r} is not a canonical uint64")
    try:
        root = _b64decode(root_text)
    except (binascii.Error, ValueError):
        raise MalformedCheckpointError(f"root {root_text!r} is not base64") from None
    if len(root) != HASH_SIZE or base64.b64encode(root).decode() != root_text:
        raise MalformedCheckpointError(f"root {root_text!r} is not the base64 of {HASH_SIZE} bytes")
    if any(not ext for ext in extensions):
        raise MalformedCheckpointError("empty extension line")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def verify_note(
    note: str | bytes, verifier_key: str | NoteVerifier, *, origin: str | None = None
) -> Checkpoint:
    """The checkpoint in a signed note, once the key's signature checks out.

    Give ``origin`` to also reject a validly signed checkpoint of another log
    (C2SP asks verifiers to check it).
    """
    verifier = load_verifier(verifier_key) if isinstance(verifier_key, str) else verifier_key
    checkpoint = parse_checkpoint(open_note(note, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise OriginMismatchError(origin, checkpoint.origin)
    return checkpoint
