"""Master patient index, patient links, review queue and fact keys for $everything.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fact_key",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
    )
    op.create_index("ix_fact_key_seq", "fact_key", ["seq", "key"])
    op.create_table(
        "mpi_entry",
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("features", sa.Text(), nullable=False),
    )
    op.create_table(
        "mpi_block",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("patient_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_mpi_block_patient", "mpi_block", ["patient_id"])
    op.create_table(
        "patient_link",
        sa.Column("patient_id", sa.String(64), primary_key=True),
        sa.Column("other_id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
    )
    op.create_index("ix_patient_link_other", "patient_link", ["other_id"])
    op.create_table(
        "mpi_candidate",
        sa.Column("id", Seq, primary_key=True, autoincrement=True),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("other_id", sa.String(64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("decided_at", sa.String(32), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.UniqueConstraint("patient_id", "other_id", name="uq_mpi_candidate_pair"),
    )
    op.create_index("ix_mpi_candidate_status", "mpi_candidate", ["status", "id"])


def downgrade() -> None:
    op.drop_table("mpi_candidate")
    op.drop_table("patient_link")
    op.drop_table("mpi_block")
    op.drop_table("mpi_entry")
    op.drop_table("fact_key")
