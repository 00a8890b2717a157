"""Issue 13: nothing outlives the rehearsal, and a run that could not finish is refused up front.

The process tests run the real command with a tag of their own in its environment (`ZDD_TEST_RUN`),
which every process it starts inherits; they walk /proc for it, independently of the rehearsal's
own bookkeeping, and try to bind every port those processes listened on. Whatever a test starts is
SIGKILLed in `finally`. Refusals are checked with a recording `haproxy` wrapper first on PATH: when
nothing may start, it must never have run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from zero_downtime.driver.adapters.release_store import Lease, ReleaseStore
from zero_downtime.driver.core.machine import Result
from zero_downtime.driver.core.plan import build_plan
from zero_downtime.driver.core.ports import SystemClock
from zero_downtime.driver.core.status import Status
from zero_downtime.rehearsal import lifetime
from zero_downtime.rehearsal.cli import EXIT_BUSY, EXIT_INTERRUPTED, EXIT_USAGE, main
from zero_downtime.rehearsal.loadgen import Record
from zero_downtime.rehearsal.outdir import LOCK_NAME, free_dead_lease
from zero_downtime.rehearsal.processes import PROJECT_ROOT
from zero_downtime.rehearsal.report import summarize
from zero_downtime.rehearsal.scenario import (
    BAD,
    GOOD,
    PROJECT,
    SERVICE,
    STACK,
    Phase,
    RehearsalConfig,
    RehearsalResult,
    ReleaseRun,
)
from zero_downtime.store.local import LocalBlobs

pytestmark = pytest.mark.timeout(180)

TAG = "ZDD_TEST_RUN"
# A short good-only run: HAProxy, 2 blue and (during the release) 2 green instances.
SHORT = ["--only", "good", "--steps", "10,100", "--interval", "4", "--baseline", "1", "--rate", "40", "--no-chart"]


# -- looking at the real processes -------------------------------------------------------------------------
def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def tagged(tag: str) -> list[int]:
    """Running (not zombie) processes whose environment holds ZDD_TEST_RUN=<tag>."""
    needle = f"\0{TAG}={tag}\0".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in b"\0" + environ and _state(int(pid)) not in (None, "Z", "X"):
            found.append(int(pid))
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def listening_ports(pids: list[int]) -> set[int]:
    """TCP ports the processes `pids` listen on (from their fds and /proc/net/tcp)."""
    inodes = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:["):
                        inodes.add(link[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def listeners(port: int) -> set[int]:
    """Pids of the processes that listen on 127.0.0.1:port now (from /proc/net/tcp and fds)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    pids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] in inodes:
                        pids.add(int(pid))
    return pids


