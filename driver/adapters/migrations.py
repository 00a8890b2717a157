"""`MigrationRunner` as a local process: the migration command runs here, awaited and bounded.

For users who run migrations from the driver's machine (or CI runner), and for the rehearsal. The
command is split like a hook (no shell), gets the release facts as ZDD_* variables (ZDD_PHASE,
ZDD_NEW_IMAGE, ZDD_OLD_IMAGE, ZDD_STACK, ZDD_SERVICE), and its whole output goes to a log file
whose path is the result's `log_url`. On AWS the same commands run as one-off ECS tasks
(`aws/migration_task.py`).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping
from pathlib import Path

from ..core.errors import InputError
from ..core.ports import MigrationResult
from .checks import run_command

DEFAULT_TIMEOUT_SECONDS = 1800.0


class CommandMigrationRunner:
    """Runs each migration command as a local process; exit 0 passes."""

    def __init__(
        self,
        log_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if not timeout_seconds > 0:
            raise InputError("migration_timeout", f"must be > 0 seconds, got {timeout_seconds!r}")
        self.log_dir = log_dir
        self.env = dict(env or {})
        self.timeout = timeout_seconds

    def run(self, phase: str, command: str, image: str, env: Mapping[str, str]) -> MigrationResult:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            return MigrationResult(phase, False, f"cannot split {command!r}: {exc}")
        if not argv:
            return MigrationResult(phase, False, "empty command")
        ran = run_command(argv, {**self.env, **env, "ZDD_IMAGE": image}, self.timeout)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{phase}.log"
        log.write_text(f"$ {command}\n{ran.output}", encoding="utf-8")
        return MigrationResult(
            phase, ran.exit_code == 0, f"{phase}: {ran.detail}", ran.exit_code, log_url=str(log), task="local"
        )
