"""Nothing the rehearsal starts outlives it: tethered children, a run marker, signal-safe cleanup.

Three layers, each covering what the one before cannot:

1. Cleanup in `finally` (scenario.py) stops every process through its handle. `SignalGuard` makes it
   run to the end: the first SIGTERM/SIGINT raises KeyboardInterrupt, every later one is noted and
   ignored, and a signal during cleanup never interrupts it.
2. Every child carries `ZDD_REHEARSAL_RUN=<marker>` in its environment. After the cleanup,
   `marked_processes` walks /proc for it, so "processes left behind" counts real processes, also
   ones whose handle was lost, and `kill_marked` stops those.
3. Every child is started through `tether.py` (Linux): the kernel SIGKILLs it when the rehearsal
   dies, even by SIGKILL, when no `finally` runs. `PR_SET_PDEATHSIG` fires when the *thread* that
   started the child ends, so only the main thread tethers (it lives as long as the process).

Run directories (`make_workdir`) hold a lock for the run's life; the next run removes the ones whose
run died without cleaning up.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import TypeVar

MARKER_ENV = "ZDD_REHEARSAL_RUN"
TETHER = Path(__file__).with_name("tether.py")
WORKDIR_PREFIX = "zdd-rehearsal-"
WORKDIR_LOCK = ".run.lock"
PROC = Path("/proc")

T = TypeVar("T")


# -- tethering ---------------------------------------------------------------------------------------
def can_tether() -> bool:
    """PR_SET_PDEATHSIG exists on Linux only, and is tied to the thread that starts the child."""
    return sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread()


def tethered(argv: list[str]) -> list[str]:
    """`argv` run through the tether shim (dies with this process), or unchanged where it cannot."""
    if not can_tether():
        return argv
    return [sys.executable, "-I", "-S", str(TETHER), str(os.getpid()), "--", *argv]


def marked_env(marker: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child of the run `marker` (os.environ when `env` is None)."""
    return {**(os.environ if env is None else env), MARKER_ENV: marker}


# -- finding what is still running -----------------------------------------------------------------------
def _state(pid: int) -> str | None:
    """The /proc state letter of `pid` (R, S, Z ...), None when it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def is_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie has exited: it holds no port and no memory)."""
    if PROC.is_dir():
        return _state(pid) not in (None, "Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def processes_with_env(name: str, value: str) -> list[int]:
    """Pids of the running processes (of this user) whose environment has `name=value`; [] without /proc."""
    if not PROC.is_dir():
        return []
    needle = b"\0" + f"{name}={value}".encode() + b"\0"
    me = os.getpid()
    found = []
    for entry in os.listdir(PROC):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            environ = (PROC / entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if needle in b"\0" + environ and is_alive(int(entry)):
            found.append(int(entry))
    return sorted(found)


def marked_processes(marker: str) -> list[int]:
    """Every running process started for the run `marker` (children and their children)."""
    return processes_with_env(MARKER_ENV, marker)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def kill_marked(marker: str, timeout_seconds: float = 5.0) -> list[int]:
    """SIGKILL every process of the run `marker` and its process group; the pids still alive after."""
    pids = marked_processes(marker)
    for pid in pids:
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout_seconds
    alive = pids
    while alive and time.monotonic() < deadline:
        for pid in alive:
            _reap(pid)
        alive = [pid for pid in alive if is_alive(pid)]
        if alive:
            time.sleep(0.05)
    return alive


# -- signals -----------------------------------------------------------------------------------------------
_active: SignalGuard | None = None


class SignalGuard:
    """SIGTERM/SIGINT handling for a run whose cleanup must not be cut short.

    The first signal raises KeyboardInterrupt (so `finally` blocks run), unless cleanup has begun;
    every signal after it, or during cleanup, is recorded in `received` and otherwise ignored (a
    note goes to stderr). `interrupted` tells the caller to exit 130 once the cleanup is done; after
    an interrupted run the guard leaves SIGTERM/SIGINT ignored, for the process is about to exit.
    Install from the main thread (Python delivers signals there).
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.received: list[int] = []
        self.cleaning = False
        self._previous: dict[int, object] = {}

    @property
    def interrupted(self) -> bool:
        return bool(self.received)

    def __enter__(self) -> SignalGuard:
        global _active
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        _active = self
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        global _active
        _active = None
        for sig, previous in self._previous.items():
            # Interrupted: the process is on its way out with 130, and a late signal must not turn
            # that into death by signal (Python drops its own handlers while it shuts down).
            signal.signal(sig, signal.SIG_IGN if self.interrupted else previous)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if not self.cleaning:
            self.cleaning = True
            raise KeyboardInterrupt
        with contextlib.suppress(OSError):
            name = signal.Signals(signum).name
            os.write(2, f"zdd-rehearse: {name} ignored: still stopping every process it started\n".encode())


def begin_cleanup() -> None:
    """From here on, signals are recorded, not raised (no-op without an active SignalGuard)."""
    if _active is not None:
        _active.cleaning = True


def shielded(cleanup: Callable[[], T]) -> T:
    """Run an idempotent `cleanup` so that signals cannot cut it short.

    A signal landing before `begin_cleanup` took effect raises once (a guard raises only for the
    first signal); the cleanup then runs again from the start, at most twice in all.
    """
    for attempt in range(2):
        try:
            begin_cleanup()
            return cleanup()
        except KeyboardInterrupt:
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# -- run directories ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A private temporary directory for one run, locked while it lives and removed at the end.

    Short path on purpose: HAProxy's admin socket lives in it (unix socket paths are limited to
    about 100 bytes). Directories left by runs that died (their lock is free) are removed first.
    """
    sweep_dead_workdirs()
    path = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
    # Locked under another name first, then renamed: a sweeper never sees the lock file unlocked.
    fd = os.open(path / f"{WORKDIR_LOCK}.new", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(path / f"{WORKDIR_LOCK}.new", path / WORKDIR_LOCK)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def sweep_dead_workdirs(root: Path | None = None) -> list[Path]:
    """Remove run directories of this user whose run is gone (nobody holds their lock)."""
    base = Path(root or tempfile.gettempdir())
    removed = []
    uid = os.getuid()
    for path in sorted(base.glob(f"{WORKDIR_PREFIX}*")):
        lock = path / WORKDIR_LOCK
        try:
            if path.is_symlink() or not path.is_dir() or path.stat().st_uid != uid:
                continue
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:  # no lock file: not a directory of this kind, or being created
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # its run is alive
        try:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed
