"""The ER7 parser on real messages written by others (tests/data/hl7v2/SOURCES.md).

python-hl7 is the independent check: on every fixture, its parse tree and
ours must hold the same raw values at every field, repetition, component and
subcomponent, and our decoded accessors must agree with it wherever no escape
sequence is involved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hl7
import pytest

from adapters.hl7v2 import (
    Delimiters,
    ErrorCode,
    HL7ParseError,
    Location,
    Message,
    escape,
    iter_messages,
    parse_batch,
    parse_message,
    read_header,
    unescape,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "hl7v2"
FIXTURES = sorted(p.name for p in DATA.glob("*.hl7"))
GOOD = [n for n in FIXTURES if not n.startswith("bad_")]
BAD = [n for n in FIXTURES if n.startswith("bad_")]
BATCHES = [n for n in GOOD if "_batch" in n or "_file" in n]
SINGLE = [n for n in GOOD if n not in BATCHES]


def raw(name: str) -> bytes:
    """A fixture's exact bytes (``read_text`` would turn its CRs into LFs)."""
    return (DATA / name).read_bytes()


def message(name: str) -> Message:
    return parse_message(raw(name))


def test_the_fixture_set_is_what_sources_md_lists() -> None:
    listed = (DATA / "SOURCES.md").read_text()
    assert len(FIXTURES) >= 25
    for name in FIXTURES:
        assert f"`{name}`" in listed, name


# -- every fixture, against python-hl7 ------------------------------------------


@pytest.mark.parametrize("name", SINGLE)
def test_every_single_message_fixture_parses(name: str) -> None:
    msg = message(name)
    assert msg.header.name == "MSH"
    assert msg.message_type and msg.control_id and msg.version
    assert [m.er7 for m in iter_messages(raw(name))] == [msg.er7]


@pytest.mark.parametrize("name", BATCHES)
def test_every_batch_fixture_parses(name: str) -> None:
    messages = list(iter_messages(raw(name)))
    assert messages
    assert all(m.message_type == "ADT" and m.trigger_event == "A04" for m in messages)
    with pytest.raises(HL7ParseError):
        parse_message(raw(name))


def _pyhl7_messages(data: bytes) -> list[Any]:
    text = data.decode().replace("\r\n", "\r").replace("\n", "\r")  # python-hl7 splits on CR only
    parsed = hl7.parse_hl7(text)
    if isinstance(parsed, hl7.Message):
        return [parsed]
    if isinstance(parsed, hl7.Batch):
        return list(parsed)
    return [m for batch in parsed for m in batch]


def _pyhl7_tree(node: Any, depth: int) -> list[Any]:
    """python-hl7 collapses levels without separators into a plain str: re-expand."""
    if isinstance(node, str):
        for _ in range(depth):
            node = [node]
        return node  # type: ignore[no-any-return]
    return [_pyhl7_tree(child, depth - 1) for child in node]


def _our_tree(msg: Message, seg_index: int, field: int) -> list[Any]:
    d = msg.delimiters
    segment = msg.segments()[seg_index]
    text = segment.field(field).er7
    if segment.name in ("MSH", "BHS", "FHS") and field <= 2:
        return [[[text]]]
    return [
        [c.split(d.subcomponent) for c in r.split(d.component)] for r in text.split(d.repetition)
    ]


@pytest.mark.parametrize("name", GOOD)
def test_raw_values_match_python_hl7_everywhere(name: str) -> None:
    ours = list(iter_messages(raw(name)))
    theirs = _pyhl7_messages(raw(name))
    assert len(ours) == len(theirs)
    for msg, other in zip(ours, theirs, strict=True):
        assert [s.name for s in msg] == [str(s[0][0]) for s in other]
        for index, (segment, other_segment) in enumerate(zip(msg, other, strict=True)):
            assert len(segment) == len(other_segment) - 1, segment
            for number in range(1, len(segment) + 1):
                expected = _pyhl7_tree(other_segment[number], 3)
                assert _our_tree(msg, index, number) == expected, segment.field(number)


