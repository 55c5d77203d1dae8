"""Deterministic, realistic FHIR R4 transaction bundles for the benchmarks.

Each bundle holds exactly 100 resources about one patient, linked by
``urn:uuid`` references that the server rewrites on commit:

==================  =====  ==================================================
resource            count  content
==================  =====  ==================================================
Patient                 1  identifiers, names, telecom, address, extensions
Encounter               5  class, type, period, reason, participants
Condition               6  clinical/verification status, SNOMED + ICD-10
Observation            40  vital signs (8 per encounter, BP with components)
Observation            38  labs with referenceRange and interpretation
MedicationRequest      10  RxNorm, dosage, dispense request, reasonReference
==================  =====  ==================================================

Resources are 1-1.5 KB of JSON each. The same ``(seed, index)`` always yields
the same bundle, byte for byte, so runs are comparable.

    python bench/data.py --bundles 1 --pretty   # look at one
"""

from __future__ import annotations

import argparse
import random
import sys
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "BUNDLE_COMPOSITION",
    "RESOURCES_PER_BUNDLE",
    "make_bundle",
    "make_bundles",
    "serialize",
]

BUNDLE_COMPOSITION = {
    "Patient": 1,
    "Encounter": 5,
    "Condition": 6,
    "Observation": 78,  # 5 x 8 vital signs + 38 labs
    "MedicationRequest": 10,
}
RESOURCES_PER_BUNDLE = sum(BUNDLE_COMPOSITION.values())
VITALS_PER_ENCOUNTER = 8
LABS = 38

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.1234.1"

FAMILY = [
    "Garcia",
    "Smith",
    "Nguyen",
    "Müller",
    "Okafor",
    "Kowalski",
    "Haddad",
    "Rossi",
    "Johnson",
    "Ivanova",
    "Tanaka",
    "Dubois",
    "O'Brien",
    "Larsen",
    "Fernández",
    "Chen",
]
GIVEN_F = ["Maria", "Aisha", "Emma", "Sofia", "Chloé", "Yuki", "Olga", "Grace", "Leah", "Zoë"]
GIVEN_M = ["James", "Wei", "Ahmed", "Lukas", "Mateo", "Kwame", "Piotr", "Noah", "Sean", "Jörg"]
CITIES = [
    ("Springfield", "IL", "62701"),
    ("Madison", "WI", "53703"),
    ("Austin", "TX", "78701"),
    ("Portland", "OR", "97205"),
    ("Columbus", "OH", "43215"),
    ("Raleigh", "NC", "27601"),
]
STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Lakeview Rd", "Hillcrest Blvd"]
PRACTITIONERS = ["Dr. Ana Ruiz", "Dr. Peter Holm", "Dr. Nia Mensah", "Dr. Raj Patel"]
ORGANIZATIONS = ["Springfield General Hospital", "Lakeside Family Clinic", "Riverside Medical"]

