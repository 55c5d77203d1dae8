"""Search index entries from resources, on the official R4 examples."""

from __future__ import annotations

import functools
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from records.search import (
    CORE_PARAMETERS,
    IndexEntries,
    compartment_params,
    date_range,
    extract,
    index_entries,
    normalize_string,
    omitted_parameters,
    parameters_for,
    resource_types,
)
from records.search.fhirpath import Evaluator, compile_expression
from records.search.parameters import derived_parameters, element_type

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "records" / "search" / "definitions.json"


def load(examples: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((examples / f"{name}.json").read_text(encoding="utf-8"))
    return data


# --------------------------------------------------------------------------- registry


def test_resource_types_are_the_r4_list() -> None:
    types = resource_types()
    assert len(types) == 146
    assert {"Patient", "Observation", "Parameters", "Bundle"} <= types
    assert "Resource" not in types


def test_parameters_for_patient() -> None:
    params = parameters_for("Patient")
    assert params["family"].type == "string"
    assert params["family"].expression == "Patient.name.family"
    assert params["general-practitioner"].targets == (
        "Organization",
        "Practitioner",
        "PractitionerRole",
    )
    assert params["_tag"].expression == "Resource.meta.tag"  # inherited from Resource
    assert {"_id", "_lastUpdated"} <= set(params)


def test_multi_base_expressions_are_split_per_type() -> None:
    assert parameters_for("Observation")["code"].expression == "Observation.code"
    assert parameters_for("Condition")["code"].expression == "Condition.code"
    patient = parameters_for("Observation")["patient"]
    assert patient.expression == "Observation.subject.where(resolve() is Patient)"
    assert patient.targets == ("Patient",)


def test_relative_expression_erratum_is_anchored_to_its_base() -> None:
    assert parameters_for("InsurancePlan")["name"].expression == (
        "InsurancePlan.name | InsurancePlan.alias"
    )


def test_reference_any_targets_are_expanded() -> None:
    subject = parameters_for("Basic")["subject"]
    assert len(subject.targets) == 145
    assert "Patient" in subject.targets


def test_composite_and_special_parameters_are_omitted_with_a_reason() -> None:
    assert "code-value-quantity" not in parameters_for("Observation")
    assert omitted_parameters("Observation")["code-value-quantity"] == "composite"
    assert omitted_parameters("Location")["near"] == "special"
    assert omitted_parameters("Patient")["_text"] == "no expression"


def test_unknown_type_has_no_parameters() -> None:
    assert dict(parameters_for("Nonsense")) == {}


def test_compartment_params() -> None:
    assert compartment_params("Patient", "Observation") == ("subject", "performer")
    assert compartment_params("Patient", "Patient") == ("link",)
    assert compartment_params("Encounter", "Observation") == ("encounter",)
    assert compartment_params("Encounter", "Encounter") == ("{def}",)
    assert compartment_params("Patient", "CodeSystem") == ()
    assert compartment_params("Nonsense", "Observation") == ()


def test_compartment_params_are_search_parameters() -> None:
    for compartment in ("Patient", "Encounter", "Practitioner", "RelatedPerson", "Device"):
        for resource_type in resource_types():
            for code in compartment_params(compartment, resource_type):
                assert code == "{def}" or code in parameters_for(resource_type), (
                    compartment,
                    resource_type,
                    code,
                )


def test_definitions_json_is_generated_from_the_packages(r4_examples: Path, tmp_path: Path) -> None:
    schema = r4_examples.parent.parent / "json-schema" / "package" / "fhir.schema.json"
    output = tmp_path / "definitions.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "gen_search_definitions.py"),
            str(r4_examples),
            str(schema),
            "--output",
            str(output),
        ],
        check=True,
        capture_output=True,
    )
    assert output.read_bytes() == DEFINITIONS.read_bytes(), "run tools/gen_search_definitions.py"


# --------------------------------------------------------------------------- official examples


def test_observation_example(r4_examples: Path) -> None:
    entries = index_entries(load(r4_examples, "Observation-example"))
    assert ("code", "http://loinc.org", "29463-7") in entries.tokens
    assert ("status", None, "final") in entries.tokens
    assert ("subject", "Patient", "example") in entries.references
    # 'patient' is derived: searches read the 'subject' rows that point at a Patient
    assert [e for e in entries.references if e[0] == "patient"] == []
    assert ("date", "2016-03-28T00:00:00.000000", "2016-03-28T23:59:59.999999") in entries.dates
    assert ("value-quantity", 185.0, "http://unitsofmeasure.org", "[lb_av]") in entries.quantities