def seconds_since_boot() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def started_at(pid: int) -> float:
    """When the process started, in seconds since boot (/proc/<pid>/stat field 22)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[19]) / os.sysconf("SC_CLK_TCK")


def held_since(ports: set[int], stopped_at: float) -> list[int]:
    """The ports still listened on by a process that started before `stopped_at` (seconds since
    boot): one of the run's, or one it left. A port the kernel has since handed to a process started
    later (other tests run in parallel and bind port 0) does not count."""
    held = []
    for port in sorted(ports):
        if port_is_free(port):
            continue
        owners = []
        for pid in listeners(port):
            with contextlib.suppress(OSError):
                owners.append(started_at(pid))
        if any(start < stopped_at for start in owners):
            held.append(port)
    return held


def port_is_free(port: int) -> bool:
    """Can a new server listen on 127.0.0.1:port? (SO_REUSEADDR: TIME_WAIT left by a killed
    connection is not a listener, and never blocks a server restarting on its port.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
        except OSError:
            return False
    return True


def wait_until(condition, timeout_seconds: float, interval: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_seconds
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def kill_tagged(tag: str) -> None:
    for pid in tagged(tag):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not tagged(tag), 10)


# -- running the command ------------------------------------------------------------------------------------
@dataclass
class Run:
    tag: str
    proc: subprocess.Popen[str]

    def children(self) -> list[int]:
        """HAProxy and app instances of this run (tagged, not the rehearsal itself)."""
        return [pid for pid in tagged(self.tag) if pid != self.proc.pid]


@pytest.fixture
def start_rehearsal(haproxy_binary: str) -> Iterator:  # type: ignore[type-arg]
    runs: list[Run] = []

    def start(*args: str) -> Run:
        tag = uuid.uuid4().hex
        proc = subprocess.Popen(
            [sys.executable, "-m", "zero_downtime.rehearsal", *args],
            cwd=PROJECT_ROOT,
            env={**os.environ, TAG: tag},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        runs.append(Run(tag, proc))
        return runs[-1]

    try:
        yield start
    finally:
        for run in runs:
            if run.proc.poll() is None:
                run.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.proc.communicate(timeout=10)
            kill_tagged(run.tag)


def wait_for_release(run: Run) -> list[int]:
    """Bounded wait until HAProxy and 4 app instances (blue and green) run; their pids."""
    wait_until(lambda: len(run.children()) >= 5 or run.proc.poll() is not None, 60)
    children = run.children()
    assert len(children) >= 5, f"the rehearsal did not start its processes: {[cmdline(p) for p in children]}"
    assert any("haproxy" in cmdline(p) for p in children)
    return children


def recording_haproxy(tmp_path: Path, haproxy_binary: str) -> tuple[dict[str, str], Path]:
    """An environment whose `haproxy` logs each call to the returned file, then runs the real one."""
    bin_dir = tmp_path / "rec-bin"
    bin_dir.mkdir()
    log = tmp_path / "haproxy-calls.log"
    wrapper = bin_dir / "haproxy"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec "{haproxy_binary}" "$@"\n')
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", TAG: uuid.uuid4().hex}, log


def run_cli(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "zero_downtime.rehearsal", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout + result.stderr


# -- nothing outlives the rehearsal -------------------------------------------------------------------------
def test_sigkill_of_the_rehearsal_leaves_no_process_and_no_port(start_rehearsal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = start_rehearsal(*SHORT, "--out", str(tmp_path / "out"))
    children = wait_for_release(run)
    ports = listening_ports(children)
    assert len(ports) >= 5  # HAProxy's and each instance's
    killed_at = seconds_since_boot()
    run.proc.kill()  # SIGKILL: no finally, no handler runs in the rehearsal
    run.proc.wait(timeout=10)
    wait_until(lambda: not tagged(run.tag), 15)
    left = tagged(run.tag)
    assert left == [], f"left running: {[cmdline(p) for p in left]}"
    assert held_since(ports, killed_at) == []
    # Its run directory is removed by the next run (its lock died with it); another test's run may
    # have swept it already.
    lifetime.sweep_dead_workdirs()
    assert list(Path(tempfile.gettempdir()).glob(f"zdd-rehearsal-{run.proc.pid}-*")) == []


def test_two_quick_sigterms_still_stop_every_process(start_rehearsal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = start_rehearsal(*SHORT, "--out", str(tmp_path / "out"))
    children = wait_for_release(run)
    ports = listening_ports(children)
    stopped_at = seconds_since_boot()
    run.proc.send_signal(signal.SIGTERM)
    # More SIGTERMs, 5 ms apart, until it exits: some land while it is cleaning up.
    sent = 1
    while run.proc.poll() is None and sent < 2000:
        time.sleep(0.005)
        run.proc.send_signal(signal.SIGTERM)
        sent += 1
    output, _ = run.proc.communicate(timeout=60)
    assert run.proc.returncode == EXIT_INTERRUPTED, output[-2000:]
    assert "SIGTERM ignored: still stopping" in output  # a later signal did arrive during cleanup
    assert "every process started by the rehearsal was stopped (none is left)" in output
    assert "Traceback" not in output
    assert tagged(run.tag) == []
    assert held_since(ports, stopped_at) == []


def test_a_tethered_child_dies_with_its_parent(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex
    code = (
        "import subprocess, sys, time\n"
        "from zero_downtime.rehearsal.lifetime import tethered\n"
        "child = subprocess.Popen(tethered(['sleep', '120']))\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], env={**os.environ, TAG: tag}, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert wait_until(lambda: cmdline(pid).startswith("sleep"), 10)  # the shim has exec'd
        parent.kill()
        parent.wait(timeout=10)
        wait_until(lambda: not tagged(tag), 10)
        assert tagged(tag) == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        kill_tagged(tag)


def test_signal_guard_raises_once_then_only_notes() -> None:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with lifetime.SignalGuard() as guard:
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGTERM)  # during cleanup: noted, not raised
            signal.raise_signal(signal.SIGINT)
            assert guard.received == [signal.SIGTERM, signal.SIGTERM, signal.SIGINT]
        # The process is about to exit 130: a late signal must not kill it by signal instead.
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
        with lifetime.SignalGuard() as quiet:
            calls = []
            assert lifetime.shielded(lambda: calls.append(1) or signal.raise_signal(signal.SIGTERM)) is None
            assert quiet.interrupted and calls == [1]  # cleanup ran to its end, the signal was noted
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_shielded_runs_the_cleanup_again_when_the_first_signal_beat_it() -> None:
    calls = []

    def cleanup() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt  # a signal that landed before the shield went up
        return "done"

    assert lifetime.shielded(cleanup) == "done"
    assert len(calls) == 2


def test_dead_run_directories_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    dead = tmp_path / "zdd-rehearsal-1-dead"
    dead.mkdir()
    (dead / lifetime.WORKDIR_LOCK).touch()
    foreign = tmp_path / "zdd-rehearsal-2-nolock"  # not made by `workdir()`: left alone
    foreign.mkdir()
    with lifetime.workdir() as live:
        assert (live / lifetime.WORKDIR_LOCK).exists()
        removed = lifetime.sweep_dead_workdirs(tmp_path)
        lifetime.sweep_dead_workdirs(live.parent)  # where live runs are: this one is kept
        assert live.exists()
    assert removed == [dead]
    assert foreign.exists()
    assert not live.exists()


# -- refused before anything starts -------------------------------------------------------------------------
def _unwritable_cases(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    report_dir = tmp_path / "report-is-a-dir"
    (report_dir / "report.json").mkdir(parents=True)
    cases = {"under a file": a_file / "out", "is a file": a_file, "report.json is a directory": report_dir}
    if os.getuid() != 0:  # root writes through permissions
        read_only = tmp_path / "read-only"
        read_only.mkdir(mode=0o500)
        cases["read-only directory"] = read_only / "out"
    return cases


def test_an_unwritable_out_is_refused_before_anything_starts(haproxy_binary: str, tmp_path: Path) -> None:
    env, calls = recording_haproxy(tmp_path, haproxy_binary)
    for name, out in _unwritable_cases(tmp_path).items():
        code, text = run_cli(["--out", str(out), *SHORT], env)
        assert code == EXIT_USAGE, f"{name}: {text}"
        assert f"error: --out {out}" in text, name
        assert "Traceback" not in text, name
        assert not calls.exists(), f"{name}: HAProxy was started"
    assert not (tmp_path / "a-file" / "out").exists()
    assert tagged(env[TAG]) == []


def test_a_max_seconds_shorter_than_the_schedule_is_refused(haproxy_binary: str, tmp_path: Path) -> None:
    env, calls = recording_haproxy(tmp_path, haproxy_binary)
    out = tmp_path / "out"
    # baseline 3 + synthetic bake 2 x 5 s + 3 steps x 6 s + keep-warm 2 + settle 3 = 36 s of load for
    # the good release alone
    code, text = run_cli(["--only", "good", "--max-seconds", "12", "--out", str(out)], env)
    assert code == EXIT_USAGE, text
    assert "--max-seconds: must be at least 36 seconds" in text
    assert "Traceback" not in text
    assert not calls.exists() and not out.exists()


@pytest.mark.parametrize(
    ("kwargs", "minimum"),
    [
        # The synthetic bake (on by default) adds 2 x 5 s per release; all-at-once has none.
        ({}, 3 + 10 + 18 + 2 + 10 + 18 + 2 + 3),
        ({"run_bad": False}, 3 + 10 + 18 + 2 + 3),
        ({"run_bad": False, "synthetic": False}, 3 + 18 + 2 + 3),
        (
            {"strategy": "linear", "steps": None, "step_percent": 25, "interval": 2},
            3 + 10 + 8 + 2 + 10 + 8 + 2 + 3,
        ),
        ({"bad_strategy": "all-at-once", "baseline_seconds": 0, "settle_seconds": 0}, 10 + 18 + 2 + 6 + 2),
    ],
)
def test_the_minimum_max_seconds_is_the_whole_schedule(kwargs: dict[str, object], minimum: float) -> None:
    cfg = RehearsalConfig(**kwargs)  # type: ignore[arg-type]
    assert cfg.min_seconds() == minimum
    RehearsalConfig(**{**kwargs, "max_seconds": minimum}).validate()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"--max-seconds: must be at least {minimum:g} seconds"):
        RehearsalConfig(**{**kwargs, "max_seconds": minimum - 0.5}).validate()  # type: ignore[arg-type]


def test_a_second_run_on_the_same_out_is_refused_before_it_starts_anything(
    start_rehearsal,  # type: ignore[no-untyped-def]
    haproxy_binary: str,
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    first = start_rehearsal(*SHORT, "--out", str(out))
    assert wait_until(lambda: any("haproxy" in cmdline(p) for p in first.children()), 60)
    env, calls = recording_haproxy(tmp_path, haproxy_binary)
    code, text = run_cli([*SHORT, "--out", str(out)], env)
    assert code == EXIT_BUSY, text
    assert f"--out {out} is in use by another rehearsal (process " in text
    assert "Traceback" not in text
    assert not calls.exists() and tagged(env[TAG]) == []
    assert first.proc.poll() is None  # the first run goes on
    first.proc.send_signal(signal.SIGTERM)
    first.proc.communicate(timeout=60)
    assert first.proc.returncode == EXIT_INTERRUPTED
    assert (out / LOCK_NAME).exists()


def _store(out: Path) -> ReleaseStore:
    return ReleaseStore(LocalBlobs(out / "store"), PROJECT, STACK, SERVICE, SystemClock())


def _hold_lease(store: ReleaseStore, pid: int) -> None:
    now = time.time()
    lease = Lease(f"{socket.gethostname()}:{pid}:test", now, now, now + 120)
    store.blobs.create(store.keys.lock(SERVICE), lease.to_json())


def test_a_lease_left_by_a_killed_run_is_freed_and_a_live_one_is_kept(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait(timeout=10)  # its pid no longer runs
    store = _store(tmp_path / "killed")
    _hold_lease(store, gone.pid)
    assert store.held()
    assert free_dead_lease(store) == f"{socket.gethostname()}:{gone.pid}:test"
    assert not store.held()
    with store.hold():  # the next run takes it normally
        assert store.held()

    busy = _store(tmp_path / "alive")
    _hold_lease(busy, os.getppid())
    assert free_dead_lease(busy) is None
    assert busy.held()


def test_a_live_lease_in_the_store_is_busy_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], haproxy_binary: str
) -> None:
    out = tmp_path / "out"
    _hold_lease(_store(out), os.getppid())  # a live process of this host
    monkeypatch.setattr(
        "zero_downtime.rehearsal.scenario.HaproxyProcess.start",
        lambda self, *a, **k: pytest.fail("HAProxy was started"),
    )
    assert main([*SHORT, "--out", str(out)]) == EXIT_BUSY
    text = capsys.readouterr().out
    assert f"--out {out}: the release store there is held by" in text
    assert "nothing was started" in text


# -- the report ---------------------------------------------------------------------------------------------
def _release(version: str, start: float, end: float, state: str) -> ReleaseRun:
    status = Status(release_id=f"r-{version}", kind="service", stack=STACK, target=SERVICE, spec={}, state=state)
    plan = build_plan("canary", steps=[10, 100], interval=1)
    return ReleaseRun(version, "blue", plan, Result(status, ()), start, end)


def _records(start: float, end: float, version: str) -> list[Record]:
    return [Record(t / 10, 0.01, 200, version, "blue-1") for t in range(int(start * 10), int(end * 10))]


def test_a_release_that_got_no_traffic_fails_an_expectation() -> None:
    # The load stopped (its --max-seconds) after the baseline: both releases "passed" with no traffic.
    result = RehearsalResult(
        config=RehearsalConfig(),
        records=_records(0, 3, "v1"),
        phases=[Phase("baseline v1", 0, 3), Phase("release v2 (good)", 3, 10), Phase("release v3 (faulty)", 10, 15)],
        releases={GOOD: _release(GOOD, 3, 10, "SUCCEEDED"), BAD: _release(BAD, 10, 15, "ROLLED_BACK")},
        weight_history=[],
        stops=[],
        started_at=0,
        ended_at=15,
    )
    summary = summarize(result)
    assert summary.expectations["good release got traffic"] is False
    assert summary.expectations["faulty release got traffic"] is False
    assert summary.expectations["good release succeeded"] is True
    assert not summary.ok
    assert json.loads(json.dumps(summary.to_dict()))["release_traffic"] == {GOOD: 0, BAD: 0}

    served = RehearsalResult(**{**result.__dict__, "records": _records(0, 10, GOOD) + _records(10, 15, BAD)})
    expectations = summarize(served).expectations
    assert expectations["good release got traffic"] and expectations["faulty release got traffic"]


def test_a_port_counts_as_held_only_by_a_listener_that_started_before_the_stop() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        assert held_since({port}, seconds_since_boot()) == [port]  # this process is older
        assert held_since({port}, 0.0) == []  # a listener that started after the "stop"
    assert held_since({port}, seconds_since_boot()) == []  # closed: free