# (code, display, unit, ucum, low, high, decimals)
VITALS = [
    ("8867-4", "Heart rate", "beats/minute", "/min", 55, 110, 0),
    ("9279-1", "Respiratory rate", "breaths/minute", "/min", 12, 22, 0),
    ("8310-5", "Body temperature", "Cel", "Cel", 36.1, 38.4, 1),
    ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", "%", 91, 100, 0),
    ("29463-7", "Body weight", "kg", "kg", 48, 120, 1),
    ("8302-2", "Body height", "cm", "cm", 150, 195, 1),
    ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "kg/m2", 18, 38, 1),
]
# (code, display, unit, ucum, ref_low, ref_high, spread_low, spread_high, decimals)
LAB_PANEL = [
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 70, 99, 55, 240, 0),
    (
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "mg/dL",
        0.6,
        1.2,
        0.4,
        3.1,
        2,
    ),
    ("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 7, 20, 4, 45, 0),
    (
        "2951-2",
        "Sodium [Moles/volume] in Serum or Plasma",
        "mmol/L",
        "mmol/L",
        135,
        145,
        126,
        152,
        0,
    ),
    (
        "2823-3",
        "Potassium [Moles/volume] in Serum or Plasma",
        "mmol/L",
        "mmol/L",
        3.5,
        5.1,
        2.9,
        6.2,
        1,
    ),
    (
        "2075-0",
        "Chloride [Moles/volume] in Serum or Plasma",
        "mmol/L",
        "mmol/L",
        98,
        107,
        92,
        115,
        0,
    ),
    (
        "2028-9",
        "Carbon dioxide, total [Moles/volume] in Serum or Plasma",
        "mmol/L",
        "mmol/L",
        22,
        29,
        16,
        34,
        0,
    ),
    (
        "17861-6",
        "Calcium [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "mg/dL",
        8.6,
        10.3,
        7.5,
        11.5,
        1,
    ),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "g/dL", 12.0, 17.5, 8.5, 19.0, 1),
    (
        "4544-3",
        "Hematocrit [Volume Fraction] of Blood by Automated count",
        "%",
        "%",
        36,
        50,
        26,
        56,
        1,
    ),
    (
        "6690-2",
        "Leukocytes [#/volume] in Blood by Automated count",
        "10*3/uL",
        "10*3/uL",
        4.5,
        11.0,
        2.1,
        19.0,
        1,
    ),
    (
        "777-3",
        "Platelets [#/volume] in Blood by Automated count",
        "10*3/uL",
        "10*3/uL",
        150,
        400,
        90,
        520,
        0,
    ),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", "%", 4.0, 5.6, 4.2, 11.5, 1),
    (
        "2093-3",
        "Cholesterol [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "mg/dL",
        125,
        200,
        110,
        290,
        0,
    ),
    (
        "2571-8",
        "Triglyceride [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "mg/dL",
        40,
        150,
        35,
        420,
        0,
    ),
    (
        "2085-9",
        "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "mg/dL",
        40,
        80,
        25,
        95,
        0,
    ),
    (
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        "U/L",
        7,
        56,
        5,
        160,
        0,
    ),
    (
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        "U/L",
        10,
        40,
        6,
        140,
        0,
    ),
    (
        "3016-3",
        "Thyrotropin [Units/volume] in Serum or Plasma",
        "m[IU]/L",
        "m[IU]/L",
        0.4,
        4.0,
        0.1,
        9.5,
        2,
    ),
]
# (SNOMED code, display, ICD-10 code)
CONDITIONS = [
    ("44054006", "Diabetes mellitus type 2", "E11.9"),
    ("38341003", "Hypertensive disorder, systemic arterial", "I10"),
    ("55822004", "Hyperlipidemia", "E78.5"),
    ("195967001", "Asthma", "J45.909"),
    ("40055000", "Chronic sinusitis", "J32.9"),
    ("431855005", "Chronic kidney disease stage 1", "N18.1"),
    ("35489007", "Depressive disorder", "F32.9"),
    ("399211009", "History of myocardial infarction", "I25.2"),
    ("68496003", "Polyp of colon", "K63.5"),
    ("84757009", "Epilepsy", "G40.909"),
]
# (RxNorm code, display, dose text, dose value, unit, per day)
MEDICATIONS = [
    ("860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet", 1, "TAB", 2),
    ("314076", "lisinopril 10 MG Oral Tablet", 1, "TAB", 1),
    ("617311", "atorvastatin 40 MG Oral Tablet", 1, "TAB", 1),
    (
        "895994",
        "120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler",
        2,
        "ACTUAT",
        2,
    ),
    ("197361", "amlodipine 5 MG Oral Tablet", 1, "TAB", 1),
    ("310798", "hydrochlorothiazide 25 MG Oral Tablet", 1, "TAB", 1),
    ("308136", "amLODIPine 2.5 MG Oral Tablet", 1, "TAB", 1),
    ("312961", "simvastatin 20 MG Oral Tablet", 1, "TAB", 1),
    ("849574", "naproxen sodium 220 MG Oral Tablet", 1, "TAB", 2),
    ("313782", "acetaminophen 325 MG Oral Tablet", 2, "TAB", 3),
]
ENCOUNTER_TYPES = [
    ("185349003", "Encounter for check up (procedure)", "AMB", "ambulatory"),
    ("185345009", "Encounter for symptom (procedure)", "AMB", "ambulatory"),
    ("50849002", "Emergency room admission (procedure)", "EMER", "emergency"),
    ("183452005", "Emergency hospital admission (procedure)", "IMP", "inpatient encounter"),
    ("390906007", "Follow-up encounter (procedure)", "AMB", "ambulatory"),
]


