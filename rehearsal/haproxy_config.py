"""Renders the HAProxy configuration of the rehearsal (a pure function, tested without HAProxy).

One frontend on 127.0.0.1, one backend whose servers are fixed slots per color (`blue-1`,
`green-1`, ...). Slots start in maintenance; the supervisor points a slot at a new instance with
the runtime API (`set server ... addr`), so releases never reload HAProxy.

With `test_bind`, a second frontend (the test listener, like ALB's) serves only the idle color: it
picks the backend `test-<color>` named by a runtime map (`idle` -> color, set by the router), whose
servers mirror that color's slots and `track` their health, so the slots are checked once and a
slot in maintenance or drain is out of both. Test traffic never reaches the production backend's
counters, so the metrics source sees user traffic only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..contract import COLORS, Color

BACKEND = "app"
FRONTEND = "public"
TEST_FRONTEND = "test"
IDLE_KEY = "idle"  # the test listener's runtime map: IDLE_KEY -> the color it serves
# The response header naming the server slot that answered: the load balancer's own word on
# which color served a request, recorded by the load generator.
SERVED_BY_HEADER = "x-served-by"
# The server's response time as HAProxy measured it (%Tr, ms): the load balancer's latency, like
# ALB's TargetResponseTime, unaffected by how busy the load generator is.
SERVER_TIME_HEADER = "x-server-time-ms"


def slot_name(color: Color, index: int) -> str:
    """Server slot name, 1-based: `blue-1`."""
    return f"{color}-{index}"


def idle_backend(color: Color) -> str:
    """The test listener's backend for `color`: `test-green`."""
    return f"test-{color}"


def slot_color(name: str) -> Color | None:
    """The color of a slot name, or None for anything else."""
    for color in COLORS:
        if name.startswith(f"{color}-"):
            return color
    return None


@dataclass(frozen=True)
class HealthCheck:
    """HAProxy active health check on the readiness endpoint."""

    path: str = "/ready"
    interval_ms: int = 500
    fast_interval_ms: int = 250
    fall: int = 2
    rise: int = 2


@dataclass(frozen=True)
class HaproxyLayout:
    """Everything the config depends on."""

    bind: str  # "fd@5" (inherited socket) or "127.0.0.1:8080"
    socket_path: str
    slots_per_color: int = 2
    check: HealthCheck = HealthCheck()
    connect_timeout_ms: int = 1000
    server_timeout_ms: int = 30_000
    test_bind: str | None = None  # the test listener (None: none)
    test_map_path: str = ""  # its runtime map file, required with `test_bind`

    def slots(self, color: Color) -> list[str]:
        return [slot_name(color, i) for i in range(1, self.slots_per_color + 1)]


def render_config(layout: HaproxyLayout) -> str:
    """The complete haproxy.cfg text."""
    if not 1 <= layout.slots_per_color <= 16:
        raise ValueError(f"slots_per_color must be 1-16, got {layout.slots_per_color}")
    for name, bind in (("bind", layout.bind), ("test_bind", layout.test_bind)):
        if bind is not None and not (bind.startswith("fd@") or bind.startswith("127.0.0.1:")):
            raise ValueError(f"{name} must be fd@N or 127.0.0.1:PORT, got {bind!r}")
    if layout.test_bind is not None and not layout.test_map_path:
        raise ValueError("test_map_path is required with test_bind")
    chk = layout.check
    servers = [
        # Placeholder address; `disabled` = maintenance until an instance is attached.
        f"    server {name} 127.0.0.1:9 check weight 0 disabled"
        for color in COLORS
        for name in layout.slots(color)
    ]
    lines = [
        "global",
        f"    stats socket {layout.socket_path} mode 600 level admin",
        "    stats timeout 10s",
        "    maxconn 4096",
        "    nbthread 1",
        "",
        "defaults",
        "    mode http",
        f"    timeout connect {layout.connect_timeout_ms}ms",
        "    timeout client 30s",
        f"    timeout server {layout.server_timeout_ms}ms",
        "    timeout http-keep-alive 10s",
        # Connection-level failures (an instance closing an idle keep-alive connection as it
        # exits) are retried on another server; application 5xx are never retried or hidden.
        "    retries 3",
        "    option redispatch 1",
        "    retry-on conn-failure empty-response junk-response",
        "",
        f"frontend {FRONTEND}",
        f"    bind {layout.bind}",
        f"    default_backend {BACKEND}",
        f"    http-response set-header {SERVED_BY_HEADER} %[srv_name]",
        f"    http-response set-header {SERVER_TIME_HEADER} %Tr",
        "",
        f"backend {BACKEND}",
        "    balance roundrobin",
        "    option httpchk",
        f"    http-check send meth GET uri {chk.path}",
        "    http-check expect status 200",
        (
            f"    default-server inter {chk.interval_ms}ms fastinter {chk.fast_interval_ms}ms"
            f" downinter {chk.interval_ms}ms fall {chk.fall} rise {chk.rise}"
        ),
        *servers,
        "",
    ]
    if layout.test_bind is not None:
        lines += _test_listener(layout)
    return "\n".join(lines)


def _test_listener(layout: HaproxyLayout) -> list[str]:
    """The test frontend and one backend per color; the map says which color is idle."""
    lines = [
        f"frontend {TEST_FRONTEND}",
        f"    bind {layout.test_bind}",
        # Until the router names one, the idle color is green (blue is live when the rehearsal starts).
        f"    use_backend test-%[str({IDLE_KEY}),map({layout.test_map_path},green)]",
        f"    http-response set-header {SERVED_BY_HEADER} %[srv_name]",
        f"    http-response set-header {SERVER_TIME_HEADER} %Tr",
        "",
    ]
    for color in COLORS:
        lines += [f"backend {idle_backend(color)}", "    balance roundrobin"]
        # Same placeholder address as the production slot; `track` follows its health and its
        # maintenance/drain state, so no second health check ever reaches the instance.
        lines += [f"    server {name} 127.0.0.1:9 track {BACKEND}/{name}" for name in layout.slots(color)]
        lines.append("")
    return lines
