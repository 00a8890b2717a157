"""Journal durability/lock, and the pre-traffic checks against a local server and real commands."""

from __future__ import annotations

import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from zero_downtime.driver.adapters.checks import CommandHook, HttpCheck
from zero_downtime.driver.adapters.file_journal import FileJournal
from zero_downtime.driver.core.errors import BusyError, InputError, JournalError
from zero_downtime.driver.core.status import Record, Status


def rec(release_id: str, state: str, seq: int = 0, *, stack: str = "dev", target: str = "api") -> Record:
    status = Status(release_id=release_id, kind="service", stack=stack, target=target, spec={}, state=state)
    return Record(seq=seq, ts=1_700_000_000.0 + seq, event="transition", status=status)


def test_records_are_appended_and_filtered_by_release(tmp_path: Path) -> None:
    j = FileJournal(tmp_path, "org/proj/dev", "api")
    j.append(rec("r1", "PENDING", 0))
    j.append(rec("r2", "PENDING", 0))
    j.append(rec("r1", "DEPLOYING_IDLE", 1))
    assert [r.state for r in j.records("r1")] == ["PENDING", "DEPLOYING_IDLE"]
    assert j.release_ids() == ["r1", "r2"]
    last = j.last()
    assert last is not None and last.status.release_id == "r1" and last.state == "DEPLOYING_IDLE"
    assert j.path.parent.name == "org__proj__dev"


def test_a_record_reads_back_whole(tmp_path: Path) -> None:
    j = FileJournal(tmp_path, "dev", "api")
    status = Status(
        release_id="r1",
        kind="service",
        stack="dev",
        target="api",
        spec={"image": "repo/api:2"},
        state="BAKING",
        step=1,
        failed_checks=1,
        reason="why",
        facts={"step_started_at": 5.5},
    )
    record = Record(seq=3, ts=9.0, event="check", status=status, detail={"verdict": {"outcome": "pass"}})
    j.append(record)
    assert j.records("r1") == [record]


def test_torn_last_line_from_a_kill_is_ignored(tmp_path: Path) -> None:
    j = FileJournal(tmp_path, "dev", "api")
    j.append(rec("r1", "BAKING"))
    with j.path.open("a") as fh:
        fh.write('{"release_id": "r1", "sta')
    assert [r.state for r in j.records("r1")] == ["BAKING"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"seq": 0, "ts": 1, "event": "x"}', "'release_id' must be a non-empty string"),
        ('{"seq": -1, "ts": 1, "event": "x"}', "'seq' must be an integer"),
    ],
    ids=["not-json", "array", "no-status", "negative-seq"],
)
def test_a_corrupt_record_before_the_last_is_refused_naming_its_line(tmp_path: Path, line: str, problem: str) -> None:
    j = FileJournal(tmp_path, "dev", "api")
    j.path.parent.mkdir(parents=True)
    j.path.write_text(line + "\n")
    j.append(rec("r1", "PENDING"))
    with pytest.raises(JournalError, match=f"{j.path}:1: .*{problem}"):
        j.records("r1")


def test_a_binary_journal_names_its_path(tmp_path: Path) -> None:
    j = FileJournal(tmp_path, "dev", "api")
    j.path.parent.mkdir(parents=True)
    j.path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(JournalError, match=str(j.path)):
        j.last()


def test_one_driver_per_service(tmp_path: Path) -> None:
    a = FileJournal(tmp_path, "dev", "api")
    b = FileJournal(tmp_path, "dev", "api")
    other = FileJournal(tmp_path, "dev", "billing")
    with a.hold():
        assert b.held()
        with pytest.raises(BusyError, match="another driver"), b.hold():
            pass
        with other.hold():  # a different service is independent
            pass
    assert not b.held()
    with b.hold():
        pass


@pytest.mark.parametrize("name", ["", "../etc", "a b", "x" * 200])
def test_unsafe_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError) as err:
        FileJournal(tmp_path, "dev", name)
    assert err.value.key == "service"


def test_abort_request_is_scoped_to_a_release(tmp_path: Path) -> None:
    j = FileJournal(tmp_path, "dev", "api")
    j.request_abort("r1", "stop")
    assert j.abort_requested("r1") == "stop"
    assert j.abort_requested("r2") is None
    j.clear_abort()
    assert j.abort_requested("r1") is None


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = (200, b"version=2") if self.path == "/health" else (503, b"down")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def local_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        t.join(timeout=5)


def test_http_check_status_and_body(local_url: str) -> None:
    assert HttpCheck(f"{local_url}/health", body_pattern=r"version=2").run().passed
    body = HttpCheck(f"{local_url}/health", body_pattern=r"version=3", attempts=1).run()
    assert not body.passed and "does not match" in body.detail
    down = HttpCheck(f"{local_url}/other", attempts=1).run()
    assert not down.passed and down.detail == "status 503, expected 200"
    assert HttpCheck(f"{local_url}/other", expected_status=503).run().passed


def test_http_check_connection_refused(local_url: str) -> None:
    closed = HttpCheck("http://127.0.0.1:9/health", attempts=1, timeout_seconds=1).run()
    assert not closed.passed and "request failed" in closed.detail


def test_command_hook_passes_env_and_exit_code() -> None:
    ok = CommandHook(
        f"{sys.executable} -c \"import os,sys; sys.exit(os.environ['ZDD_COLOR'] != 'green')\"",
        env={"ZDD_COLOR": "green"},
    ).run()
    assert ok.passed and ok.detail.startswith("exit 0")
    bad = CommandHook(f"{sys.executable} -c \"print('nope'); raise SystemExit(3)\"").run()
    assert not bad.passed and bad.detail == "exit 3: nope"
    missing = CommandHook("definitely-not-a-command-zdd").run()
    assert not missing.passed and "command not found" in missing.detail


def test_command_hook_timeout() -> None:
    slow = CommandHook(f'{sys.executable} -c "import time; time.sleep(5)"', timeout_seconds=0.5)
    res = slow.run()
    assert not res.passed and "timed out" in res.detail
