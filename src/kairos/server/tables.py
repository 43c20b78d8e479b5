"""The database's tables as they are now (the newest migration's result).

``jobs`` holds one row per ``kairos.model.LiveJob``: its columns are the record's
fields (a test checks they agree), typed for SQLite and PostgreSQL alike.  ``nodes``
holds the cluster's nodes (``kairos.server.nodes.NodeStatus``), ``steps`` the jobs'
steps (``kairos.model.step.LiveStep``), ``tuning`` the self-tuner's decisions
(``kairos.server.tuning``).  ``meta`` keeps the job-id high-water mark.  Changes to
any go through a new migration in ``kairos/server/migrations/versions`` (Alembic),
never by editing a table here alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

metadata = sa.MetaData()


def _required(name: str, type_) -> sa.Column:
    return sa.Column(name, type_, nullable=False)


def _optional(name: str, type_) -> sa.Column:
    return sa.Column(name, type_, nullable=True)


jobs = sa.Table(
    "jobs", metadata,
    sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
    _optional("array_job_id", sa.BigInteger),
    _optional("array_task_id", sa.Integer),
    _required("name", sa.Text),
    _required("user", sa.Text),
    _required("uid", sa.Integer),
    _required("gid", sa.Integer),
    _required("group", sa.Text),
    _required("account", sa.Text),
    _required("partition", sa.Text),
    _required("qos", sa.Text),
    _required("state", sa.Text),
    _required("reason", sa.Text),
    _required("priority", sa.Double),
    _required("nice", sa.Integer),
    _required("held", sa.Boolean),
    _required("submit_time", sa.Double),
    _optional("eligible_time", sa.Double),
    _optional("start_time", sa.Double),
    _optional("end_time", sa.Double),
    _optional("expected_start", sa.Double),
    _optional("time_limit", sa.Double),
    _optional("time_min", sa.Double),
    _required("nodes", sa.Integer),
    _required("ntasks", sa.Integer),
    _required("cpus_per_task", sa.Integer),
    _required("cpus", sa.Integer),
    _optional("mem_per_node", sa.BigInteger),
    _required("gpus", JSON),
    _optional("dependency", sa.Text),
    _optional("begin", sa.Double),
    _required("work_dir", sa.Text),
    _optional("stdout", sa.Text),
    _optional("stderr", sa.Text),
    _required("command", sa.Text),
    _optional("node_list", sa.Text),
    _required("node_cpus", JSON),
    _required("cpu_ids", JSON),
    _required("gpu_ids", JSON),
    _required("exit_code", sa.Integer),
    _required("signal", sa.Integer),
    _optional("cpu_time", sa.Double),
    _optional("max_rss", sa.BigInteger),
    _required("restarts", sa.Integer),
    _optional("submission", JSON),  #: the Submission: everything needed to (re)start the job
    _optional("supervisor_pid", sa.Integer),
    _optional("array_task_count", sa.Integer),
    _optional("array_task_min", sa.Integer),
    _optional("array_task_max", sa.Integer),
    _optional("array_task_step", sa.Integer),
    _required("allocation", sa.Boolean),
    _optional("expected_end", sa.Double),
    _optional("admin_priority", sa.Double),
    _optional("array_limit", sa.Integer),
    _required("updated", sa.Double),
    _optional("comment", sa.Text),
    _optional("wckey", sa.Text),
    sa.Index("ix_jobs_state", "state"),
    sa.Index("ix_jobs_user", "user"),
    sa.Index("ix_jobs_submit_time", "submit_time"),
    sa.Index("ix_jobs_end_time", "end_time"),
    sa.Index("ix_jobs_array_job_id", "array_job_id"),
)

nodes = sa.Table(
    "nodes", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    _required("state", sa.Text),
    _optional("reason", sa.Text),
    _optional("reason_time", sa.Double),
    _optional("reason_user", sa.Text),
    _optional("addr", sa.Text),
    _optional("port", sa.Integer),
    _optional("last_seen", sa.Double),
    _required("boot_time", sa.Double),
    _required("version", sa.Text),
    _required("static", sa.Boolean),
    _required("responding", sa.Boolean),
    _required("cpus", sa.Integer),
    _required("mem_mib", sa.BigInteger),
    _required("gpus", JSON),
    _required("features", JSON),
)

steps = sa.Table(
    "steps", metadata,
    sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("step_id", sa.Integer, primary_key=True, autoincrement=False),
    _required("name", sa.Text),
    _required("user", sa.Text),
    _required("state", sa.Text),
    _required("node_list", sa.Text),
    _required("nodes", sa.Integer),
    _required("ntasks", sa.Integer),
    _required("cpus", sa.Integer),
    _required("tasks_per_node", sa.Text),
    _optional("start_time", sa.Double),
    _optional("end_time", sa.Double),
    _required("exit_code", sa.Integer),
    _required("signal", sa.Integer),
    _optional("cpu_time", sa.Double),
    _optional("max_rss", sa.BigInteger),
    _required("command", sa.Text),
    _required("reason", sa.Text),
    _required("layout", JSON),
    _required("cpus_by_node", JSON),
    _required("waiting_for", JSON),
    _required("overlap", sa.Boolean),
    _required("updated", sa.Double),
    sa.Index("ix_steps_state", "state"),
)

tuning = sa.Table(
    "tuning", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _required("time", sa.Double),
    _required("applied", sa.Boolean),
    _required("chosen", sa.Text),
    _required("decision", JSON),  #: ``kairos.sim.tuning.Decision.as_dict()``
)

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
