"""Tables: one row per resource version, plus one search-index table per value kind.

``resource_version.seq`` is a global, monotonic sequence. A version is *current*
while ``superseded_seq`` is NULL; a search taken "as of" a sequence number
``snap`` sees exactly the versions with ``seq <= snap`` and not superseded by
``snap``. That is what keeps paging stable while data is added.

Index rows belong to one version (its ``seq``) and are never rewritten.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid).
Seq = BigInteger().with_variant(Integer(), "sqlite")

resource_version = Table(
    "resource_version",
    metadata,
    Column("seq", Seq, primary_key=True, autoincrement=True),
    Column("resource_type", String(64), nullable=False),
    Column("resource_id", String(64), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", String(26), nullable=False),  # UTC sort key
    Column("method", String(6), nullable=False),  # create | update | delete
    Column("deleted", Boolean, nullable=False),
    Column("data", LargeBinary, nullable=True),  # the validated JSON, served as is
    Column("superseded_seq", BigInteger, nullable=True),
    Column("source", Text(), nullable=True),  # meta.source: who wrote it, kept for deletes too
    UniqueConstraint("resource_type", "resource_id", "version_id", name="uq_resource_version"),
)
Index("ix_version_current", resource_version.c.resource_type, resource_version.c.superseded_seq)
Index("ix_version_updated", resource_version.c.resource_type, resource_version.c.last_updated)


def _index_table(name: str, *columns: Column[object]) -> Table:
    table = Table(
        name,
        metadata,
        Column("seq", BigInteger, nullable=False),
        Column("resource_type", String(64), nullable=False),
        Column("param", String(64), nullable=False),
        *columns,
    )
    Index(f"ix_{name}_seq", table.c.seq)
    return table


idx_token = _index_table(
    "idx_token", Column("system", Text()), Column("code", Text(), nullable=False)
)
Index("ix_idx_token_value", idx_token.c.resource_type, idx_token.c.param, idx_token.c.code)

idx_string = _index_table("idx_string", Column("value", Text(), nullable=False))
Index("ix_idx_string_value", idx_string.c.resource_type, idx_string.c.param, idx_string.c.value)

idx_date = _index_table(
    "idx_date",
    Column("low", String(26), nullable=False),
    Column("high", String(26), nullable=False),
)
Index("ix_idx_date_value", idx_date.c.resource_type, idx_date.c.param, idx_date.c.low)

idx_reference = _index_table(
    "idx_reference",
    Column("target_type", String(64), nullable=False),
    Column("target_id", Text(), nullable=False),
)
Index(
    "ix_idx_reference_value",
    idx_reference.c.resource_type,
    idx_reference.c.param,
    idx_reference.c.target_id,
)

idx_number = _index_table("idx_number", Column("value", Float, nullable=False))
Index("ix_idx_number_value", idx_number.c.resource_type, idx_number.c.param, idx_number.c.value)

idx_quantity = _index_table(
    "idx_quantity",
    Column("value", Float, nullable=False),
    Column("system", Text()),
    Column("code", Text()),
)
Index(
    "ix_idx_quantity_value",
    idx_quantity.c.resource_type,
    idx_quantity.c.param,
    idx_quantity.c.value,
)

idx_uri = _index_table("idx_uri", Column("value", Text(), nullable=False))
Index("ix_idx_uri_value", idx_uri.c.resource_type, idx_uri.c.param, idx_uri.c.value)

# Pending ledger entries, committed with their version (transactional outbox).
ledger_outbox = Table(
    "ledger_outbox",
    metadata,
    Column("version_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("entry", LargeBinary, nullable=False),
)

# Feed sources: each authenticates with its own bearer token (stored hashed).
ingest_source = Table(
    "ingest_source",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", String(26), nullable=False),
)

# Every raw feed message, committed before the feed gets its 2xx or ACK.
inbox_message = Table(
    "inbox_message",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # hl7v2 | ncpdp | dispense-csv | wearables
    Column("received_at", String(26), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("params", Text(), nullable=False),  # JSON: what the body needs besides itself
    Column("status", String(10), nullable=False),  # received | converted | failed
    Column("error", Text(), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("summary", Text(), nullable=True),  # JSON: what the conversion stored
    UniqueConstraint("source", "kind", "sha256", name="uq_inbox_message_content"),
)
Index("ix_inbox_message_status", inbox_message.c.status, inbox_message.c.id)

# Dedupe keys of a version ("the same fact"): a shared identifier, or the same
# code + time + value. Patient/$everything shows each fact once, with every source.
fact_key = Table(
    "fact_key",
    metadata,
    Column("seq", BigInteger, nullable=False),
    Column("key", Text(), nullable=False),
)
Index("ix_fact_key_seq", fact_key.c.seq, fact_key.c.key)  # covering: $everything reads keys only

# Master patient index: the match features of each current Patient ...
mpi_entry = Table(
    "mpi_entry",
    metadata,
    Column("patient_id", String(64), primary_key=True),
    Column("features", Text(), nullable=False),  # JSON of records.mpi.Demographics
)

# ... and its blocking keys: only patients sharing a key are ever compared.
mpi_block = Table(
    "mpi_block",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("patient_id", String(64), primary_key=True),
)
Index("ix_mpi_block_patient", mpi_block.c.patient_id)

# The links of each current Patient (Patient.link), one row per direction, so the
# set of linked patients is a graph walk rather than a scan of resource bodies.
patient_link = Table(
    "patient_link",
    metadata,
    Column("patient_id", String(64), primary_key=True),
    Column("other_id", String(64), primary_key=True),
    Column("type", String(16), nullable=False),  # seealso | replaces | replaced-by | refer
)
Index("ix_patient_link_other", patient_link.c.other_id)

# Possible matches waiting for a person to decide.
mpi_candidate = Table(
    "mpi_candidate",
    metadata,
    Column("id", Seq, primary_key=True, autoincrement=True),
    Column("patient_id", String(64), nullable=False),
    Column("other_id", String(64), nullable=False),
    Column("score", Float, nullable=False),
    Column("detail", Text(), nullable=False),  # JSON: the weight of each compared field
    Column("status", String(10), nullable=False),  # pending | accepted | rejected
    Column("created_at", String(32), nullable=False),
    Column("decided_at", String(32), nullable=True),
    Column("decided_by", Text(), nullable=True),
    UniqueConstraint("patient_id", "other_id", name="uq_mpi_candidate_pair"),
)
Index("ix_mpi_candidate_status", mpi_candidate.c.status, mpi_candidate.c.id)

INDEX_TABLES = {
    "token": idx_token,
    "string": idx_string,
    "date": idx_date,
    "reference": idx_reference,
    "number": idx_number,
    "quantity": idx_quantity,
    "uri": idx_uri,
}
