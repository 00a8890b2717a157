"""A *breaking* expand, kept to rehearse the compatibility gate: it renames `name` to `full_name`.

Not backward compatible: v1 still writes and reads `name`, so every v1 request fails once this is
applied. The gate applies it to a scratch copy first and catches it there (docs/migrations.md).
It branches from 0001 and is never part of the good path (0001 -> 0002 -> 0003).

Revision ID: 0002b
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002b"
down_revision = "0001"
branch_labels = ("breaking",)
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE people RENAME COLUMN name TO full_name")


def downgrade() -> None:
    raise NotImplementedError("releases never migrate down (docs/migrations.md)")