class _Gen:
    """One bundle's worth of seeded randomness and the helpers built on it."""

    def __init__(self, seed: int, index: int) -> None:
        self.rng = random.Random(f"accord-bench:{seed}:{index}")
        self.index = index

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def pick(self, seq: list[Any]) -> Any:
        return self.rng.choice(seq)

    def number(self, low: float, high: float, decimals: int) -> float | int:
        value = round(self.rng.uniform(low, high), decimals)
        return int(value) if decimals == 0 else value

    def instant(self, when: datetime) -> str:
        return when.isoformat(timespec="seconds")


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def _ascii(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if c.isascii() and c.isalpha()).lower()


def _ref(full_url: str, display: str | None = None) -> dict[str, str]:
    ref = {"reference": full_url}
    if display:
        ref["display"] = display
    return ref


def _patient(g: _Gen) -> tuple[dict[str, Any], str, str]:
    female = g.rng.random() < 0.5
    family = g.pick(FAMILY)
    given = [g.pick(GIVEN_F if female else GIVEN_M), g.pick(GIVEN_F if female else GIVEN_M)]
    city, state, postal = g.pick(CITIES)
    birth = datetime(1935, 1, 1) + timedelta(days=g.rng.randrange(0, 365 * 70))
    mrn = f"MRN{g.index:06d}{g.rng.randrange(1000):03d}"
    display = f"{given[0]} {family}"
    patient = {
        "resourceType": "Patient",
        "meta": {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
        "extension": [
            {
                "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
                "valueCode": "F" if female else "M",
            }
        ],
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        _coding(
                            "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "MR",
                            "Medical Record Number",
                        )
                    ],
                    "text": "Medical Record Number",
                },
                "system": MRN_SYSTEM,
                "value": mrn,
                "assigner": {"display": g.pick(ORGANIZATIONS)},
            },
            {
                "use": "official",
                "system": "http://hl7.org/fhir/sid/us-ssn",
                "value": f"999-{g.rng.randrange(10, 99)}-{g.rng.randrange(1000, 9999)}",
            },
        ],
        "active": True,
        "name": [
            {
                "use": "official",
                "family": family,
                "given": given,
                "prefix": ["Ms." if female else "Mr."],
            },
            {"use": "usual", "given": [given[0]]},
        ],
        "telecom": [
            {
                "system": "phone",
                "value": f"555-{g.rng.randrange(100, 999)}-{g.rng.randrange(1000, 9999)}",
                "use": "home",
            },
            {
                "system": "phone",
                "value": f"555-{g.rng.randrange(100, 999)}-{g.rng.randrange(1000, 9999)}",
                "use": "mobile",
                "rank": 1,
            },
            {
                "system": "email",
                "value": f"{_ascii(given[0])}.{_ascii(family)}{g.index}@example.org",
                "use": "home",
            },
        ],
        "gender": "female" if female else "male",
        "birthDate": birth.date().isoformat(),
        "address": [
            {
                "use": "home",
                "type": "both",
                "line": [
                    f"{g.rng.randrange(1, 9999)} {g.pick(STREETS)}",
                    f"Apt {g.rng.randrange(1, 40)}",
                ],
                "city": city,
                "state": state,
                "postalCode": postal,
                "country": "US",
                "period": {"start": f"{g.rng.randrange(1990, 2015)}-01-01"},
            }
        ],
        "maritalStatus": {
            "coding": [
                _coding("http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "M", "Married")
            ]
        },
        "communication": [
            {
                "language": {
                    "coding": [_coding("urn:ietf:bcp:47", "en-US", "English (United States)")]
                },
                "preferred": True,
            }
        ],
    }
    return patient, display, mrn


