"""The first layout: one ``jobs`` row per job, a ``meta`` table for the job-id mark.

Databases written before migrations existed carry this layout and a ``schema_version``
of 1 in ``meta``; ``kairos.server.store`` stamps them with this revision.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def _required(name: str, type_) -> sa.Column:
    return sa.Column(name, type_, nullable=False)


def _optional(name: str, type_) -> sa.Column:
    return sa.Column(name, type_, nullable=True)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
        _optional("array_job_id", sa.BigInteger), _optional("array_task_id", sa.Integer),
        _required("name", sa.Text), _required("user", sa.Text), _required("uid", sa.Integer),
        _required("gid", sa.Integer), _required("group", sa.Text), _required("account", sa.Text),
        _required("partition", sa.Text), _required("qos", sa.Text), _required("state", sa.Text),
        _required("reason", sa.Text), _required("priority", sa.Double),
        _required("nice", sa.Integer), _required("held", sa.Boolean),
        _required("submit_time", sa.Double), _optional("eligible_time", sa.Double),
        _optional("start_time", sa.Double), _optional("end_time", sa.Double),
        _optional("expected_start", sa.Double), _optional("time_limit", sa.Double),
        _optional("time_min", sa.Double), _required("nodes", sa.Integer),
        _required("ntasks", sa.Integer), _required("cpus_per_task", sa.Integer),
        _required("cpus", sa.Integer), _optional("mem_per_node", sa.BigInteger),
        _required("gpus", _JSON), _optional("dependency", sa.Text), _optional("begin", sa.Double),
        _required("work_dir", sa.Text), _optional("stdout", sa.Text), _optional("stderr", sa.Text),
        _required("command", sa.Text), _optional("node_list", sa.Text),
        _required("cpu_ids", _JSON), _required("gpu_ids", _JSON), _required("exit_code", sa.Integer),
        _required("signal", sa.Integer), _optional("cpu_time", sa.Double),
        _optional("max_rss", sa.BigInteger), _required("restarts", sa.Integer),
        _optional("spec", _JSON), _optional("supervisor_pid", sa.Integer),
        _optional("array_task_count", sa.Integer), _optional("array_task_min", sa.Integer),
        _optional("array_task_max", sa.Integer), _optional("array_task_step", sa.Integer),
        _optional("expected_end", sa.Double), _optional("admin_priority", sa.Double),
        _optional("array_limit", sa.Integer), _required("cpus_per_task_set", sa.Boolean),
        _required("updated", sa.Double),
    )
    for column in ("state", "user", "submit_time", "end_time", "array_job_id"):
        op.create_index(f"ix_jobs_{column}", "jobs", [column])
    op.create_table(
        "meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("meta")
    op.drop_table("jobs")
