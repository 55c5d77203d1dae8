"""The CapabilityStatement: generated from what the code actually supports."""

from __future__ import annotations

from typing import Any

from records.search.parameters import parameters_for, resource_types

__all__ = ["capability_statement"]

INTERACTIONS = [
    "read",
    "vread",
    "update",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
]
OPERATIONS: dict[str, list[dict[str, str]]] = {
    "Patient": [
        {
            "name": "everything",
            "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
            "documentation": "GET or POST; the patient and every linked patient; _type, _since,"
            " start, end (care dates), _count; one entry per fact, other sources in"
            " Bundle.entry.extension (https://accord.example/fhir/StructureDefinition/also-source)",
        }
    ],
}
DOCUMENTATION = {
    "token": "[system]|[code]; modifiers :not :missing",
    "string": "case- and accent-insensitive prefix; modifiers :exact :contains :missing",
    "date": "prefixes eq ne gt lt ge le sa eb ap; partial dates are ranges",
    "reference": "[type]/[id], [id] or an absolute URL; no chaining",
    "number": "prefixes; precision-implied ranges for eq",
    "quantity": "[prefix][number]|[system]|[code]",
    "uri": "exact; modifier :below",
}


def capability_statement(base: str) -> dict[str, Any]:
    resources = []
    for resource_type in sorted(resource_types()):
        params = [
            {"name": "_id", "type": "token"},
            {"name": "_lastUpdated", "type": "date"},
        ]
        params += [
            {"name": p.code, "type": p.type, "documentation": DOCUMENTATION[p.type]}
            for p in sorted(parameters_for(resource_type).values(), key=lambda p: p.code)
            if p.type in DOCUMENTATION and not p.code.startswith("_")
        ]
        resources.append(
            {
                "type": resource_type,
                "interaction": [{"code": code} for code in INTERACTIONS],
                "versioning": "versioned-update",
                "readHistory": True,
                "updateCreate": True,
                "conditionalCreate": True,
                "conditionalUpdate": True,
                "conditionalDelete": "not-supported",
                "conditionalRead": "not-supported",
                "referencePolicy": ["literal", "local"],
                "searchParam": params,
                **({"operation": OPERATIONS[resource_type]} if resource_type in OPERATIONS else {}),
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-26",
        "publisher": "Accord",
        "kind": "instance",
        "software": {"name": "Accord", "version": "0.1.0"},
        "implementation": {"description": "Accord FHIR gateway", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "resource": resources,
                "interaction": [
                    {"code": "transaction"},
                    {"code": "batch"},
                    {"code": "history-system"},
                ],
                "searchParam": [
                    {"name": "_count", "type": "number"},
                    {"name": "_sort", "type": "string"},
                    {"name": "_total", "type": "token"},
                    {"name": "_summary", "type": "token", "documentation": "count only"},
                ],
            }
        ],
    }
