"""Validation of incoming resources: R4B models plus the required code bindings we rely on.

fhir.resources (R4B models; there is no R4 package in 8.x) checks structure,
cardinality and primitive formats, but not required ValueSet bindings: it
accepts ``gender: "M"``. The bindings Accord's own logic depends on are checked
here. Resource types of R4 that R4B dropped get a structural check only.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import orjson
import pydantic
from fhir.resources.R4B import get_fhir_model_class

from records import fhirjson
from records.errors import BadRequest, Issue, NotFound, Unprocessable
from records.search.parameters import resource_types

__all__ = ["check_resource_type", "parse_json", "validate_resource"]

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")

# Required bindings (FHIR R4) on top-level code elements: type -> element -> codes.
_PUBLICATION = {
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
}
_EVENT = {
    "preparation",
    "in-progress",
    "not-done",
    "on-hold",
    "stopped",
    "completed",
    "entered-in-error",
    "unknown",
}
REQUIRED_CODES: dict[str, dict[str, frozenset[str]]] = {
    "Patient": {"gender": frozenset({"male", "female", "other", "unknown"})},
    "RelatedPerson": {"gender": frozenset({"male", "female", "other", "unknown"})},
    "Practitioner": {"gender": frozenset({"male", "female", "other", "unknown"})},
    "Observation": {"status": frozenset(_PUBLICATION)},
    "DiagnosticReport": {"status": frozenset(_PUBLICATION | {"partial", "appended"})},
    "Encounter": {
        "status": frozenset(
            {
                "planned",
                "arrived",
                "triaged",
                "in-progress",
                "onleave",
                "finished",
                "cancelled",
                "entered-in-error",
                "unknown",
            }
        )
    },
    "MedicationRequest": {
        "status": frozenset(
            {
                "active",
                "on-hold",
                "cancelled",
                "completed",
                "entered-in-error",
                "stopped",
                "draft",
                "unknown",
            }
        ),
        "intent": frozenset(
            {
                "proposal",
                "plan",
                "order",
                "original-order",
                "reflex-order",
                "filler-order",
                "instance-order",
                "option",
            }
        ),
    },
    "MedicationDispense": {
        "status": frozenset(
            {
                "preparation",
                "in-progress",
                "cancelled",
                "on-hold",
                "completed",
                "entered-in-error",
                "stopped",
                "declined",
                "unknown",
            }
        )
    },
    "Immunization": {"status": frozenset({"completed", "entered-in-error", "not-done"})},
    "Procedure": {"status": frozenset(_EVENT)},
    "AllergyIntolerance": {
        "type": frozenset({"allergy", "intolerance"}),
        "criticality": frozenset({"low", "high", "unable-to-assess"}),
    },
    "Consent": {
        "status": frozenset(
            {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"}
        )
    },
}


def parse_json(body: bytes) -> Any:
    """Parse a request body, decimals kept exact; a syntax error is a 400 that says where.

    orjson checks first: it is strict (no lone surrogates, NaN or invalid
    UTF-8) and fast; the standard library then reads the decimals exactly.
    """
    if b"\\u0000" in body:
        raise BadRequest("FHIR strings cannot contain the character U+0000")
    try:
        orjson.loads(body)
        return fhirjson.loads(body)
    except (orjson.JSONDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(f"Malformed JSON: {exc}") from None


def check_resource_type(resource_type: str) -> None:
    if resource_type not in resource_types():
        raise NotFound(f"Unknown resource type '{resource_type}'")


def validate_resource(resource: Any, expected_type: str | None = None) -> None:
    """Raise BadRequest/Unprocessable naming every problem, or return quietly."""
    if not isinstance(resource, dict):
        raise BadRequest("The body must be a JSON object holding a FHIR resource")
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise BadRequest("The resource has no resourceType", expression="resourceType")
    if expected_type is not None and resource_type != expected_type:
        raise BadRequest(
            f"resourceType '{resource_type}' does not match the URL's type '{expected_type}'",
            expression="resourceType",
        )
    if resource_type not in resource_types():
        raise Unprocessable(f"Unknown resource type '{resource_type}'", expression="resourceType")
    issues: list[Issue] = []
    rid = resource.get("id")
    if rid is not None and (not isinstance(rid, str) or not ID_PATTERN.match(rid)):
        issues.append(
            Issue(
                f"Invalid id {rid!r}: 1-64 of A-Z a-z 0-9 - .", expression=(f"{resource_type}.id",)
            )
        )
    model = _model(resource_type)
    if model is not None:
        try:
            model.model_validate(resource)
        except pydantic.ValidationError as exc:
            issues += [_issue(resource_type, e) for e in exc.errors(include_url=False)]
        except (ValueError, TypeError) as exc:  # a few validators raise outside pydantic
            issues.append(Issue(str(exc), expression=(resource_type,)))
    for element, codes in REQUIRED_CODES.get(resource_type, {}).items():
        value = resource.get(element)
        if value is not None and (not isinstance(value, str) or value not in codes):
            issues.append(
                Issue(
                    f"{resource_type}.{element} {value!r} is not one of the required codes: "
                    + ", ".join(sorted(codes)),
                    code="code-invalid",
                    expression=(f"{resource_type}.{element}",),
                )
            )
    if issues:
        raise Unprocessable(issues=issues)


@cache
def _model(resource_type: str) -> Any:
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, ImportError, AttributeError):
        return None


def _issue(resource_type: str, error: Any) -> Issue:
    path = resource_type
    for part in error.get("loc", ()):
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return Issue(
        f"{path}: {message}",
        code="structure" if error.get("type") == "extra_forbidden" else "value",
        expression=(path,),
    )
