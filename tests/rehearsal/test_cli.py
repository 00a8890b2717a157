"""The rehearsal command without a full run: missing HAProxy, bad flags, ensure-haproxy."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from zero_downtime.rehearsal.cli import EXIT_ENVIRONMENT, EXIT_USAGE, main
from zero_downtime.rehearsal.processes import PROJECT_ROOT

ENSURE = PROJECT_ROOT / "scripts" / "ensure-haproxy"


def _path_without_haproxy(tmp_path: Path, tools: tuple[str, ...]) -> str:
    """A PATH holding only `tools` (symlinked), so `haproxy` cannot be found."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def _run(args: list[str], path: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PATH": path},
        timeout=60,
    )


def test_missing_haproxy_gives_a_clear_message_and_no_traceback(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run(
        [sys.executable, "-m", "zero_downtime.rehearsal", "--out", str(out)],
        _path_without_haproxy(tmp_path, ()),
        tmp_path,
    )
    text = result.stdout + result.stderr
    assert result.returncode == EXIT_ENVIRONMENT
    assert "HAProxy is required" in text
    assert "apt-get install haproxy" in text
    assert "Traceback" not in text
    assert not out.exists()  # nothing was started or written


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--steps", "10,5,100"], "--steps"),
        (["--steps", "10,50"], "--steps"),
        (["--steps", "ten"], "--steps"),
        (["--interval", "0"], "--interval"),
        (["--rate", "0"], "--rate"),
        (["--max-error-rate", "1.5"], "--max-error-rate"),
        (["--threshold", "0"], "--threshold"),
        (["--bad-error-rate", "2"], "--bad-error-rate"),
        (["--instances", "0"], "--instances"),
        (["--deregistration-delay", "61"], "--deregistration-delay"),
        (["--deregistration-delay", "-1"], "--deregistration-delay"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v),
)
def test_bad_flags_name_the_flag_and_start_nothing(
    args: list[str], flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["--out", str(out), *args]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert flag in captured.out + captured.err
    assert not out.exists()


def test_ensure_haproxy_reports_what_to_install_when_it_cannot(tmp_path: Path) -> None:
    # No apt-get/dnf/sudo/brew on this PATH: the script cannot install and must say what to do.
    path = _path_without_haproxy(tmp_path, ("bash", "id", "uname", "head"))
    result = _run([str(ENSURE)], path, tmp_path)
    assert result.returncode == 1
    assert "apt-get install -y haproxy" in result.stderr
    assert "brew install haproxy" in result.stderr
    assert "Traceback" not in result.stderr


def test_ensure_haproxy_is_quiet_success_when_present(haproxy_binary: str, tmp_path: Path) -> None:
    result = _run([str(ENSURE)], os.environ["PATH"], tmp_path)
    assert result.returncode == 0
    assert "HAProxy version" in result.stdout


def _rehearsal_children(parent: int) -> list[int]:
    """Processes started by `parent` for a rehearsal (HAProxy and app instances)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and (b"haproxy" in cmdline or b"app\0--fd" in cmdline):
            found.append(int(pid))
    return found


@pytest.mark.timeout(120)
def test_sigterm_mid_run_stops_every_process(haproxy_binary: str, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "zero_downtime.rehearsal", "--only", "good", "--out", str(tmp_path / "out")],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        children: list[int] = []
        deadline = time.monotonic() + 60
        while len(children) < 3 and time.monotonic() < deadline:  # HAProxy + 2 blue instances
            children = _rehearsal_children(proc.pid)
            time.sleep(0.2)
        assert len(children) >= 3, "the rehearsal did not start its processes"
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert "every process started by the rehearsal was stopped" in output
    assert "Traceback" not in output
    assert [pid for pid in children if Path(f"/proc/{pid}").exists()] == []


FAKE_APT_GET = """#!/bin/bash
# Fake apt-get: apt's lock is held for the first $LOCKED calls, then it "installs" a fake haproxy.
echo "apt-get $*" >> "$CALLS"
calls=$(grep -c . "$CALLS")
if [ "$calls" -le "$LOCKED" ]; then
    echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (unattended-upgr)" >&2
    echo "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?" >&2
    exit 100
fi
if [ -n "${BROKEN:-}" ]; then
    echo "E: Unable to locate package haproxy" >&2
    exit 100
fi
if [ "$1" = install ]; then
    printf '#!/bin/sh\\necho "HAProxy version 9.9-fake"\\n' > "$BIN/haproxy"
    chmod +x "$BIN/haproxy"
fi
"""


def _fake_apt(tmp_path: Path, locked: int, **extra: str) -> tuple[dict[str, str], Path]:
    """A PATH where this user is root (fake `id`) and `apt-get` is the fake above: no real apt runs."""
    path = _path_without_haproxy(tmp_path, ("bash", "head", "uname", "sleep", "grep", "sed", "cat", "mktemp", "rm"))
    bin_dir = Path(path)
    (bin_dir / "chmod").symlink_to(shutil.which("chmod") or "/bin/chmod")
    (bin_dir / "id").write_text("#!/bin/sh\necho 0\n")
    (bin_dir / "apt-get").write_text(FAKE_APT_GET)
    for tool in ("id", "apt-get"):
        (bin_dir / tool).chmod(0o755)
    calls = tmp_path / "apt-calls"
    env = {
        **os.environ,
        "PATH": path,
        "CALLS": str(calls),
        "LOCKED": str(locked),
        "BIN": str(bin_dir),
        "ENSURE_HAPROXY_LOCK_POLL": "0.1",
        **extra,
    }
    return env, calls


def _ensure(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ENSURE)], capture_output=True, text=True, env=env, timeout=60, cwd=PROJECT_ROOT)


def test_ensure_haproxy_waits_for_apt_lock_held_by_another_install(tmp_path: Path) -> None:
    env, calls = _fake_apt(tmp_path, locked=3)
    result = _ensure(env)
    assert result.returncode == 0, result.stderr
    waits = [line for line in result.stderr.splitlines() if "waiting for apt's lock" in line]
    assert len(waits) == 3
    assert "held by another install (Could not get lock /var/lib/dpkg/lock-frontend" in waits[0]
    assert "It is held by process 4242 (unattended-upgr)" in waits[0]
    assert calls.read_text().splitlines() == [
        *["apt-get update -qq"] * 4,
        "apt-get install -y -qq --no-install-recommends haproxy",
    ]
    assert "HAProxy version 9.9-fake" in result.stdout


def test_ensure_haproxy_gives_up_on_apt_lock_after_its_bound(tmp_path: Path) -> None:
    # 3 s, not 1: the script's clock is bash's whole-second SECONDS, so a 1 s bound can end during
    # the first attempt on a busy machine, and the retry this test looks for never comes.
    env, calls = _fake_apt(tmp_path, locked=10_000, ENSURE_HAPROXY_LOCK_WAIT="3")
    result = _ensure(env)
    assert result.returncode == 1
    assert "gave up waiting 3s for apt's lock" in result.stderr
    assert "Could not get lock /var/lib/dpkg/lock-frontend" in result.stderr  # apt's own words
    assert "sudo apt-get install -y haproxy" in result.stderr  # what to do instead
    tried = calls.read_text().splitlines()
    assert len(tried) >= 2 and set(tried) == {"apt-get update -qq"}  # retried, never got to install


def test_ensure_haproxy_does_not_retry_other_apt_failures(tmp_path: Path) -> None:
    env, calls = _fake_apt(tmp_path, locked=0, BROKEN="1")
    result = _ensure(env)
    assert result.returncode == 1
    assert "Unable to locate package haproxy" in result.stderr
    assert "waiting for apt's lock" not in result.stderr
    assert calls.read_text().splitlines() == ["apt-get update -qq"]
