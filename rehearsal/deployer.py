"""`Deployer` port on local processes: a color is a set of HAProxy slots with app instances.

Deploying attaches new instances to the color's slots at weight 0 (`set server addr`, `state
ready`). Scaling down stops them the way ECS stops a task behind an ALB: deregister first (the
slots go to DRAIN: no new requests), wait the deregistration delay while in-flight requests finish
(it ends early once none is left, as ALB's does), and only then send SIGTERM; each instance's own
graceful exit follows (readiness 503 -> in-flight requests finish -> exit 0). Requests still in
flight when the delay ran out are recorded in the `StopRecord`, never hidden.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from ..contract import Color, Weights
from ..driver.core.errors import PortError
from .haproxy_config import BACKEND, idle_backend
from .haproxy_process import HaproxyProcess
from .haproxy_runtime import RuntimeApi, RuntimeApiError
from .processes import Instance, Supervisor


@dataclass(frozen=True)
class AppRelease:
    """What an "image" means locally: a version label and its environment (faults included)."""

    version: str
    error_rate: float = 0.0
    added_latency_ms: float = 0.0
    noise_error_rate: float = 0.0  # background errors and jitter, in every version alike (`--noise`)
    noise_jitter_ms: float = 0.0
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            "APP_VERSION": self.version,
            "APP_ERROR_RATE": str(self.error_rate),
            "APP_ADDED_LATENCY_MS": str(self.added_latency_ms),
            "APP_NOISE_ERROR_RATE": str(self.noise_error_rate),
            "APP_NOISE_JITTER_MS": str(self.noise_jitter_ms),
            **self.extra_env,
        }


@dataclass
class StopRecord:
    """How one color was scaled down: exit codes by instance (0 = graceful)."""

    color: Color
    at: float
    exit_codes: dict[str, int]
    drained_seconds: float = 0.0  # how long the slots drained before SIGTERM
    in_flight_at_sigterm: int = 0  # requests still in flight when the deregistration delay ran out
    sigterm_at: float = 0.0  # epoch seconds the instances were sent SIGTERM

    @property
    def graceful(self) -> bool:
        return all(code == 0 for code in self.exit_codes.values())


class LocalDeployer:
    """Starts/stops app instances behind HAProxy slots. `reconcile` is a no-op locally."""

    def __init__(
        self,
        haproxy: HaproxyProcess,
        supervisor: Supervisor,
        releases: dict[str, AppRelease],
        *,
        drain_timeout_seconds: float = 15.0,
        lb_fall: int | None = None,
        deregistration_delay_seconds: float = 1.5,
        drain: bool = True,
    ) -> None:
        if haproxy.layout is None or haproxy.api is None:
            raise RuntimeError("start HAProxy before creating the deployer")
        self.haproxy = haproxy
        self.api: RuntimeApi = haproxy.api
        self.test_listener = haproxy.layout.test_bind is not None
        self.supervisor = supervisor
        self.releases = releases
        self.drain_timeout_seconds = drain_timeout_seconds
        self.lb_fall = lb_fall if lb_fall is not None else haproxy.check.fall
        self.lb_interval_seconds = haproxy.check.interval_ms / 1000
        self.deregistration_delay_seconds = deregistration_delay_seconds
        # False only in tests that show what a stop without deregistration costs.
        self.drain = drain
        self.slots: dict[str, Instance | None] = {s: None for c in ("blue", "green") for s in haproxy.layout.slots(c)}
        self.versions: dict[Color, str | None] = {"blue": None, "green": None}
        self.stops: list[StopRecord] = []
        self.reconciled: list[tuple[Weights, Color]] = []

    def attached(self, color: Color) -> list[str]:
        """Slots of `color` that hold a running instance."""
        return [s for s, inst in self.slots.items() if s.startswith(f"{color}-") and inst]

    def instances(self, color: Color) -> list[Instance]:
        return [inst for s, inst in self.slots.items() if s.startswith(f"{color}-") and inst]

    def version_of(self, color: Color) -> str | None:
        return self.versions[color]

    def deploy_idle(self, color: Color, image: str, desired_count: int) -> None:
        release = self.releases.get(image)
        if release is None:
            known = ", ".join(sorted(self.releases))
            raise PortError(f"unknown local image {image!r}; known: {known}")
        free = [s for s in self.slots if s.startswith(f"{color}-")]
        if not 1 <= desired_count <= len(free):
            raise PortError(f"desired_count for {color} must be 1-{len(free)}, got {desired_count}")
        if self.instances(color):
            self.scale_down(color)
        env = {
            **release.env(),
            "APP_LB_FALL": str(self.lb_fall),
            "APP_LB_INTERVAL_SECONDS": str(self.lb_interval_seconds),
        }
        for slot in free[:desired_count]:
            try:
                inst = self.supervisor.spawn_app(slot, env)
                # Weight 0 before the slot leaves maintenance: HAProxy counts a server UP as
                # soon as it leaves maintenance, before its first health check.
                self.api.set_weight(BACKEND, slot, 0)
                self.api.set_address(BACKEND, slot, "127.0.0.1", inst.port)
                if self.test_listener:  # the twin slot the test listener uses
                    self.api.set_address(idle_backend(color), slot, "127.0.0.1", inst.port)
                self.api.set_state(BACKEND, slot, "ready")
            except (RuntimeError, OSError) as exc:
                raise PortError(f"could not start {slot} ({release.version}): {exc}") from exc
            self.slots[slot] = inst
        self.versions[color] = release.version

    def wait_healthy(self, color: Color, timeout_seconds: float) -> bool:
        slots = self.attached(color)
        if not slots:
            return False
        deadline = time.monotonic() + timeout_seconds
        while True:
            stats = self.api.show_stat(BACKEND)
            if all(stats[s].status == "UP" and stats[s].check_status == "L7OK" for s in slots):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def healthy_targets(self, color: Color) -> int:
        slots = self.attached(color)
        if not slots:
            return 0
        stats = self.api.show_stat(BACKEND)
        return sum(1 for s in slots if stats[s].status == "UP" and stats[s].check_status == "L7OK")

    def declare(self, weights: Weights, live_color: Color) -> None:
        # Locally the load balancer is the only state: there is no stack program to keep in step.
        return None

    def reconcile(self, weights: Weights, live_color: Color) -> None:
        self.reconciled.append((weights, live_color))

    def scale_down(self, color: Color) -> None:
        instances = self.instances(color)
        slots = self.attached(color)
        drained, in_flight = 0.0, 0
        if self.drain:
            for slot in slots:
                with contextlib.suppress(RuntimeApiError):
                    self.api.set_state(BACKEND, slot, "drain")
            drained, in_flight = self._wait_drained(slots)
        sigterm_at = time.time()
        codes = self.supervisor.terminate(instances, self.drain_timeout_seconds)
        for slot in slots:
            with contextlib.suppress(RuntimeApiError):
                self.api.set_weight(BACKEND, slot, 0)
                self.api.set_state(BACKEND, slot, "maint")
            self.slots[slot] = None
        self.versions[color] = None
        # A forced exit is reported, not raised: the color already has no traffic, and a
        # PortError here would make the release roll back to capacity that is gone.
        self.stops.append(StopRecord(color, time.time(), codes, drained, in_flight, sigterm_at))

    def _wait_drained(self, slots: list[str]) -> tuple[float, int]:
        """Wait up to the deregistration delay for the slots' in-flight requests to finish.

        Returns (seconds waited, requests still in flight at the end)."""
        start = time.monotonic()
        deadline = start + self.deregistration_delay_seconds
        in_flight = 0
        while True:
            try:
                stats = self.api.show_stat(BACKEND)
                in_flight = sum(stats[s].current_sessions for s in slots if s in stats)
            except RuntimeApiError:
                in_flight = 0  # HAProxy cannot say: wait the whole delay
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
            if in_flight == 0 or time.monotonic() >= deadline:
                return time.monotonic() - start, in_flight
            time.sleep(0.05)
