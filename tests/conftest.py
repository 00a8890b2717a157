"""Shared fixtures. Heavy imports (pulumi_aws) stay inside tests and fixtures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def fresh_event_loop():
    """Each test gets its own event loop: Pulumi's runtime keeps state on the loop."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print what the property-based tests tried and how it ended (from their `fuzz` properties)."""
    lines: list[str] = []
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "fuzz" and getattr(report, "when", "call") == "call":
                extra = ", ".join(f"{k} {v}" for k, v in value.items() if k not in ("area", "tried"))
                lines.append(f"{value['area']}: {value['tried']} mutants tried; {extra}")
    if lines:
        terminalreporter.write_sep("-", "property-based input tests")
        for line in sorted(lines):
            terminalreporter.write_line(line)
