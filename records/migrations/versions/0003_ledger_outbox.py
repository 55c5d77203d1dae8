"""The ledger outbox, and the source of each version.

Each resource version commits together with its pending ledger entry; the
sequencer moves entries from the outbox into the Merkle log. ``source`` keeps
who wrote a version (also for deletions, which have no resource body).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("resource_version") as batch:
        batch.add_column(sa.Column("source", sa.Text(), nullable=True))
    op.create_table(
        "ledger_outbox",
        sa.Column("version_seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_outbox")
    with op.batch_alter_table("resource_version") as batch:
        batch.drop_column("source")
