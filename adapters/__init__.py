"""Pure translators from feed formats (HL7 v2, pharmacy, wearables) to FHIR R4 dicts."""
