"""`TrafficRouter` port on HAProxy: color weights become live server weights (no reload).

The router also points the test listener (haproxy_config.py) at the idle color: the live color is
the one that last had 100% of the weights, the idle one is the other, as with ALB's test listener
before, during and after a canary.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..contract import COLORS, Color, Weights, other_color
from ..driver.core.errors import PortError
from .haproxy_config import BACKEND, IDLE_KEY, slot_color
from .haproxy_runtime import RuntimeApi

log = logging.getLogger(__name__)

# HAProxy server weights are 0-256; a color's percent is spread over its servers at this scale,
# so 100% over 1 server is weight 200 and 10% over 2 servers is 10 each.
WEIGHT_SCALE = 2


def server_weight(percent: int, servers: int) -> int:
    """Per-server HAProxy weight giving a color `percent` of traffic over `servers` servers."""
    if percent == 0 or servers == 0:
        return 0
    return max(1, min(256, round(percent * WEIGHT_SCALE / servers)))


def percents(totals: dict[Color, int]) -> Weights:
    """Whole percents summing to 100 from per-color weight totals."""
    total = sum(totals.values())
    if total <= 0:
        raise PortError("no server is up with a weight above 0: HAProxy would answer 503")
    blue = round(100 * totals["blue"] / total)
    return Weights(blue=blue, green=100 - blue)


@dataclass(frozen=True)
class WeightChange:
    at: float
    weights: Weights


class HaproxyRouter:
    """Sets and reads color weights through the runtime API; keeps a history for the report."""

    def __init__(
        self,
        api: RuntimeApi,
        attached: Callable[[Color], list[str]],
        clock: Callable[[], float] = time.time,
        test_map_path: str | None = None,
    ) -> None:
        self.api = api
        self.attached = attached
        self.clock = clock
        self.test_map_path = test_map_path  # the test listener's map (None: no test listener)
        self.history: list[WeightChange] = []
        self.live: Color | None = None
        self.lock = threading.RLock()  # weight changes one at a time (the driver's, and `respread`'s)

    @property
    def idle(self) -> Color | None:
        """The color the test listener serves (None before any color was live)."""
        return None if self.live is None else other_color(self.live)

    def set_weights(self, weights: Weights) -> None:
        with self.lock:
            self._apply(weights)
            self.history.append(WeightChange(self.clock(), weights))
            live = next((color for color in COLORS if weights.of(color) == 100), self.live)
            if live != self.live and live is not None:
                self._point_test_listener(live)

    def respread(self) -> None:
        """Apply the last weights again over the slots attached now, after one was lost or came back:
        ALB weighs target groups, so a color keeps its share while one of its targets is gone. No new
        history entry: the release did not move traffic."""
        with self.lock:
            if self.history:
                self._apply(self.history[-1].weights)

    def _apply(self, weights: Weights) -> None:
        plan: dict[str, int] = {}
        for color in COLORS:
            slots = self.attached(color)
            if weights.of(color) > 0 and not slots:
                raise PortError(f"cannot send {weights.of(color)}% to {color}: no instances")
            for slot in slots:
                plan[slot] = server_weight(weights.of(color), len(slots))
        current = {name: s.weight for name, s in self.api.show_stat(BACKEND).items()}
        # Raise weights before lowering others, so the total is never 0 in between.
        order = sorted(plan, key=lambda slot: plan[slot] <= current.get(slot, 0))
        for slot in order:
            self.api.set_weight(BACKEND, slot, plan[slot])
        for slot, weight in current.items():
            if slot not in plan and weight:
                self.api.set_weight(BACKEND, slot, 0)

    def _point_test_listener(self, live: Color) -> None:
        # Production weights are already applied: a test-listener failure must not fail them (a
        # rollback would take its slow path). `live` stays unchanged, so the next change retries.
        if self.test_map_path is not None:
            try:
                self.api.set_map_entry(self.test_map_path, IDLE_KEY, other_color(live))
            except PortError as exc:
                log.warning("test listener still serves %s: %s", other_color(self.live or live), exc)
                return
        self.live = live

    def observed_weights(self) -> Weights:
        """Weights HAProxy reports for servers that are UP (what traffic really follows)."""
        totals: dict[Color, int] = {"blue": 0, "green": 0}
        for name, stat in self.api.show_stat(BACKEND).items():
            color = slot_color(name)
            if color is not None and stat.is_up:
                totals[color] += stat.weight
        return percents(totals)
