"""Whatever a vendor posts, convert_batch answers with a Conversion or a ConversionError.

Arbitrary JSON, and real data points mutated where it hurts (values, units,
time frames, headers); every resource that comes out is valid FHIR R4B, and
every point is either converted or rejected with a location.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import Conversion, ConversionError
from adapters.wearables import convert_batch

DATA = Path(__file__).resolve().parents[1] / "data" / "wearables"
POINTS = [p for p in json.loads((DATA / "batch.json").read_text()) if isinstance(p, dict)]
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        ["2026-03-02T07:30:00", "2026-03-02T07:30:00+14:01", "2026-02-30T07:30:00Z", "0000-01-01T00:00:00Z",
         "9999-12-31T23:59:59-12:00", "2026-03-02T07:30:60Z", "2026-03-02", "24:00", "", " ", "\x00", "é",
         "beats/min", "steps", "lb", "F", "K", "Mo", "yr", "d", "ms", "self-reported", "omh", "ieee", "2.0", "1.0"]
    )
    | st.sampled_from([0, -1, 1e308, -1e308, 1e-300, 10**400, 2**63, 0.5, 300, 300.0001, 100, 25, 45])
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


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
def mutated_point(draw: st.DrawFn) -> Any:
    point: Any = copy.deepcopy(draw(st.sampled_from(POINTS)))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        path = draw(st.sampled_from(paths(point)))
        if not path:
            point = draw(JSON)
            continue
        parent = point
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            parent[path[-1]] = draw(JSON)
        else:
            del parent[path[-1]]
    return point


def check(result: Conversion, count: int) -> None:
    assert isinstance(result, Conversion)
    observations = [r for r in result.resources if r["resourceType"] == "Observation"]
    assert len(observations) + len(result.rejected) == count
    for rejected in result.rejected:
        assert rejected.reason and rejected.location.split("[", 1)[0] in ("point", "header", "body")
        assert rejected.location.split("[", 1)[1].startswith(f"{rejected.index}]")
    for resource in result.resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


@SETTINGS
@given(st.lists(mutated_point(), max_size=6))
def test_mutated_points(points: list[Any]) -> None:
    check(convert_batch(points, vendor="acme", user_id="u-1"), len(points))


@SETTINGS
@given(JSON)
def test_arbitrary_json(batch: Any) -> None:
    try:
        result = convert_batch(batch, vendor="acme", user_id="u-1")
    except ConversionError:
        assert not isinstance(batch, list)
    else:
        check(result, len(batch))


@SETTINGS
@given(st.text(max_size=70), st.text(max_size=300))
def test_arbitrary_vendor_and_user(vendor: str, user_id: str) -> None:
    try:
        result = convert_batch(POINTS[:3], vendor=vendor, user_id=user_id)
    except ConversionError as error:
        assert error.location in ("vendor", "user_id")
    else:
        check(result, 3)


NUMBERS = (
    st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.integers(max_value=-(10**300), min_value=-(10**400))
    | st.floats(allow_nan=False)
    | st.sampled_from([0, -0.0, 5e-324, 1e308, -1e308, 2**63, 2**64 + 1])
)


@SETTINGS
@given(st.data())
def test_any_number_where_numbers_go(data: st.DataObject) -> None:
    """Every ``value`` of a real point (measures, durations, flows) replaced by any JSON number."""
    point = copy.deepcopy(data.draw(st.sampled_from(POINTS)))
    for path in paths(point):
        if path and path[-1] == "value":
            parent = point
            for step in path[:-1]:
                parent = parent[step]
            parent["value"] = data.draw(NUMBERS)
    check(convert_batch([point], vendor="acme", user_id="u-1"), 1)
