"""FHIR R4 search: parameter registry, FHIRPath extraction and index entries (no SQL)."""

from records.search.extract import IndexEntries, date_range, index_entries, normalize_string
from records.search.fhirpath import UNSUPPORTED, compile_expression
from records.search.parameters import (
    CORE_PARAMETERS,
    SearchParameter,
    compartment_params,
    omitted_parameters,
    parameters_for,
    resource_types,
)

__all__ = [
    "CORE_PARAMETERS",
    "UNSUPPORTED",
    "IndexEntries",
    "SearchParameter",
    "compartment_params",
    "compile_expression",
    "date_range",
    "index_entries",
    "normalize_string",
    "omitted_parameters",
    "parameters_for",
    "resource_types",
]
