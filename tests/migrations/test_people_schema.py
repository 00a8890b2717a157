"""The sample's expand/contract revisions and the compatibility gate on a real PostgreSQL 15.

Which version of the code works on which revision, the gate's verdict on a good and a breaking
expand, and the migrate command's exit codes (what the driver's runner reads).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest
from zero_downtime.app.migrate import compat, current, upgrade
from zero_downtime.app.people import PeopleStore, join_name, split_name
from zero_downtime.rehearsal.postgres import PostgresCluster

_names = itertools.count()


def fresh_db(pg: PostgresCluster, revision: str | None) -> str:
    url = pg.create_database(f"t{next(_names)}")
    if revision:
        upgrade(url, revision)
    return url


def migrate(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "APP_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "zero_downtime.app.migrate", *args], env=env, capture_output=True, text=True, timeout=60
    )


def works(url: str, version: int) -> bool:
    store = PeopleStore(url, version)
    try:
        pid = store.add("Edsger W Dijkstra")
        return store.get(pid) == "Edsger W Dijkstra"
    except Exception:
        return False
    finally:
        store.close()


@pytest.mark.parametrize("name", ["Ada", "Ada Lovelace", "Ada King Lovelace", "Ada  Lovelace"])
def test_names_split_and_join_back(name: str) -> None:
    assert join_name(*split_name(name)) == name


def test_which_version_works_on_which_revision(postgres: PostgresCluster) -> None:
    matrix = {}
    for revision in ("0001", "0002", "0003", "0002b"):
        url = fresh_db(postgres, revision)
        matrix[revision] = {v: works(url, v) for v in (1, 2, 3)}
    # v1 and v2 run on the expand, v2 and v3 as well; only v3 runs after the contract.
    assert matrix["0001"] == {1: True, 2: False, 3: False}
    assert matrix["0002"] == {1: True, 2: True, 3: True}
    assert matrix["0003"] == {1: False, 2: False, 3: True}
    assert matrix["0002b"][1] is False  # the breaking expand


def test_every_version_reads_what_the_others_wrote_across_the_expand(postgres: PostgresCluster) -> None:
    url = fresh_db(postgres, "0001")
    v1 = PeopleStore(url, 1)
    before = v1.add("Alan Mathison Turing")
    upgrade(url, "0002")  # the backfill fills first/last for rows v1 wrote
    v2, v3 = PeopleStore(url, 2), PeopleStore(url, 3)
    during = v1.add("Grace Hopper")  # v1 still serves after the expand: the trigger keeps names in step
    by_v3 = v3.add("Barbara Liskov")  # v3 writes no `name`: the trigger fills it for v1/v2
    for pid, name in ((before, "Alan Mathison Turing"), (during, "Grace Hopper"), (by_v3, "Barbara Liskov")):
        assert v1.get(pid) == v2.get(pid) == v3.get(pid) == name
    upgrade(url, "0003")  # the contract: only v3 remains; it reads every row
    assert [v3.get(p) for p in (before, during, by_v3)] == ["Alan Mathison Turing", "Grace Hopper", "Barbara Liskov"]
    for store in (v1, v2, v3):
        store.close()


def test_the_compatibility_gate_passes_a_good_expand_and_leaves_production_alone(postgres: PostgresCluster) -> None:
    url = fresh_db(postgres, "0001")
    assert compat(url, 1, 2, "0002", out=open(os.devnull, "w"))  # noqa: SIM115
    assert current(url) == "0001"  # only a scratch copy was migrated


def test_the_compatibility_gate_catches_an_expand_that_breaks_v1(postgres: PostgresCluster) -> None:
    url = fresh_db(postgres, "0001")
    proc = migrate(url, "compat", "--old-schema", "1", "--new-schema", "2", "--to", "0002b")
    assert proc.returncode == 1
    assert "FAILED: schema version 1 on 0002b: write answered 500" in proc.stdout
    assert current(url) == "0001"
    assert works(url, 1)  # production untouched: v1 still works
    # The scratch databases are gone.
    import psycopg

    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'zdd_compat_%'").fetchall()
    assert left == []


def test_migrate_exit_codes(postgres: PostgresCluster) -> None:
    url = fresh_db(postgres, None)
    assert migrate(url, "upgrade", "0002").returncode == 0
    again = migrate(url, "upgrade", "0002")  # safe to run twice (a resumed release repeats it)
    assert again.returncode == 0 and "at revision 0002" in again.stdout
    assert migrate(url, "upgrade", "no-such-revision").returncode == 1
    bad = subprocess.run(
        [sys.executable, "-m", "zero_downtime.app.migrate", "current"],
        env={**os.environ, "APP_DATABASE_URL": "mysql://x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "APP_DATABASE_URL" in bad.stderr and "mysql" not in bad.stderr


def test_the_app_without_a_database_serves_no_people_and_a_bad_url_is_refused_unechoed() -> None:
    from starlette.testclient import TestClient
    from zero_downtime.app.service import create_app
    from zero_downtime.app.settings import Settings, SettingsError, load_settings

    with TestClient(create_app(Settings())) as client:
        assert client.post("/people", json={"name": "x"}).status_code in (404, 405)
        assert client.get("/live").status_code == 200
    with pytest.raises(SettingsError, match="APP_DATABASE_URL") as info:
        load_settings({"APP_DATABASE_URL": "mysql://user:hunter2@db/app"})
    assert "hunter2" not in str(info.value)
    with pytest.raises(SettingsError, match="APP_SCHEMA_VERSION"):
        load_settings({"APP_SCHEMA_VERSION": "4"})