def test_patient_example(r4_examples: Path) -> None:
    entries = index_entries(load(r4_examples, "Patient-example"))
    assert ("family", "chalmers") in entries.strings
    assert ("given", "peter") in entries.strings
    assert ("name", "jim") in entries.strings
    assert ("address-city", "pleasantville") in entries.strings
    assert (
        "birthdate",
        "1974-12-25T00:00:00.000000",
        "1974-12-25T23:59:59.999999",
    ) in entries.dates
    assert ("identifier", "urn:oid:1.2.36.146.595.217.0.1", "12345") in entries.tokens
    assert ("gender", None, "male") in entries.tokens
    assert ("active", None, "true") in entries.tokens
    assert ("phone", None, "(03) 5555 6473") in entries.tokens
    assert ("organization", "Organization", "1") in entries.references


def test_entries_are_deduplicated(r4_examples: Path) -> None:
    entries = index_entries(load(r4_examples, "Patient-example"))
    for name in ("tokens", "strings", "dates", "references", "quantities"):
        values = getattr(entries, name)
        assert len(values) == len(set(values)), name


def test_core_parameters_are_not_index_entries(r4_examples: Path) -> None:
    entries = index_entries(load(r4_examples, "Patient-example"))
    assert not any(code in ("_id", "_lastUpdated") for code, *_ in entries.tokens + entries.dates)


def test_all_examples_index_without_error(r4_examples: Path) -> None:
    count = with_entries = 0
    for path in sorted(r4_examples.glob("*.json")):
        resource = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(resource, dict) or resource.get("resourceType") not in resource_types():
            continue
        entries = index_entries(resource)
        assert isinstance(entries, IndexEntries)
        count += 1
        with_entries += any(
            getattr(entries, f) for f in ("tokens", "strings", "dates", "references")
        )
    assert count >= 5300
    assert with_entries / count > 0.95


# --------------------------------------------------------------------------- fast paths
# index_entries skips branches by key, reads single keys directly, picks handlers by
# datatype and skips the dedupe when it can; all that must change nothing.  The
# reference here evaluates every parameter whole, tags every value and handles each
# one by its own tag, then dedupes every list.


@functools.cache
def _whole(resource_type: str, code: str) -> Evaluator:
    return compile_expression(
        parameters_for(resource_type)[code].expression, resource_type, element_type
    )


def reference_entries(resource: dict[str, Any]) -> IndexEntries:
    resource_type = resource["resourceType"]
    out = IndexEntries([], [], [], [], [], [], [])
    for code, param in parameters_for(resource_type).items():
        if code in CORE_PARAMETERS:
            continue
        if param.type == "reference":
            handler_for = extract._reference(frozenset(param.targets))
        else:
            handler_for = extract._HANDLERS[param.type]
        items = _whole(resource_type, code)(resource)
        if items:
            extract._per_item(handler_for)(code, items, out)
    for name in ("tokens", "strings", "dates", "references", "numbers", "quantities", "uris"):
        setattr(out, name, list(dict.fromkeys(getattr(out, name))))
    return out


_ODD_VALUES: list[Any] = [
    None,
    "",
    "x",
    "2020",
    "2020-02-30",
    "2021-03-04T05:06:07.89+05:30",
    "Patient/1",
    "http://x/fhir/Group/g/_history/2",
    "#c",
    "http://x/v|1",
    0,
    False,
    2.5,
    [],
    [None],
    {},
    {"value": 3, "unit": "mg"},
    {"reference": "Patient/p"},
    {"start": "2019"},
    {"coding": [{"system": "s", "code": "c"}, {"code": "c", "system": "s"}]},
]


def _mutate(node: Any, rng: random.Random) -> Any:
    """A copy of ``node`` with elements dropped, repeated, wrapped, unwrapped or replaced."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            roll = rng.random()
            if key == "resourceType":
                out[key] = value
            elif roll < 0.06:
                continue
            elif roll < 0.1:
                out[key] = rng.choice(_ODD_VALUES)  # shared: indexing reads, never writes
            elif roll < 0.13 and not isinstance(value, list):
                out[key] = [value, value]
            elif roll < 0.16 and isinstance(value, list) and value:
                out[key] = value[0]
            else:
                out[key] = _mutate(value, rng)
        return out
    if isinstance(node, list):
        items = [_mutate(item, rng) for item in node]
        if items and rng.random() < 0.2:
            items.append(rng.choice(items))
        return items
    return node


def _examples(examples: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every example resource, those in Bundle entries and contained ones, and variants."""
    found: list[tuple[str, dict[str, Any]]] = []

    def add(name: str, resource: Any) -> None:
        if isinstance(resource, dict) and resource.get("resourceType") in resource_types():
            found.append((name, resource))
            for i, entry in enumerate(resource.get("entry") or []):
                if isinstance(entry, dict):
                    add(f"{name} entry {i}", entry.get("resource"))
            for i, contained in enumerate(resource.get("contained") or []):
                add(f"{name} contained {i}", contained)

    for path in sorted(examples.glob("*.json")):
        data = path.read_bytes()
        resource = orjson.loads(data)
        add(path.name, resource)
        if len(data) < 20_000 and resource.get("resourceType") in resource_types():
            rng = random.Random(path.name)  # the same variants on every run
            found += [(f"{path.name} variant {i}", _mutate(resource, rng)) for i in range(2)]
    return found


