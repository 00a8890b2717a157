"""One throwaway PostgreSQL cluster per test module, always stopped and removed (issue 15)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from zero_downtime.rehearsal.postgres import PostgresCluster, PostgresUnavailable


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
    except PostgresUnavailable as exc:  # the machine lacks PostgreSQL: say how to get it
        pytest.fail(f"{exc}", pytrace=False)
    try:
        yield cluster
    finally:
        where: Path | None = cluster.dir
        cluster.stop()
        assert where is None or not where.exists(), f"{where} was not removed"
