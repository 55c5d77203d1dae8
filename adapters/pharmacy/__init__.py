"""Pharmacy feeds: NCPDP SCRIPT 2017071 XML and a CSV dispense file -> FHIR R4."""

from adapters.pharmacy.csv_dispense import convert_dispense_csv
from adapters.pharmacy.ncpdp import convert_script

__all__ = ["convert_dispense_csv", "convert_script"]
