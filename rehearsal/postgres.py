"""A throwaway PostgreSQL cluster on 127.0.0.1, for the migration rehearsal and its tests.

Debian's PostgreSQL binaries (`/usr/lib/postgresql/<major>/bin`, or `ZDD_PG_BIN`) create a cluster
in a new temporary directory, listening only on 127.0.0.1 on a free port with its unix socket in
that directory. PostgreSQL refuses to run as root: as root, every command runs as the `postgres`
user (`runuser -u postgres`) on a directory owned by it. `stop()` stops the server (fast shutdown)
and removes the directory; it is idempotent, and the context manager always calls it.

Authentication is `trust` for local connections: the cluster holds only rehearsal data, lives for
one run and accepts connections from 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or the cluster could not start; the message says why."""


def find_bin_dir() -> Path:
    """The directory of `initdb`/`pg_ctl`: `ZDD_PG_BIN`, else the newest Debian install."""
    explicit = os.environ.get("ZDD_PG_BIN")
    candidates = [explicit] if explicit else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and (Path(c) / "pg_ctl").is_file() and (Path(c) / "initdb").is_file():
            return Path(c)
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (looked in ZDD_PG_BIN and /usr/lib/postgresql/*/bin); "
        "on Debian/Ubuntu: apt-get install postgresql"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """One throwaway cluster. `start()`, then `url(db)`; `stop()` always, or use `with`."""

    def __init__(self, bin_dir: Path | None = None, *, base_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.base_dir = base_dir
        self.dir: Path | None = None
        self.port = 0
        self.running = False
        self.as_root = os.geteuid() == 0

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self, timeout_seconds: float = 60.0) -> PostgresCluster:
        self.dir = Path(tempfile.mkdtemp(prefix="zdd-pg-", dir=self.base_dir))
        try:
            data = self.dir / "data"
            if self.as_root:
                shutil.chown(self.dir, USER, USER)
                self.dir.chmod(0o700)
            self._run(
                [str(self.bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "--no-sync", "-E", "UTF8"],
                timeout_seconds,
            )
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            log = str(self.dir / "server.log")
            pg_ctl = [str(self.bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", log]
            self._run([*pg_ctl, "-w", "-t", str(int(timeout_seconds)), "start"], timeout_seconds + 5)
            self.running = True
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server and remove its directory. Idempotent; never raises for a cluster that is gone."""
        if self.dir is None:
            return
        data = self.dir / "data"
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
                self._run([str(self.bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], 30)
        self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self) -> PostgresCluster:
        return self.start() if not self.running else self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- use -------------------------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        """libpq URL of `database` (psycopg; Alembic/SQLAlchemy take `postgresql+psycopg://`)."""
        if not self.running:
            raise PostgresUnavailable("the cluster is not running")
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create `name` (an identifier of letters, digits and _) and return its URL."""
        import psycopg  # the rehearsal's optional dependency: only needed once a cluster runs
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def log_tail(self, lines: int = 20) -> str:
        if self.dir is None:
            return ""
        try:
            return "\n".join((self.dir / "server.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _run(self, argv: list[str], timeout_seconds: float) -> None:
        cmd = ["runuser", "-u", USER, "--", *argv] if self.as_root else argv
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_seconds, check=False)
        except FileNotFoundError as exc:
            raise PostgresUnavailable(f"cannot run {cmd[0]}: {exc}") from None
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            raise PostgresUnavailable(
                f"{Path(argv[0]).name} exited {proc.returncode}: {' | '.join(tail)} {self.log_tail(5)}"
            )
