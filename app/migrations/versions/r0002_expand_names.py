"""v2's expand: `first_name`/`last_name` beside `name`, kept in step, and backfilled.

Backward compatible with v1: `name` stays, becomes nullable (v3 writes no `name`), and a trigger
fills whichever side a row lacks, so rows v1 writes during the release get first/last names and
rows v3 writes get a `name` while v1 or v2 may still read it. Then every existing row is backfilled.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE people ADD COLUMN IF NOT EXISTS first_name TEXT, ADD COLUMN IF NOT EXISTS last_name TEXT")
    op.execute("ALTER TABLE people ALTER COLUMN name DROP NOT NULL")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION people_sync_names() RETURNS trigger AS $$
        BEGIN
            IF NEW.first_name IS NULL AND NEW.name IS NOT NULL THEN
                NEW.first_name := split_part(NEW.name, ' ', 1);
                NEW.last_name := substr(NEW.name, length(split_part(NEW.name, ' ', 1)) + 2);
            ELSIF NEW.name IS NULL AND NEW.first_name IS NOT NULL THEN
                NEW.name := CASE WHEN coalesce(NEW.last_name, '') = '' THEN NEW.first_name
                                 ELSE NEW.first_name || ' ' || NEW.last_name END;
            END IF;
            RETURN NEW;
        END
        $$ LANGUAGE plpgsql
        """
    )
    op.execute("DROP TRIGGER IF EXISTS people_sync_names ON people")
    op.execute(
        "CREATE TRIGGER people_sync_names BEFORE INSERT OR UPDATE ON people "
        "FOR EACH ROW EXECUTE FUNCTION people_sync_names()"
    )
    # Backfill (the trigger fills first/last for each row touched).
    op.execute("UPDATE people SET name = name WHERE first_name IS NULL")


def downgrade() -> None:
    raise NotImplementedError("releases never migrate down (docs/migrations.md)")
