"""Deployer for paired ECS services: the release state in the release store, then `up`.

The driver never writes stack config. Every change is written to the service's release state
(`state/services/<service>.json`) first, and then `up` runs the stack program, which reads it:
so an `up` from any checkout, at any moment, applies exactly what the driver last recorded.
Health comes from ELBv2 target health.
"""

from __future__ import annotations

from typing import Any

from ...contract import Color, ServiceOutputs, Weights
from ...contract.release_state import ColorState, ServiceState
from ..core.ports import Clock
from .aws import health
from .pulumi_stack import StackOps
from .release_store import ReleaseStore


class StackDeployer:
    def __init__(
        self,
        ops: StackOps,
        service: ServiceOutputs,
        store: ReleaseStore,
        state: ServiceState,
        elbv2: Any,
        clock: Clock,
        *,
        health_poll_seconds: float = 5.0,
    ) -> None:
        self.ops = ops
        self.service = service
        self.store = store
        self.state = state
        """The release state as this driver last wrote or read it."""
        self.elbv2 = elbv2
        self.clock = clock
        self.health_poll_seconds = health_poll_seconds
        self.release_id = ""
        """Written into the state with every change (set once the release has its id)."""

    def _record(self, state: ServiceState) -> None:
        if state != self.state:
            state = ServiceState(
                live_color=state.live_color,
                weights=state.weights,
                blue=state.blue,
                green=state.green,
                release_id=self.release_id,
                updated_at=self.clock.now(),
            )
            self.store.write_service_state(state)
            self.state = state

    def _up(self, message: str) -> None:
        """`up` from the release state. A stack failure is a PortError, so the release rolls back."""
        self.ops.up(message)

    def deploy_idle(self, color: Color, image: str, desired_count: int) -> None:
        self._record(self.state.with_color(color, ColorState(image, desired_count)))
        self._up(f"zdd: deploy {image} to {self.service.name}/{color}")

    def wait_healthy(self, color: Color, timeout_seconds: float) -> bool:
        return health.wait_healthy(
            self.elbv2,
            self.service.color(color).target_group_arn,
            minimum=self.state.color(color).desired_count,
            timeout_seconds=timeout_seconds,
            clock=self.clock,
            poll_seconds=self.health_poll_seconds,
        )

    def healthy_targets(self, color: Color) -> int:
        return health.healthy_count(self.elbv2, self.service.color(color).target_group_arn)[0]

    def declare(self, weights: Weights, live_color: Color) -> None:
        self._record(
            ServiceState(
                live_color=live_color,
                weights=weights,
                blue=self.state.blue,
                green=self.state.green,
                release_id=self.state.release_id,
                updated_at=self.state.updated_at,
            )
        )

    def reconcile(self, weights: Weights, live_color: Color) -> None:
        self.declare(weights, live_color)
        self._up(f"zdd: {self.service.name} weights {weights.as_dict()} live {live_color}")

    def scale_down(self, color: Color) -> None:
        current = self.state.color(color)
        self._record(self.state.with_color(color, ColorState(current.image, 0)))
        self._up(f"zdd: scale {self.service.name}/{color} to 0")
