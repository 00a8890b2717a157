"""A fake clock for tests and benchmarks: `sleep` advances time instantly."""

from __future__ import annotations

from collections.abc import Callable


class FakeClock:
    """Deterministic time. Hooks run on every sleep so a test can change the world mid-bake."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self.slept: list[float] = []
        self._hooks: list[Callable[[float], None]] = []

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._now += max(0.0, seconds)
        for hook in list(self._hooks):
            hook(self._now)

    def on_sleep(self, hook: Callable[[float], None]) -> None:
        """Call `hook(now)` after every sleep."""
        self._hooks.append(hook)