@pytest.mark.parametrize("name", GOOD)
def test_decoded_values_match_python_hl7_where_nothing_is_escaped(name: str) -> None:
    checked = 0
    for msg, other in zip(iter_messages(raw(name)), _pyhl7_messages(raw(name)), strict=True):
        esc = msg.delimiters.escape
        for segment, other_segment in zip(msg, other, strict=True):
            for number in range(1, len(segment) + 1):
                tree = _pyhl7_tree(other_segment[number], 3)
                for r, rep in enumerate(tree, 1):
                    for c, comp in enumerate(rep, 1):
                        for s, leaf in enumerate(comp, 1):
                            if esc in leaf and number > 2:
                                continue
                            assert segment.get(number, c, s, repetition=r) == leaf
                            path = f"{segment.name}[{segment.occurrence}]-{number}[{r}].{c}.{s}"
                            assert msg.get(path) == leaf
                            checked += 1
    assert checked > 10


# -- field access on known values ----------------------------------------------


def test_oru_r01_field_access() -> None:
    msg = message("pyhl7_oru_r01_v24.hl7")
    assert (msg.message_type, msg.trigger_event, msg.message_structure) == ("ORU", "R01", "")
    assert (msg.control_id, msg.processing_id, msg.version) == ("CNTRL-3456", "P", "2.4")
    assert msg.version_info == (2, 4)
    assert msg.get("PID-5") == "EVERYWOMAN"
    assert msg.get("PID-5.2") == "EVE"
    assert msg.get("PID-11.3") == "STATESVILLE"
    assert msg.get("OBR-4.2") == "GLUCOSE"
    assert msg.get("OBR-7") == "200202150730"
    assert msg.get("OBR-15.2") == "PRIMARY"  # where this sample puts the provider
    assert msg.get("OBR-24") == "F"
    assert msg.get("OBR-30.2") == "HIPPOCRATES"
    obx = msg.segments("OBX")
    assert [o.get(1) for o in obx] == ["1", "2"]
    assert obx[1].get(3) == "1553-5"
    assert obx[0].get(5, 2) == "182"
    assert msg.get("OBX[2]-3.3") == "POST 12H CFST:MCNC:PT:SER/PLAS:QN"
    assert msg.get("OBX[3]-1") == ""  # no third OBX
    assert msg.get("PID-99.9.9") == ""
    assert msg.segment("ZZZ") is None


def test_repetitions_components_and_subcomponents() -> None:
    msg = message("pyhl7_repetitions_v24.hl7")
    pid = msg.segment("PID")
    assert pid is not None
    assert pid.get(1) == "Field1"
    assert pid.get(2, 2) == "Component2"
    assert pid.get(3, 2) == "Sub-Component1"
    assert pid.get(3, 2, 2) == "Sub-Component2"
    assert msg.get("PID-3.2.2") == "Sub-Component2"
    assert msg.get("PID-4[2]") == "Repeat2"
    field = pid.field(4)
    assert len(field) == 2
    assert [r.value for r in field] == ["Repeat1", "Repeat2"]
    assert field.repetition(3).value == ""
    component = pid.field(3).component(2)
    assert component.subcomponents == ("Sub-Component1", "Sub-Component2")
    assert component.subcomponent(3) == ""
    assert [c.value for c in pid.field(3).components] == [
        "Component1",
        "Sub-Component1",
        "Component3",
    ]
    assert pid.field(9).repetitions == ()
    assert not pid.field(9)


def test_empty_trailing_repetitions_are_kept() -> None:
    msg = message("hl7types_oru_r01_v24_repetitions.hl7")
    obx5 = msg.segments("OBX")[0].field(5)
    assert [r.value for r in obx5] == ["This", "Is", "A", "Report", "", "", "", "", ""]
    assert msg.get("OBX-5[4]") == "Report"
    assert msg.segment("OBR") is not None
    assert msg.segment("OBR").field(15).component(1).subcomponents == ("Rad Type", "Rad Type")  # type: ignore[union-attr]


