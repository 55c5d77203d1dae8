"""Generate ``records/search/definitions.json`` from the official FHIR R4 packages.

The search layer needs three facts the spec publishes as data: which search
parameters each resource type has (with a per-type FHIRPath expression), which
parameters place a resource in a compartment, and the datatypes of the elements those
expressions walk through.  Deriving them from the published packages, instead of
writing them by hand, keeps the gateway honest to R4; committing the result keeps
runtime free of the ~200 MB of packages.

Usage::

    python tools/gen_search_definitions.py <examples package dir> <fhir.schema.json>

where the examples directory is the unpacked ``hl7.fhir.r4.examples`` npm package
(holding ``Bundle-searchParams.json`` and ``CompartmentDefinition-*.json``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from records.search.fhirpath import (  # noqa: E402  (needs the repo on sys.path)
    UNSUPPORTED,
    ElementType,
    compile_expression,
    split_union,
)

KEPT_TYPES = frozenset({"token", "string", "date", "reference", "number", "quantity", "uri"})
BASE_TYPES = ("Resource", "DomainResource")
COMPARTMENT_URL = "http://hl7.org/fhir/CompartmentDefinition/"
ANY = "Any"
DEFAULT_OUTPUT = REPO / "records" / "search" / "definitions.json"


class SchemaTypes:
    """Element datatypes from the JSON schema, remembering which ones were asked for.

    The compiler asks for exactly the elements the expressions navigate, so only
    those end up in the committed file.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self.definitions: dict[str, Any] = schema["definitions"]
        # Choice keys carry the type name with its first letter upper-cased.
        self.by_suffix = {name[0].upper() + name[1:]: name for name in self.definitions}
        self.used: dict[str, dict[str, str | list[str]]] = {}

    def __call__(self, owner: str, element: str) -> ElementType | None:
        found = self.resolve(owner, element)
        if found is not None:
            self.used.setdefault(owner, {})[element] = (
                list(found) if isinstance(found, tuple) else found
            )
        return found

    def resolve(self, owner: str, element: str) -> ElementType | None:
        properties: dict[str, Any] = self.definitions.get(owner, {}).get("properties", {})
        prop = properties.get(element)
        if prop is not None:
            ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
            if ref:
                name = str(ref).rsplit("/", 1)[-1]
                return "Resource" if name == "ResourceList" else name
            return "code" if "enum" in prop or "enum" in prop.get("items", {}) else None
        variants = tuple(
            self.by_suffix[key[len(element) :]]
            for key in properties
            if key.startswith(element) and key[len(element) :] in self.by_suffix
        )
        return variants or None


_RESOLVES_TO = re.compile(r"\.where\(resolve\(\) is (\w+)\)\)?$")


def narrowed_targets(parts: list[str], targets: list[str]) -> list[str]:
    """The targets this type's expression can yield.

    A shared parameter lists the targets of all its bases ('patient' allows Group
    because of some bases); when every part of this type's expression ends in
    ``where(resolve() is T)``, only those T can ever be indexed.
    """
    resolved = [_RESOLVES_TO.search(part) for part in parts]
    if all(resolved):
        only = {m.group(1) for m in resolved if m}
        return sorted(only & set(targets) or only)
    return sorted(targets)


def parameters(
    bundle: dict[str, Any], resource_types: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
    """Per-type parameters, and per-type codes left out with the reason why."""
    kept: dict[str, dict[str, Any]] = {}
    omitted: dict[str, dict[str, str]] = {}
    known = set(resource_types) | set(BASE_TYPES)
    for entry in bundle["entry"]:
        sp = entry["resource"]
        code, kind, expression = sp["code"], sp["type"], sp.get("expression")
        for base in sp["base"]:
            if base not in known:
                raise SystemExit(f"SearchParameter {sp['id']}: unknown base {base}")
            if kind not in KEPT_TYPES:
                omitted.setdefault(base, {})[code] = kind
                continue
            prefixes = (f"{base}.", f"({base}.")
            parts = split_union(expression or "")
            if len(sp["base"]) == 1:
                # R4 erratum: InsurancePlan-name is 'name | alias', relative to its base.
                parts = [f"{base}.{p}" if p[:1].islower() else p for p in parts]
            parts = [p for p in parts if p.startswith(prefixes)]
            if not parts:
                omitted.setdefault(base, {})[code] = "no expression"
                continue
            if code in kept.get(base, {}):
                raise SystemExit(f"duplicate search parameter {base}.{code}")
            kept.setdefault(base, {})[code] = {
                "type": kind,
                "expression": " | ".join(parts),
                "targets": narrowed_targets(parts, sp.get("target", [])),
            }
    return kept, omitted


def compartments(
    examples: Path, params: dict[str, dict[str, Any]]
) -> dict[str, dict[str, list[str]]]:
    result: dict[str, dict[str, list[str]]] = {}
    for path in sorted(examples.glob("CompartmentDefinition-*.json")):
        definition = json.loads(path.read_text(encoding="utf-8"))
        code = definition["code"]
        if definition["url"] != f"{COMPARTMENT_URL}{code[0].lower()}{code[1:]}":
            continue  # CompartmentDefinition-example redefines 'Device' for illustration
        members: dict[str, list[str]] = {}
        for resource in definition.get("resource", []):
            codes = resource.get("param", [])
            for param in codes:
                if param != "{def}" and param not in params.get(resource["code"], {}):
                    print(
                        f"warning: {path.name}: {resource['code']}.{param} is not a search parameter",
                        file=sys.stderr,
                    )
            if codes:
                members[resource["code"]] = codes
        result[code] = members
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "examples", type=Path, help="unpacked hl7.fhir.r4.examples package/ directory"
    )
    parser.add_argument("schema", type=Path, help="fhir.schema.json")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    schema = json.loads(args.schema.read_text(encoding="utf-8"))
    bundle = json.loads((args.examples / "Bundle-searchParams.json").read_text(encoding="utf-8"))
    resource_types = sorted(schema["discriminator"]["mapping"])
    listed = {
        ref["$ref"].rsplit("/", 1)[-1] for ref in schema["definitions"]["ResourceList"]["oneOf"]
    }
    if listed != set(resource_types):
        raise SystemExit("schema discriminator mapping and ResourceList disagree")

    kept, omitted = parameters(bundle, resource_types)

    # Compile every expression once against the schema: this both checks the subset
    # and records the element datatypes the runtime compiler will need.
    types = SchemaTypes(schema)
    for base, params in sorted(kept.items()):
        for param in params.values():
            for owner in resource_types if base in BASE_TYPES else [base]:
                compile_expression(param["expression"], owner, types)
    for record in UNSUPPORTED:
        print(
            f"unsupported: {record.resource_type}: {record.expression} ({record.reason})",
            file=sys.stderr,
        )

    # Reference(Any) spells out every resource type (but Parameters) on 80 parameters;
    # naming that list once halves the file.
    any_targets = sorted(set(resource_types) - {"Parameters"})
    for params in kept.values():
        for param in params.values():
            if param["targets"] == any_targets:
                param["targets"] = [ANY]
    data = {
        "resourceTypes": resource_types,
        "anyTargets": any_targets,
        "parameters": kept,
        "omitted": omitted,
        "compartments": compartments(args.examples, kept),
        "elements": types.used,
    }
    args.output.write_text(
        json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    count = sum(len(p) for p in kept.values())
    print(
        f"wrote {args.output.name}: {len(resource_types)} types, {count} parameters",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
