"""Renders the HAProxy configuration of the rehearsal (a pure function, tested without HAProxy).

One frontend on 127.0.0.1, one backend whose servers are fixed slots per color (`blue-1`,
`green-1`, ...). Slots start in maintenance; the supervisor points a slot at a new instance with
the runtime API (`set server ... addr`), so releases never reload HAProxy.

With `test_bind`, a second frontend (the test listener, like ALB's) serves only the idle color: it
picks the backend `test-<color>` named by a runtime map (`idle` -> color, set by the router), whose
servers mirror that color's slots and `track` their health, so the slots are checked once and a
slot in maintenance or drain is out of both. Test traffic never reaches the production backend's
counters, so the metrics source sees user traffic only.

Like an ALB, the load balancer never retries a request by default: a target that closes a
connection mid-request costs the user a 502 (or a 503 when no server could take it), which the load
generator records. `retries=True` (the rehearsal's `--lb-retries`, for ingress controllers that do
retry) adds HAProxy's connection-level retries and redispatch, and the report says they were on.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..contract import COLORS, Color
from ..contract.load_balancer import DEFAULT_IDLE_TIMEOUT_SECONDS

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
    """HAProxy active health check on the readiness endpoint (`lb_settings.py` derives it from the
    stack's target group defaults). Like ALB's, one interval whatever the server's state."""

    path: str = "/ready"
    interval_ms: int = 500
    fast_interval_ms: int = 500
    fall: int = 2
    rise: int = 2
    timeout_ms: int = 500  # a check slower than this fails


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
    idle_timeout_ms: int = DEFAULT_IDLE_TIMEOUT_SECONDS * 1000  # ALB's idle timeout; the app's keep-alive outlives it
    retries: bool = False  # ALB-like: no retries, no redispatch (`--lb-retries` turns them on)
    state_file: str = ""  # server-state file loaded at start (a reload keeps runtime weights); "" = none

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
    # With a state file (a reloadable HAProxy) slots start enabled at weight 0, DOWN by their checks:
    # HAProxy 2.6 would keep the test listener's tracking servers in the maintenance inherited from
    # `disabled` after a reload, although the state file brings their tracked slot back.
    disabled = "" if layout.state_file else " disabled"
    servers = [
        # Placeholder address; `disabled` = maintenance until an instance is attached.
        f"    server {name} 127.0.0.1:9 check weight 0{disabled}"
        for color in COLORS
        for name in layout.slots(color)
    ]
    lines = [
        "global",
        f"    stats socket {layout.socket_path} mode 600 level admin",
        "    stats timeout 10s",
        "    maxconn 4096",
        "    nbthread 1",
        *([f"    server-state-file {layout.state_file}"] if layout.state_file else []),
        "",
        "defaults",
        "    mode http",
        *(["    load-server-state-from-file global"] if layout.state_file else []),
        f"    timeout connect {layout.connect_timeout_ms}ms",
        "    timeout client 30s",
        f"    timeout server {layout.server_timeout_ms}ms",
        f"    timeout http-keep-alive {layout.idle_timeout_ms}ms",
        f"    timeout check {chk.timeout_ms}ms",
        *_retry_lines(layout.retries),
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


def _retry_lines(retries: bool) -> list[str]:
    if not retries:
        # An ALB does not retry: a failed connection or a target that dies mid-request is the user's
        # error. HAProxy retries connection failures 3 times unless told otherwise.
        return ["    retries 0"]
    # Only when asked (`--lb-retries`): connection-level failures go to another server. The report
    # says so, because the failures these hide would reach users behind an ALB.
    return ["    retries 3", "    option redispatch 1", "    retry-on conn-failure empty-response junk-response"]


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
