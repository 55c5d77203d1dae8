"""Every official R4 example of the core clinical types, through the REST API.

For each example file of the types below, on both databases:

* ``PUT /fhir/<Type>/<id>`` answers 201 (referenced resources need not exist);
* ``GET`` answers the exact bytes of the current ``resource_version.data`` row,
  and those bytes mean the example (apart from ``meta.versionId/lastUpdated/source``);
* the served resource validates against the official R4 JSON schema;
* the resource is found by the search parameters a client relies on, with query
  values taken from the example by the small accessors below, written
  independently of the project's extraction code.

One test per database loops over all files and collects every failure, so a
single run shows them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jsonschema
from sqlalchemy import select

from records.linking import thresholds
from records.mpi import classify, compare, demographics
from records.storage.schema import resource_version

TYPES = (
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
SERVER_META = ("versionId", "lastUpdated", "source")
FHIR_JSON = "application/fhir+json"

# ----------------------------------------------------------------------------- accessors
# Each returns a list of query strings (several pairs are AND-ed) or None when the
# example lacks the element. They know nothing of the project's FHIRPath/extraction.

Query = list[tuple[str, str]]


def _first_coding(concept: Any) -> dict[str, Any] | None:
    if not isinstance(concept, dict):
        return None
    for coding in concept.get("coding") or []:
        if isinstance(coding, dict) and coding.get("code"):
            return coding
    return None


def _token(coding: dict[str, Any] | None) -> str | None:
    if coding is None:
        return None
    return f"{coding['system']}|{coding['code']}" if coding.get("system") else coding["code"]


def _searchable_reference(ref: Any) -> str | None:
    """A literal reference a client could search on; contained (#x) and
    bundle-local (urn:) references cannot be searched as such."""
    if not isinstance(ref, dict):
        return None
    value = ref.get("reference")
    if not isinstance(value, str) or not value or value.startswith(("#", "urn:")):
        return None
    return value


def _utc_day(value: str) -> str:
    """The day a FHIR date/dateTime falls on, in UTC when it has a time.

    Search dates without a zone are taken as UTC by the server (the spec leaves it
    to the server), so a time late or early in the day with an offset is looked up
    by its UTC day.
    """
    if "T" not in value:
        return value  # YYYY, YYYY-MM or YYYY-MM-DD: searched as the same range
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return value[:10]
    return moment.astimezone(UTC).date().isoformat()


def _date_on(value: Any) -> Query | None:
    """Query for a date/dateTime element: eq its (UTC) day."""
    if not isinstance(value, str) or not value[:4].isdigit():
        return None  # e.g. occurrenceString 'January 2012'
    return [("date", f"eq{_utc_day(value)}")]


def _period_on(period: Any) -> Query | None:
    """Query for a Period: it overlaps the day of its start (ge day AND le day)."""
    if not isinstance(period, dict) or not isinstance(period.get("start"), str):
        return None
    day = _utc_day(period["start"])
    return [("date", f"ge{day}"), ("date", f"le{day}")]


def _choice_date(r: dict[str, Any], prefix: str) -> Query | None:
    for suffix in ("DateTime", "Instant"):
        if f"{prefix}{suffix}" in r:
            return _date_on(r[f"{prefix}{suffix}"])
    if f"{prefix}Period" in r:
        return _period_on(r[f"{prefix}Period"])
    return None


def _subject_patient(r: dict[str, Any], element: str = "subject") -> Query | None:
    ref = _searchable_reference(r.get(element))
    if ref is None:
        return None
    parts = ref.split("/_history/")[0].split("/")
    if len(parts) < 2 or parts[-2] != "Patient":
        return None  # e.g. Group/herd1: not a patient
    return [("patient", ref)]


def _subject(r: dict[str, Any]) -> Query | None:
    ref = _searchable_reference(r.get("subject"))
    return None if ref is None else [("subject", ref)]


def _code(element: str) -> Callable[[dict[str, Any]], Query | None]:
    def get(r: dict[str, Any]) -> Query | None:
        token = _token(_first_coding(r.get(element)))
        return None if token is None else [("code", token)]

    return get


def _first_name_with(r: dict[str, Any], part: str) -> Any:
    for name in r.get("name") or []:
        if isinstance(name, dict) and name.get(part):
            return name[part]
    return None


def _family(r: dict[str, Any]) -> Query | None:
    family = _first_name_with(r, "family")
    if not family:
        return None
    return [("family", family[: max(1, min(4, len(family) - 1))].swapcase())]


def _given(r: dict[str, Any]) -> Query | None:
    given = _first_name_with(r, "given")
    if not given:
        return None
    first = given[0]
    return [("given", first[: max(1, len(first) - 1)].swapcase())]


def _name(r: dict[str, Any]) -> Query | None:
    """name matches any part of a HumanName: use family, else given, else text."""
    for part in ("family", "given", "text"):
        value = _first_name_with(r, part)
        if value:
            text = value[0] if isinstance(value, list) else value
            return [("name", text.upper())]
    return None


def _identifier(r: dict[str, Any]) -> Query | None:
    for ident in r.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            value = ident["value"]
            return [("identifier", f"{ident['system']}|{value}" if ident.get("system") else value)]
    return None


def _plain(element: str, param: str) -> Callable[[dict[str, Any]], Query | None]:
    def get(r: dict[str, Any]) -> Query | None:
        value = r.get(element)
        return [(param, value)] if isinstance(value, str) and value else None

    return get


def _birthdate(r: dict[str, Any]) -> Query | None:
    value = r.get("birthDate")
    return [("birthdate", value)] if isinstance(value, str) else None


def _category(r: dict[str, Any]) -> Query | None:
    for concept in r.get("category") or []:
        token = _token(_first_coding(concept))
        if token is not None:
            return [("category", token)]
    return None


def _medication_request_date(r: dict[str, Any]) -> Query | None:
    for dosage in r.get("dosageInstruction") or []:
        events = ((dosage or {}).get("timing") or {}).get("event") or []
        if events:
            return _date_on(events[0])
    return None


ACCESSORS: dict[str, dict[str, Callable[[dict[str, Any]], Query | None]]] = {
    "Patient": {
        "identifier": _identifier,
        "family": _family,
        "given": _given,
        "name": _name,
        "birthdate": _birthdate,
        "gender": _plain("gender", "gender"),
    },
    "Observation": {
        "patient": _subject_patient,
        "subject": _subject,
        "code": _code("code"),
        "category": _category,
        "date": lambda r: _choice_date(r, "effective"),
        "status": _plain("status", "status"),
    },
    # Condition has no 'date' parameter in R4 (onset-date, recorded-date instead).
    "Condition": {"patient": _subject_patient, "code": _code("code")},
    # Encounter has no 'code' parameter in R4.
    "Encounter": {"patient": _subject_patient, "date": lambda r: _period_on(r.get("period"))},
    "MedicationRequest": {
        "patient": _subject_patient,
        "code": _code("medicationCodeableConcept"),
        "date": _medication_request_date,
    },
    # MedicationDispense has no 'date' parameter in R4 (whenhandedover, whenprepared).
    "MedicationDispense": {"patient": _subject_patient, "code": _code("medicationCodeableConcept")},
    # Immunization has no 'code' parameter in R4 (vaccine-code instead).
    "Immunization": {
        "patient": lambda r: _subject_patient(r, "patient"),
        "date": lambda r: _choice_date(r, "occurrence"),
    },
    "AllergyIntolerance": {
        "patient": lambda r: _subject_patient(r, "patient"),
        "code": _code("code"),
        "date": lambda r: _date_on(r.get("recordedDate")),
    },
    "DiagnosticReport": {
        "patient": _subject_patient,
        "code": _code("code"),
        "date": lambda r: _choice_date(r, "effective"),
    },
    "Procedure": {
        "patient": _subject_patient,
        "code": _code("code"),
        "date": lambda r: _choice_date(r, "performed"),
    },
}

# A value per parameter that none of the examples carries: the same search with it
# must NOT find the resource, so a criterion that is silently ignored cannot pass.
NEGATIVE: dict[str, Query] = {
    "identifier": [("identifier", "urn:accord:test|no-such-identifier")],
    "family": [("family", "Zzqxw")],
    "given": [("given", "Zzqxw")],
    "name": [("name", "Zzqxw")],
    "birthdate": [("birthdate", "1801-01-01")],
    "gender": [("gender", "unknown")],
    "patient": [("patient", "Patient/no-such-patient")],
    "subject": [("subject", "Patient/no-such-patient")],
    "code": [("code", "urn:accord:test|no-such-code")],
    "category": [("category", "urn:accord:test|no-such-category")],
    "date": [("date", "eq1801-01-01")],
    "status": [("status", "entered-in-error")],
}


# Official examples that fail the official schema as published (not the server's doing).
# The schema's string pattern '^[ \\r\\n\\t\\S]+$' excludes U+00A0 (a Unicode whitespace).
EXAMPLE_SCHEMA_ERRORS: dict[str, list[str]] = {
    "DiagnosticReport-gingival-mass.json": [
        "resultsInterpreter/0/display: 'Sean Stover, BS,\\xa0DVM, DABVP (Canine/Feline), DACVP'"
        " does not match '^[ \\\\r\\\\n\\\\t\\\\S]+$'"
    ],
}


def test_accessors_cover_the_official_parameters() -> None:
    """Every parameter queried here exists in the registry for that type."""
    from records.search.parameters import parameters_for

    for resource_type, accessors in ACCESSORS.items():
        known = parameters_for(resource_type)
        missing = [p for p in accessors if p not in known]
        assert not missing, f"{resource_type} has no search parameter(s) {missing}"


# ----------------------------------------------------------------------------- helpers


def _example_files(directory: Path) -> Iterator[tuple[str, Path]]:
    for resource_type in TYPES:
        for path in sorted(directory.glob(f"{resource_type}-*.json")):
            yield resource_type, path


def _differences(expected: Any, actual: Any, path: str) -> Iterator[str]:
    """Where two JSON values differ, FHIR-wise: a decimal's precision is part of its
    value (R4 datatypes: 0.010 differs from 0.01, "the original precision should be
    preserved"), so decimals are compared digit for digit, not as floats.
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                yield f"{path}.{key} missing"
            elif key not in expected:
                yield f"{path}.{key} added"
            else:
                yield from _differences(expected[key], actual[key], f"{path}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            yield f"{path}: {len(expected)} items became {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            yield from _differences(e, a, f"{path}[{i}]")
    elif isinstance(expected, Decimal) or isinstance(actual, Decimal):
        e = Decimal(expected) if isinstance(expected, int) else expected
        a = Decimal(actual) if isinstance(actual, int) else actual
        if not (isinstance(e, Decimal) and isinstance(a, Decimal) and e.as_tuple() == a.as_tuple()):
            yield f"{path}: decimal {expected} became {actual}"
    elif type(expected) is not type(actual) or expected != actual:
        yield f"{path}: {expected!r} became {actual!r}"


def _strip_mpi_links(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Drop from ``actual`` the ``seealso`` links the master patient index added; their ids."""
    sent = expected.get("link") or []
    added = [link for link in actual.get("link") or [] if link not in sent]
    ids = [
        link["other"]["reference"].removeprefix("Patient/")
        for link in added
        if link.get("type") == "seealso" and link["other"]["reference"].startswith("Patient/")
    ]
    kept = [link for link in actual.get("link") or [] if link in sent]
    if kept:
        actual["link"] = kept
    else:
        actual.pop("link", None)
    return ids


def _strip_server_meta(resource: dict[str, Any]) -> dict[str, Any]:
    out = dict(resource)
    meta = {k: v for k, v in (out.pop("meta", None) or {}).items() if k not in SERVER_META}
    if meta:
        out["meta"] = meta
    return out


_VALIDATORS: dict[str, jsonschema.Draft6Validator] = {}  # the schema is session-wide


def _schema_errors(schema: dict[str, Any], resource_type: str, resource: Any) -> list[str]:
    validator = _VALIDATORS.get(resource_type)
    if validator is None:
        validator = jsonschema.Draft6Validator(
            {"definitions": schema["definitions"], "$ref": f"#/definitions/{resource_type}"}
        )
        _VALIDATORS[resource_type] = validator
    errors = []
    for error in validator.iter_errors(resource):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        errors.append(f"{where}: {error.message[:160]}")
    return sorted(errors)


def _search_ids(
    client: Any, resource_type: str, query: Query, failures: list[str], what: str
) -> set[str] | None:
    response = client.get(f"/fhir/{resource_type}?{urlencode([*query, ('_count', '1000')])}")
    if response.status_code != 200:
        failures.append(
            f"{what}: search {query} answered {response.status_code}: {response.data[:300]!r}"
        )
        return None
    bundle = json.loads(response.data)
    return {e["resource"]["id"] for e in bundle.get("entry", [])}


# ----------------------------------------------------------------------------- the test


def test_r4_examples_round_trip_validate_and_search(
    client: Any, app: Any, r4_examples: Path, r4_schema: dict[str, Any]
) -> None:
    engine = app.extensions["accord"].store.engine
    failures: list[str] = []
    files = 0
    search_checks = 0
    negative_checks = 0
    negatives_done: set[tuple[str, str]] = set()
    searchable: list[tuple[str, str, dict[str, Any]]] = []
    mpi_links: list[tuple[str, str]] = []  # (Patient id, Patient id the index linked it to)
    patients: dict[str, dict[str, Any]] = {}

    # 1. PUT, GET, compare with the stored bytes and the example, validate.
    for resource_type, path in _example_files(r4_examples):
        files += 1
        name = path.name
        raw = path.read_bytes()
        example = json.loads(raw)
        rid = example["id"]
        response = client.put(f"/fhir/{resource_type}/{rid}", data=raw, content_type=FHIR_JSON)
        if response.status_code != 201:
            failures.append(f"{name}: PUT answered {response.status_code}: {response.data[:600]!r}")
            continue
        put_body = response.data
        response = client.get(f"/fhir/{resource_type}/{rid}")
        if response.status_code != 200:
            failures.append(f"{name}: GET answered {response.status_code}: {response.data[:300]!r}")
            continue
        body = response.data
        with engine.connect() as conn:
            stored = conn.execute(
                select(resource_version.c.data).where(
                    resource_version.c.resource_type == resource_type,
                    resource_version.c.resource_id == rid,
                    resource_version.c.superseded_seq.is_(None),
                )
            ).scalar_one_or_none()
        if stored is None or bytes(stored) != body:
            failures.append(f"{name}: GET body is not byte-identical to resource_version.data")
        if put_body != body:
            failures.append(f"{name}: PUT response body differs from the GET body")
        served = json.loads(body)
        meta = served.get("meta") or {}
        if meta.get("versionId") != "1" or not meta.get("lastUpdated") or not meta.get("source"):
            failures.append(f"{name}: served meta lacks versionId 1/lastUpdated/source: {meta}")
        expected = _strip_server_meta(json.loads(raw, parse_float=Decimal))
        actual = _strip_server_meta(json.loads(body, parse_float=Decimal))
        if resource_type == "Patient":
            mpi_links += [(rid, other) for other in _strip_mpi_links(expected, actual)]
        differences = list(_differences(expected, actual, resource_type))
        if differences:
            failures.append(f"{name}: served resource differs from the example: {differences[:6]}")
        errors = _schema_errors(r4_schema, resource_type, served)
        if errors:
            own = set(_schema_errors(r4_schema, resource_type, example))
            added = [e for e in errors if e not in own]
            if added:
                failures.append(f"{name}: served resource fails the R4 schema: {added[:5]}")
            if sorted(own) != sorted(EXAMPLE_SCHEMA_ERRORS.get(name, [])):
                failures.append(
                    f"{name}: the example itself fails the R4 schema: {sorted(own)[:5]}"
                )
        searchable.append((resource_type, rid, example))
        if resource_type == "Patient":
            patients[rid] = example

    # 2. Search, after everything is loaded (a search must pick its one resource
    #    out of all of them, not out of an almost empty table).
    for resource_type, rid, example in searchable:
        for param, accessor in ACCESSORS[resource_type].items():
            query = accessor(example)
            if query is None:
                continue  # the example lacks the element
            what = f"{resource_type}/{rid} {param}"
            found = _search_ids(client, resource_type, [("_id", rid), *query], failures, what)
            if found is not None:
                search_checks += 1
                if rid not in found:
                    failures.append(f"{what}: not found by {urlencode(query)}")
            if param == "patient" or param == "subject" or param == "code":
                # also without _id: the criterion alone must find it among all
                found = _search_ids(client, resource_type, query, failures, what)
                if found is not None:
                    search_checks += 1
                    if rid not in found:
                        failures.append(f"{what}: not found by {urlencode(query)} (without _id)")
            if (resource_type, param) not in negatives_done:
                negatives_done.add((resource_type, param))
                found = _search_ids(
                    client, resource_type, [("_id", rid), *NEGATIVE[param]], failures, what
                )
                if found is not None:
                    negative_checks += 1
                    if rid in found:
                        failures.append(f"{what}: wrongly found by {urlencode(NEGATIVE[param])}")

    # the master patient index linked only Patients it has reason to: each link is
    # a pair its own scoring links on the examples as published
    for a, b in mpi_links:
        verdict = classify(
            compare(demographics(patients[a]), demographics(patients[b])), thresholds()
        )
        if verdict != "link":
            failures.append(f"Patient/{a} was linked to Patient/{b}, which score {verdict!r}")

    assert files >= 200, f"only {files} example files found in {r4_examples}"
    assert search_checks >= 900, f"only {search_checks} search checks ran"
    assert negative_checks >= 30, f"only {negative_checks} negative search checks ran"
    assert not failures, f"{len(failures)} failure(s) over {files} examples:\n" + "\n".join(
        failures
    )


def test_decimal_precision_survives_put_and_get(client: Any) -> None:
    """R4 datatypes, decimal: "the precision of the decimal value has significance
    (e.g. 0.010 is regarded as different to 0.01, and the original precision should
    be preserved)". Values from the official Observation-decimal example."""
    values = ["1.00", "0.010", "66.899999999999991", "1.000000000000000000E-245", "100"]
    components = ",".join(
        f'{{"code":{{"text":"c{i}"}},"valueQuantity":{{"value":{v}}}}}'
        for i, v in enumerate(values)
    )
    raw = (
        '{"resourceType":"Observation","id":"decimals","status":"final",'
        f'"code":{{"text":"decimals"}},"component":[{components}]}}'
    ).encode()
    response = client.put("/fhir/Observation/decimals", data=raw, content_type=FHIR_JSON)
    assert response.status_code == 201, response.data
    served = json.loads(client.get("/fhir/Observation/decimals").data, parse_float=Decimal)
    got = [str(c["valueQuantity"]["value"]) for c in served["component"]]
    lost = [
        f"{want} became {have}"
        for want, have in zip(values, got, strict=True)
        if Decimal(want).as_tuple() != Decimal(have).as_tuple()
    ]
    assert not lost, f"decimal precision lost: {lost}"
