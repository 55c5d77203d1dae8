"""Who is asking, and the repository that only lets them reach what policy allows.

Every request resolves a :class:`Principal`. Handlers never check permissions:
they get a :class:`Repository` bound to the principal and an
:class:`AccessPolicy`, and every read and write path goes through it. Consent
enforcement plugs in here, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from records.errors import Forbidden
from records.storage import SQLStore, StoredVersion, StoreTransaction

__all__ = [
    "ANONYMOUS",
    "AccessPolicy",
    "AllowAll",
    "GuardedTransaction",
    "Principal",
    "Repository",
]


@dataclass(frozen=True, slots=True)
class Principal:
    """The party behind a request: a person, a system or nobody yet."""

    subject: str
    kind: str = "anonymous"  # anonymous | user | system
    scopes: frozenset[str] = field(default_factory=frozenset)


ANONYMOUS = Principal("anonymous")
T = TypeVar("T")


class AccessPolicy(Protocol):
    """Decides, per principal, what may be seen and written."""

    def can_see(self, principal: Principal, version: StoredVersion) -> bool: ...

    def can_write(self, principal: Principal, resource_type: str, resource: Any) -> bool: ...


class AllowAll:
    """The policy until authentication and consent land: everything is allowed."""

    def can_see(self, principal: Principal, version: StoredVersion) -> bool:
        return True

    def can_write(self, principal: Principal, resource_type: str, resource: Any) -> bool:
        return True


class GuardedTransaction:
    """A store transaction whose reads are filtered and writes checked by the policy."""

    def __init__(self, tx: StoreTransaction, principal: Principal, policy: AccessPolicy) -> None:
        self.tx = tx
        self.principal = principal
        self.policy = policy
        self.filtered = False  # True once anything was hidden: then totals must be hidden

    def visible(self, version: StoredVersion | None) -> StoredVersion | None:
        if version is None or self.policy.can_see(self.principal, version):
            return version
        self.filtered = True
        return None

    def visible_all(self, versions: list[StoredVersion]) -> list[StoredVersion]:
        kept = [v for v in versions if self.policy.can_see(self.principal, v)]
        if len(kept) != len(versions):
            self.filtered = True
        return kept

    def check_write(self, resource_type: str, resource: Any) -> None:
        if not self.policy.can_write(self.principal, resource_type, resource):
            raise Forbidden(f"Not allowed to write {resource_type}")


class Repository:
    """The record store as one principal may use it."""

    def __init__(self, store: SQLStore, principal: Principal, policy: AccessPolicy) -> None:
        self.store = store
        self.principal = principal
        self.policy = policy

    @contextmanager
    def read(self) -> Iterator[GuardedTransaction]:
        with self.store.read() as tx:
            yield GuardedTransaction(tx, self.principal, self.policy)

    def read_once(self, work: Callable[[GuardedTransaction], T]) -> T:
        """One single-statement read, retried once on a dropped connection."""
        return self.store.read_once(
            lambda tx: work(GuardedTransaction(tx, self.principal, self.policy))
        )

    @contextmanager
    def write(self) -> Iterator[GuardedTransaction]:
        with self.store.write() as tx:
            yield GuardedTransaction(tx, self.principal, self.policy)
