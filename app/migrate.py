"""`python -m zero_downtime.app.migrate`: the sample's migration commands (Alembic, psycopg).

The database is `APP_DATABASE_URL` (never a flag: a URL may hold a password, and argv is visible).

    upgrade REV            apply the Alembic revisions up to REV (0002 expand, 0003 contract);
                           safe to run again (already applied: nothing to do)
    current                print the database's revision
    compat --old-schema N --new-schema M --to REV
                           the compatibility gate: build a scratch database at the production
                           database's revision, apply the revisions up to REV to it, and run the
                           old version's code (schema version N) against it: write a person, read it
                           back, and read one that version M wrote. The production database is only
                           read. The scratch database is always dropped.

Exit 0 when it worked, 1 when a migration or the smoke test failed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from .people import SCHEMA_VERSIONS, PeopleStore

SCRIPTS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1).replace("postgres://", "postgresql+psycopg://", 1)
    cfg.set_main_option("sqlalchemy.url", sa_url.replace("%", "%%"))  # configparser interpolation
    return cfg


def upgrade(url: str, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])


def _with_database(url: str, name: str) -> str:
    """`url` naming database `name` instead (query and credentials kept)."""
    from urllib.parse import urlsplit

    return urlsplit(url)._replace(path="/" + name).geturl()


def compat(url: str, old_schema: int, new_schema: int, revision: str, out: Any = sys.stdout) -> bool:
    """The gate: True when the old version works on a scratch copy migrated to `revision`."""
    import psycopg
    from psycopg import sql
    from starlette.testclient import TestClient

    from .service import create_app
    from .settings import Settings

    at = current(url)
    scratch = f"zdd_compat_{uuid.uuid4().hex[:12]}"
    admin = _with_database(url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    scratch_url = _with_database(url, scratch)
    try:
        if at is not None:
            upgrade(scratch_url, at)
        print(f"scratch database at production's revision {at or '(none)'}", file=out)
        try:
            upgrade(scratch_url, revision)
        except Exception as exc:
            print(f"FAILED: the revisions up to {revision} do not apply: {exc}", file=out)
            return False
        print(f"scratch database migrated to {revision}", file=out)
        settings = Settings(version=f"schema-{old_schema}", database_url=scratch_url, schema_version=old_schema)
        problems = []
        with TestClient(create_app(settings)) as client:
            # The old version's own write and read, as its users make them.
            made = client.post("/people", json={"name": "Ada Lovelace"})
            if made.status_code != 201:
                problems.append(f"write answered {made.status_code} {made.text[:200]}")
            else:
                got = client.get(f"/people/{made.json()['id']}")
                if got.status_code != 200 or got.json().get("name") != "Ada Lovelace":
                    problems.append(f"read back answered {got.status_code} {got.text[:200]}")
            # A row the new version writes, read by the old version (both serve during the release).
            newer = PeopleStore(scratch_url, new_schema)
            try:
                written_by_new = newer.add("Grace Hopper")
            except Exception as exc:
                problems.append(f"schema version {new_schema} cannot write: {str(exc).splitlines()[0]}")
            else:
                other = client.get(f"/people/{written_by_new}")
                if other.status_code != 200 or other.json().get("name") != "Grace Hopper":
                    problems.append(
                        f"reading a row schema version {new_schema} wrote answered {other.status_code} "
                        f"{other.text[:200]}"
                    )
            finally:
                newer.close()
        if problems:
            print(f"FAILED: schema version {old_schema} on {revision}: " + "; ".join(problems), file=out)
            return False
        print(f"passed: schema version {old_schema} writes and reads on {revision}", file=out)
        return True
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zero_downtime.app.migrate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    u = sub.add_parser("upgrade", help="apply revisions up to REV")
    u.add_argument("revision")
    sub.add_parser("current", help="print the database's revision")
    c = sub.add_parser("compat", help="the compatibility gate on a scratch database")
    c.add_argument("--old-schema", type=int, required=True, choices=SCHEMA_VERSIONS)
    c.add_argument("--new-schema", type=int, required=True, choices=SCHEMA_VERSIONS)
    c.add_argument("--to", required=True, help="the revision the release expands to")
    args = parser.parse_args(argv)
    url = os.environ.get("APP_DATABASE_URL", "")
    if not url.startswith(("postgresql://", "postgres://")):
        print("migrate: APP_DATABASE_URL must be a postgresql:// URL", file=sys.stderr)
        return 2
    try:
        if args.command == "upgrade":
            upgrade(url, args.revision)
            print(f"at revision {current(url)}")
            return 0
        if args.command == "current":
            print(current(url) or "(none)")
            return 0
        return 0 if compat(url, args.old_schema, args.new_schema, args.to) else 1
    except Exception as exc:  # a failed migration: the driver reads the exit code and these lines
        print(f"migrate {args.command} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
