"""Jobs record the CPUs they hold on each of their nodes: a job whose tasks spread
over nodes (``-n`` without ``-N``) holds different shares of them, and after a restart
the controller counts what each node gives it from this record.  Older rows get an
empty list (their shares were the same on every node).

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("node_cpus", _JSON, nullable=False,
                                   server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("node_cpus")
