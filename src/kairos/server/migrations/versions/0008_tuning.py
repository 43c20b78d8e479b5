"""The self-tuner's decisions (``[controller] auto``), one row each: what ``kairos
tune`` shows, and where a restarted controller resumes the configuration it applied
last and the time of its next tuning.

Revision ID: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "tuning",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time", sa.Double, nullable=False),
        sa.Column("applied", sa.Boolean, nullable=False),
        sa.Column("chosen", sa.Text, nullable=False),
        sa.Column("decision", _JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tuning")