def _encounter(
    g: _Gen, patient: dict[str, str], start: datetime, reason: tuple[str, str, str]
) -> dict[str, Any]:
    code, display, cls, cls_display = g.pick(ENCOUNTER_TYPES)
    end = start + timedelta(minutes=g.rng.randrange(15, 240))
    return {
        "resourceType": "Encounter",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.1234.7", "value": g.uuid()[:18]}],
        "status": "finished",
        "class": _coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", cls, cls_display),
        "type": [{"coding": [_coding(SNOMED, code, display)], "text": display}],
        "subject": patient,
        "participant": [
            {
                "type": [
                    {
                        "coding": [
                            _coding(
                                "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "PPRF",
                                "primary performer",
                            )
                        ]
                    }
                ],
                "individual": {"display": g.pick(PRACTITIONERS)},
            }
        ],
        "period": {"start": g.instant(start), "end": g.instant(end)},
        "reasonCode": [{"coding": [_coding(SNOMED, reason[0], reason[1])], "text": reason[1]}],
        "serviceProvider": {"display": g.pick(ORGANIZATIONS)},
    }


def _condition(
    g: _Gen, patient: dict[str, str], encounter: str, onset: datetime, which: tuple[str, str, str]
) -> dict[str, Any]:
    snomed, display, icd = which
    return {
        "resourceType": "Condition",
        "clinicalStatus": {
            "coding": [
                _coding(
                    "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
                )
            ]
        },
        "verificationStatus": {
            "coding": [
                _coding(
                    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "confirmed",
                    "Confirmed",
                )
            ]
        },
        "category": [
            {
                "coding": [
                    _coding(
                        "http://terminology.hl7.org/CodeSystem/condition-category",
                        "problem-list-item",
                        "Problem List Item",
                    )
                ]
            }
        ],
        "severity": {"coding": [_coding(SNOMED, "6736007", "Moderate")]},
        "code": {
            "coding": [_coding(SNOMED, snomed, display), _coding(ICD10, icd, display)],
            "text": display,
        },
        "subject": patient,
        "encounter": _ref(encounter),
        "onsetDateTime": g.instant(onset),
        "recordedDate": g.instant(onset + timedelta(hours=2)),
        "recorder": {"display": g.pick(PRACTITIONERS)},
        "note": [{"text": f"{display}; reviewed at visit, plan documented."}],
    }


def _observation_base(g: _Gen, category: str) -> dict[str, Any]:
    cat_display = "Vital Signs" if category == "vital-signs" else "Laboratory"
    obs: dict[str, Any] = {"resourceType": "Observation"}
    if category == "vital-signs":
        obs["meta"] = {"profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns"]}
    obs.update(
        {
            "identifier": [
                {"system": "urn:oid:2.16.840.1.113883.3.1234.9", "value": g.uuid()[:23]}
            ],
            "status": "final",
            "category": [
                {"coding": [_coding(OBS_CATEGORY, category, cat_display)], "text": cat_display}
            ],
        }
    )
    return obs


def _vital(
    g: _Gen, patient: dict[str, str], encounter: str, when: datetime, slot: int
) -> dict[str, Any]:
    obs = _observation_base(g, "vital-signs")
    common = {
        "subject": patient,
        "encounter": _ref(encounter),
        "effectiveDateTime": g.instant(when),
        "issued": g.instant(when + timedelta(minutes=5)),
        "performer": [{"display": g.pick(PRACTITIONERS)}],
    }
    if slot == len(VITALS):  # blood pressure panel with two components
        obs["code"] = {
            "coding": [
                _coding(LOINC, "85354-9", "Blood pressure panel with all children optional")
            ],
            "text": "Blood pressure",
        }
        obs.update(common)
        obs["component"] = [
            {
                "code": {"coding": [_coding(LOINC, code, name)], "text": name},
                "valueQuantity": {
                    "value": g.rng.randrange(low, high),
                    "unit": "mmHg",
                    "system": UCUM,
                    "code": "mm[Hg]",
                },
            }
            for code, name, low, high in (
                ("8480-6", "Systolic blood pressure", 100, 165),
                ("8462-4", "Diastolic blood pressure", 60, 100),
            )
        ]
        return obs
    code, display, unit, ucum, low, high, decimals = VITALS[slot]
    obs["code"] = {"coding": [_coding(LOINC, code, display)], "text": display}
    obs.update(common)
    obs["valueQuantity"] = {
        "value": g.number(low, high, decimals),
        "unit": unit,
        "system": UCUM,
        "code": ucum,
    }
    return obs


