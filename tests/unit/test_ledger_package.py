"""The ledger package surface: what it exports, and what it does not drag in."""

from __future__ import annotations

import subprocess
import sys

import ledger


def test_every_exported_name_exists() -> None:
    assert sorted(ledger.__all__) == sorted(set(ledger.__all__))
    for name in ledger.__all__:
        assert getattr(ledger, name) is not None, name


def test_importing_the_ledger_does_not_import_sqlalchemy() -> None:
    """Only ``ledger.storage`` may need SQLAlchemy; clients verifying proofs do not."""
    code = "import sys, ledger; sys.exit('sqlalchemy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_docstring_says_why_not_merkletools() -> None:
    doc = ledger.__doc__ or ""
    assert "merkletools" in doc and "second-preimage" in doc and "consistency" in doc
