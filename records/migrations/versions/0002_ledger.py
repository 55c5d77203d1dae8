"""The Merkle ledger: leaves, complete-subtree nodes, signed checkpoints.

Append-only tables (rows are never updated or deleted); they must match the
tables declared in ``ledger.storage``.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# On SQLite an INTEGER PRIMARY KEY is the rowid itself: no second index.
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_leaf",
        sa.Column("leaf_index", Position, primary_key=True, autoincrement=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("version_seq", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("version_seq", name="uq_ledger_leaf_version_seq"),
    )
    op.create_table(
        "ledger_node",
        sa.Column("level", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("node_index", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_checkpoint",
        sa.Column("tree_size", Position, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.String(26), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_checkpoint")
    op.drop_table("ledger_node")
    op.drop_table("ledger_leaf")