def _lab(
    g: _Gen, patient: dict[str, str], encounter: str, when: datetime, which: tuple[Any, ...]
) -> dict[str, Any]:
    code, display, unit, ucum, ref_low, ref_high, lo, hi, decimals = which
    value = g.number(lo, hi, decimals)
    flag, flag_display = (
        ("L", "Low") if value < ref_low else ("H", "High") if value > ref_high else ("N", "Normal")
    )
    obs = _observation_base(g, "laboratory")
    obs.update(
        {
            "code": {"coding": [_coding(LOINC, code, display)], "text": display},
            "subject": patient,
            "encounter": _ref(encounter),
            "effectiveDateTime": g.instant(when),
            "issued": g.instant(when + timedelta(hours=g.rng.randrange(2, 30))),
            "performer": [{"display": g.pick(ORGANIZATIONS) + " Laboratory"}],
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": ucum},
            "interpretation": [
                {"coding": [_coding(INTERPRETATION, flag, flag_display)], "text": flag_display}
            ],
            "specimen": {"display": "Venous blood specimen"},
            "referenceRange": [
                {
                    "low": {"value": ref_low, "unit": unit, "system": UCUM, "code": ucum},
                    "high": {"value": ref_high, "unit": unit, "system": UCUM, "code": ucum},
                    "type": {
                        "coding": [
                            _coding(
                                "http://terminology.hl7.org/CodeSystem/referencerange-meaning",
                                "normal",
                                "Normal Range",
                            )
                        ]
                    },
                    "text": f"{ref_low}-{ref_high} {unit}",
                }
            ],
        }
    )
    return obs


def _medication_request(
    g: _Gen,
    patient: dict[str, str],
    encounter: str,
    when: datetime,
    reason: str,
    which: tuple[Any, ...],
) -> dict[str, Any]:
    rxnorm, display, dose, unit, per_day = which
    return {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.1234.11", "value": g.uuid()[:20]}],
        "status": g.pick(["active", "active", "completed", "stopped"]),
        "intent": "order",
        "category": [
            {
                "coding": [
                    _coding(
                        "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                        "community",
                        "Community",
                    )
                ]
            }
        ],
        "medicationCodeableConcept": {
            "coding": [_coding(RXNORM, rxnorm, display)],
            "text": display,
        },
        "subject": patient,
        "encounter": _ref(encounter),
        "authoredOn": g.instant(when),
        "requester": {"display": g.pick(PRACTITIONERS)},
        "reasonReference": [_ref(reason)],
        "dosageInstruction": [
            {
                "sequence": 1,
                "text": f"Take {dose} {unit.lower()} by mouth {per_day} times daily",
                "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
                "route": {"coding": [_coding(SNOMED, "26643006", "Oral route")]},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": dose,
                            "unit": unit,
                            "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
                            "code": unit,
                        }
                    }
                ],
            }
        ],
        "dispenseRequest": {
            "numberOfRepeatsAllowed": g.rng.randrange(0, 6),
            "quantity": {"value": 30 * dose * per_day, "unit": unit},
            "expectedSupplyDuration": {
                "value": 30,
                "unit": "days",
                "system": UCUM,
                "code": "d",
            },
        },
    }


