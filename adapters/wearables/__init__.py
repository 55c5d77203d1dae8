"""Wearables: Open mHealth / IEEE 1752.1 data points -> FHIR R4 Observations."""

from adapters.wearables.convert import MAX_BATCH, convert_batch, patient_id

__all__ = ["MAX_BATCH", "convert_batch", "patient_id"]
