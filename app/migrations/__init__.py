"""Alembic revisions of the sample's people table (docs/migrations.md); run by `app/migrate.py`."""