_ENTRY_KINDS = ("tokens", "strings", "dates", "references", "numbers", "quantities", "uris")


def _split(whole: IndexEntries, resource_type: str) -> tuple[IndexEntries, set[tuple[Any, ...]]]:
    """The entries storage keeps, and (as a set) those of derived parameters."""
    derived = derived_parameters(resource_type)
    kept = IndexEntries([], [], [], [], [], [], [])
    dropped: set[tuple[Any, ...]] = set()
    for name in _ENTRY_KINDS:
        entries = getattr(whole, name)
        setattr(kept, name, [e for e in entries if e[0] not in derived])
        dropped |= {e for e in entries if e[0] in derived}
    return kept, dropped


def _rebuilt(stored: IndexEntries, resource_type: str) -> set[tuple[Any, ...]]:
    """Derived parameters' entries as searches read them: their sources' rows."""
    rebuilt: set[tuple[Any, ...]] = set()
    for code, source in derived_parameters(resource_type).items():
        for name in _ENTRY_KINDS:
            for entry in getattr(stored, name):
                if entry[0] in source.params and (
                    source.target_type is None or entry[1] == source.target_type
                ):
                    rebuilt.add((code, *entry[1:]))
    return rebuilt


def test_index_entries_equal_the_whole_expression_evaluation(r4_examples: Path) -> None:
    """Also, for valid resources (not the variants, which put strings where References
    go): what a derived parameter's own expression finds is exactly what its source
    parameters' entries give, so searching those instead loses nothing."""
    resources = _examples(r4_examples)
    assert len(resources) > 28_000
    derived_seen = 0
    for name, resource in resources:
        resource_type = resource["resourceType"]
        kept, derived = _split(reference_entries(resource), resource_type)
        stored = index_entries(resource)
        assert stored == kept, name
        if " variant " not in name:
            assert _rebuilt(stored, resource_type) == derived, name
            derived_seen += len(derived)
    assert derived_seen > 1_000


@pytest.mark.parametrize(
    "subject",
    [
        {"reference": "Patient/1"},
        {"reference": "Patient/1/_history/2"},
        {"reference": "http://elsewhere/fhir/Patient/1"},
        {"reference": "Group/1"},
        {"reference": "Patient/1", "type": "Group"},
        {"reference": "urn:uuid:9d1f2bb8-46d9-4a37-9c5b-2d8d1e1f7a11", "type": "Patient"},
        {"reference": "#p1"},
        {"type": "Patient", "identifier": {"system": "urn:mrn", "value": "7"}},
        {"reference": "http://example.org/not-fhir"},
        {"display": "someone"},
    ],
)
def test_patient_is_rebuilt_from_subject_for_every_reference_form(subject: Any) -> None:
    observation = {"resourceType": "Observation", "subject": subject, "code": {"text": "x"}}
    kept, derived = _split(reference_entries(observation), "Observation")
    stored = index_entries(observation)
    assert stored == kept
    assert _rebuilt(stored, "Observation") == derived


# --------------------------------------------------------------------------- synthetic


def test_unknown_resource_type_is_refused() -> None:
    with pytest.raises(ValueError, match="Nonsense"):
        index_entries({"resourceType": "Nonsense"})


def test_string_entries_are_accent_and_case_insensitive() -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "  Müller-Lüdenscheidt ", "given": ["ÉLODIE   Anne"], "text": "Dr. Ǆ"}],
    }
    strings = index_entries(patient).strings
    assert ("family", "muller-ludenscheidt") in strings
    assert ("given", "elodie anne") in strings
    assert ("name", "dr. dz") in strings


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Chalmers", "chalmers"),
        ("CHÄLMERS", "chalmers"),
        ("Straße", "strasse"),
        ("  São\tPaulo \n", "sao paulo"),
        ("Ångström", "angstrom"),
        ("ﬁle", "file"),
        ("", ""),
    ],
)
def test_normalize_string(raw: str, normalized: str) -> None:
    assert normalize_string(raw) == normalized


