"""Pre-traffic checks run directly against the idle color's instances (not through HAProxy).

Like a test listener: every instance must be ready, alive and report the version being released
before any production traffic moves. Each probe is the driver's own `HttpCheck`; the instances'
URLs are only known once `deploy_idle` has started them, so they are resolved when the check runs.
Faults that only show under real traffic pass these checks; catching them is the canary's job.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..driver.adapters.checks import HttpCheck
from ..driver.core.ports import CheckResult
from .processes import Instance


class InstanceEndpointCheck:
    """`PreTrafficCheck`: `HttpCheck` of `path` on every instance; all must pass."""

    def __init__(
        self,
        name: str,
        instances: Callable[[], list[Instance]],
        path: str,
        body_pattern: str | None = None,
        timeout_seconds: float = 2.0,
    ) -> None:
        self.name = name
        self.instances = instances
        self.path = path
        self.body_pattern = body_pattern
        self.timeout_seconds = timeout_seconds

    def run(self) -> CheckResult:
        targets = self.instances()
        if not targets:
            return CheckResult(self.name, False, "no instances to check")
        problems = []
        for inst in targets:
            result = HttpCheck(
                f"{inst.url}{self.path}",
                body_pattern=self.body_pattern,
                timeout_seconds=self.timeout_seconds,
                name=inst.name,
            ).run()
            if not result.passed:
                problems.append(f"{inst.name}: {result.detail}")
        if problems:
            return CheckResult(self.name, False, "; ".join(problems))
        return CheckResult(self.name, True, f"{len(targets)} instance(s) answered {self.path}")


def standard_checks(instances: Callable[[], list[Instance]], version: str) -> list[InstanceEndpointCheck]:
    """Readiness, liveness and version on every instance of the idle color."""
    return [
        InstanceEndpointCheck("ready", instances, "/ready"),
        InstanceEndpointCheck("live", instances, "/live"),
        InstanceEndpointCheck("version", instances, "/version", body_pattern=f'"version":"{re.escape(version)}"'),
    ]
