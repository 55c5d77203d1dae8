"""A vendor's batch of Open mHealth / IEEE 1752.1 data points -> FHIR R4 Observations.

Each data point is checked against its official schema, its time frame must
carry a time zone, and its value must be possible; a point that fails is
listed in ``Conversion.rejected`` (index, reason, ``body[12].heart_rate.value``)
and the rest of the batch is converted.

Ids are derived from the vendor's own identifiers (``stable_id``): the
Observation from the vendor and the reading's ``header.uuid`` (also its
identifier, system ``urn:accord:wearable:<vendor>``), the Patient from the
vendor and the user id at that vendor, the Device from the vendor and the
source name. A re-posted batch therefore rewrites the same resources and adds
nothing.

The cyclic garbage collector is paused while a batch converts (and restored
after): conversion creates no reference cycles, and on the large live heap a
10,000-reading batch makes, collections otherwise took 40-60 % of the time
(bench/wearables_convert_bench.py: ~30,000 readings/s with it, ~60,000 without).
"""

from __future__ import annotations

import re
from typing import Any

from adapters.base import Conversion, ConversionError, Rejected, collector_paused, stable_id
from adapters.wearables.errors import Invalid
from adapters.wearables.measures import MEASURES
from adapters.wearables.schemas import SchemaViolation, body_validator, header_validator, schema_key
from adapters.wearables.timeframe import effective

__all__ = ["MAX_BATCH", "convert_batch", "patient_id"]

MAX_BATCH = 10_000
_VENDOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MAX_TEXT = 256
_DATASHEET_TYPES = ("manufacturer", "hardware")


def _text(value: Any) -> bool:
    """A usable identifier or name: a non-empty, trimmed, printable string."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= _MAX_TEXT
        and value == value.strip()
        and value.isprintable()
    )


def patient_id(vendor: str, user_id: str) -> str:
    """The Patient id of a vendor's user: the same for every batch that vendor posts."""
    return stable_id("pat", f"urn:accord:wearable:{vendor}:user", user_id)


def convert_batch(points: list[Any], *, vendor: str, user_id: str) -> Conversion:
    """Observations (plus their Patient and Devices) for up to 10,000 data points."""
    if not isinstance(vendor, str) or not _VENDOR.fullmatch(vendor):
        raise ConversionError(
            "vendor id must be 1-64 letters, digits, '.', '_' or '-'", location="vendor"
        )
    if not _text(user_id):
        raise ConversionError(
            "user id must be a non-empty trimmed string of at most 256 characters",
            location="user_id",
        )
    if not isinstance(points, list):
        raise ConversionError("a batch is a JSON array of data points", location="body")
    if len(points) > MAX_BATCH:
        raise ConversionError(
            f"batch of {len(points)} data points; at most {MAX_BATCH}", location="body"
        )

    batch = _Batch(vendor, user_id)
    result = Conversion()
    with collector_paused():
        for index, point in enumerate(points):
            try:
                batch.add(index, point)
            except Invalid as bad:
                where = f"{bad.part}[{index}]" + (f".{bad.path}" if bad.path else "")
                result.rejected.append(Rejected(index, bad.reason, where))
    if batch.observations:
        result.resources = [batch.patient(), *batch.devices.values(), *batch.observations]
    return result


