"""Code systems and the HL7 v2 tables the converters translate into FHIR codes.

Two kinds of knowledge live here, both taken from the HL7 "V2-to-FHIR"
implementation guide's vocabulary maps (and HL7 Terminology for the URIs):

* ``system_uri``: the FHIR ``Coding.system`` for a coding-system name sent in
  CWE.3/CWE.6 (HL7 table 0396: ``LN``, ``RXNORM``, ``HL70078`` …);
* small dicts from v2 table codes to the FHIR codes of elements with a
  required binding (gender, statuses, uses), where a v2 code cannot be copied
  through as it is.

Only systems whose URI is certain are listed; an unknown name still keeps its
meaning under an ``urn:accord:hl7v2:`` URI (see ``system_uri``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote

__all__ = [
    "ADDRESS_TYPE",
    "ADDRESS_USE",
    "ALLERGY_CATEGORY",
    "ALLERGY_CRITICALITY",
    "ALLERGY_TYPE",
    "CONTACT_SYSTEM",
    "CONTACT_USE",
    "DIAGNOSTIC_SECTIONS",
    "ENCOUNTER_CLASS",
    "ENCOUNTER_STATUS_BY_CLASS",
    "GENDER",
    "IDENTIFIER_TYPES",
    "IMMUNIZATION_STATUS",
    "INTERPRETATION",
    "NAME_USE",
    "OBSERVATION_STATUS",
    "ORDER_STATUS_DISPENSE",
    "ORDER_STATUS_REQUEST",
    "RELATIONSHIP",
    "REPORT_STATUS",
    "REQUEST_PRIORITY",
    "UCUM",
    "UCUM_UNITS",
    "V2_TABLE",
    "V3_ACT_CODE",
    "V3_INTERPRETATION",
    "V3_ROLE_CODE",
    "system_uri",
]

UCUM = "http://unitsofmeasure.org"
V2_TABLE = "http://terminology.hl7.org/CodeSystem/v2-"  # + 4-digit table number
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

# HL7 table 0396 names (and two common aliases) whose FHIR URI is settled.
_SYSTEMS = {
    "LN": "http://loinc.org",
    "SCT": "http://snomed.info/sct",
    "SNM": "http://snomed.info/sct",
    "I10": "http://hl7.org/fhir/sid/icd-10",
    "ICD10": "http://hl7.org/fhir/sid/icd-10",  # not a 0396 name, but what senders write
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
    "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "C4": "http://www.ama-assn.org/go/cpt",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "MVX": "http://terminology.hl7.org/CodeSystem/MVX",
    "UCUM": UCUM,
    "NCIT": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
    "CDCREC": "urn:oid:2.16.840.1.113883.6.238",
}
_HL7_TABLE = re.compile(r"HL7(\d{4})", re.ASCII)
_OID = re.compile(r"[0-2](\.(0|[1-9]\d*))+", re.ASCII)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]{0,29}", re.ASCII)


@lru_cache(maxsize=1024)
def system_uri(name: str, oid: str = "", local_namespace: str = "") -> str:
    """The ``Coding.system`` for a v2 coding-system name ("" when there is none).

    Known names map to their FHIR URIs; ``HL7nnnn`` (nnnn < 9000) to the HL7
    Terminology v2 table. Otherwise the CWE.14 OID (v2.7+) when sent, else
    ``urn:accord:hl7v2:codesystem:NAME``: the name keeps its meaning and
    searches still group codes by it. Local names (``L``, ``99zzz``) only mean
    something to their sender, so they are scoped by ``local_namespace``
    (``urn:accord:hl7v2:<sender>:codesystem:NAME``). A "name" that is not a
    name at all (free text in CWE.3) gives no system.
    """
    name = name.strip()
    known = _SYSTEMS.get(name.upper())
    if known is not None:
        return known
    table = _HL7_TABLE.fullmatch(name)
    if table is not None and int(table.group(1)) < 9000:
        return V2_TABLE + table.group(1)
    if oid and _OID.fullmatch(oid):
        return "urn:oid:" + oid
    if not name or _NAME.fullmatch(name) is None:
        return ""
    if (name == "L" or name.startswith("99")) and local_namespace:
        return f"urn:accord:hl7v2:{quote(local_namespace, safe='')}:codesystem:{quote(name)}"
    return "urn:accord:hl7v2:codesystem:" + quote(name)


# -- v2 tables to FHIR codes (V2-to-FHIR concept maps) ------------------------------

# 0001 Administrative Sex → administrative-gender (required binding).
GENDER = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "other"}

# 0004 Patient Class → Encounter.class (v3 ActCode where the IG maps it, else v2-0004).
ENCOUNTER_CLASS = {
    "E": (V3_ACT_CODE, "EMER", "emergency"),
    "I": (V3_ACT_CODE, "IMP", "inpatient encounter"),
    "O": (V3_ACT_CODE, "AMB", "ambulatory"),
    "P": (V3_ACT_CODE, "PRENC", "pre-admission"),
    "R": (V2_TABLE + "0004", "R", "Recurring patient"),
    "B": (V2_TABLE + "0004", "B", "Obstetrics"),
    "C": (V2_TABLE + "0004", "C", "Commercial Account"),
    "N": (V2_TABLE + "0004", "N", "Not Applicable"),
    "U": (V2_TABLE + "0004", "U", "Unknown"),
}
# 0004 Patient Class → Encounter.status, when neither the event nor PV1-45 decides.
ENCOUNTER_STATUS_BY_CLASS = {"P": "planned", "U": "unknown"}  # every other class: in-progress

# 0085 Observation Result Status → Observation.status. The IG leaves B, I, N, O, R, S,
# U and V open; these are our choices (see observation.py).
OBSERVATION_STATUS = {
    "A": "amended",
    "B": "amended",
    "C": "corrected",
    "D": "entered-in-error",
    "F": "final",
    "I": "registered",
    "N": "final",
    "O": "registered",
    "P": "preliminary",
    "R": "preliminary",
    "S": "preliminary",
    "U": "final",
    "V": "final",
    "W": "entered-in-error",
    "X": "cancelled",
}

# 0123 Result Status → DiagnosticReport.status (A, M, N open in the IG: our choices).
REPORT_STATUS = {
    "O": "registered",
    "I": "registered",
    "S": "registered",
    "A": "partial",
    "P": "preliminary",
    "C": "corrected",
    "M": "corrected",
    "R": "partial",
    "N": "partial",
    "F": "final",
    "X": "cancelled",
}

# 0078 Interpretation Codes → v3 ObservationInterpretation (same codes, where active).
INTERPRETATION = {
    "<": "Off scale low",
    ">": "Off scale high",
    "A": "Abnormal",
    "AA": "Critical abnormal",
    "B": "Better",
    "CAR": "Carrier",
    "D": "Significant change down",
    "DET": "Detected",
    "E": "Equivocal",
    "EX": "outside threshold",
    "EXP": "Expected",
    "H": "High",
    "HH": "Critical high",
    "HU": "Significantly high",
    "I": "Intermediate",
    "IE": "Insufficient evidence",
    "IND": "Indeterminate",
    "L": "Low",
    "LL": "Critical low",
    "LU": "Significantly low",
    "N": "Normal",
    "NCL": "No CLSI defined breakpoint",
    "ND": "Not detected",
    "NEG": "Negative",
    "NR": "Non-reactive",
    "NS": "Non-susceptible",
    "POS": "Positive",
    "R": "Resistant",
    "RR": "Reactive",
    "S": "Susceptible",
    "SDD": "Susceptible-dose dependent",
    "SYN-R": "Synergy - resistant",
    "SYN-S": "Synergy - susceptible",
    "U": "Significant change up",
    "UNE": "Unexpected",
    "W": "Worse",
    "WR": "Weakly reactive",
}

# 0127 Allergen Type → AllergyIntolerance.category / .type.
ALLERGY_CATEGORY = {
    "DA": "medication",
    "FA": "food",
    "EA": "environment",
    "AA": "biologic",
    "PA": "environment",
    "LA": "environment",
}
ALLERGY_TYPE = {c: "allergy" for c in ("DA", "FA", "MA", "EA", "AA", "PA", "LA")}
# 0128 Allergy Severity → AllergyIntolerance.criticality (MO has no counterpart).
ALLERGY_CRITICALITY = {"SV": "high", "MI": "low", "U": "unable-to-assess"}

# 0063 Relationship → v3 RoleCode (or v2-0063 / v2-0131 where the IG keeps those).
RELATIONSHIP = {
    "SEL": (V3_ROLE_CODE, "ONESELF", "self"),
    "SPO": (V3_ROLE_CODE, "SPS", "spouse"),
    "DOM": (V3_ROLE_CODE, "SIGOTHR", "significant other"),
    "CHD": (V3_ROLE_CODE, "CHILD", "child"),
    "GCH": (V3_ROLE_CODE, "GRNDCHILD", "grandchild"),
    "NCH": (V3_ROLE_CODE, "NCHILD", "natural child"),
    "SCH": (V3_ROLE_CODE, "STPCHLD", "step child"),
    "FCH": (V3_ROLE_CODE, "CHLDFOST", "foster child"),
    "DEP": (V2_TABLE + "0063", "DEP", "Handicapped dependent"),
    "WRD": (V2_TABLE + "0063", "WRD", "Ward of court"),
    "PAR": (V3_ROLE_CODE, "PRN", "parent"),
    "MTH": (V3_ROLE_CODE, "MTH", "mother"),
    "FTH": (V3_ROLE_CODE, "FTH", "father"),
    "CGV": (V2_TABLE + "0063", "CGV", "Care giver"),
    "GRD": (V2_TABLE + "0063", "GRD", "Guardian"),
    "GRP": (V3_ROLE_CODE, "GRPRN", "grandparent"),
    "EXF": (V3_ROLE_CODE, "EXT", "extended family member"),
    "SIB": (V3_ROLE_CODE, "SIB", "sibling"),
    "BRO": (V3_ROLE_CODE, "BRO", "brother"),
    "SIS": (V3_ROLE_CODE, "SIS", "sister"),
    "FND": (V3_ROLE_CODE, "FRND", "unrelated friend"),
    "OAD": (V2_TABLE + "0063", "OAD", "Other adult"),
    "EME": (V2_TABLE + "0063", "EME", "Employee"),
    "EMR": (V2_TABLE + "0131", "E", "Employer"),
    "ASC": (V2_TABLE + "0063", "ASC", "Associate"),
    "EMC": (V2_TABLE + "0131", "C", "Emergency Contact"),
    "OWN": (V2_TABLE + "0063", "OWN", "Owner"),
    "TRA": (V2_TABLE + "0063", "TRA", "Trainer"),
    "MGR": (V2_TABLE + "0063", "MGR", "Manager"),
    "NON": (V2_TABLE + "0063", "NON", "None"),
    "UNK": (V2_TABLE + "0131", "U", "Unknown"),
    "OTH": (V2_TABLE + "0131", "O", "Other"),
}

# 0200 Name Type → HumanName.use.
NAME_USE = {
    "BAD": "old",
    "D": "usual",
    "L": "official",
    "M": "maiden",
    "MSK": "anonymous",
    "N": "nickname",
    "NAV": "temp",
    "R": "official",
    "S": "anonymous",
    "TEMP": "temp",
}
# 0190 Address Type → Address.use / Address.type.
ADDRESS_USE = {"BA": "old", "BI": "billing", "C": "temp", "B": "work", "H": "home", "O": "work"}
ADDRESS_TYPE = {"M": "postal"}
# 0201 Telecommunication Use → ContactPoint.use; 0202 Equipment Type → ContactPoint.system.
CONTACT_USE = {"PRN": "home", "ORN": "home", "VHN": "home", "WPN": "work", "PRS": "mobile"}
CONTACT_SYSTEM = {
    "PH": "phone",
    "CP": "phone",
    "FX": "fax",
    "MD": "other",
    "SAT": "other",
    "BP": "pager",
    "INTERNET": "email",
    "X.400": "email",
    "TDD": "other",
    "TTY": "other",
}

# 0322 Completion Status → Immunization.status.
IMMUNIZATION_STATUS = {"CP": "completed", "PA": "completed", "RE": "not-done", "NA": "not-done"}

# 0038 Order Status → MedicationRequest.status / MedicationDispense.status.
ORDER_STATUS_REQUEST = {
    "A": "active",
    "CA": "cancelled",
    "CM": "completed",
    "DC": "stopped",
    "ER": "entered-in-error",
    "HD": "on-hold",
    "IP": "active",
    "RP": "stopped",
    "SC": "active",
}
ORDER_STATUS_DISPENSE = {
    "A": "in-progress",
    "CA": "cancelled",
    "CM": "completed",
    "DC": "stopped",
    "ER": "entered-in-error",
    "HD": "on-hold",
    "IP": "in-progress",
    "SC": "preparation",
}

# 0485 Extended Priority Codes → request-priority.
REQUEST_PRIORITY = {"S": "stat", "A": "asap", "R": "routine", "P": "urgent", "T": "urgent"}

# 0074 Diagnostic Service Section ID (the codes asserted with the v2-0074 system).
DIAGNOSTIC_SECTIONS = frozenset(
    {"AU", "BG", "BLB", "CG", "CH", "CP", "CT", "CTH", "CUS", "EC", "EN", "GE", "HM", "ICU",
     "IMM", "LAB", "MB", "MCB", "MYC", "NMR", "NMS", "NRS", "OSL", "OT", "OTH", "OUS", "PAR",
     "PAT", "PF", "PHR", "PHY", "PT", "RAD", "RC", "RT", "RUS", "RX", "SP", "SR", "TX", "URN",
     "VR", "VUS", "XRC"}
)  # fmt: skip

# 0203 Identifier Type: the codes asserted with the v2-0203 system; others become type.text.
IDENTIFIER_TYPES = frozenset(
    {"AN", "BA", "BR", "BRN", "CZ", "DL", "DN", "DR", "EI", "EN", "FILL", "GI", "HC", "JHN",
     "LR", "MA", "MC", "MR", "MRT", "NH", "NI", "NIIP", "NPI", "PE", "PEN", "PI", "PLAC", "PN",
     "PPN", "PRN", "PT", "RI", "RN", "RPH", "RRI", "SB", "SN", "SR", "SS", "TAX", "U", "UPIN",
     "VN", "VS", "WC", "WCN", "XX"}
)  # fmt: skip

# Unit strings senders write for common UCUM units, by their case-folded form.
_COMMON_UNITS = (
    "%", "/min", "/uL", "10*3/uL", "10*6/uL", "10*9/L", "10*12/L", "Cel", "[degF]", "cm", "fL",
    "g", "g/dL", "g/L", "h", "kg", "kg/m2", "L", "m", "mg", "mg/dL", "mg/L", "min", "mL",
    "mL/min", "mm", "mm[Hg]", "mmol/L", "mmol/mol", "ng/dL", "ng/mL", "nmol/L", "pg", "pg/mL",
    "pmol/L", "s", "U/L", "ug", "ug/dL", "ug/L", "ug/mL", "umol/L", "[IU]/L",
)  # fmt: skip
UCUM_UNITS = {unit.casefold(): unit for unit in _COMMON_UNITS}
