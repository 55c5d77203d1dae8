"""Configuration, from environment variables only (twelve-factor)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Settings"]


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


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

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> Settings:
        """Environment defaults, overridden by ``values`` (used by tests)."""
        return cls(**(values or {}))
