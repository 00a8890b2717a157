"""v3's contract: drop `name` and the trigger that kept it in step.

Only once no v1 or v2 serves (the driver checks, docs/migrations.md): they read `name`. It
backfills any row still lacking first/last names first. Not reversible: the data of `name` is gone
(first/last hold it), and v1/v2 cannot run on the result; the release is frozen from here.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE people SET name = name WHERE first_name IS NULL")
    op.execute("DROP TRIGGER IF EXISTS people_sync_names ON people")
    op.execute("DROP FUNCTION IF EXISTS people_sync_names()")
    op.execute("ALTER TABLE people DROP COLUMN IF EXISTS name")


def downgrade() -> None:
    raise NotImplementedError("releases never migrate down (docs/migrations.md)")
