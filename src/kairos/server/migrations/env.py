"""Alembic's environment: migrations run on the connection ``Store`` hands over (there
is no alembic.ini; ``kairos.server.store.migrate`` configures everything)."""

from __future__ import annotations

from alembic import context

from kairos.server.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
