"""Alembic migrations of the accounting database (run by ``kairos.server.store``)."""
