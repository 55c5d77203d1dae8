"""Parameters answered from other parameters' index rows (records.search.parameters)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from records.everything import CARE_DATES
from records.search.parameters import (
    StoredAs,
    compartment_params,
    derived_parameters,
    parameters_for,
    resource_types,
    stored_as,
)

MIGRATIONS = Path(__file__).resolve().parents[2] / "records" / "migrations" / "versions"


def migration(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, MIGRATIONS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_observation_patient_and_combo_parameters() -> None:
    assert dict(derived_parameters("Observation")) == {
        "patient": StoredAs(("subject",), "Patient"),
        "combo-code": StoredAs(("code", "component-code")),
        "combo-data-absent-reason": StoredAs(
            ("component-data-absent-reason", "data-absent-reason")
        ),
        "combo-value-concept": StoredAs(("component-value-concept", "value-concept")),
        "combo-value-quantity": StoredAs(("component-value-quantity", "value-quantity")),
    }
    assert stored_as("Observation", "code") == StoredAs(("code",))
    assert stored_as("Encounter", "practitioner") == StoredAs(("participant",), "Practitioner")


def test_same_expression_with_other_targets_is_not_derived() -> None:
    # Bundle 'composition' and 'message' are both entry[0].resource: an inlined
    # resource is only indexed under the parameter whose targets include its type
    assert parameters_for("Bundle")["message"].expression == (
        parameters_for("Bundle")["composition"].expression
    )
    assert "message" not in derived_parameters("Bundle")


@pytest.mark.parametrize("resource_type", sorted(resource_types()))
def test_derived_parameters_are_derived_from_stored_ones_of_the_same_kind(
    resource_type: str,
) -> None:
    params = parameters_for(resource_type)
    derived = derived_parameters(resource_type)
    for code, stored in derived.items():
        assert stored.params and all(p not in derived for p in stored.params)
        assert {params[p].type for p in stored.params} == {params[code].type}
        if stored.target_type is not None:
            assert params[code].type == "reference"
            assert params[code].targets == (stored.target_type,)


def test_care_dates_are_stored() -> None:
    """$everything's date window reads idx_date by the care-date parameter itself."""
    for resource_type, param in CARE_DATES.items():
        assert param not in derived_parameters(resource_type), (resource_type, param)


def test_patient_compartment_parameters_derive_to_patient_targets() -> None:
    """$everything requires target_type Patient of every compartment branch."""
    for resource_type in resource_types():
        for param in compartment_params("Patient", resource_type):
            assert stored_as(resource_type, param).target_type in (None, "Patient")


def test_the_migration_deletes_exactly_the_derived_rows() -> None:
    expected = tuple(
        (parameters_for(t)[code].type, t, code, s.params, s.target_type)
        for t in sorted(resource_types())
        for code, s in sorted(derived_parameters(t).items())
    )
    written = migration("0006_derived_parameters").DERIVED
    assert written == expected
