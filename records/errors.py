"""The one exception tree of Accord's record core.

Every failure a client can cause is a :class:`FHIRError`; the gateway turns it
into an OperationOutcome in exactly one place. Each issue names the FHIR path
(``Observation.status``) and, for feeds, the source location.

    FHIRError                      (status, issues)
    ├── BadRequest                 400  malformed JSON, bad search parameter
    ├── Unauthorized               401
    ├── Forbidden                  403
    ├── NotFound                   404  unknown type, id or version
    ├── MethodNotAllowed           405
    ├── NotAcceptable              406
    ├── Conflict                   409  id mismatch, concurrent write
    ├── Gone                       410  read of a deleted resource
    ├── PreconditionFailed         412  If-Match on a stale version, ambiguous condition
    ├── PayloadTooLarge            413
    ├── UnsupportedMediaType       415
    └── Unprocessable              422  resource fails validation
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BadRequest",
    "Conflict",
    "FHIRError",
    "Forbidden",
    "Gone",
    "Issue",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMediaType",
]


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue: what went wrong and where."""

    diagnostics: str
    code: str = "invalid"
    severity: str = "error"
    expression: tuple[str, ...] = field(default_factory=tuple)

    def as_fhir(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "code": self.code}
        out["diagnostics"] = self.diagnostics
        if self.expression:
            out["expression"] = list(self.expression)
        return out


class FHIRError(Exception):
    """A failure with an HTTP status and one or more OperationOutcome issues."""

    status: int = 400
    code: str = "invalid"

    def __init__(
        self,
        diagnostics: str = "",
        *,
        expression: str | tuple[str, ...] = (),
        issues: list[Issue] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if isinstance(expression, str):
            expression = (expression,)
        self.issues = issues or [Issue(diagnostics, self.code, "error", expression)]
        self.headers = headers or {}
        super().__init__(diagnostics or "; ".join(i.diagnostics for i in self.issues))

    def operation_outcome(self) -> dict[str, Any]:
        return {"resourceType": "OperationOutcome", "issue": [i.as_fhir() for i in self.issues]}


class BadRequest(FHIRError):
    status, code = 400, "invalid"


class Unauthorized(FHIRError):
    status, code = 401, "login"


class Forbidden(FHIRError):
    status, code = 403, "forbidden"


class NotFound(FHIRError):
    status, code = 404, "not-found"


class MethodNotAllowed(FHIRError):
    status, code = 405, "not-supported"


class NotAcceptable(FHIRError):
    status, code = 406, "not-supported"


class Conflict(FHIRError):
    status, code = 409, "conflict"


class Gone(FHIRError):
    status, code = 410, "deleted"


class PreconditionFailed(FHIRError):
    status, code = 412, "conflict"


class PayloadTooLarge(FHIRError):
    status, code = 413, "too-costly"


class UnsupportedMediaType(FHIRError):
    status, code = 415, "not-supported"


class Unprocessable(FHIRError):
    status, code = 422, "invalid"
