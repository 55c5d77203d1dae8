"""Stop storing index rows that repeat other parameters' rows.

``records.search.parameters.derived_parameters`` names them: ``patient`` is the
rows of ``subject`` pointing at a Patient, Observation's ``combo-code`` the rows
of ``code`` and ``component-code``, and so on. Searches read those rows instead,
so the repeated ones are deleted; a downgrade writes them back from their sources.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# (kind, resource type, derived parameter, its source parameters, target type or None),
# as derived from the R4 definitions when this revision was written.
DERIVED: tuple[tuple[str, str, str, tuple[str, ...], str | None], ...] = (
    ("reference", "Account", "patient", ("subject",), "Patient"),
    ("reference", "Appointment", "location", ("actor",), "Location"),
    ("reference", "Appointment", "patient", ("actor",), "Patient"),
    ("reference", "Appointment", "practitioner", ("actor",), "Practitioner"),
    ("reference", "AppointmentResponse", "location", ("actor",), "Location"),
    ("reference", "AppointmentResponse", "patient", ("actor",), "Patient"),
    ("reference", "AppointmentResponse", "practitioner", ("actor",), "Practitioner"),
    ("reference", "Basic", "patient", ("subject",), "Patient"),
    ("token", "CapabilityStatement", "version", ("fhirversion",), None),
    ("reference", "CarePlan", "patient", ("subject",), "Patient"),
    ("reference", "CareTeam", "patient", ("subject",), "Patient"),
    ("reference", "ChargeItem", "patient", ("subject",), "Patient"),
    ("reference", "ClinicalImpression", "patient", ("subject",), "Patient"),
    ("uri", "CodeSystem", "url", ("system",), None),
    ("reference", "Communication", "patient", ("subject",), "Patient"),
    ("reference", "CommunicationRequest", "patient", ("subject",), "Patient"),
    ("reference", "Composition", "patient", ("subject",), "Patient"),
    ("reference", "Condition", "patient", ("subject",), "Patient"),
    ("reference", "Contract", "patient", ("subject",), "Patient"),
    ("reference", "Coverage", "patient", ("beneficiary",), None),
    ("reference", "DeviceRequest", "patient", ("subject",), "Patient"),
    ("reference", "DeviceUseStatement", "subject", ("patient",), None),
    ("reference", "DiagnosticReport", "patient", ("subject",), "Patient"),
    ("reference", "DocumentManifest", "patient", ("subject",), "Patient"),
    ("reference", "DocumentReference", "patient", ("subject",), "Patient"),
    ("reference", "Encounter", "patient", ("subject",), "Patient"),
    ("reference", "Encounter", "practitioner", ("participant",), "Practitioner"),
    ("reference", "EnrollmentRequest", "subject", ("patient",), None),
    ("reference", "Flag", "patient", ("subject",), "Patient"),
    ("reference", "Goal", "patient", ("subject",), "Patient"),
    ("reference", "GuidanceResponse", "patient", ("subject",), "Patient"),
    ("reference", "ImagingStudy", "patient", ("subject",), "Patient"),
    ("reference", "Invoice", "patient", ("subject",), "Patient"),
    ("reference", "Linkage", "source", ("item",), None),
    ("reference", "List", "patient", ("subject",), "Patient"),
    ("reference", "MeasureReport", "patient", ("subject",), "Patient"),
    ("reference", "Media", "patient", ("subject",), "Patient"),
    ("reference", "MedicationAdministration", "patient", ("subject",), "Patient"),
    ("reference", "MedicationDispense", "patient", ("subject",), "Patient"),
    ("reference", "MedicationRequest", "patient", ("subject",), "Patient"),
    ("reference", "MedicationStatement", "patient", ("subject",), "Patient"),
    ("token", "Observation", "combo-code", ("code", "component-code"), None),
    (
        "token",
        "Observation",
        "combo-data-absent-reason",
        ("component-data-absent-reason", "data-absent-reason"),
        None,
    ),
    (
        "token",
        "Observation",
        "combo-value-concept",
        ("component-value-concept", "value-concept"),
        None,
    ),
    (
        "quantity",
        "Observation",
        "combo-value-quantity",
        ("component-value-quantity", "value-quantity"),
        None,
    ),
    ("reference", "Observation", "patient", ("subject",), "Patient"),
    ("string", "Patient", "phonetic", ("name",), None),
    ("reference", "Person", "patient", ("link",), "Patient"),
    ("string", "Person", "phonetic", ("name",), None),
    ("reference", "Person", "practitioner", ("link",), "Practitioner"),
    ("reference", "Person", "relatedperson", ("link",), "RelatedPerson"),
    ("string", "Practitioner", "phonetic", ("name",), None),
    ("reference", "Procedure", "patient", ("subject",), "Patient"),
    ("reference", "Provenance", "patient", ("target",), "Patient"),
    ("reference", "QuestionnaireResponse", "patient", ("subject",), "Patient"),
    ("string", "RelatedPerson", "phonetic", ("name",), None),
    ("reference", "RequestGroup", "patient", ("subject",), "Patient"),
    ("reference", "ResearchSubject", "patient", ("individual",), None),
    ("reference", "RiskAssessment", "patient", ("subject",), "Patient"),
    ("reference", "ServiceRequest", "patient", ("subject",), "Patient"),
    ("reference", "Specimen", "patient", ("subject",), "Patient"),
    ("reference", "Task", "patient", ("subject",), "Patient"),
)

_VALUES = {
    "token": "system, code",
    "string": "value",
    "reference": "target_type, target_id",
    "quantity": "value, system, code",
    "uri": "value",
}


def _quoted(*names: str) -> str:
    return ", ".join(f"'{n}'" for n in names)


def upgrade() -> None:
    for kind, resource_type, param, _, _ in DERIVED:
        op.execute(
            f"DELETE FROM idx_{kind} WHERE resource_type = '{resource_type}' AND param = '{param}'"
        )


def downgrade() -> None:
    for kind, resource_type, param, sources, target_type in DERIVED:
        values = _VALUES[kind]
        only = f" AND target_type = '{target_type}'" if target_type else ""
        op.execute(
            f"INSERT INTO idx_{kind} (seq, resource_type, param, {values})"
            f" SELECT DISTINCT seq, resource_type, '{param}', {values} FROM idx_{kind}"
            f" WHERE resource_type = '{resource_type}' AND param IN ({_quoted(*sources)}){only}"
        )
