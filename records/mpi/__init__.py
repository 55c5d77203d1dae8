"""Master patient index: which known Patients an incoming Patient is the same person as.

Features (``demographics``) are normalised once and stored; blocking keys
(``blocking_keys``) pick the few candidates worth comparing; ``compare``
weighs the evidence (Fellegi-Sunter); ``classify`` turns it into link, review
or separate. ``records.mpi.matcher`` does all of it against the store.
"""

from records.mpi.blocking import blocking_keys
from records.mpi.demographics import Demographics, demographics
from records.mpi.scoring import DEFAULT_THRESHOLDS, Comparison, Thresholds, classify, compare

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Comparison",
    "Demographics",
    "Thresholds",
    "blocking_keys",
    "classify",
    "compare",
    "demographics",
]
