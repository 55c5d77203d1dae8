"""The R4 search parameter registry, read from the generated ``definitions.json``.

The data is derived from the official R4 packages by ``tools/gen_search_definitions.py``
and loaded once, on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

__all__ = [
    "CORE_PARAMETERS",
    "SearchParameter",
    "StoredAs",
    "compartment_params",
    "derived_parameters",
    "element_type",
    "omitted_parameters",
    "parameters_for",
    "resource_types",
    "stored_as",
]

CORE_PARAMETERS = frozenset({"_id", "_lastUpdated"})
"""Listed by :func:`parameters_for`, but served from the resource table's own columns,
so they are not index entries."""

_ANY = "Any"  # stands for the file's 'anyTargets' list (Reference(Any))


@dataclass(frozen=True, slots=True)
class SearchParameter:
    code: str
    type: str  # token string date reference number quantity uri
    expression: str  # FHIRPath, restricted to the one resource type it is listed under
    targets: tuple[str, ...]  # resource types a reference parameter may point to


@functools.cache
def _definitions() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("definitions.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@functools.cache
def resource_types() -> frozenset[str]:
    """Every R4 resource type name."""
    return frozenset(_definitions()["resourceTypes"])


def _parameter(code: str, raw: Mapping[str, Any], any_targets: tuple[str, ...]) -> SearchParameter:
    targets = tuple(raw["targets"])
    return SearchParameter(
        code, raw["type"], raw["expression"], any_targets if targets == (_ANY,) else targets
    )


@functools.cache
def parameters_for(resource_type: str) -> Mapping[str, SearchParameter]:
    """The search parameters of ``resource_type``, including those every resource has.

    Unknown types get an empty mapping, so callers decide how to report them.
    """
    data = _definitions()
    if resource_type not in resource_types():
        return MappingProxyType({})
    any_targets = tuple(data["anyTargets"])
    merged = {**data["parameters"].get("Resource", {}), **data["parameters"].get(resource_type, {})}
    return MappingProxyType(
        {code: _parameter(code, raw, any_targets) for code, raw in sorted(merged.items())}
    )


def omitted_parameters(resource_type: str) -> Mapping[str, str]:
    """Official parameters of ``resource_type`` this layer does not index, with the reason.

    Lets the query side tell "not supported" (composite, special, no expression) from
    "no such parameter".
    """
    omitted: dict[str, dict[str, str]] = _definitions()["omitted"]
    return MappingProxyType(
        {
            **omitted.get("Resource", {}),
            **omitted.get("DomainResource", {}),
            **omitted.get(resource_type, {}),
        }
    )


def compartment_params(compartment: str, resource_type: str) -> tuple[str, ...]:
    """The parameters linking ``resource_type`` to a ``compartment`` (e.g. 'Patient').

    Empty when resources of that type are never in the compartment.  The special
    code ``{def}`` (e.g. Encounter in the Encounter compartment) means the
    compartment's own resource, matched by its id.
    """
    members: dict[str, list[str]] = _definitions()["compartments"].get(compartment, {})
    return tuple(members.get(resource_type, ()))


@functools.cache
def _elements() -> dict[tuple[str, str], str | tuple[str, ...]]:
    return {
        (owner, name): tuple(found) if isinstance(found, list) else found
        for owner, elements in _definitions()["elements"].items()
        for name, found in elements.items()
    }


def element_type(owner: str, element: str) -> str | tuple[str, ...] | None:
    """Datatype of ``owner.element`` (a tuple for choice elements ``element[x]``).

    Only the elements that search expressions navigate are known; others give None.
    """
    return _elements().get((owner, element))


@dataclass(frozen=True, slots=True)
class StoredAs:
    """Which index rows answer a parameter: those of ``params`` (of the same type),
    and for a reference parameter only the rows pointing at ``target_type`` if set."""

    params: tuple[str, ...]
    target_type: str | None = None


_RESOLVES_TO = re.compile(r"(.+)\.where\(resolve\(\) is ([A-Za-z]+)\)")


def _branches(expression: str) -> frozenset[str]:
    """The top-level ``|`` branches of an expression, each without enclosing parentheses."""
    out: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(expression):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(expression[start:i])
            start = i + 1
    out.append(expression[start:])
    return frozenset(_unwrap(b.strip()) for b in out)


def _unwrap(branch: str) -> str:
    while branch.startswith("(") and branch.endswith(")"):
        depth = 0
        for i, ch in enumerate(branch):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(branch) - 1:
                return branch  # '(a) | (b)'-like: the parentheses are not one pair
        branch = branch[1:-1].strip()
    return branch


@functools.cache
def derived_parameters(resource_type: str) -> Mapping[str, StoredAs]:
    """Parameters whose index rows would repeat other parameters' rows, so are not stored.

    Two shapes recur in R4: ``patient`` is ``subject.where(resolve() is Patient)``
    (the rows of ``subject`` that point at a Patient), and Observation's
    ``combo-code`` is ``code | component.code`` (the rows of ``code`` and of
    ``component-code``); a few parameters share one expression outright. For an
    Observation that is three index rows of twelve. Parameters are taken from
    the fewest branches up, so a parameter is only ever derived from stored ones.
    """
    params = {
        code: p
        for code, p in parameters_for(resource_type).items()
        if code not in CORE_PARAMETERS and p.expression
    }
    branches = {code: _branches(p.expression) for code, p in params.items()}

    def order(code: str) -> tuple[int, bool, str]:
        return (len(branches[code]), any(_RESOLVES_TO.fullmatch(b) for b in branches[code]), code)

    stored: list[str] = []
    derived: dict[str, StoredAs] = {}
    for code in sorted(params, key=order):
        mine, kind = branches[code], params[code].type
        if len(mine) == 1 and kind == "reference":
            match = _RESOLVES_TO.fullmatch(next(iter(mine)))
            if match is not None:
                target = match.group(2)
                base = [
                    q
                    for q in stored
                    if params[q].type == "reference"
                    and branches[q] == {match.group(1)}
                    and target in params[q].targets
                ]
                if base and params[code].targets == (target,):
                    derived[code] = StoredAs((base[0],), target)
                    continue
        # a reference parameter's targets also filter resources inlined in a Bundle
        parts = [
            q
            for q in stored
            if params[q].type == kind
            and branches[q] <= mine
            and (kind != "reference" or params[q].targets == params[code].targets)
        ]
        if parts and frozenset().union(*(branches[q] for q in parts)) == mine:
            derived[code] = StoredAs(tuple(parts))
            continue
        stored.append(code)
    return MappingProxyType(derived)


def stored_as(resource_type: str, code: str) -> StoredAs:
    """The index rows that answer ``code``: its own unless it is derived."""
    return derived_parameters(resource_type).get(code) or StoredAs((code,))
