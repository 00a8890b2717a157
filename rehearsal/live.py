"""Live progress of a rehearsal with rich: log lines for phases and transitions, a status panel."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..driver.core.machine import Progress
from .loadgen import Record
from .router import HaproxyRouter
from .scenario import Observer

RECENT_SECONDS = 2.0


class LiveObserver(Observer):
    """Prints phases and state changes; renders load and weights while a terminal is attached."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.phase_name = "starting"
        self.last: Progress | None = None
        self.version = ""
        self._records: Callable[[], list[Record]] | None = None
        self._router: HaproxyRouter | None = None
        self._live = Live(get_renderable=self.render, console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> LiveObserver:
        if self.console.is_terminal:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live.is_started:
            self._live.stop()

    def attach(self, records: Callable[[], list[Record]], router: HaproxyRouter) -> None:
        self._records = records
        self._router = router

    def phase(self, name: str) -> None:
        self.phase_name = name
        self.console.log(f"[bold]{name}[/]")

    def progress(self, version: str, update: Progress) -> None:
        changed = self.last is None or self.last.state != update.state or self.version != version
        self.version, self.last = version, update
        weights = f" weights {update.weights.as_dict()}" if update.weights else ""
        if changed:
            why = f": {update.message}" if update.message else ""
            self.console.log(f"{version} {update.state}{weights}{why}")
        elif update.message.startswith("fail"):
            self.console.log(f"{version} check {update.message}")

    def render(self) -> Group:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_row("phase", self.phase_name)
        if self.last is not None:
            p = self.last
            step = f"step {p.step + 1}/{p.steps}" if p.step is not None and p.steps else ""
            table.add_row("release", f"{self.version} {p.state} {step}")
            if p.requests is not None:
                rate = "-" if p.error_rate is None else f"{p.error_rate:.1%}"
                p99 = "-" if p.p99_seconds is None else f"{p.p99_seconds * 1000:.0f} ms"
                table.add_row(
                    "analysis",
                    f"{p.requests} req, errors {rate}, p99 {p99}, failed checks {p.failed_checks}",
                )
        if self._router is not None and self._router.history:
            table.add_row("weights", str(self._router.history[-1].weights.as_dict()))
        if self._records is not None:
            records = self._records()
            now = time.time()
            recent = [r for r in records if r.sent_at >= now - RECENT_SECONDS]
            split = Counter(r.version or "none" for r in recent)
            total_recent = max(1, len(recent))
            shares = ", ".join(f"{v} {100 * n / total_recent:.0f}%" for v, n in sorted(split.items()))
            failed = sum(r.failed for r in records)
            table.add_row(
                "load",
                Text(f"{len(records)} sent, {failed} failed; last {RECENT_SECONDS:.0f}s: {shares}"),
            )
        return Group(table)
