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
