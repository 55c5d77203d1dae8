"""Namespaces: resource ids and ``Identifier.system`` from v2 assigning authorities.

An HL7 v2 identifier means something only with its assigning authority (an
HD: namespace id, universal id, universal id type). Both the resource ids
and the identifier systems derive from it, so that:

* the same MRN from two hospitals never collides, and a replayed message, a
  later A08 or a lab result for the same MRN lands on the same ``Patient/id``;
* an identifier without an authority falls back to the sender (MSH-4), and
  without MSH-4 to the feed's ``source``, so it is still namespaced.

Ids depend only on source identifiers, never on message control ids or
positions that a sender may renumber, except as a last resort.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote

from ...base import stable_id
from .context import Context

__all__ = ["HD", "authority_key", "identifier_system", "unique_id"]

HD = tuple[str, str, str]
"""An assigning authority: (universal id, universal id type, namespace id)."""

_OID = re.compile(r"[0-2](\.(0|[1-9]\d*))+", re.ASCII)
_UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", re.ASCII)
# Authorities whose identifiers have a registered FHIR system (FHIR identifier registry).
_REGISTERED = {
    ("SSA", "SS"): "http://hl7.org/fhir/sid/us-ssn",
    ("NPI", ""): "http://hl7.org/fhir/sid/us-npi",
    ("NPI", "NPI"): "http://hl7.org/fhir/sid/us-npi",
}


def authority_key(authority: HD, ctx: Context) -> str:
    """The namespace part of a stable id: the authority's universal id, else its
    namespace id, else the sender's."""
    return authority[0] or authority[2] or ctx.sender_key


def identifier_system(authority: HD, id_type: str, ctx: Context) -> str:
    """``Identifier.system`` for an identifier assigned by ``authority``.

    An OID (HD.2 with HD.3 ``ISO``, or an OID in HD.1) gives ``urn:oid:``, a
    UUID ``urn:uuid:``, an HD.3 ``URI`` itself; a few authorities have a
    registered system (SSA social security numbers, NPI). Otherwise
    ``urn:accord:hl7v2:<authority>:<type>``: an authority name alone does not
    tell apart the MRNs and account numbers a hospital assigns. No authority
    at all means the sender's namespace.
    """
    if not (authority[0] or authority[2]):
        authority = ctx.sender
    return _system(*authority, id_type)


@lru_cache(maxsize=1024)
def _system(universal: str, universal_type: str, namespace: str, id_type: str) -> str:
    registered = _REGISTERED.get((namespace.upper(), id_type.upper()))
    if registered is not None:
        return registered
    kind = universal_type.upper()
    if universal:
        if kind in ("ISO", "") and _OID.fullmatch(universal):
            return "urn:oid:" + universal
        if kind in ("UUID", "") and _UUID.fullmatch(universal):
            return "urn:uuid:" + universal.lower()
        if kind in ("URI", "URL") and ":" in universal and " " not in universal:
            return universal
    if _OID.fullmatch(namespace):
        return "urn:oid:" + namespace
    name = quote(namespace or universal, safe="")
    if id_type:
        return f"urn:accord:hl7v2:{name}:{quote(id_type, safe='')}"
    return f"urn:accord:hl7v2:{name}"


def unique_id(ctx: Context, kind: str, *parts: str) -> str:
    """``stable_id(kind, *parts)``, told apart from an earlier identical one in the same
    message by its rank (the second NK1 naming the same person and relation, an OBR
    sent twice), so that no two resources of one conversion share an id."""
    base = stable_id(kind, *parts)
    count = ctx.seen.get(base, 0) + 1
    ctx.seen[base] = count
    return base if count == 1 else stable_id(kind, *parts, f"#{count}")
