"""Runs HAProxy as a child process in its own process group, on an inherited 127.0.0.1 socket.

Like the app instances, HAProxy carries the run's marker and is tethered to this process
(lifetime.py), so it dies with the rehearsal even when the rehearsal is SIGKILLed.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from .haproxy_config import HaproxyLayout, HealthCheck, render_config
from .haproxy_runtime import RuntimeApi, RuntimeApiError
from .lifetime import marked_env, tethered
from .processes import signal_group

INSTALL_HINT = """HAProxy is required for the local rehearsal and was not found on PATH.
Install it, then run again:
  scripts/ensure-haproxy            (installs it when this user can install packages)
  Debian/Ubuntu: sudo apt-get install haproxy
  Fedora/RHEL:   sudo dnf install haproxy
  macOS:         brew install haproxy"""


class HaproxyMissing(RuntimeError):
    """No `haproxy` binary on PATH; the message says what to install."""


class HaproxyFailed(RuntimeError):
    """HAProxy refused its config or exited; the message holds its own words."""


def _bound_socket() -> tuple[socket.socket, int]:
    """A listening 127.0.0.1 socket on a free port, for HAProxy to inherit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock, sock.getsockname()[1]


def find_haproxy() -> str:
    path = shutil.which("haproxy")
    if path is None:
        raise HaproxyMissing(INSTALL_HINT)
    return path


class HaproxyProcess:
    """Owns one HAProxy: config in `workdir`, listening socket, runtime API, process group."""

    def __init__(
        self,
        workdir: Path,
        slots_per_color: int = 2,
        check: HealthCheck | None = None,
        marker: str = "",
        *,
        reloadable: bool = False,
        retries: bool = False,
    ) -> None:
        self.binary = find_haproxy()
        self.workdir = workdir
        self.marker = marker or str(workdir)  # ZDD_REHEARSAL_RUN of its process
        self.slots_per_color = slots_per_color
        self.check = check or HealthCheck()
        # Master-worker (`-W`) with a server-state file: a SIGUSR2 to the master reloads without
        # dropping a connection or a runtime weight (rehearsal/chaos.py, `--chaos reload-haproxy`).
        self.reloadable = reloadable
        self.retries = retries  # ALB-like by default: no retries (haproxy_config.py)
        self.port = 0
        self.test_port = 0
        self.layout: HaproxyLayout | None = None
        self.api: RuntimeApi | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = workdir / "haproxy.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def test_url(self) -> str:
        """The test listener: only the idle color (see haproxy_config.py)."""
        return f"http://127.0.0.1:{self.test_port}"

    def start(self, timeout_seconds: float = 10.0) -> None:
        # The parent binds the ports and hands the sockets over, so no other process can take
        # a port between choosing it and HAProxy binding it.
        listener, self.port = _bound_socket()
        test_listener, self.test_port = _bound_socket()
        fds = (listener.fileno(), test_listener.fileno())
        socket_path = str(self.workdir / "admin.sock")
        map_path = self.workdir / "test-listener.map"
        map_path.write_text("")  # the router fills it; until then the map's default applies
        self.layout = HaproxyLayout(
            bind=f"fd@{fds[0]}",
            socket_path=socket_path,
            slots_per_color=self.slots_per_color,
            check=self.check,
            test_bind=f"fd@{fds[1]}",
            test_map_path=str(map_path),
            retries=self.retries,
            state_file=str(self.workdir / "server-state") if self.reloadable else "",
        )
        if self.reloadable:
            (self.workdir / "server-state").write_text("")  # nothing to load at the first start
        config_path = self.workdir / "haproxy.cfg"
        config_path.write_text(render_config(self.layout))
        env = marked_env(self.marker)
        try:
            check = subprocess.run(
                [self.binary, "-c", "-q", "-f", str(config_path)],
                capture_output=True,
                text=True,
                timeout=timeout_seconds,
                pass_fds=fds,
                env=env,
            )
            if check.returncode != 0:
                raise HaproxyFailed(f"HAProxy rejected {config_path}:\n{check.stderr.strip()}")
            with self._log_path.open("wb") as log:
                self._proc = subprocess.Popen(
                    tethered([self.binary, *(["-W"] if self.reloadable else []), "-db", "-f", str(config_path)]),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=fds,
                    start_new_session=True,
                    env=env,
                )
        finally:
            listener.close()  # HAProxy holds its own copies now
            test_listener.close()
        self.api = RuntimeApi(socket_path)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise HaproxyFailed(f"HAProxy exited at start:\n{self.log_tail()}")
            try:
                if "Name: HAProxy" in self.api.command("show info"):
                    return
            except RuntimeApiError:
                pass
            time.sleep(0.05)
        self.stop()
        raise HaproxyFailed(f"HAProxy runtime API did not answer in {timeout_seconds}s")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def stop(self, timeout_seconds: float = 5.0) -> None:
        """SIGTERM the process group, SIGKILL it if still there; safe to call twice."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_seconds)
            except subprocess.TimeoutExpired:
                signal_group(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=timeout_seconds)
        if proc.poll() is None:
            return  # could not be stopped: `running` stays true, and the caller reports it
        self._proc = None
