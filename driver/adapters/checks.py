"""Pre-traffic checks: HTTP against the test listener, and command hooks. Shared by AWS and local."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Mapping

import httpx

from ..core.errors import InputError
from ..core.ports import CheckResult


class HttpCheck:
    """GET `url`; pass on `expected_status` and, when given, a body matching `body_pattern`."""

    def __init__(
        self,
        url: str,
        *,
        expected_status: int = 200,
        body_pattern: str | None = None,
        timeout_seconds: float = 5.0,
        attempts: int = 3,
        name: str | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InputError("check_path", f"the test URL must be http(s), got {url!r}")
        if not 100 <= expected_status <= 599:
            raise InputError("check_status", f"must be an HTTP status, got {expected_status}")
        self.url = url
        self.expected_status = expected_status
        self.pattern = re.compile(body_pattern) if body_pattern else None
        self.timeout = timeout_seconds
        self.attempts = max(1, attempts)
        self.name = name or f"GET {url}"

    def run(self) -> CheckResult:
        detail = ""
        for _ in range(self.attempts):  # a fresh target may refuse the first connection
            try:
                resp = httpx.get(self.url, timeout=self.timeout, follow_redirects=False)
            except httpx.HTTPError as exc:
                detail = f"request failed: {exc.__class__.__name__}: {exc}"
                continue
            if resp.status_code != self.expected_status:
                detail = f"status {resp.status_code}, expected {self.expected_status}"
                continue
            if self.pattern and not self.pattern.search(resp.text):
                detail = f"body does not match /{self.pattern.pattern}/"
                continue
            return CheckResult(self.name, True, f"status {resp.status_code}")
        return CheckResult(self.name, False, detail)


class CommandHook:
    """Run a command (no shell); pass on exit code 0. Release facts arrive as ZDD_* variables."""

    def __init__(
        self,
        command: str,
        *,
        env: Mapping[str, str] | None = None,
        timeout_seconds: float = 300.0,
    ) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as exc:
            raise InputError("hook", f"cannot split {command!r} into arguments: {exc}") from None
        if not self.argv:
            raise InputError("hook", "empty command")
        self.env = dict(env or {})
        self.timeout = timeout_seconds
        self.name = f"hook {self.argv[0]}"

    def run(self) -> CheckResult:

        try:
            proc = subprocess.run(
                self.argv,
                env={**os.environ, **self.env},
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            return CheckResult(self.name, False, f"command not found: {self.argv[0]}")
        except subprocess.TimeoutExpired:
            return CheckResult(self.name, False, f"timed out after {self.timeout:g}s")
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        detail = f"exit {proc.returncode}" + (": " + " | ".join(tail) if tail else "")
        return CheckResult(self.name, proc.returncode == 0, detail)
