"""Alembic migrations of the state store, run by ``StateStore.upgrade`` (no alembic.ini)."""