def make_bundle(index: int, seed: int = 1) -> dict[str, Any]:
    """The transaction Bundle number ``index`` of the series ``seed``: 100 entries."""
    g = _Gen(seed, index)
    entries: list[dict[str, Any]] = []

    def add(resource: dict[str, Any]) -> str:
        full_url = f"urn:uuid:{g.uuid()}"
        entries.append(
            {
                "fullUrl": full_url,
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
        )
        return full_url

    patient_url = f"urn:uuid:{g.uuid()}"
    patient, display, _mrn = _patient(g)
    entries.append(
        {
            "fullUrl": patient_url,
            "resource": patient,
            "request": {"method": "POST", "url": "Patient"},
        }
    )
    subject = _ref(patient_url, display)

    first_visit = datetime(2015, 1, 1, 8, 0, tzinfo=UTC) + timedelta(
        days=g.rng.randrange(0, 365 * 8), minutes=g.rng.randrange(0, 600)
    )
    conditions = g.rng.sample(CONDITIONS, BUNDLE_COMPOSITION["Condition"])
    encounters: list[tuple[str, datetime]] = []
    when = first_visit
    for i in range(BUNDLE_COMPOSITION["Encounter"]):
        url = add(_encounter(g, subject, when, conditions[i % len(conditions)]))
        encounters.append((url, when))
        when += timedelta(days=g.rng.randrange(20, 200), minutes=g.rng.randrange(-90, 90))
    condition_urls = [
        add(
            _condition(
                g,
                subject,
                encounters[i % len(encounters)][0],
                encounters[i % len(encounters)][1],
                c,
            )
        )
        for i, c in enumerate(conditions)
    ]
    for enc_url, enc_time in encounters:
        for slot in range(VITALS_PER_ENCOUNTER):
            add(_vital(g, subject, enc_url, enc_time + timedelta(minutes=slot + 3), slot))
    for i in range(LABS):
        enc_url, enc_time = encounters[i % len(encounters)]
        add(
            _lab(
                g, subject, enc_url, enc_time + timedelta(minutes=30), LAB_PANEL[i % len(LAB_PANEL)]
            )
        )
    meds = g.rng.sample(MEDICATIONS, BUNDLE_COMPOSITION["MedicationRequest"])
    for i, med in enumerate(meds):
        enc_url, enc_time = encounters[i % len(encounters)]
        add(
            _medication_request(
                g, subject, enc_url, enc_time, condition_urls[i % len(condition_urls)], med
            )
        )

    assert len(entries) == RESOURCES_PER_BUNDLE, len(entries)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def make_bundles(count: int, seed: int = 1, start: int = 0) -> list[dict[str, Any]]:
    return [make_bundle(start + i, seed) for i in range(count)]


def serialize(bundle: dict[str, Any]) -> bytes:
    import orjson

    return orjson.dumps(bundle)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundles", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pretty", action="store_true", help="print the first bundle")
    parser.add_argument("--validate", action="store_true", help="check with fhir.resources")
    args = parser.parse_args(argv)
    import orjson

    bundles = make_bundles(args.bundles, args.seed)
    if args.pretty:
        sys.stdout.write(orjson.dumps(bundles[0], option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    sizes: dict[str, list[int]] = {}
    for bundle in bundles:
        for entry in bundle["entry"]:
            r = entry["resource"]
            sizes.setdefault(r["resourceType"], []).append(len(orjson.dumps(r)))
    total = [len(serialize(b)) for b in bundles]
    print(f"{args.bundles} bundles, {sum(total) / len(total) / 1024:.1f} KiB per bundle")
    for rtype, values in sizes.items():
        print(
            f"  {rtype:<18} {len(values):>6}  bytes min/mean/max "
            f"{min(values)}/{sum(values) // len(values)}/{max(values)}"
        )
    if args.validate:
        from fhir.resources.R4B import get_fhir_model_class

        for bundle in bundles:
            for entry in bundle["entry"]:
                r = entry["resource"]
                get_fhir_model_class(r["resourceType"]).model_validate(r)
        print("all resources pass fhir.resources (R4B) validation")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