def test_nulls_spaces_and_long_segments_are_exact() -> None:
    msg = message("pyhl7_adt_a01_v23.hl7")
    pv1 = msg.segment("PV1")
    assert pv1 is not None
    assert pv1.field(9).is_null and pv1.get(9) == '""'
    assert pv1.get(5) == " 863968"  # leading space is data
    assert msg.get("PID-4[2].5") == "DONOR "  # so is a trailing one
    assert [r.get(5) for r in msg.segment("PID").field(3)] == ["MR", "CM"]  # type: ignore[union-attr]
    assert [s.occurrence for s in msg.segments("IN1")] == [1, 2, 3]
    assert msg.get("IN1[3]-4") == "SELF-PAY"


def test_older_and_newer_versions_parse_alike() -> None:
    assert message("hl7types_adt_a17_v21.hl7").segments("PID")[1].get(5) == "SMITH"
    assert message("hl7types_adt_a01_v22.hl7").version_info == (2, 2)
    assert message("hl7types_adt_a01_v251.hl7").version_info == (2, 5, 1)
    a45 = message("hl7types_adt_a45_v25.hl7")
    assert (a45.processing_id, a45.version, a45.version_info) == ("T", "2.5", (2, 5))
    assert a45.get("MRG-1") == "9999999"
    assert a45.codec == "iso8859-1"  # MSH-18 8859/1


def test_msh1_and_msh2_are_never_split_nor_decoded() -> None:
    msh = message("pyhl7_oru_r01_v24.hl7").header
    assert msh.get(1) == "|"
    assert msh.get(2) == "^~\\&"
    assert msh.field(2).component(1).value == "^~\\&"
    assert msh.field(2).repetitions[0].components[0].subcomponents == ("^~\\&",)
    assert msh.get(2, 2) == ""
    assert msh.get(3) == "GHH LAB"


def test_z_segments_are_kept_and_listed() -> None:
    msg = message("hl7types_adt_a01_zsegment.hl7")
    assert [s.name for s in msg] == ["MSH", "EVN", "PID", "ZPD", "PV1"]
    assert [s.name for s in msg.z_segments] == ["ZPD"]
    assert msg.z_segments[0].is_z and not msg.header.is_z
    assert msg.get("ZPD-1") == "local-value"


# -- escapes ---------------------------------------------------------------------


def test_escape_sequences_are_decoded_on_access() -> None:
    msg = message("hl7types_oru_r01_v24_escapes.hl7")
    obx5 = msg.get("OBX-5")
    assert obx5 == (
        "Biochemistry (Whole Blood Sample) - Type Venous\n\n Analysis Date : 16/06/2011\n"
        " pCO2 : \\H\\ 117\\N\\ mmHg (35-45) (37 ^o C)"
    )
    assert "\\.br\\" in msg.segment("OBX").field(5).er7  # type: ignore[union-attr]
    assert message("hl7types_adt_a04_v23_crlf.hl7").get("PID-11.2") == "MARIO & LUIGI BROS PLACE"


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("a\\F\\b", "a|b"),
        ("a\\S\\b\\T\\c\\R\\d\\E\\e", "a^b&c~d\\e"),
        ("line\\.br\\next", "line\nnext"),
        ("crlf\\X0D0A\\end", "crlf\r\nend"),
        ("caf\\XC3A9\\", "café"),
        ("caf\\XE9\\", "café"),  # not UTF-8: Latin-1
        ("\\H\\bold\\N\\", "\\H\\bold\\N\\"),  # highlighting kept
        ("\\Zlocal\\ \\.sp2\\ \\C2842\\", "\\Zlocal\\ \\.sp2\\ \\C2842\\"),
        ("odd \\X0\\ bad \\XZZ\\", "odd \\X0\\ bad \\XZZ\\"),
        ("C:\\Windows", "C:\\Windows"),  # lone escape character kept
        ("\\P\\", "\\P\\"),  # no truncation character declared
        ("\\\\", "\\\\"),
    ],
)
def test_unescape(encoded: str, decoded: str) -> None:
    assert unescape(encoded, Delimiters()) == decoded
    text = f"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rNTE|1||{encoded}\r"
    assert parse_message(text).get("NTE-3") == decoded


