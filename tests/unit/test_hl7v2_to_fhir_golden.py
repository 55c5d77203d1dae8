"""HL7 v2 → FHIR golden tests: every supported fixture against its reviewed expected output.

The files in tests/data/hl7v2/expected/ are REVIEWED TRUTH, not snapshots:
each was produced once by the converter and then read element by element
against its message, the HL7 V2-to-FHIR segment maps (PID, PV1, NK1, AL1,
DG1, IN1, OBR, OBX, SPM, RXA, RXR, RXE, RXD, MRG) and the mapping choices
documented in adapters/hl7v2/to_fhir; wherever they disagreed the converter
was fixed. A failure here means the converter's output changed: read the
diff. To regenerate after a deliberate change, run with
ACCORD_REGENERATE_GOLDEN=1 and review every changed line before committing.

Each expected file holds the resources (serialized with their decimals as
sent) and the warnings. Beyond the goldens: the ADT story of one stay (A01
admit, A08 update with a new name, A03 discharge, A40 merge) and the lab
results of that stay land on the same resources.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from adapters.base import ConversionError
from adapters.hl7v2 import Message, parse_message
from adapters.hl7v2.to_fhir import SUPPORTED, Decimal, convert

DATA = Path(__file__).resolve().parents[1] / "data" / "hl7v2"
EXPECTED = DATA / "expected"
SOURCE = "test-feed"  # the feed name every golden is converted under

GOLDEN = [
    "handwritten_adt_a01_v251.hl7",
    "handwritten_adt_a03_v251.hl7",
    "handwritten_adt_a08_v251.hl7",
    "handwritten_adt_a40_v251.hl7",
    "handwritten_oru_r01_v251.hl7",
    "handwritten_rde_o11_v251.hl7",
    "handwritten_rds_o13_v251.hl7",
    "handwritten_vxu_v04_v251.hl7",
    "hl7types_adt_a01_v22.hl7",
    "hl7types_adt_a01_v23.hl7",
    "hl7types_adt_a01_v24.hl7",
    "hl7types_adt_a01_v25.hl7",
    "hl7types_adt_a01_v251.hl7",
    "hl7types_adt_a01_v27_truncation.hl7",
    "hl7types_adt_a01_zsegment.hl7",
    "hl7types_adt_a04_v23_crlf.hl7",
    "hl7types_oru_r01_v23_lf.hl7",
    "hl7types_oru_r01_v24_escapes.hl7",
    "hl7types_oru_r01_v24_repetitions.hl7",
    "hl7types_oru_r01_v25.hl7",
    "pyhl7_adt_a01_v23.hl7",
    "pyhl7_oru_r01_v24.hl7",
    "pyhl7_repetitions_v24.hl7",
]
# Fixtures of message types the converter refuses (see test_hl7v2_to_fhir.py), batches
# (their messages are checked one by one there) and the malformed ones.
NOT_GOLDEN = {
    "hl7types_ack_v24.hl7",
    "hl7types_adt_a17_v21.hl7",
    "hl7types_adt_a45_v25.hl7",
}
NEW_HANDWRITTEN = {
    "handwritten_adt_a01_v251.hl7": "ADT_A01",
    "handwritten_adt_a08_v251.hl7": "ADT_A01",
    "handwritten_adt_a03_v251.hl7": "ADT_A03",
    "handwritten_adt_a40_v251.hl7": "ADT_A39",
    "handwritten_oru_r01_v251.hl7": "ORU_R01",
}


def message(name: str) -> Message:
    return parse_message((DATA / name).read_bytes())


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(value.text)
    raise TypeError(type(value).__name__)


def dumps(value: Any) -> bytes:
    """Indented JSON, FHIR decimals with the digits they were sent with."""
    return (
        orjson.dumps(
            value,
            default=_default,
            option=orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_SUBCLASS,
        )
        + b"\n"
    )


def test_every_fixture_is_golden_or_accounted_for() -> None:
    every = {p.name for p in DATA.glob("*.hl7")}
    batches = {n for n in every if "_batch" in n or "_file" in n}
    bad = {n for n in every if n.startswith("bad_")}
    assert every - batches - bad - NOT_GOLDEN == set(GOLDEN)
    for name in GOLDEN:
        m = message(name)
        assert f"{m.message_type}^{m.trigger_event}" in SUPPORTED, name
    for name in NOT_GOLDEN:
        with pytest.raises(ConversionError):
            convert(message(name), source=SOURCE)


@pytest.mark.parametrize("name", GOLDEN)
def test_conversion_matches_the_reviewed_expected_output(name: str) -> None:
    conversion = convert(message(name), source=SOURCE)
    got = dumps({"resources": conversion.resources, "warnings": conversion.warnings})
    path = EXPECTED / (Path(name).stem + ".json")
    if os.environ.get("ACCORD_REGENERATE_GOLDEN") == "1":
        path.write_bytes(got)
    assert path.exists(), f"{path} missing: regenerate, then review it"
    assert got.decode() == path.read_text()


@pytest.mark.parametrize("name", sorted(NEW_HANDWRITTEN))
def test_new_handwritten_messages_are_valid_v251_for_hl7apy(name: str) -> None:
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_message as hl7apy_parse
    from hl7apy.parser import parse_segment

    strict = VALIDATION_LEVEL.STRICT
    text = (DATA / name).read_bytes().decode("ascii")
    ours = parse_message(text)
    assert ours.message_structure == NEW_HANDWRITTEN[name]
    for segment in ours:
        parse_segment(segment.er7, version="2.5.1", validation_level=strict)
    assert hl7apy_parse(text, validation_level=strict, find_groups=True).validate()


# -- one stay, message after message -------------------------------------------------


def resources(name: str, kind: str) -> list[dict[str, Any]]:
    conversion = convert(message(name), source=SOURCE)
    return [r for r in conversion.resources if r["resourceType"] == kind]


def test_an_a08_updates_the_patient_the_a01_created() -> None:
    (admitted,) = resources("handwritten_adt_a01_v251.hl7", "Patient")
    (updated,) = resources("handwritten_adt_a08_v251.hl7", "Patient")
    assert updated["id"] == admitted["id"]
    assert admitted["name"][0]["family"] == "O'Brien"
    assert [(n.get("use"), n["family"]) for n in updated["name"]] == [
        ("official", "Walsh"),
        ("maiden", "O'Brien"),
    ]
    a01 = convert(message("handwritten_adt_a01_v251.hl7"), source=SOURCE).resources
    a08 = convert(message("handwritten_adt_a08_v251.hl7"), source=SOURCE).resources
    assert [r["id"] for r in a08] == [r["id"] for r in a01]  # and everything else too


def test_the_visit_goes_from_in_progress_to_finished_on_the_same_encounter() -> None:
    (admit,) = resources("handwritten_adt_a01_v251.hl7", "Encounter")
    (update,) = resources("handwritten_adt_a08_v251.hl7", "Encounter")
    (discharge,) = resources("handwritten_adt_a03_v251.hl7", "Encounter")
    assert admit["id"] == update["id"] == discharge["id"]
    assert (admit["status"], update["status"], discharge["status"]) == (
        "in-progress",
        "in-progress",
        "finished",
    )
    assert discharge["period"] == {
        "start": "2024-03-11T08:00:00+00:00",  # no zone sent: MSH-7's (+0000)
        "end": "2024-03-15T11:30:00+00:00",
    }


def test_an_a04_registration_is_arrived() -> None:
    text = (DATA / "handwritten_adt_a01_v251.hl7").read_text().replace("ADT^A01^", "ADT^A04^")
    (visit,) = [
        r for r in convert(parse_message(text), source=SOURCE).resources
        if r["resourceType"] == "Encounter"
    ]  # fmt: skip
    assert visit["status"] == "arrived"


@pytest.mark.parametrize("trigger", ["A28", "A31"])
def test_person_events_update_the_patient_without_an_encounter(trigger: str) -> None:
    text = (DATA / "handwritten_adt_a08_v251.hl7").read_text()
    text = text.replace("ADT^A08^ADT_A01", f"ADT^{trigger}^ADT_A05").replace(
        "EVN|A08", f"EVN|{trigger}"
    )
    person = convert(parse_message(text), source=SOURCE).resources
    update = convert(message("handwritten_adt_a08_v251.hl7"), source=SOURCE).resources
    assert [r["resourceType"] for r in person] == [
        "Patient", "RelatedPerson", "AllergyIntolerance", "Condition", "Coverage"
    ]  # fmt: skip
    assert person[0] == update[0]
    assert "encounter" not in person[3]  # the diagnosis is the person's, not a visit's


def test_a_merge_links_both_patients_both_ways() -> None:
    survivor, merged = resources("handwritten_adt_a40_v251.hl7", "Patient")
    (admitted,) = resources("handwritten_adt_a01_v251.hl7", "Patient")
    assert survivor["id"] == admitted["id"]
    assert survivor["active"] is True
    assert survivor["link"] == [
        {"other": {"reference": f"Patient/{merged['id']}"}, "type": "replaces"}
    ]
    assert merged["active"] is False
    assert merged["link"] == [
        {"other": {"reference": f"Patient/{survivor['id']}"}, "type": "replaced-by"}
    ]
    assert merged["identifier"][0]["value"] == "H4409921"


def test_lab_results_point_at_the_admitted_patient_and_visit_without_owning_the_visit() -> None:
    (admitted,) = resources("handwritten_adt_a01_v251.hl7", "Patient")
    (visit,) = resources("handwritten_adt_a01_v251.hl7", "Encounter")
    lab = convert(message("handwritten_oru_r01_v251.hl7"), source=SOURCE).resources
    assert not [r for r in lab if r["resourceType"] == "Encounter"]
    observations = [r for r in lab if r["resourceType"] == "Observation"]
    assert len(observations) == 6
    for observation in observations:
        assert observation["subject"] == {"reference": f"Patient/{admitted['id']}"}
        assert observation["encounter"] == {"reference": f"Encounter/{visit['id']}"}


def test_the_pharmacy_dispense_points_at_the_order_the_prescriber_placed() -> None:
    (order,) = resources("handwritten_rde_o11_v251.hl7", "MedicationRequest")
    (dispense,) = resources("handwritten_rds_o13_v251.hl7", "MedicationDispense")
    link = dispense["authorizingPrescription"][0]
    assert link["reference"] == f"MedicationRequest/{order['id']}"
    assert link["identifier"] == order["identifier"][0]  # the placer order number
