"""The R4 search parameter registry, read from the generated ``definitions.json``.

The data is derived from the official R4 packages by ``tools/gen_search_definitions.py``
and loaded once, on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

__all__ = [
    "CORE_PARAMETERS",
    "SearchParameter",
    "compartment_params",
    "element_type",
    "omitted_parameters",
    "parameters_for",
    "resource_types",
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