def test_hex_escapes_use_the_declared_character_set() -> None:
    text = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||8859/1\rNTE|1||\\XC3A9\\\r"
    assert parse_message(text).get("NTE-3") == "Ã©"
    text = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.8||||||UNICODE UTF-8\rNTE|1||\\XE9\\\r"
    assert parse_message(text).get("NTE-3") == "\\XE9\\"  # not UTF-8: kept


def test_truncation_character_v27() -> None:
    msg = message("hl7types_adt_a01_v27_truncation.hl7")
    assert msg.delimiters.truncation == "#"
    assert msg.delimiters.encoding_characters == "^~\\&#"
    assert msg.get("PID-5") == "Smith#"  # the sender's marker stays visible
    text = msg.er7.replace("Smith#", "Sm\\P\\ith")
    assert parse_message(text).get("PID-5") == "Sm#ith"


def test_escape_then_unescape_is_identity() -> None:
    d = Delimiters("#", "$", "%", "!", "*", "@")
    for text in ["plain", "a|b^c&d~e\\f", "#$%!*@", "line\r\nbreak\x1c\x0b", "tab\tkept", "ünï"]:
        for delimiters in (Delimiters(), d):
            encoded = escape(text, delimiters)
            assert not any(c in encoded for c in "\r\n\x0b\x1c")
            assert unescape(encoded, delimiters) == text
    assert escape("a|b", Delimiters()) == "a\\F\\b"
    assert escape("x\r", Delimiters()) == "x\\X0D\\"


def test_free_text_with_unescaped_separators_reads_whole_with_text() -> None:
    msg = message("hl7types_oru_r01_v23_lf.hl7")
    obx = msg.segments("OBX")[1]
    assert obx.get(5) == "WBCS: Adequate in number "  # the & is a subcomponent separator
    assert obx.text(5) == "WBCS: Adequate in number & normal in appearance"
    assert msg.segments("OBX")[2].text(5) == 'RBC: Occasional "target" cells'


# -- encoding characters, terminators, framing ------------------------------------

STANDARD = (
    "MSH|^~\\&|LAB|HOSP|ACCORD|HOSP|20240101120000||ORU^R01^ORU_R01|C1|P|2.5.1\r"
    "PID|1||123^^^HOSP&1.2.3&ISO^MR~456^^^SSA^SS||DOE^JANE^Q||19800101|F\r"
    "OBX|1|ST|1234-5^Text^LN||a \\F\\ b \\S\\ c \\T\\ d \\R\\ e \\E\\ f|||N|||F\r"
)


def _translate(text: str, target: Delimiters) -> str:
    """STANDARD with other delimiters: each delimiter and escape letter swapped."""
    table = str.maketrans({"|": target.field, "^": target.component, "~": target.repetition,
                           "\\": target.escape, "&": target.subcomponent})  # fmt: skip
    return text.translate(table)


@pytest.mark.parametrize(
    "target",
    [Delimiters("#", "$", "%", "!", "*"), Delimiters("|", "!", "@", "+", "%"), Delimiters()],
)
def test_custom_encoding_characters(target: Delimiters) -> None:
    standard = parse_message(STANDARD)
    custom = parse_message(_translate(STANDARD, target))
    assert custom.delimiters == target
    assert custom.header.get(1) == target.field
    assert custom.header.get(2) == target.encoding_characters
    for path in ["PID-3.4.2", "PID-3[2].1", "PID-3[2].5", "PID-5.2", "MSH-9.3", "OBX-3.3"]:
        assert custom.get(path) == standard.get(path), path
    assert standard.get("OBX-5") == "a | b ^ c & d ~ e \\ f"
    # Escape sequences stand for the message's own delimiters.
    assert custom.get("OBX-5") == _translate(standard.get("OBX-5"), target)


