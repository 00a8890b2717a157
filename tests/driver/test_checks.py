"""The pre-traffic checks against a local server and real commands."""

from __future__ import annotations

import http.server
import sys
import threading
from collections.abc import Iterator

import pytest
from zero_downtime.driver.adapters.checks import CommandHook, HttpCheck


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
