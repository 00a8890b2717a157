"""Alembic's environment: online migrations only, on the URL `app/migrate.py` puts in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    # One transaction per revision: PostgreSQL's DDL is transactional, so a failed revision leaves
    # nothing half-applied and the command is safe to run again.
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