def test_msh_hash_dollar_encoding_characters() -> None:
    msg = parse_message("MSH#$%!*#A#B#C#D#20240101##ADT$A01#1#P#2.5\rPID#1##X$$$Y*Z%W##A!F!B$C\r")
    assert msg.get("PID-3.4.2") == "Z"
    assert msg.get("PID-3[2]") == "W"
    assert msg.get("PID-5") == "A#B"
    assert msg.get("PID-5.2") == "C"


@pytest.mark.parametrize(
    "variant",
    [
        lambda t: t,
        lambda t: t.replace("\r", "\n"),
        lambda t: t.replace("\r", "\r\n"),
        lambda t: t.rstrip("\r"),
        lambda t: t + "\r\n\r\n  \n\t",
        lambda t: "\x0b" + t + "\x1c\r",
        lambda t: "\ufeff" + t,
        lambda t: t.replace("\rPID", "\r\rPID").replace("\rOBX", "\n\r\nOBX"),
    ],
    ids=["cr", "lf", "crlf", "no-final", "trailing-space", "mllp", "bom", "blank-segments"],
)
def test_segment_terminators_and_surroundings(variant: Any) -> None:
    text = variant(STANDARD)
    for data in (text, text.encode()):
        msg = parse_message(data)
        assert msg.er7 == STANDARD
        assert [s.position for s in msg] == [1, 2, 3]


def test_bytes_are_decoded_by_the_declared_character_set() -> None:
    latin1 = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||8859/1\rPID|1||1||Müller\r"
    msg = parse_message(latin1.encode("latin-1"))
    assert msg.get("PID-5") == "Müller" and msg.codec == "iso8859-1"
    utf8 = latin1.replace("8859/1", "UNICODE UTF-8")
    assert parse_message(utf8.encode()).get("PID-5") == "Müller"
    with pytest.raises(HL7ParseError) as info:
        parse_message(utf8.encode("latin-1"))
    assert info.value.location == Location("MSH", 1, 18, position=1)
    undeclared = latin1.replace("8859/1", "")
    assert parse_message(undeclared.encode()).codec == "utf-8"
    fallback = parse_message(undeclared.encode("latin-1"))  # not UTF-8: Latin-1 cannot fail
    assert fallback.get("PID-5") == "Müller" and fallback.codec == "latin-1"
    assert parse_message(undeclared.encode("cp1252"), encoding="cp1252").codec == "cp1252"


# -- errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "location", "code"),
    [
        ("", None, ErrorCode.SEGMENT_SEQUENCE_ERROR),
        ("PID|1||123", "segment 1", ErrorCode.SEGMENT_SEQUENCE_ERROR),
        ("MSH", "MSH[1]-1", ErrorCode.DATA_TYPE_ERROR),
        ("MSHA^~\\&|", "MSH[1]-1", ErrorCode.DATA_TYPE_ERROR),
        ("MSH|^~\\|A", "MSH[1]-2", ErrorCode.DATA_TYPE_ERROR),
        ("MSH|^~\\&&|A", "MSH[1]-2", ErrorCode.DATA_TYPE_ERROR),
        ("MSH|^~\\&#!|A", "MSH[1]-2", ErrorCode.DATA_TYPE_ERROR),
        ("MSH|^~\\a|A", "MSH[1]-2", ErrorCode.DATA_TYPE_ERROR),
        ("MSH|^~\\&|A|B|C|D|1||ADT^A01||P|2.5", "MSH[1]-10", ErrorCode.REQUIRED_FIELD_MISSING),
        ("MSH|^~\\&|A|B|C|D|1||^A01|1|P|2.5", "MSH[1]-9", ErrorCode.REQUIRED_FIELD_MISSING),
        ("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P", "MSH[1]-12", ErrorCode.REQUIRED_FIELD_MISSING),
        (
            "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rPI|x",
            "segment 2",
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        ),
        (
            "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rpid|x",
            "segment 2",
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        ),
        ("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rPID^1", "PID[1]", ErrorCode.SEGMENT_SEQUENCE_ERROR),
        (
            "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rMSH|^~\\&|",
            "MSH[2]",
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        ),
        (
            "BHS|^~\\&\rMSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5",
            "BHS[1]",
            ErrorCode.SEGMENT_SEQUENCE_ERROR,
        ),
    ],
)
def test_parse_errors_say_where_and_what(text: str, location: str | None, code: ErrorCode) -> None:
    with pytest.raises(HL7ParseError) as info:
        parse_message(text)
    error = info.value
    assert isinstance(error, ValueError)
    assert (str(error.location) if error.location else None) == location
    assert error.code == code
    assert error.reason and str(error).endswith(error.reason)


