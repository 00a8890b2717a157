"""Local process supervisor: app instances in their own process groups, always torn down.

Each instance gets an already-bound 127.0.0.1 socket (`python -m zero_downtime.app --fd N`), so ports are
never raced. `stop_all` SIGKILLs every process group still alive; callers run it in `finally`.
Every instance carries the run's marker in its environment and is tethered to this process
(lifetime.py): it dies with the rehearsal even when the rehearsal is SIGKILLed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .lifetime import marked_env, tethered

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group led by `pid` (children started with start_new_session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


@dataclass
class Instance:
    """One running app process."""

    name: str
    version: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    exit_code: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Supervisor:
    """Starts and stops app instances; remembers every process it ever started."""

    workdir: Path
    marker: str = ""  # ZDD_REHEARSAL_RUN of every instance; default: the workdir
    started: list[Instance] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.marker = self.marker or str(self.workdir)

    def spawn_app(
        self, name: str, env: dict[str, str], timeout_seconds: float = 15.0, args: Sequence[str] = ()
    ) -> Instance:
        """Start `python -m zero_downtime.app [args]` and wait until it answers /live directly (not via
        HAProxy)."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Like HAProxy's: connections left in TIME_WAIT by a killed instance never hold its port.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        port = listener.getsockname()[1]
        log_path = self.workdir / f"{name}-{port}.log"
        child_env = marked_env(self.marker, {**os.environ, **env, "APP_INSTANCE": name})
        try:
            with log_path.open("wb") as log:
                proc = subprocess.Popen(
                    tethered([sys.executable, "-m", "zero_downtime.app", "--fd", str(listener.fileno()), *args]),
                    cwd=PROJECT_ROOT,
                    env=child_env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(listener.fileno(),),
                    start_new_session=True,
                )
                instance = Instance(name, env.get("APP_VERSION", "dev"), port, proc, log_path)
                self.started.append(instance)  # at once: stop_all must know it whatever happens next
        finally:
            listener.close()
        deadline = time.monotonic() + timeout_seconds
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited at start:\n{self.log_tail(instance)}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{instance.url}/live").status_code == 200:
                        return instance
                time.sleep(0.05)
        raise RuntimeError(f"{name} did not answer /live within {timeout_seconds}s")

    def terminate(self, instances: list[Instance], timeout_seconds: float) -> dict[str, int]:
        """SIGTERM all, wait for their graceful exit together; SIGKILL stragglers.

        Returns exit codes by name (negative = killed by that signal).
        """
        for inst in instances:
            if inst.alive:
                inst.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_seconds
        for inst in instances:
            try:
                inst.exit_code = inst.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(inst.proc.pid, signal.SIGKILL)
                inst.exit_code = inst.proc.wait(timeout=5)
        return {inst.name: int(inst.exit_code or 0) for inst in instances}

    def stop_all(self) -> None:
        """Kill every process group still alive. Idempotent; for `finally` blocks."""
        for inst in self.started:
            if inst.proc.poll() is None:
                signal_group(inst.proc.pid, signal.SIGKILL)
        for inst in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                inst.proc.wait(timeout=5)

    def alive(self) -> list[Instance]:
        return [inst for inst in self.started if inst.alive]

    @staticmethod
    def log_tail(instance: Instance, lines: int = 20) -> str:
        try:
            text = instance.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
