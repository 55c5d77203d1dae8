"""HL7 v2 (2.3-2.8) messages → FHIR R4 resources, after the HL7 "V2-to-FHIR" guide.

    conversion = convert(parse_message(raw), source="st-mary-adt")
    conversion.resources   # [Patient, Encounter, …] referenced resources first
    conversion.warnings    # what was dropped or guessed, with its v2 location

Supported: ADT A01 A03 A04 A08 A28 A31 A40, ORU^R01, VXU^V04, RDE^O11,
RDS^O13 (``SUPPORTED``). Every resource has a deterministic id derived from
the source identifiers it represents (see ``ids``), so a replayed message
updates what it created. Pure: no I/O, standard library only.

One module per concern: ``dispatch`` (entry point), ``context`` (per-message
state), ``timestamps`` (DTM), ``datatypes`` (NM, CWE, CX, XPN, XAD, XTN, XCN, FT),
``terminology`` (code systems, v2 tables), ``ids`` (namespaces), then one
module per resource and ``adt``, ``lab``, ``orders`` for message structures.
"""

from .datatypes import Decimal
from .dispatch import SUPPORTED, convert

__all__ = ["SUPPORTED", "Decimal", "convert"]
