"""Each job keeps its whole ``Submission``: the ``spec`` column (which held only what
the job's columns did not) becomes ``submission``, completed from those columns, and
``cpus_per_task_set`` (whether ``-c`` was given) moves into it, where the other options
as given live.  ``meta.schema_version`` gives way to Alembic's own table.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Columns whose values a submission of the old layout did not repeat.
_FROM_COLUMNS = ("work_dir", "name", "nodes", "ntasks", "cpus_per_task", "mem_per_node", "gpus",
                 "partition", "qos", "account", "time_limit", "time_min", "begin", "nice",
                 "dependency", "stdout", "stderr")
_jobs = sa.table("jobs", sa.column("job_id", sa.BigInteger), sa.column("spec", sa.JSON),
                 sa.column("cpus_per_task_set", sa.Boolean), sa.column("held", sa.Boolean),
                 *(sa.column(name, sa.JSON if name == "gpus" else None) for name in _FROM_COLUMNS))


def upgrade() -> None:
    connection = op.get_bind()
    columns = [_jobs.c.job_id, _jobs.c.spec, _jobs.c.cpus_per_task_set, _jobs.c.held,
               *(_jobs.c[name] for name in _FROM_COLUMNS)]
    for row in connection.execute(sa.select(*columns)).mappings().all():
        submission = {name: row[name] for name in _FROM_COLUMNS}
        submission["hold"] = bool(row["held"])
        submission.update(row["spec"] or {})
        submission.setdefault("cpus_per_task_set", bool(row["cpus_per_task_set"]))
        submission.pop("command", None)  # the job's Command is its own column
        connection.execute(_jobs.update().where(_jobs.c.job_id == row["job_id"])
                           .values(spec=submission))
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("spec", new_column_name="submission")
        batch.drop_column("cpus_per_task_set")
    op.execute("DELETE FROM meta WHERE key = 'schema_version'")


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("cpus_per_task_set", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.alter_column("submission", new_column_name="spec")
    op.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
