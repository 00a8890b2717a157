"""Deployer for paired ECS services: stack config + `up` through `StackOps`, health from ELBv2."""

from __future__ import annotations

from typing import Any

from ...contract import COLORS, Color, ServiceOutputs, Weights
from ..core.ports import Clock
from .aws import health
from .pulumi_stack import StackOps


class StackDeployer:
    """Writes `services.<name>.*` config keys (path=True) and runs `up` for each change.

    Keys written: `<configPath>.liveColor`, `<configPath>.<color>.image`,
    `<configPath>.<color>.desiredCount`, `<configPath>.<color>.weight`.
    """

    def __init__(
        self,
        ops: StackOps,
        service: ServiceOutputs,
        elbv2: Any,
        clock: Clock,
        *,
        health_poll_seconds: float = 5.0,
    ) -> None:
        self.ops = ops
        self.service = service
        self.elbv2 = elbv2
        self.clock = clock
        self.health_poll_seconds = health_poll_seconds
        self._desired: dict[Color, int] = {c: service.color(c).desired_count for c in COLORS}

    def _apply(self, values: dict[str, str], message: str) -> None:
        """Config + `up`. A stack failure is a PortError, so the release rolls back."""
        self.ops.set_config(values)
        self.ops.up(message)

    def _key(self, *parts: str) -> str:
        return ".".join((self.service.config_path, *parts))

    def deploy_idle(self, color: Color, image: str, desired_count: int) -> None:
        self._apply(
            {
                self._key(color, "image"): image,
                self._key(color, "desiredCount"): str(desired_count),
            },
            f"zdd: deploy {image} to {self.service.name}/{color}",
        )
        self._desired[color] = desired_count

    def wait_healthy(self, color: Color, timeout_seconds: float) -> bool:
        return health.wait_healthy(
            self.elbv2,
            self.service.color(color).target_group_arn,
            minimum=self._desired.get(color, 1),
            timeout_seconds=timeout_seconds,
            clock=self.clock,
            poll_seconds=self.health_poll_seconds,
        )

    def reconcile(self, weights: Weights, live_color: Color) -> None:
        self._apply(
            {
                self._key("liveColor"): live_color,
                self._key("blue", "weight"): str(weights.blue),
                self._key("green", "weight"): str(weights.green),
            },
            f"zdd: {self.service.name} weights {weights.as_dict()} live {live_color}",
        )

    def scale_down(self, color: Color) -> None:
        self._apply({self._key(color, "desiredCount"): "0"}, f"zdd: scale {self.service.name}/{color} to 0")
        self._desired[color] = 0
