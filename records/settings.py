"""Configuration, from environment variables only (twelve-factor), shared by gateway and workers."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Settings"]


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _float_or_none(value: str) -> float | None:
    return float(value) if value.strip() else None


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob Accord has; each one named after its environment variable."""

    database_url: str = field(
        default_factory=lambda: _env("DATABASE_URL", "sqlite:///var/accord.db")
    )
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", ""))
    base_url: str = field(default_factory=lambda: _env("ACCORD_BASE_URL", ""))
    max_body_bytes: int = field(
        default_factory=lambda: int(_env("ACCORD_MAX_BODY_BYTES", str(32 * 1024 * 1024)))
    )
    auto_migrate: bool = field(default_factory=lambda: _env("ACCORD_AUTO_MIGRATE", "1") == "1")
    # The Ed25519 key that signs checkpoints, in signed-note form (PRIVATE+KEY+...),
    # or a file holding it. Neither set: var/ledger.key, generated on first start.
    ledger_key: str = field(default_factory=lambda: _env("ACCORD_LEDGER_KEY", ""))
    ledger_key_file: str = field(
        default_factory=lambda: _env("ACCORD_LEDGER_KEY_FILE", "var/ledger.key")
    )
    # How often celery beat runs the anchoring sweep (pending entries Redis lost).
    anchor_sweep_seconds: float = field(
        default_factory=lambda: float(_env("ACCORD_ANCHOR_SWEEP_SECONDS", "5"))
    )
    # The log's identity, the first line of every checkpoint (C2SP tlog-checkpoint).
    ledger_origin: str = field(
        default_factory=lambda: _env("ACCORD_LEDGER_ORIGIN", "accord.localhost/ledger")
    )
    # Master patient index: a match scoring at least the link threshold (or sharing a
    # strong identifier) is linked automatically; from the review threshold up, a person
    # decides. Unset: the defaults of records.mpi.DEFAULT_THRESHOLDS.
    mpi_link_threshold: float | None = field(
        default_factory=lambda: _float_or_none(_env("ACCORD_MPI_LINK_THRESHOLD", ""))
    )
    mpi_review_threshold: float | None = field(
        default_factory=lambda: _float_or_none(_env("ACCORD_MPI_REVIEW_THRESHOLD", ""))
    )

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> Settings:
        """Environment defaults, overridden by ``values`` (used by tests)."""
        return cls(**(values or {}))
