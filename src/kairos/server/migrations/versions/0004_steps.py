"""Job steps (``srun``): one row per step, what it ran where and how it ended, for
``sacct`` and for the controller to know its running steps again after a restart.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "steps",
        sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("step_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("user", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("node_list", sa.Text, nullable=False),
        sa.Column("nodes", sa.Integer, nullable=False),
        sa.Column("ntasks", sa.Integer, nullable=False),
        sa.Column("cpus", sa.Integer, nullable=False),
        sa.Column("tasks_per_node", sa.Text, nullable=False),
        sa.Column("start_time", sa.Double, nullable=True),
        sa.Column("end_time", sa.Double, nullable=True),
        sa.Column("exit_code", sa.Integer, nullable=False),
        sa.Column("signal", sa.Integer, nullable=False),
        sa.Column("cpu_time", sa.Double, nullable=True),
        sa.Column("max_rss", sa.BigInteger, nullable=True),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("layout", _JSON, nullable=False),
        sa.Column("cpus_by_node", _JSON, nullable=False),
        sa.Column("waiting_for", _JSON, nullable=False),
        sa.Column("overlap", sa.Boolean, nullable=False),
        sa.Column("updated", sa.Double, nullable=False),
    )
    op.create_index("ix_steps_state", "steps", ["state"])


def downgrade() -> None:
    op.drop_table("steps")