def test_read_header_is_lenient_about_required_fields() -> None:
    header = read_header(b"\x0bMSH|^~\\&|A|B|C|D|1||ADT^A01||P|2.5\rP!D|oops\x1c\r")
    assert header is not None and header.get("MSH-3") == "A" and len(header) == 1
    assert read_header("garbage") is None
    assert read_header(b"MSH|^~|A") is None


def test_paths_and_positions_are_checked() -> None:
    msg = parse_message(STANDARD)
    for path in [
        "PID",
        "PID-",
        "PID3",
        "pid-3",
        "PID-3.",
        "PID[0]-3",
        "PID-0",
        "PID-3.0",
        "PID-3[x]",
    ]:
        with pytest.raises(ValueError, match=r"HL7|count"):
            msg.get(path)
    pid = msg.segment("PID")
    assert pid is not None
    for args in [(0,), (3, 0), (3, 1, 0), (3, 1, 1, 0), (50, 0)]:
        with pytest.raises(ValueError):
            pid.get(*args)
    with pytest.raises(ValueError):
        pid.field(0)
    with pytest.raises(ValueError):
        msg.segment("PID", 0)


def test_locations_name_every_level() -> None:
    msg = parse_message(STANDARD)
    pid = msg.segment("PID")
    assert pid is not None
    assert str(pid.location) == "PID[1]"
    assert str(pid.field(3).location) == "PID[1]-3"
    assert str(pid.field(3).repetition(2).location) == "PID[1]-3[2]"
    assert str(pid.field(3).repetition(1).component(4).location) == "PID[1]-3.4"
    assert pid.field(3).repetition(2).component(4).location == Location(
        "PID", 1, 3, 2, 4, position=2
    )
    assert str(Location("OBX", 3, 6, 1, 1)) == "OBX[3]-6.1"
    assert str(Location("OBX", 3, 6, 2, 1, 2)) == "OBX[3]-6[2].1.2"
    assert str(Location(position=7)) == "segment 7" and str(Location()) == "message"
    assert Location("OBX", 3, 6, 0, 1).erl() == "OBX^3^6^1^1"
    assert Location("PID", 1).erl("$") == "PID$1"
    assert Location(position=4).erl() == ""
    assert msg.get(str(Location("PID", 1, 3, 2, 5))) == "SS"  # str(Location) is a valid path


def test_the_model_is_immutable() -> None:
    msg = parse_message(STANDARD)
    segment = msg.header
    field = segment.field(9)
    for obj, attribute in [
        (msg, "codec"),
        (segment, "name"),
        (field, "er7"),
        (field.repetition(1), "er7"),
    ]:
        with pytest.raises(AttributeError):
            setattr(obj, attribute, "x")
    with pytest.raises(AttributeError):
        msg.delimiters.field = "#"  # type: ignore[misc]


# -- batches -----------------------------------------------------------------------


def test_batch_with_header_and_trailer() -> None:
    batch_file = parse_batch(raw("pyhl7_batch_two_messages.hl7"))
    assert batch_file.header is None and batch_file.trailer is None
    (batch,) = batch_file.batches
    assert batch.header is not None and batch.header.get(4) == "ABCHS"
    assert batch.header.get(6) == "AUSDHSV"
    assert batch.header.get(11) == "abchs20070101123401-1"  # BHS-11, batch control id
    assert batch.trailer is not None and batch.trailer.get(1) == "2"
    assert [m.control_id for m in batch.messages] == ["12334456778890", "12334456778891"]


