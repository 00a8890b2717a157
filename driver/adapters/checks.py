"""Pre-traffic checks: an HTTP probe of the test listener, run here or by the stack's probe function
inside the VPC, and command hooks. Shared by AWS and local.

The probe itself is `contract/probe.py`, the same file the probe Lambda runs, so both places judge
a check, and say why one could not be made, the same way.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Mapping
from typing import Any

from ...contract.probe import ProbeAnswer, ProbeInputError, ProbeRequest, probe
from ..core.errors import InputError
from ..core.ports import CheckResult
from .aws.clients import AWS_ERRORS

# ProbeRequest's field -> the driver input it comes from
_INPUT_OF = {"url": "check_path", "expectedStatus": "check_status", "bodyPattern": "check_body"}


def _request(url: str, host_name: str | None, **options: Any) -> ProbeRequest:
    try:
        return ProbeRequest(url, host_name=host_name, **options)
    except ProbeInputError as exc:
        raise InputError(_INPUT_OF.get(exc.key, exc.key), exc.problem) from None


class HttpCheck:
    """GET `url` from where the driver runs; pass on `expected_status` and, when given, a body
    matching `body_pattern`. `host_name` is sent as Host and TLS server name."""

    def __init__(
        self,
        url: str,
        *,
        expected_status: int = 200,
        body_pattern: str | None = None,
        timeout_seconds: float = 5.0,
        attempts: int = 3,
        name: str | None = None,
        host_name: str | None = None,
    ) -> None:
        self.request = _request(
            url,
            host_name,
            expected_status=expected_status,
            body_pattern=body_pattern,
            timeout_seconds=timeout_seconds,
            attempts=attempts,
        )
        self.name = name or self.request.describe()

    def run(self) -> CheckResult:
        answer = probe(self.request)
        return CheckResult(self.name, answer.passed, answer.detail)


class ProbeFunctionCheck:
    """The same GET, made by the stack's probe Lambda inside the VPC (`lambda:InvokeFunction`).

    For a test listener open only to the VPC. A probe that cannot be invoked, or that fails, is a
    failed check whose detail says why; nothing is raised, so the release stops before traffic.
    """

    def __init__(
        self, lambda_client: Any, function_arn: str, request: ProbeRequest, *, name: str | None = None
    ) -> None:
        self.lambda_client = lambda_client
        self.function_arn = function_arn
        self.request = request
        self.name = name or f"{request.describe()} (from the probe function in the VPC)"

    def run(self) -> CheckResult:
        where = f"probe function {self.function_arn}"
        try:
            reply = self.lambda_client.invoke(
                FunctionName=self.function_arn,
                InvocationType="RequestResponse",
                Payload=json.dumps(self.request.to_event()).encode(),
            )
            payload = reply["Payload"].read()
        except AWS_ERRORS as exc:
            return CheckResult(self.name, False, f"cannot invoke the {where}: {exc}")
        try:
            data = json.loads(payload or b"null")
        except ValueError:
            return CheckResult(self.name, False, f"the {where} answered something other than JSON: {payload[:200]!r}")
        if reply.get("FunctionError"):
            message = data.get("errorMessage", data) if isinstance(data, dict) else data
            return CheckResult(self.name, False, f"the {where} failed ({reply['FunctionError']}): {message}")
        try:
            answer = ProbeAnswer.from_dict(data)
        except ProbeInputError as exc:
            return CheckResult(self.name, False, f"the {where} gave {exc.problem}")
        return CheckResult(self.name, answer.passed, answer.detail)


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
        ran = run_command(self.argv, self.env, self.timeout)
        return CheckResult(self.name, ran.exit_code == 0, ran.detail)


class CommandRun:
    """How a command ended: its exit code (None: it did not run to an exit), a one-line detail
    (exit code and the last lines), and its whole output."""

    def __init__(self, exit_code: int | None, detail: str, output: str = "") -> None:
        self.exit_code = exit_code
        self.detail = detail
        self.output = output


def run_command(argv: list[str], env: Mapping[str, str], timeout_seconds: float) -> CommandRun:
    """Run `argv` (no shell) with `env` on top of ours, bounded by `timeout_seconds`."""
    try:
        proc = subprocess.run(
            argv,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout_seconds,
            check=False,
        )
    except FileNotFoundError:
        return CommandRun(None, f"command not found: {argv[0]}")
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"") + (exc.stderr or b"")
        text = out.decode(errors="replace") if isinstance(out, bytes) else str(out)
        return CommandRun(None, f"timed out after {timeout_seconds:g}s", text)
    output = proc.stdout + proc.stderr
    tail = output.strip().splitlines()[-3:]
    detail = f"exit {proc.returncode}" + (": " + " | ".join(tail) if tail else "")
    return CommandRun(proc.returncode, detail, output)