def test_period_timing_and_open_ends() -> None:
    procedure = {
        "resourceType": "Procedure",
        "performedPeriod": {"start": "2013-01-28T13:31:00+01:00"},
    }
    assert index_entries(procedure).dates == [
        ("date", "2013-01-28T12:31:00.000000", "9999-12-31T23:59:59.999999")
    ]
    request = {
        "resourceType": "MedicationRequest",
        "dosageInstruction": [{"timing": {"event": ["2015-01-15", "2015-01-16T08:00:00Z"]}}],
    }
    dates = index_entries(request).dates
    assert ("date", "2015-01-15T00:00:00.000000", "2015-01-15T23:59:59.999999") in dates
    assert ("date", "2015-01-16T08:00:00.000000", "2015-01-16T08:00:00.999999") in dates


def test_unparseable_dates_are_skipped() -> None:
    immunization = {"resourceType": "Immunization", "occurrenceString": "January 2012"}
    assert index_entries(immunization).dates == []


def test_reference_forms() -> None:
    observation = {
        "resourceType": "Observation",
        "subject": {"reference": "https://fhir.example.org/r4/Patient/p1/_history/3"},
        "performer": [
            {"reference": "Practitioner/pr1"},
            {"reference": "#contained"},
            {"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"},
            {"identifier": {"value": "no literal reference"}},
        ],
        "hasMember": [{"reference": "Observation/o1"}, {"reference": "Observation/o1"}],
    }
    assert index_entries(observation).references == [
        ("has-member", "Observation", "o1"),
        ("performer", "Practitioner", "pr1"),
        ("subject", "Patient", "p1"),
    ]


def test_canonical_references_keep_the_url() -> None:
    plan = {
        "resourceType": "CarePlan",
        "instantiatesCanonical": ["http://example.org/fhir/PlanDefinition/kdn5|1.0"],
    }
    references = index_entries(plan).references
    assert (
        "instantiates-canonical",
        "",
        "http://example.org/fhir/PlanDefinition/kdn5|1.0",
    ) in references
    assert (
        "instantiates-canonical",
        "",
        "http://example.org/fhir/PlanDefinition/kdn5",
    ) in references
    assert ("instantiates-canonical", "PlanDefinition", "kdn5") in references


def test_bundle_composition_only_indexes_a_composition() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "document",
        "entry": [{"resource": {"resourceType": "Composition", "id": "c1"}}],
    }
    assert index_entries(bundle).references == [("composition", "Composition", "c1")]
    bundle["entry"] = [{"resource": {"resourceType": "Patient", "id": "p1"}}]
    assert index_entries(bundle).references == []


def test_quantities_money_and_ranges() -> None:
    invoice = {"resourceType": "Invoice", "totalNet": {"value": 40, "currency": "EUR"}}
    assert index_entries(invoice).quantities == [("totalnet", 40.0, "urn:iso:std:iso:4217", "EUR")]
    condition = {
        "resourceType": "Condition",
        "onsetRange": {"low": {"value": 5, "unit": "a"}, "high": {"value": 10, "unit": "a"}},
    }
    assert index_entries(condition).quantities == [
        ("onset-age", 5.0, None, "a"),
        ("onset-age", 10.0, None, "a"),
    ]


def test_numbers() -> None:
    assessment = {"resourceType": "RiskAssessment", "prediction": [{"probabilityDecimal": 0.02}]}
    assert index_entries(assessment).numbers == [("probability", 0.02)]


def test_tokens_from_each_datatype() -> None:
    patient = {
        "resourceType": "Patient",
        "active": False,
        "telecom": [{"system": "email", "value": "a@example.org"}],
        "identifier": [{"value": "no-system"}],
        "maritalStatus": {"coding": [{"system": "s", "code": "M"}, {"display": "no code"}]},
    }
    tokens = index_entries(patient).tokens
    assert ("active", None, "false") in tokens
    assert ("email", None, "a@example.org") in tokens
    assert ("telecom", None, "a@example.org") in tokens
    assert ("identifier", None, "no-system") in tokens
    assert ("deceased", None, "false") in tokens
    assert ("_tag", "s", "t") not in tokens
    observation = {"resourceType": "Observation", "meta": {"tag": [{"system": "s", "code": "t"}]}}
    assert ("_tag", "s", "t") in index_entries(observation).tokens