def test_batch_file_with_two_batches() -> None:
    batch_file = parse_batch(raw("pyhl7_file_two_batches.hl7"))
    assert batch_file.header is not None and batch_file.header.name == "FHS"
    assert batch_file.header.get(10) == "abchs20070101123401.hl7"
    assert batch_file.trailer is not None and batch_file.trailer.get(1) == "2"
    assert [len(b.messages) for b in batch_file.batches] == [2, 1]
    assert len(batch_file.messages) == 3
    assert [b.header.occurrence for b in batch_file.batches if b.header] == [1, 2]


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("pyhl7_batch_adt_a04.hl7", [1]),
        ("pyhl7_batch_no_header.hl7", [2]),
        ("pyhl7_batch_no_trailer.hl7", [1]),
        ("pyhl7_file_no_bhs.hl7", [2]),
    ],
)
def test_batch_shapes(name: str, shape: list[int]) -> None:
    assert [len(b.messages) for b in parse_batch(raw(name)).batches] == shape


@pytest.mark.parametrize(
    ("name", "reason", "location"),
    [
        ("bad_pyhl7_batch_no_msh.hl7", "before any message header", "EVN[1]"),
        ("bad_pyhl7_batch_two_bhs.hl7", "more than one BHS", "BHS[2]"),
        ("bad_pyhl7_file_two_fhs.hl7", "FHS must be the first", "FHS[2]"),
    ],
)
def test_bad_batches_are_rejected(name: str, reason: str, location: str) -> None:
    with pytest.raises(HL7ParseError, match=reason) as info:
        parse_batch(raw(name))
    assert str(info.value.location) == location
    assert info.value.code == ErrorCode.SEGMENT_SEQUENCE_ERROR
    with pytest.raises(HL7ParseError):
        iter_messages(raw(name))  # raises at once, before any message is handed out


MSG = "MSH|^~\\&|A|B|C|D|1||ADT^A04|{id}|P|2.5\rPID|1||{id}\r"


@pytest.mark.parametrize(
    ("text", "reason", "location"),
    [
        ("BHS|^~\\&\r" + MSG.format(id=1) + "BTS|2", "declares 2 messages", "BTS[1]-1"),
        ("BHS|^~\\&\r" + MSG.format(id=1) + "BTS|one", "not a number", "BTS[1]-1"),
        ("FHS|^~\\&\rBHS|^~\\&\rBTS|0\rFTS|3", "declares 3 batches", "FTS[1]-1"),
        ("FHS|^~\\&\rFTS|0\rMSH|^~\\&|", "nothing may follow FTS", "MSH[1]"),
        (MSG.format(id=1) + "BTS|1\rBTS|0", "BTS without a batch", "BTS[2]"),
        ("BHS|^~\\&\rMSH|^~\\&|A|B|C|D|1||ADT^A04||P|2.5", "message 1: MSH-10", "MSH[1]-10"),
        ("BHS|^~|", "encoding characters", "BHS[1]-2"),
        ("FHS|^~\\&\r" + MSG.format(id=1) + "FHS|^~\\&", "FHS must be the first", "FHS[2]"),
    ],
)
def test_batch_structure_and_counts_are_checked(text: str, reason: str, location: str) -> None:
    with pytest.raises(HL7ParseError, match=reason) as info:
        parse_batch(text)
    assert str(info.value.location) == location


def test_batch_counts_that_agree_and_empty_batches() -> None:
    text = (
        "FHS|^~\\&\rBHS|^~\\&\r"
        + MSG.format(id=1)
        + MSG.format(id=2)
        + "BTS|2\rBHS|^~\\&\rBTS|0\rFTS|2"
    )
    batch_file = parse_batch(text)
    assert [len(b.messages) for b in batch_file.batches] == [2, 0]
    assert parse_batch("FHS|^~\\&\rFTS|0").messages == ()
    assert [m.control_id for m in iter_messages(MSG.format(id=7))] == ["7"]


def test_batch_trailer_uses_the_header_delimiters() -> None:
    text = "BHS#$%!*\rMSH|^~\\&|A|B|C|D|1||ADT^A04|1|P|2.5\rBTS#1#x"
    (batch,) = parse_batch(text).batches
    assert batch.trailer is not None and batch.trailer.get(2) == "x"
    assert batch.messages[0].delimiters == Delimiters()


