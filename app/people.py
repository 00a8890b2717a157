"""The sample's persistence: people, written and read in the way of one schema version.

Optional: only with `APP_DATABASE_URL` set does the app serve `POST /people` and `GET /people/{id}`
(psycopg 3). `APP_SCHEMA_VERSION` says how this version of the code uses the table, the three
versions of an expand/contract change (docs/migrations.md):

- 1 writes `name` and reads `name` (revision 0001).
- 2 writes `name`, `first_name` and `last_name` (dual write) and reads first/last, else `name`
  (needs 0002, the expand).
- 3 writes and reads only `first_name`/`last_name` (needs 0002; 0003, the contract, drops `name`).

A name is split at its first space: "Ada King Lovelace" -> ("Ada", "King Lovelace"), and joined
back the same way, so every version reads back what any version wrote.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any

SCHEMA_VERSIONS = (1, 2, 3)
MAX_NAME_CHARS = 200


def split_name(name: str) -> tuple[str, str]:
    first, _, last = name.partition(" ")
    return first, last


def join_name(first: str, last: str | None) -> str:
    return f"{first} {last}" if last else first


class PeopleStore:
    """A bounded pool of autocommit connections, and the version's queries."""

    def __init__(self, url: str, schema_version: int, *, pool_size: int = 8, connect_timeout: float = 5.0) -> None:
        if schema_version not in SCHEMA_VERSIONS:
            raise ValueError(f"schema version must be one of {SCHEMA_VERSIONS}, got {schema_version!r}")
        self.url = url
        self.version = schema_version
        self.connect_timeout = connect_timeout
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        import psycopg

        if not self._slots.acquire(timeout=self.connect_timeout):
            raise TimeoutError("no database connection free")
        conn = None
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=int(self.connect_timeout))
            yield conn
            self._idle.put(conn)
            conn = None
        finally:
            if conn is not None:  # broken by an error: never reused
                with contextlib.suppress(Exception):
                    conn.close()
            self._slots.release()

    def warm(self, connections: int = 4) -> int:
        """Open up to `connections` connections before serving (at start-up): the first requests
        then pay no connect time. Returns how many opened; a database not reachable yet is no error
        here (requests then answer 500, which readiness does not hide)."""
        import psycopg

        opened = 0
        for _ in range(min(connections, self._slots._value)):  # type: ignore[attr-defined]
            try:
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=int(self.connect_timeout))
                conn.execute("SELECT 1 FROM people LIMIT 1")
            except Exception:
                break
            self._idle.put(conn)
            opened += 1
        return opened

    def add(self, name: str) -> int:
        first, last = split_name(name)
        with self._conn() as conn:
            if self.version == 1:
                row = conn.execute("INSERT INTO people (name) VALUES (%s) RETURNING id", (name,)).fetchone()
            elif self.version == 2:
                row = conn.execute(
                    "INSERT INTO people (name, first_name, last_name) VALUES (%s, %s, %s) RETURNING id",
                    (name, first, last),
                ).fetchone()
            else:
                row = conn.execute(
                    "INSERT INTO people (first_name, last_name) VALUES (%s, %s) RETURNING id", (first, last)
                ).fetchone()
        return int(row[0])

    def get(self, person_id: int) -> str | None:
        with self._conn() as conn:
            if self.version == 1:
                row = conn.execute("SELECT name FROM people WHERE id = %s", (person_id,)).fetchone()
                return None if row is None else str(row[0])
            if self.version == 2:
                row = conn.execute(
                    "SELECT first_name, last_name, name FROM people WHERE id = %s", (person_id,)
                ).fetchone()
                if row is None:
                    return None
                return join_name(row[0], row[1]) if row[0] is not None else str(row[2])
            row = conn.execute("SELECT first_name, last_name FROM people WHERE id = %s", (person_id,)).fetchone()
            return None if row is None else join_name(row[0], row[1])

    def close(self) -> None:
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return
            with contextlib.suppress(Exception):
                conn.close()


def people_routes(store: PeopleStore | None) -> list[Any]:
    """`POST /people` ({"name": ...} -> 201 {"id": ...}) and `GET /people/{id}`; none without a store."""
    if store is None:
        return []
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def add(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
            return JSONResponse({"error": f"name must be 1-{MAX_NAME_CHARS} characters"}, status_code=400)
        try:
            person_id = await run_in_threadpool(store.add, name)
        except Exception as exc:  # the database refused: the version is not compatible with the schema
            return JSONResponse({"error": f"database: {type(exc).__name__}"}, status_code=500)
        return JSONResponse({"id": person_id, "schema_version": store.version}, status_code=201)

    async def get(request: Request) -> Response:
        try:
            person_id = int(request.path_params["id"])
        except ValueError:
            return JSONResponse({"error": "id must be an integer"}, status_code=400)
        try:
            name = await run_in_threadpool(store.get, person_id)
        except Exception as exc:
            return JSONResponse({"error": f"database: {type(exc).__name__}"}, status_code=500)
        if name is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse({"id": person_id, "name": name, "schema_version": store.version})

    return [Route("/people", add, methods=["POST"]), Route("/people/{id}", get)]


def store_from(url: str | None, schema_version: int) -> PeopleStore | None:
    return PeopleStore(url, schema_version) if url else None
