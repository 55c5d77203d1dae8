"""The FHIRPath subset compiler behind search indexing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from records.search import fhirpath
from records.search.fhirpath import (
    UNSUPPORTED,
    compile_branches,
    compile_expression,
    infer_type,
    split_union,
)
from records.search.parameters import element_type, parameters_for, resource_types

CLINICAL_TYPES = (
    "Patient",
    "Observation",
    "Condition",
    "Encounter",
    "MedicationRequest",
    "MedicationDispense",
    "Immunization",
    "AllergyIntolerance",
    "DiagnosticReport",
    "Procedure",
)
INDEXED_TYPES = frozenset({"token", "string", "date", "reference", "number", "quantity", "uri"})


def run(expression: str, resource: dict[str, Any]) -> list[tuple[str, Any]]:
    return compile_expression(expression, resource["resourceType"], element_type)(resource)


def test_dotted_paths_flatten_lists() -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"given": ["Peter", "James"]}, {"given": ["Jim"]}, {"family": "X"}],
    }
    assert run("Patient.name.given", patient) == [
        ("string", "Peter"),
        ("string", "James"),
        ("string", "Jim"),
    ]


def test_missing_elements_give_an_empty_collection() -> None:
    assert run("Patient.name.given", {"resourceType": "Patient"}) == []
    assert run("Patient.name.given", {"resourceType": "Patient", "name": []}) == []


def test_values_carry_their_schema_datatype() -> None:
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "s", "value": "1"}],
        "telecom": [{"system": "phone", "value": "555"}],
        "gender": "male",
    }
    assert run("Patient.identifier", patient)[0][0] == "Identifier"
    assert run("Patient.telecom", patient)[0][0] == "ContactPoint"
    assert run("Patient.gender", patient) == [("code", "male")]


def test_as_operator_selects_the_choice_key() -> None:
    observation = {"resourceType": "Observation", "effectiveDateTime": "2016-03-28"}
    assert run("(Observation.effective as dateTime)", observation) == [("dateTime", "2016-03-28")]
    assert run("(Observation.effective as Period)", observation) == []


def test_as_function_and_of_type_select_the_choice_key() -> None:
    quantity = {"value": 185, "unit": "lbs"}
    observation = {
        "resourceType": "Observation",
        "valueQuantity": quantity,
        "effectivePeriod": {"start": "2013"},
    }
    assert run("Observation.value.as(Quantity)", observation) == [("Quantity", quantity)]
    assert run("Observation.effective.ofType(Period)", observation) == [
        ("Period", {"start": "2013"})
    ]


def test_bare_choice_element_yields_the_variant_present() -> None:
    condition = {"resourceType": "Condition", "onsetAge": {"value": 54}}
    assert run("Condition.onset", condition) == [("Age", {"value": 54})]


def test_where_resolve_is_filters_references_by_type() -> None:
    appointment = {
        "resourceType": "Appointment",
        "participant": [
            {"actor": {"reference": "Patient/example"}},
            {"actor": {"reference": "Practitioner/example"}},
            {"actor": {"reference": "https://other.org/fhir/Patient/7/_history/2"}},
            {"actor": {"reference": "#contained"}},
        ],
    }
    found = run("Appointment.participant.actor.where(resolve() is Patient)", appointment)
    assert [v["reference"] for _, v in found] == [
        "Patient/example",
        "https://other.org/fhir/Patient/7/_history/2",
    ]


def test_where_equality_filters_on_a_child_field() -> None:
    patient = {
        "resourceType": "Patient",
        "telecom": [{"system": "phone", "value": "1"}, {"system": "email", "value": "a@b"}],
    }
    assert run("Patient.telecom.where(system='phone')", patient) == [
        ("ContactPoint", {"system": "phone", "value": "1"})
    ]


def test_generic_where_criterion() -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": "A"}, {"use": "usual", "family": "B"}],
    }
    expression = "Patient.name.where(use = 'usual' or family = 'A').family"
    assert run(expression, patient) == [("string", "A"), ("string", "B")]
    assert run("Patient.name.where(given.exists()).family", patient) == []


def test_top_level_union_concatenates_parts() -> None:
    patient = {"resourceType": "Patient", "name": [{"family": "F"}], "birthDate": "1974"}
    assert run("Patient.name.family | Patient.birthDate", patient) == [
        ("string", "F"),
        ("date", "1974"),
    ]


def test_indexer_takes_one_item() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "Composition", "id": "c"}},
            {"resource": {"resourceType": "Patient", "id": "p"}},
        ],
    }
    assert run("Bundle.entry[0].resource", bundle) == [
        ("Resource", {"resourceType": "Composition", "id": "c"})
    ]


def test_branches_say_what_they_read_and_their_datatype() -> None:
    expression = (
        "Observation.code | (Observation.value as Quantity) | Observation.component.code"
        " | Observation.subject.where(resolve() is Patient) | Observation.effective"
    )
    branches = compile_branches(expression, "Observation", element_type)
    assert [(sorted(b.keys or ()), b.tag) for b in branches] == [
        (["code"], "CodeableConcept"),
        (["valueQuantity"], "Quantity"),  # only the key that 'as Quantity' reads
        (["component"], "CodeableConcept"),
        (["subject"], "Reference"),
        (["effectiveDateTime"], "dateTime"),  # a bare choice: one branch per type
        (["effectivePeriod"], "Period"),
        (["effectiveTiming"], "Timing"),
        (["effectiveInstant"], "instant"),
    ]
    observation = {
        "resourceType": "Observation",
        "subject": [{"reference": "Patient/1"}, None, {"reference": "Group/2"}],
        "component": [{"code": {"text": "a"}}, {"code": None}, {"code": {"text": "b"}}],
    }
    assert [b.path for b in branches[:4]] == [
        ("code",),
        ("valueQuantity",),
        ("component", "code"),
        None,  # filtered: not a plain walk
    ]
    subject, component = branches[3], branches[2]
    assert subject.values is not None and component.values is not None
    assert subject.values(observation) == [{"reference": "Patient/1"}]
    assert component.values(observation) == [{"text": "a"}, {"text": "b"}]
    assert subject.evaluate(observation) == [("Reference", {"reference": "Patient/1"})]


def test_branches_outside_key_walks_are_evaluated_generically() -> None:
    (branch,) = compile_branches("Bundle.entry[0].resource", "Bundle", element_type)
    assert branch.tag is None and branch.values is None
    assert branch.keys == frozenset({"entry"})
    (where,) = compile_branches("Patient.telecom.where(system='phone')", "Patient", element_type)
    assert where.tag == "ContactPoint" and where.keys == frozenset({"telecom"})
    (resource,) = compile_branches("Patient", "Patient", element_type)
    assert resource.keys is None  # the resource itself: always evaluated


@pytest.mark.parametrize(
    ("patient", "expected"),
    [
        ({"deceasedBoolean": True}, True),
        ({"deceasedBoolean": False}, False),
        ({"deceasedDateTime": "2015-02-14"}, True),
        ({}, False),
    ],
)
def test_deceased_boolean_expression(patient: dict[str, Any], expected: bool) -> None:
    expression = parameters_for("Patient")["deceased"].expression
    assert expression == "Patient.deceased.exists() and Patient.deceased != false"
    assert run(expression, {"resourceType": "Patient", **patient}) == [("boolean", expected)]


def test_unsupported_parts_are_skipped_and_recorded() -> None:
    before = len(UNSUPPORTED)
    evaluate = compile_expression(
        "Patient.name.family | Patient.name.given.substring(1) | Patient..name | %resource.id",
        "Patient",
        element_type,
    )
    assert evaluate({"resourceType": "Patient", "name": [{"family": "F", "given": ["G"]}]}) == [
        ("string", "F")
    ]
    recorded = [u.expression for u in UNSUPPORTED[before:]]
    assert recorded == ["Patient.name.given.substring(1)", "Patient..name", "%resource.id"]
    del UNSUPPORTED[before:]


def test_nothing_compilable_gives_an_empty_evaluator() -> None:
    before = len(UNSUPPORTED)
    assert compile_expression("Patient.name.descendants()", "Patient")({"name": [{}]}) == []
    del UNSUPPORTED[before:]


def test_without_element_types_datatypes_come_from_the_json_shape() -> None:
    observation = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1"}]},
        "subject": {"reference": "Patient/1"},
    }
    evaluate = compile_expression("Observation.code | Observation.subject", "Observation")
    assert [tag for tag, _ in evaluate(observation)] == ["CodeableConcept", "Reference"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"coding": []}, "CodeableConcept"),
        ({"start": "2013"}, "Period"),
        ({"family": "F"}, "HumanName"),
        ({"city": "C"}, "Address"),
        ({"value": 1.5, "unit": "kg"}, "Quantity"),
        ({"system": "phone", "value": "555"}, "ContactPoint"),
        ({"system": "urn:oid:1", "value": "555"}, "Identifier"),
        ({"system": "http://loinc.org", "code": "1"}, "Coding"),
        ({"value": 10, "currency": "EUR"}, "Money"),
        (True, "boolean"),
        ("x", "primitive"),
    ],
)
def test_infer_type(value: Any, expected: str) -> None:
    assert infer_type(value) == expected


def test_split_union_respects_parentheses_and_quotes() -> None:
    assert split_union("(A.b as C) | A.d.where(e='x|y') | A.f") == [
        "(A.b as C)",
        "A.d.where(e='x|y')",
        "A.f",
    ]


def test_every_parameter_of_the_clinical_types_compiles() -> None:
    before = len(UNSUPPORTED)
    for resource_type in CLINICAL_TYPES:
        for param in parameters_for(resource_type).values():
            assert param.type in INDEXED_TYPES
            compile_expression(param.expression, resource_type, element_type)
    failures = UNSUPPORTED[before:]
    assert failures == []


def test_unsupported_list_stays_small_over_all_types() -> None:
    before = len(UNSUPPORTED)
    for resource_type in sorted(resource_types()):
        for param in parameters_for(resource_type).values():
            compile_expression(param.expression, resource_type, element_type)
    failures = UNSUPPORTED[before:]
    assert len(failures) <= 5, failures


def test_compiled_evaluators_do_not_parse_at_run_time(monkeypatch: pytest.MonkeyPatch) -> None:
    evaluate = compile_expression("Patient.telecom.where(system='phone')", "Patient", element_type)

    def forbidden(*args: object) -> None:
        raise AssertionError("parsed during evaluation")

    monkeypatch.setattr(fhirpath, "parse", forbidden)
    monkeypatch.setattr(fhirpath, "_tokenize", forbidden)
    assert evaluate({"resourceType": "Patient", "telecom": [{"system": "phone", "value": "1"}]})


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="Patient.nameg()[]|'=!<>0123 aswhrofTyp$%`,", max_size=40))
def test_compiling_arbitrary_text_never_raises(expression: str) -> None:
    before = len(UNSUPPORTED)
    evaluate = compile_expression(expression, "Patient", element_type)
    assert isinstance(evaluate({"resourceType": "Patient", "name": [{"given": ["a"]}]}), list)
    del UNSUPPORTED[before:]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(CLINICAL_TYPES),
    st.dictionaries(
        st.sampled_from(
            ["subject", "code", "valueQuantity", "effectivePeriod", "name", "telecom", "performer"]
        ),
        _JSON,
    ),
)
def test_evaluators_tolerate_malformed_resources(resource_type: str, body: dict[str, Any]) -> None:
    resource = {"resourceType": resource_type, **body}
    for param in parameters_for(resource_type).values():
        assert isinstance(
            compile_expression(param.expression, resource_type, element_type)(resource), list
        )


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(CLINICAL_TYPES),
    st.dictionaries(
        st.sampled_from(
            ["subject", "code", "valueQuantity", "effectivePeriod", "name", "telecom", "meta"]
        ),
        _JSON,
    ),
)
def test_branches_give_what_the_whole_expression_gives(
    resource_type: str, body: dict[str, Any]
) -> None:
    resource = {"resourceType": resource_type, **body}
    for param in parameters_for(resource_type).values():
        found: list[tuple[str, Any]] = []
        for branch in compile_branches(param.expression, resource_type, element_type):
            items = branch.evaluate(resource)
            if branch.keys is not None and branch.keys.isdisjoint(resource):
                assert items == []
            if branch.values is not None:
                assert [(branch.tag, v) for v in branch.values(resource)] == items
            found += items
        assert found == compile_expression(param.expression, resource_type, element_type)(resource)
