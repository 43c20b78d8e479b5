"""The cluster's nodes: what each offers, whether it is in service and why not.

Kept so that an admin's DRAIN or DOWN, with its reason, outlives a controller restart,
and so that dynamic nodes, and the jobs running on them, are known again before their
daemons register anew.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("reason_time", sa.Double, nullable=True),
        sa.Column("reason_user", sa.Text, nullable=True),
        sa.Column("addr", sa.Text, nullable=True),
        sa.Column("port", sa.Integer, nullable=True),
        sa.Column("last_seen", sa.Double, nullable=True),
        sa.Column("boot_time", sa.Double, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("static", sa.Boolean, nullable=False),
        sa.Column("responding", sa.Boolean, nullable=False),
        sa.Column("cpus", sa.Integer, nullable=False),
        sa.Column("mem_mib", sa.BigInteger, nullable=False),
        sa.Column("gpus", _JSON, nullable=False),
        sa.Column("features", _JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("nodes")
