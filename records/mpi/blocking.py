"""Blocking keys: only patients that share a key are ever compared.

Comparing a new patient with every known one is quadratic; blocking makes it
a few index lookups. Each key is built so that a likely error in one field
leaves another key intact, and so that no key gathers a crowd:

- ``fy`` Soundex of each family word + birth year + given initial: survives
  typos in the name and in the day or month. (Soundex and year alone would
  put ~200 Smiths born in one year in a block of a million patients.)
- ``dg`` full birth date, month and day in sorted order, + the initial of any
  name: survives a surname change, swapped day and month, swapped given and
  family names.
- ``fd`` Soundex of each family word + month and day + given initial:
  survives a typo in the birth year.
- ``pn`` postcode + Soundex of the first given name, and of each family
  word: survives a wrong or missing birth date (and, with the family name, a
  patient called by a middle name or an initial).
- ``ph``, ``em``, ``id``: each phone, e-mail, identifier: survive everything
  else that a person's details can go through.

Initials are those of the formal names a nickname stands for (Bill -> W), so
Bill and William share blocks. A missing value produces no key: a key built
from an empty birth date would hold every patient without one.
"""

from __future__ import annotations

import hashlib

from records.mpi.demographics import Demographics
from records.mpi.nicknames import canonical_names
from records.mpi.similarity import soundex

__all__ = ["blocking_keys"]

_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "van", "von", "der", "den", "da"})


def blocking_keys(d: Demographics) -> frozenset[str]:
    keys: set[str] = set()
    family_words = [w for f in d.family for w in f.split() if w not in _PARTICLES][:4]
    family_codes = {code for code in map(soundex, family_words) if code}
    given_initials = {name[0] for g in d.given[:2] for name in canonical_names(g)}
    first_given = canonical_names(d.given[0]) if d.given else ()
    first_given_codes = {code for code in map(soundex, first_given) if code}
    date = d.birth_date
    if date:
        year = date[:4]
        keys.update(f"fy:{code}:{year}:{i}" for code in family_codes for i in given_initials)
        if len(date) == 10:
            month, day = sorted((date[5:7], date[8:10]))
            initials = given_initials | {w[0] for w in family_words}
            keys.update(f"dg:{year}-{month}-{day}:{i}" for i in initials)
            keys.update(
                f"fd:{code}:{month}-{day}:{i}" for code in family_codes for i in given_initials
            )
    if d.postcode:
        postcode = _short(d.postcode)
        keys.update(f"pn:{postcode}:{code}" for code in first_given_codes | family_codes)
    keys.update(f"ph:{_short(phone)}" for phone in d.phone)
    keys.update(f"em:{_short(email)}" for email in d.email)
    keys.update(f"id:{_digest(system + '|' + value)}" for system, value in d.identifiers)
    return frozenset(keys)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _short(text: str) -> str:
    return text if len(text) <= 100 else _digest(text)