class _Batch:
    """The resources of one batch so far: one Patient, shared Devices, Observations."""

    def __init__(self, vendor: str, user_id: str) -> None:
        self.vendor = vendor
        self.user_id = user_id
        self.system = f"urn:accord:wearable:{vendor}"
        self.subject = f"Patient/{patient_id(vendor, user_id)}"
        self.devices: dict[str, dict[str, Any]] = {}
        self.device_refs: dict[str, str] = {}
        self.observations: list[dict[str, Any]] = []
        self.seen: dict[str, int] = {}

    def patient(self) -> dict[str, Any]:
        return {
            "resourceType": "Patient",
            "id": patient_id(self.vendor, self.user_id),
            "identifier": [{"system": f"{self.system}:user", "value": self.user_id}],
        }

    def add(self, index: int, point: Any) -> None:
        if not isinstance(point, dict):
            raise Invalid("point", "", "a data point is an object with a header and a body")
        header, body = point.get("header"), point.get("body")
        if not isinstance(header, dict):
            raise Invalid("point", "header", "data point has no header object")
        if not isinstance(body, dict):
            raise Invalid("point", "body", "data point has no body object")
        try:
            header_validator()(header)
        except SchemaViolation as bad:
            raise Invalid(
                "header", bad.path, _schema_reason("IEEE 1752.1 header-1.0", "header", bad)
            ) from None
        schema_id = header["schema_id"]
        named = (schema_id["namespace"], schema_id["name"], schema_id["version"])
        key = schema_key(*named)
        if key is None:
            raise Invalid("header", "schema_id", f"unsupported schema {':'.join(named)}")
        reading = header["uuid"]
        if not _text(reading):
            raise Invalid("header", "uuid", "header.uuid must be a non-empty trimmed string")
        try:
            body_validator(key)(body)
        except SchemaViolation as bad:
            raise Invalid("body", bad.path, _schema_reason(":".join(named), "body", bad)) from None
        when = effective(body["effective_time_frame"])
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "id": stable_id("obs", self.system, reading),
            "identifier": [{"system": self.system, "value": reading}],
            "status": "final",
            "subject": {"reference": self.subject},
            when.key: when.value,
        }
        MEASURES[key[:2]](body, when, observation)
        source, modality = _provenance(header)
        first = self.seen.setdefault(reading, index)
        if first != index:
            raise Invalid(
                "header", "uuid", f"reading {reading!r} already in this batch at index {first}"
            )
        if modality == "self-reported":
            observation["performer"] = [{"reference": self.subject}]
        statistic = body.get("descriptive_statistic")
        if statistic is not None:
            observation["note"] = [{"text": f"descriptive statistic: {statistic}"}]
        if source is not None:
            observation["device"] = {"reference": self._device(source)}
        self.observations.append(observation)

    def _device(self, source: str) -> str:
        """``Device/<id>`` for a source name, creating the Device on first use."""
        reference = self.device_refs.get(source)
        if reference is None:
            device_id = stable_id("dev", self.system, source)
            self.devices[device_id] = {
                "resourceType": "Device",
                "id": device_id,
                "deviceName": [{"name": source, "type": "model-name"}],
            }
            reference = self.device_refs[source] = f"Device/{device_id}"
        return reference


def _schema_reason(schema: str, part: str, bad: SchemaViolation) -> str:
    where = f"{part}.{bad.path}" if bad.path else part
    return f"does not match {schema}: {where}: {bad.message}"


def _provenance(header: dict[str, Any]) -> tuple[str | None, str | None]:
    """Source name and modality: Open mHealth ``acquisition_provenance`` or IEEE fields."""
    source: Any = None
    modality: Any = header.get("modality")
    provenance = header.get("acquisition_provenance")
    if provenance is not None:
        if not isinstance(provenance, dict):
            raise Invalid(
                "header", "acquisition_provenance", "acquisition_provenance must be an object"
            )
        source = provenance.get("source_name")
        if source is not None and not _text(source):
            raise Invalid(
                "header",
                "acquisition_provenance.source_name",
                "source_name must be a non-empty trimmed string",
            )
        if modality is None:
            modality = provenance.get("modality")
            if modality not in (None, "sensed", "self-reported"):
                raise Invalid(
                    "header",
                    "acquisition_provenance.modality",
                    f"modality {modality!r} is neither 'sensed' nor 'self-reported'",
                )
    if source is None:
        for sheet in header.get("external_datasheets", ()):
            if sheet.get("datasheet_type") in _DATASHEET_TYPES and _text(
                sheet["datasheet_reference"]
            ):
                source = sheet["datasheet_reference"]
                break
    return source, modality
