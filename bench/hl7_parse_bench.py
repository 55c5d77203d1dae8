"""HL7 v2 parsing speed: adapters.hl7v2 next to python-hl7, on a 1.4 KB ORU^R01.

Two figures per parser, on one core:

* parse: the message text in, a message object out;
* parse + reads: also every value a lab-result converter reads (MSH
  header, patient identifiers/name/address, visit, order, and for each of
  the nine OBX its code, value, units, range, flag and status), 118 reads.

Targets: parse alone >= 10,000 msg/s, so that parse + reads + conversion
can reach 3,000 msg/s on one core.

    .venv/bin/python bench/hl7_parse_bench.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from benchlib import print_result

from adapters.hl7v2 import Message, parse_message

TARGET_PARSE = 10_000  # msg/s, parse alone
TARGET_CONVERT = 3_000  # msg/s, parse + reads + conversion (the converter's own target)

ORU_R01 = "\r".join(
    [
        "MSH|^~\\&|LABSYS|CITY HOSPITAL LAB|ACCORD|CITY HOSPITAL|20240510143000+0200||"
        "ORU^R01^ORU_R01|LAB20240510143000123|P|2.5.1|||AL|NE",
        "PID|1||PAT0048213^^^CITY HOSPITAL^MR~8234567890^^^NHS^NH||Brennan^Siobhan^Maire^^Ms^^L"
        "||19750822|F|||27 Quay Street^Flat 4^Galway^^H91 X2Y3^IRL^H||^PRN^PH^^353^91^5550123",
        "PV1|1|O|OPD^CLINIC 3^^CITY HOSPITAL||||4411^Okonkwo^Chidi^^^Dr^^^NPI^L|||GEN"
        "|||||||||VN2024051001^^^CITY HOSPITAL^VN",
        "ORC|RE|ORD778812^ACCORD|LAB5521009^LABSYS||CM||||20240510090000",
        "OBR|1|ORD778812^ACCORD|LAB5521009^LABSYS|24323-8^Metabolic panel^LN"
        "|||20240510083000|||||||20240510091500||4411^Okonkwo^Chidi||||||20240510142500|||F",
        "OBX|1|NM|2345-7^Glucose^LN||98|mg/dL^mg/dL^UCUM|70-99|N|||F|||20240510083000",
        "OBX|2|NM|2160-0^Creatinine^LN||1.31|mg/dL^mg/dL^UCUM|0.57-1.00|H|||F|||20240510083000",
        "OBX|3|NM|3094-0^Urea nitrogen^LN||18|mg/dL^mg/dL^UCUM|6-24|N|||F|||20240510083000",
        "OBX|4|NM|2951-2^Sodium^LN||139|mmol/L^mmol/L^UCUM|134-144|N|||F|||20240510083000",
        "OBX|5|NM|2823-3^Potassium^LN||4.6|mmol/L^mmol/L^UCUM|3.5-5.2|N|||F|||20240510083000",
        "OBX|6|NM|2075-0^Chloride^LN||101|mmol/L^mmol/L^UCUM|96-106|N|||F|||20240510083000",
        "OBX|7|NM|17861-6^Calcium^LN||9.4|mg/dL^mg/dL^UCUM|8.7-10.2|N|||F|||20240510083000",
        "OBX|8|NM|2885-2^Protein^LN||7.1|g/dL^g/dL^UCUM|6.0-8.5|N|||F|||20240510083000",
        "OBX|9|NM|1751-7^Albumin^LN||4.4|g/dL^g/dL^UCUM|3.8-4.9|N|||F|||20240510083000",
        "NTE|1|L|Creatinine raised \\T\\ repeat in 4 weeks.",
        "",
    ]
)


def reads_ours(msg: Message) -> int:
    """The reads an ORU^R01 → DiagnosticReport + Observation converter makes."""
    n = 0
    for value in (msg.message_type, msg.trigger_event, msg.control_id, msg.version):
        n += bool(value)
    msh = msg.header
    for f in (3, 4, 7, 11):
        n += bool(msh.get(f))
    pid = msg.segment("PID")
    assert pid is not None
    for rep in pid.field(3).repetitions:
        n += bool(rep.get(1)) + bool(rep.get(4)) + bool(rep.get(5))
    for f, c in ((5, 1), (5, 2), (5, 3), (7, 1), (8, 1), (11, 1), (11, 3), (11, 5), (11, 6)):
        n += bool(pid.get(f, c))
    pv1 = msg.segment("PV1")
    assert pv1 is not None
    for f, c in ((2, 1), (3, 1), (7, 1), (7, 2), (19, 1)):
        n += bool(pv1.get(f, c))
    obr = msg.segment("OBR")
    assert obr is not None
    for f, c in ((2, 1), (3, 1), (4, 1), (4, 2), (4, 3), (7, 1), (22, 1), (25, 1)):
        n += bool(obr.get(f, c))
    for obx in msg.segments("OBX"):
        for f, c in ((2, 1), (3, 1), (3, 2), (3, 3), (5, 1), (6, 1), (7, 1), (8, 1), (11, 1)):
            n += bool(obx.get(f, c))
    for nte in msg.segments("NTE"):
        n += bool(nte.text(3))
    return n


def reads_python_hl7(msg: Any) -> int:
    """The same reads through python-hl7's ``extract_field`` (1-based, like ours)."""
    n = 0
    msh = msg.segment("MSH")
    for f, c in ((9, 1), (9, 2), (10, 1), (12, 1), (3, 1), (4, 1), (7, 1), (11, 1)):
        n += bool(msh.extract_field(1, f, 1, c))
    pid = msg.segment("PID")
    for r in range(1, len(pid(3)) + 1):
        n += sum(bool(pid.extract_field(1, 3, r, c)) for c in (1, 4, 5))
    for f, c in ((5, 1), (5, 2), (5, 3), (7, 1), (8, 1), (11, 1), (11, 3), (11, 5), (11, 6)):
        n += bool(pid.extract_field(1, f, 1, c))
    pv1 = msg.segment("PV1")
    for f, c in ((2, 1), (3, 1), (7, 1), (7, 2), (19, 1)):
        n += bool(pv1.extract_field(1, f, 1, c))
    obr = msg.segment("OBR")
    for f, c in ((2, 1), (3, 1), (4, 1), (4, 2), (4, 3), (7, 1), (22, 1), (25, 1)):
        n += bool(obr.extract_field(1, f, 1, c))
    for obx in msg.segments("OBX"):
        for f, c in ((2, 1), (3, 1), (3, 2), (3, 3), (5, 1), (6, 1), (7, 1), (8, 1), (11, 1)):
            n += bool(obx.extract_field(1, f, 1, c))
    for nte in msg.segments("NTE"):
        n += bool(msg.unescape(str(nte(3))))
    return n


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn``, best of three runs of about ``seconds`` / 3 each."""
    fn()
    batch = 1
    while True:
        started = time.perf_counter()
        for _ in range(batch):
            fn()
        if time.perf_counter() - started > 0.05:
            break
        batch *= 2
    best = 0.0
    for _ in range(3):
        count, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds / 3:
            for _ in range(batch):
                fn()
            count += batch
        best = max(best, count / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per figure")
    args = parser.parse_args()
    data = ORU_R01
    raw = data.encode()
    reads = reads_ours(parse_message(data))
    print(
        f"message: ORU^R01 v2.5.1, {len(raw)} bytes, {data.count(chr(13))} segments, {reads} reads"
    )

    figures = {
        "accord parse (str)": rate(lambda: parse_message(data), args.seconds),
        "accord parse (bytes)": rate(lambda: parse_message(raw), args.seconds),
        "accord parse + reads": rate(lambda: reads_ours(parse_message(raw)), args.seconds),
    }
    try:
        import hl7
    except ImportError:
        print("(python-hl7 not installed: pip install hl7==0.4.5 to compare)")
    else:
        assert reads_python_hl7(hl7.parse(data)) == reads
        figures["python-hl7 parse"] = rate(lambda: hl7.parse(raw), args.seconds)
        figures["python-hl7 parse + reads"] = rate(
            lambda: reads_python_hl7(hl7.parse(raw)), args.seconds
        )
    for name, value in figures.items():
        print(f"{name:28s} {value:10,.0f} msg/s  {1e6 / value:8.1f} µs/msg")
    parse, reads_rate = figures["accord parse (bytes)"], figures["accord parse + reads"]
    print(
        f"target parse >= {TARGET_PARSE:,}/s: {'met' if parse >= TARGET_PARSE else 'MISSED'}; "
        f"parse + reads leaves {1e6 / TARGET_CONVERT - 1e6 / reads_rate:.0f} µs/msg "
        f"for conversion at {TARGET_CONVERT:,} msg/s"
    )
    print_result(
        "hl7_parse",
        bytes=len(raw),
        parse_per_s=round(parse),
        parse_reads_per_s=round(reads_rate),
        python_hl7_parse_per_s=round(figures.get("python-hl7 parse", 0)),
        python_hl7_parse_reads_per_s=round(figures.get("python-hl7 parse + reads", 0)),
    )


if __name__ == "__main__":
    main()
