"""v1: the people table, with one `name` column.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE IF NOT EXISTS people (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)")


def downgrade() -> None:
    raise NotImplementedError("releases never migrate down (docs/migrations.md)")
