"""What a task needs to run: the store and the checkpoint signer, built once per process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ledger.checkpoint import NoteSigner, generate_signer, load_signer
from records.settings import Settings
from records.storage import SQLStore, make_engine

__all__ = ["Runtime", "load_or_create_signer", "runtime_from_settings"]


@dataclass(slots=True)
class Runtime:
    store: SQLStore
    signer: NoteSigner
    origin: str


def load_or_create_signer(settings: Settings) -> NoteSigner:
    """The checkpoint key: from ACCORD_LEDGER_KEY, else its file, generated if absent.

    The file is created with mode 0600 and never overwritten: a new key would
    make every earlier checkpoint unverifiable with the published key.
    """
    if settings.ledger_key:
        return load_signer(settings.ledger_key.strip())
    path = Path(settings.ledger_key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        signer = generate_signer(settings.ledger_origin)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(signer.private_key() + "\n")
    return load_signer(path.read_text().strip())


def runtime_from_settings(settings: Settings, store: SQLStore | None = None) -> Runtime:
    store = store or SQLStore(make_engine(settings.database_url))
    return Runtime(store, load_or_create_signer(settings), settings.ledger_origin)