# --------------------------------------------------------------------------- date_range


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("1974", "1974-01-01T00:00:00.000000", "1974-12-31T23:59:59.999999"),
        ("1974-12", "1974-12-01T00:00:00.000000", "1974-12-31T23:59:59.999999"),
        ("2012-02", "2012-02-01T00:00:00.000000", "2012-02-29T23:59:59.999999"),
        ("2013-02", "2013-02-01T00:00:00.000000", "2013-02-28T23:59:59.999999"),
        ("1974-12-25", "1974-12-25T00:00:00.000000", "1974-12-25T23:59:59.999999"),
        ("2013-04-02T09:30", "2013-04-02T09:30:00.000000", "2013-04-02T09:30:59.999999"),
        ("2013-04-02T09:30:10Z", "2013-04-02T09:30:10.000000", "2013-04-02T09:30:10.999999"),
        ("2013-04-02T09:30:10", "2013-04-02T09:30:10.000000", "2013-04-02T09:30:10.999999"),
        ("2013-04-02T09:30:10+01:00", "2013-04-02T08:30:10.000000", "2013-04-02T08:30:10.999999"),
        ("2013-04-02T23:30:00-02:00", "2013-04-03T01:30:00.000000", "2013-04-03T01:30:00.999999"),
        (
            "2015-02-07T13:28:17.239+02:00",
            "2015-02-07T11:28:17.239000",
            "2015-02-07T11:28:17.239999",
        ),
        (
            "2015-02-07T13:28:17.1234567Z",
            "2015-02-07T13:28:17.123456",
            "2015-02-07T13:28:17.123456",
        ),
        ("0001-01-01T00:30:00+01:00", "0001-01-01T00:00:00.000000", "0001-01-01T00:00:00.000000"),
        ("9999-12-31T23:30:00-01:00", "9999-12-31T23:59:59.999999", "9999-12-31T23:59:59.999999"),
    ],
)
def test_date_range(value: str, low: str, high: str) -> None:
    assert date_range(value) == (low, high)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "not a valid date"),
        ("", "not a valid date"),
        ("2013-1-5", "not a valid date"),
        ("2013-13", "month 13"),
        ("2013-02-29", "no day 29"),
        ("2013-04-02T25:00:00Z", "no time 25:00"),
        ("2013-04-02T10:00:00+15:00", "time zone"),
        ("0000", "year 0000"),
        ("2013-04-02 10:00:00", "not a valid date"),
    ],
)
def test_date_range_rejects_malformed_values(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        date_range(value)


_PRECISIONS = ("year", "month", "day", "minute", "second", "fraction")


@st.composite
def partial_dates(draw: st.DrawFn) -> tuple[str, datetime, str, int]:
    moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    precision = draw(st.sampled_from(_PRECISIONS))
    text = f"{moment.year:04d}"
    if precision != "year":
        text += f"-{moment.month:02d}"
    if precision not in ("year", "month"):
        text += f"-{moment.day:02d}"
    offset_minutes = 0
    if precision in ("minute", "second", "fraction"):
        text += f"T{moment.hour:02d}:{moment.minute:02d}"
        if precision != "minute":
            text += f":{moment.second:02d}"
        if precision == "fraction":
            text += "." + draw(st.text("0123456789", min_size=1, max_size=9))
        offset_minutes = draw(st.integers(-14 * 60, 14 * 60))
        sign = "-" if offset_minutes < 0 else "+"
        zone = draw(
            st.sampled_from(
                ["", "Z", f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"]
            )
        )
        if zone in ("", "Z"):
            offset_minutes = 0
        text += zone
    return text, moment, precision, offset_minutes


@given(partial_dates())
def test_date_range_of_any_partial_date(case: tuple[str, datetime, str, int]) -> None:
    text, moment, precision, offset_minutes = case
    low, high = date_range(text)
    assert len(low) == len(high) == 26
    assert low <= high
    if precision in ("year", "month", "day"):
        assert low.startswith(text) and high.startswith(text)
    else:
        local = moment.replace(second=0 if precision == "minute" else moment.second, microsecond=0)
        utc = local.replace(tzinfo=UTC) - timedelta(minutes=offset_minutes)
        assert low[:19] == f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["reference", "coding", "system", "code", "value", "start", "end", "family", "low"]
            ),
            children,
            max_size=3,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["Patient", "Observation", "Condition", "Encounter", "Bundle", "Invoice"]),
    st.dictionaries(
        st.sampled_from(
            [
                "subject",
                "code",
                "valueQuantity",
                "effectivePeriod",
                "name",
                "telecom",
                "birthDate",
                "entry",
                "totalNet",
            ]
        ),
        _JSON,
    ),
)
def test_index_entries_tolerates_malformed_resources(
    resource_type: str, body: dict[str, Any]
) -> None:
    assert isinstance(index_entries({"resourceType": resource_type, **body}), IndexEntries)