# -- hand-written VXU, RDE, RDS against hl7apy's v2.5.1 definitions -----------------

HANDWRITTEN = {
    "handwritten_vxu_v04_v251.hl7": ("VXU", "V04", "VXU_V04"),
    "handwritten_rde_o11_v251.hl7": ("RDE", "O11", "RDE_O11"),
    "handwritten_rds_o13_v251.hl7": ("RDS", "O13", "RDS_O13"),
}


@pytest.mark.parametrize("name", sorted(HANDWRITTEN))
def test_handwritten_messages_are_valid_v251_for_hl7apy(name: str) -> None:
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.core import Group
    from hl7apy.core import Message as HL7apyMessage
    from hl7apy.parser import parse_message as hl7apy_parse
    from hl7apy.parser import parse_segment

    strict = VALIDATION_LEVEL.STRICT
    text = raw(name).decode("ascii")
    ours = parse_message(text)
    assert (ours.message_type, ours.trigger_event, ours.message_structure) == HANDWRITTEN[name]
    # Every segment, field and component fits its v2.5.1 definition ...
    for segment in ours:
        parse_segment(segment.er7, version="2.5.1", validation_level=strict)
    # ... and the segments fit the message structure.
    if name != "handwritten_rde_o11_v251.hl7":
        assert hl7apy_parse(text, validation_level=strict, find_groups=True).validate()
        return

    # hl7apy's greedy group finder files the TQ1 after RXE under ORDER.TIMING instead of
    # ORDER.TIMING_ENCODED, so for RDE^O11 the groups are laid out here and hl7apy checks them.
    def seg(seg_name: str) -> Any:
        segment = ours.segment(seg_name)
        assert segment is not None
        return parse_segment(segment.er7, version="2.5.1", validation_level=strict)

    def group(group_name: str, *children: Any) -> Any:
        grp = Group(group_name, version="2.5.1", validation_level=strict)
        for child in children:
            grp.add(child)
        return grp

    msg = HL7apyMessage("RDE_O11", version="2.5.1", validation_level=strict)
    msg.children = []
    for child in [
        seg("MSH"),
        group("RDE_O11_PATIENT", seg("PID"), group("RDE_O11_PATIENT_VISIT", seg("PV1")), seg("AL1")),
        group("RDE_O11_ORDER", seg("ORC"), seg("RXE"), seg("NTE"),
              group("RDE_O11_TIMING_ENCODED", seg("TQ1")), seg("RXR")),
    ]:  # fmt: skip
        msg.add(child)
    assert msg.validate()
    assert [s.name for s in ours] == ["MSH", "PID", "PV1", "AL1", "ORC", "RXE", "NTE", "TQ1", "RXR"]


def test_handwritten_values_a_converter_needs() -> None:
    vxu = message("handwritten_vxu_v04_v251.hl7")
    assert vxu.get("RXA-5") == "08" and vxu.get("RXA-5.3") == "CVX"
    assert vxu.get("RXA-15") == "HB4471K" and vxu.get("RXA-17.2") == "Merck and Co., Inc."
    assert vxu.get("PID-11.2") == "Apt 3&4"
    assert vxu.get("PID-3[2].5") == "SS"
    rde = message("handwritten_rde_o11_v251.hl7")
    assert rde.get("RXE-2.2") == "Amlodipine 5 MG Oral Tablet"
    assert rde.get("TQ1-3.1.1") == "BID"
    assert rde.get("NTE-3") == (
        "Take with water.\nHold if systolic BP &lt; 100 mm[Hg]\\ call the ward pharmacist."
    )
    rds = message("handwritten_rds_o13_v251.hl7")
    assert rds.get("RXD-9[2]") == "Label AM&PM"
    assert (rds.get("RXD-18"), rds.get("RXD-19"), rds.get("RXD-20")) == (
        "LOT44A",
        "20261031",
        "PFE",
    )
