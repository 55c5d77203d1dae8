"""Resource versions and the search index.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# kind -> its value columns
INDEX_KINDS: dict[str, list[sa.Column[object]]] = {
    "token": [sa.Column("system", sa.Text()), sa.Column("code", sa.Text(), nullable=False)],
    "string": [sa.Column("value", sa.Text(), nullable=False)],
    "date": [
        sa.Column("low", sa.String(26), nullable=False),
        sa.Column("high", sa.String(26), nullable=False),
    ],
    "reference": [
        sa.Column("target_type", sa.String(64), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=False),
    ],
    "number": [sa.Column("value", sa.Float(), nullable=False)],
    "quantity": [
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("system", sa.Text()),
        sa.Column("code", sa.Text()),
    ],
    "uri": [sa.Column("value", sa.Text(), nullable=False)],
}
VALUE_COLUMN = {
    "token": "code",
    "string": "value",
    "date": "low",
    "reference": "target_id",
    "number": "value",
    "quantity": "value",
    "uri": "value",
}


def upgrade() -> None:
    op.create_table(
        "resource_version",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.String(26), nullable=False),
        sa.Column("method", sa.String(6), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("superseded_seq", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint(
            "resource_type", "resource_id", "version_id", name="uq_resource_version"
        ),
    )
    op.create_index("ix_version_current", "resource_version", ["resource_type", "superseded_seq"])
    op.create_index("ix_version_updated", "resource_version", ["resource_type", "last_updated"])
    for kind, columns in INDEX_KINDS.items():
        name = f"idx_{kind}"
        op.create_table(
            name,
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("resource_type", sa.String(64), nullable=False),
            sa.Column("param", sa.String(64), nullable=False),
            *columns,
        )
        op.create_index(f"ix_{name}_seq", name, ["seq"])
        op.create_index(f"ix_{name}_value", name, ["resource_type", "param", VALUE_COLUMN[kind]])


def downgrade() -> None:
    for kind in reversed(list(INDEX_KINDS)):
        op.drop_table(f"idx_{kind}")
    op.drop_table("resource_version")
