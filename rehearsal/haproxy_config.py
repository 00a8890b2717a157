"""Renders the HAProxy configuration of the rehearsal (a pure function, tested without HAProxy).

One frontend on 127.0.0.1, one backend whose servers are fixed slots per color (`blue-1`,
`green-1`, ...). Slots start in maintenance; the supervisor points a slot at a new instance with
the runtime API (`set server ... addr`), so releases never reload HAProxy.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..contract import COLORS, Color

BACKEND = "app"
FRONTEND = "public"
# The response header naming the server slot that answered: the load balancer's own word on
# which color served a request, recorded by the load generator.
SERVED_BY_HEADER = "x-served-by"
# The server's response time as HAProxy measured it (%Tr, ms): the load balancer's latency, like
# ALB's TargetResponseTime, unaffected by how busy the load generator is.
SERVER_TIME_HEADER = "x-server-time-ms"


def slot_name(color: Color, index: int) -> str:
    """Server slot name, 1-based: `blue-1`."""
    return f"{color}-{index}"


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

    def slots(self, color: Color) -> list[str]:
        return [slot_name(color, i) for i in range(1, self.slots_per_color + 1)]


def render_config(layout: HaproxyLayout) -> str:
    """The complete haproxy.cfg text."""
    if not 1 <= layout.slots_per_color <= 16:
        raise ValueError(f"slots_per_color must be 1-16, got {layout.slots_per_color}")
    if not (layout.bind.startswith("fd@") or layout.bind.startswith("127.0.0.1:")):
        raise ValueError(f"bind must be fd@N or 127.0.0.1:PORT, got {layout.bind!r}")
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
    return "\n".join(lines)
