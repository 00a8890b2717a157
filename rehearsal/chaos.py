"""Chaos during the good release of the rehearsal (`--chaos`), bounded and on 127.0.0.1 only.

Four events, each fired once at a defined moment of the good release's canary (`placement`):

- `kill-new-instance`: SIGKILL one instance of the new color mid-bake. As ECS does when its agent
  reports a stopped task, the slot is deregistered at once (its color keeps its share on the others,
  as ALB weighs target groups) and a replacement is started in it; the health checks bring it UP (the
  release's interlock wants every desired target healthy before the next shift).
- `kill-driver`: the good release runs in a separate driver process (`driver_process.py`), which is
  SIGKILLed mid-step; a new driver process resumes it from the journal (`Machine.resume`).
- `reload-haproxy`: a zero-downtime reload mid-shift (traffic split): the server state (addresses,
  weights, admin states) is dumped to HAProxy's `server-state-file` and the test listener's map to its
  file, then the master-worker HAProxy is told to reload (SIGUSR2: a new worker takes the listening
  sockets, the old one finishes its connections).
- `slow-downstream`: the app's downstream (a tiny HTTP server here) answers slowly, then fails, so each
  instance's circuit breaker opens and the fallback answers; then it recovers.

Each event fires right after the first analysis check at or after its moment (`Chaos.on_progress`).
Every failed user request is attributed to the event whose window (start to end of its effect, plus a
grace) it overlaps (`attribute`); the report names them per event.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..contract import Color
from ..driver.core.errors import PortError
from ..driver.core.machine import Progress
from .haproxy_config import BACKEND, idle_backend
from .loadgen import Record

KILL_NEW_INSTANCE = "kill-new-instance"
KILL_DRIVER = "kill-driver"
RELOAD_HAPROXY = "reload-haproxy"
SLOW_DOWNSTREAM = "slow-downstream"
KINDS = (KILL_NEW_INSTANCE, RELOAD_HAPROXY, SLOW_DOWNSTREAM, KILL_DRIVER)
"""Every event, in the order they are placed over the good release's bakes."""

GRACE_SECONDS = 1.0
"""A failed request sent up to this long after an event's effect ended is still the event's."""

SLOW_SECONDS = 1.5  # slow-downstream: how long the downstream is slow, then how long it fails
FAILING_SECONDS = 3.0
SLOW_DELAY_SECONDS = 0.2  # below the app's 0.5 s client timeout: slow answers, not failures
BREAKER_RESET_SECONDS = 2.0  # the app's APP_BREAKER_RESET_SECONDS during a chaos run
BOUND_SECONDS = 20.0  # no event waits longer than this for anything


def parse_chaos(text: str) -> tuple[str, ...]:
    """`all` or a comma-separated list of events, in canonical order; ValueError naming `--chaos`."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError(f"--chaos: name one or more events ({', '.join(KINDS)}) or 'all'")
    if names == ["all"]:
        return KINDS
    unknown = [n for n in names if n not in KINDS]
    if unknown:
        raise ValueError(f"--chaos: unknown event {unknown[0]!r}; known: {', '.join(KINDS)}, all")
    return tuple(k for k in KINDS if k in names)


@dataclass(frozen=True)
class Placement:
    """Fire `fraction` of the way through the bake of step `step` (0-based) of the good release."""

    step: int
    fraction: float


def placement(kinds: Iterable[str], steps: int) -> dict[str, Placement]:
    """Spread the chosen events evenly over the plan's bakes, in `KINDS` order.

    Event i of n sits at (i + 0.5) / n of the whole bake time: with steps 10,50,100 and all four,
    kill-new-instance at 37.5% of the 10% step's bake, reload-haproxy at 12.5% and slow-downstream at
    87.5% of the 50% step's, kill-driver at 62.5% of the 100% step's.
    """
    chosen = [k for k in KINDS if k in set(kinds)]
    if steps < 1:
        raise ValueError("the plan has no step to place chaos in")
    out: dict[str, Placement] = {}
    for i, kind in enumerate(chosen):
        at = (i + 0.5) / len(chosen) * steps
        step = min(steps - 1, int(at))
        out[kind] = Placement(step, round(at - step, 4))
    return out


@dataclass
class ChaosEvent:
    """One event as it happened: `at` when it hit, `until` when its effect was over."""

    kind: str
    at: float
    until: float
    state: str = ""  # the release's state and step when it fired
    step: int | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the event could not be carried out (the report fails on it)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def allowed_failures(event: ChaosEvent) -> int | None:
    """How many failed user requests `event` may explain; None: no bound can be measured.

    Only `kill-new-instance` may fail any: a SIGKILLed instance drops what it was serving (ALB turns
    those into 502s too). That is at most what HAProxy had given it and it never answered: the
    requests in flight on it at the kill (`scur` just before it) plus those HAProxy sent it between
    then and its deregistration (`stot`'s growth; a refused connection counts too). Both are read
    from HAProxy's counters, not from timing, so the bound does not loosen on a loaded machine. When
    the color lost its only instance (`--instances 1`), its share has nowhere to go until the
    replacement is UP (at 100%, those requests fail) and no counter of the killed instance bounds
    them: None. The other events must fail none."""
    if event.kind != KILL_NEW_INSTANCE:
        return 0
    figures = event.figures
    if str(figures.get("share_kept", "")).startswith("no"):
        return None
    in_flight, sent = figures.get("in_flight_at_kill"), figures.get("sent_before_deregistered")
    if not isinstance(in_flight, int) or not isinstance(sent, int):
        return 0  # not measured (the event failed before): nothing may be blamed on it
    return in_flight + sent


def attribute(
    failed: Iterable[Record], events: Iterable[ChaosEvent], grace: float = GRACE_SECONDS
) -> tuple[dict[str, list[Record]], list[Record]]:
    """Failed requests by the event whose window [at, until + grace] they overlap (sent by its end,
    answered after it hit: a request in flight at a kill is the kill's), the latest such event when
    windows overlap, and those no event explains."""
    ordered = sorted(events, key=lambda e: e.at)
    by_kind: dict[str, list[Record]] = {e.kind: [] for e in ordered}
    unexplained: list[Record] = []
    for record in failed:
        owner = None
        for event in ordered:
            if record.sent_at <= event.until + grace and record.done_at >= event.at:
                owner = event
        if owner is None:
            unexplained.append(record)
        else:
            by_kind[owner.kind].append(record)
    return by_kind, unexplained


@dataclass(frozen=True)
class BreakerChange:
    """A circuit breaker changing state, as seen in the responses of one instance (slot + version)."""

    at: float
    server: str
    version: str
    before: str
    after: str


def breaker_changes(records: Iterable[Record]) -> list[BreakerChange]:
    """Breaker state transitions per instance, from the breaker header of each response in send order."""
    last: dict[tuple[str, str], str] = {}
    changes: list[BreakerChange] = []
    for r in sorted(records, key=lambda r: r.sent_at):
        if r.breaker is None or r.server is None or r.version is None:
            continue
        key = (r.server, r.version)
        before = last.get(key)
        if before is not None and before != r.breaker:
            changes.append(BreakerChange(r.sent_at, r.server, r.version, before, r.breaker))
        last[key] = r.breaker
    return changes


# -- the downstream ---------------------------------------------------------------------------------------
class _DownstreamServer(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # every instance's in-flight calls at once; the default backlog is 5
    daemon_threads = True


class Downstream:
    """A tiny HTTP server on 127.0.0.1 playing the app's downstream: `ok`, `slow` or `failing`."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.calls: dict[str, int] = {"ok": 0, "slow": 0, "failing": 0}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mode = outer.mode
                outer.calls[mode] += 1
                if mode == "slow":
                    time.sleep(SLOW_DELAY_SECONDS)
                status = 503 if mode == "failing" else 200
                body = json.dumps({"mode": mode}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = _DownstreamServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, name="chaos-downstream", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- HAProxy reload ---------------------------------------------------------------------------------------
def reload_haproxy(haproxy: Any, timeout_seconds: float = 10.0) -> dict[str, Any]:
    """Zero-downtime reload of a master-worker HAProxy whose config loads a server-state file.

    The runtime state (addresses, weights, admin states, set with the runtime API) is dumped to the
    state file and the test listener's map to its file first, so the new worker starts with them.
    Returns the old and new worker pids and the seconds until the new worker answered.
    """
    api, layout = haproxy.api, haproxy.layout
    if api is None or layout is None or not layout.state_file or haproxy.pid is None:
        raise RuntimeError("HAProxy was not started reloadable (master-worker with a server-state file)")
    Path(layout.state_file).write_text(api.command("show servers state"))
    if layout.test_map_path:
        entries = api.show_map(layout.test_map_path)
        Path(layout.test_map_path).write_text("".join(f"{k} {v}\n" for k, v in entries.items()))
    old = _worker_pid(api)
    started = time.time()
    os.kill(haproxy.pid, signal.SIGUSR2)  # the master re-executes and starts a new worker
    deadline = time.monotonic() + timeout_seconds
    new = old
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            new = _worker_pid(api)
        if new != old:
            break
        time.sleep(0.05)
    if new == old:
        raise RuntimeError(f"HAProxy did not start a new worker within {timeout_seconds:g}s")
    return {"old_worker": old, "new_worker": new, "new_worker_after_seconds": round(time.time() - started, 3)}


def _wait_gone(pid: int, since: float, timeout_seconds: float = 10.0) -> float | None:
    """Seconds from `since` until process `pid` no longer runs (gone or a zombie), or None after
    `timeout_seconds`."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            state = "gone"
        if state in ("gone", "Z", "X"):
            return _since(since, time.time())
        time.sleep(0.05)
    return None


def _worker_pid(api: Any) -> int:
    for line in api.command("show info").splitlines():
        if line.startswith("Pid:"):
            return int(line.split(":", 1)[1])
    raise RuntimeError("HAProxy's show info has no Pid")


class ChaosObserver:
    """The scenario's Observer with the chaos triggers on the release machine's progress."""

    def __init__(self, inner: Any, chaos: Chaos) -> None:
        self.inner, self.chaos = inner, chaos

    def phase(self, name: str) -> None:
        self.inner.phase(name)

    def progress(self, version: str, update: Progress) -> None:
        self.inner.progress(version, update)
        self.chaos.on_progress(version, update)

    def attach(self, records: Any, router: Any) -> None:
        self.inner.attach(records, router)

    def frontend(self, url: str) -> None:
        self.inner.frontend(url)


# -- the events -------------------------------------------------------------------------------------------
class Chaos:
    """Fires the chosen events during the release of `version`, on timers, and keeps what happened.

    `bind` hands it the running pieces once they exist; `on_progress` (the release machine's progress,
    through `observer`) starts each event's timer when the release enters the bake of its step.
    """

    def __init__(self, kinds: tuple[str, ...], version: str, steps: int, bake_seconds: float) -> None:
        self.kinds = kinds
        self.version = version
        self.bake_seconds = bake_seconds
        self.places = placement(kinds, steps)
        self.events: list[ChaosEvent] = []
        self.downstream = Downstream() if SLOW_DOWNSTREAM in kinds else None
        self.haproxy: Any = None
        self.deployer: Any = None
        self.router: Any = None
        self.driver_pid: Callable[[], int | None] = lambda: None
        self.driver_killed = threading.Event()
        self._fired: set[str] = set()
        self._bake_started: dict[int, float] = {}  # step -> when the release entered its bake
        self._timers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()

    # what the scenario asks
    @property
    def reloadable(self) -> bool:
        return RELOAD_HAPROXY in self.kinds

    def drives_release(self, version: str) -> bool:
        """Run this release in a separate driver process (to kill it)."""
        return KILL_DRIVER in self.kinds and version == self.version

    def app_env(self) -> dict[str, str]:
        if self.downstream is None:
            return {}
        return {"APP_DOWNSTREAM_URL": self.downstream.url, "APP_BREAKER_RESET_SECONDS": str(BREAKER_RESET_SECONDS)}

    def bind(self, haproxy: Any, deployer: Any, router: Any) -> None:
        self.haproxy, self.deployer, self.router = haproxy, deployer, router

    def observer(self, inner: Any) -> ChaosObserver:
        """An Observer that passes everything to `inner` and triggers the events."""
        return ChaosObserver(inner, self)

    def on_progress(self, version: str, update: Progress) -> None:
        """Fire an event with the first analysis check of its step at or after its moment.

        Right after a check, not on a bare timer: a check's probes go out in a burst of a few ms, and an
        event that happened to land inside it would be judged by timing luck, not by what the platform
        does about it (seen while building this: a kill inside a burst rolled a good release back).
        """
        if version != self.version or update.state != "BAKING" or update.step is None:
            return
        now = time.time()
        if not update.message:  # entering the bake (again, after a resume: the first start counts)
            self._bake_started.setdefault(update.step, now)
            return
        started = self._bake_started.get(update.step)
        if started is None:
            return
        for kind, place in self.places.items():
            with self._lock:
                due = place.step == update.step and now >= started + place.fraction * self.bake_seconds
                if kind in self._fired or not due:
                    continue
                self._fired.add(kind)
            thread = threading.Thread(target=self._fire, args=(kind, 0.0, update), name=f"chaos-{kind}", daemon=True)
            self._timers.append(thread)
            thread.start()

    def _fire(self, kind: str, delay: float, update: Progress) -> None:
        if self._closed.wait(delay):
            return
        event = ChaosEvent(kind, time.time(), time.time(), "BAKING", update.step)
        try:
            {
                KILL_NEW_INSTANCE: self._kill_new_instance,
                KILL_DRIVER: self._kill_driver,
                RELOAD_HAPROXY: self._reload_haproxy,
                SLOW_DOWNSTREAM: self._slow_downstream,
            }[kind](event)
        except Exception as exc:  # reported, and the report fails on it: a chaos event that did not happen
            event.error = f"{type(exc).__name__}: {exc}"
        event.until = max(event.until, time.time())
        with self._lock:
            self.events.append(event)

    def _kill_new_instance(self, event: ChaosEvent) -> None:
        dep = self.deployer
        new: Color = next(c for c in ("blue", "green") if dep.version_of(c) == self.version)
        slot = dep.attached(new)[0]
        victim = dep.slots[slot]
        # The replacement runs the same "task definition": the victim's own APP_* environment.
        env = _app_environment(victim.proc.pid)
        # Under the router's lock from the first counter read to the second: a reload in between
        # would reset HAProxy's counters (a new worker), and the bound (`allowed_failures`) with them.
        with self.router.lock:
            before = dep.api.show_stat(BACKEND)[slot]
            os.kill(victim.proc.pid, signal.SIGKILL)
            event.at = time.time()
            victim.proc.wait(timeout=5)
            # The platform sees its task exit (the ECS agent reports it) and deregisters the target at
            # once, before the health checks would notice (the test listener's twin tracks it). Its color
            # keeps its share on the targets left, as ALB's weight per target group does.
            dep.api.set_state(BACKEND, slot, "maint")
            after = dep.api.show_stat(BACKEND)[slot]
            dep.slots[slot] = None
            try:
                self.router.respread()
            except PortError as exc:  # its only instance (`--instances 1`): nothing left to carry it
                event.figures["share_kept"] = f"no: {exc}"
        deregistered = time.time()
        event.figures.update(
            slot=slot,
            killed_pid=victim.proc.pid,
            deregistered_after_seconds=_since(event.at, deregistered),
            in_flight_at_kill=before.current_sessions,
            sent_before_deregistered=max(0, after.sessions_total - before.sessions_total),
        )
        # Then it replaces the task, as ECS does: a new instance in the same slot, registered again; the
        # health checks bring it UP.
        replacement = dep.supervisor.spawn_app(slot, env)
        with self.router.lock:
            dep.api.set_weight(BACKEND, slot, 0)
            dep.api.set_address(BACKEND, slot, "127.0.0.1", replacement.port)
            if dep.test_listener:
                dep.api.set_address(idle_backend(new), slot, "127.0.0.1", replacement.port)
            dep.slots[slot] = replacement
            dep.api.set_state(BACKEND, slot, "ready")
        up = _wait_for(lambda: dep.api.show_stat(BACKEND)[slot].status == "UP")
        self.router.respread()  # healthy again: its share back over every target of the color
        event.figures.update(replacement_pid=replacement.proc.pid, replaced_up_after_seconds=_since(event.at, up))

    def _reload_haproxy(self, event: ChaosEvent) -> None:
        # The runtime state is dumped, then the new worker loads it: a runtime API write in between
        # (a shift's weights, a replaced instance's address) would go to the old worker and be lost.
        # CI saw it: a replacement registered during a reload never came UP. So no write until the
        # new worker answers; a shift waits that long (under a second here), as on a real reload.
        with self.router.lock:
            before = self.router.observed_weights()
            event.figures.update(reload_haproxy(self.haproxy))
            after = self.router.observed_weights()
        event.figures.update(weights_before=before.as_dict(), weights_after=after.as_dict())
        if before != after:
            raise RuntimeError(f"weights did not survive the reload: {before.as_dict()} -> {after.as_dict()}")
        # The reload lasts until the old worker has gone: it closes its idle kept-alive connections as
        # it stops, and a request a client sends on one just then gets no answer (the event's, not the
        # release's). Outside the router's lock: shifts may go on meanwhile.
        event.figures["old_worker_gone_after_seconds"] = _wait_gone(event.figures["old_worker"], event.at)

    def _slow_downstream(self, event: ChaosEvent) -> None:
        assert self.downstream is not None
        self.downstream.mode = "slow"
        self._closed.wait(SLOW_SECONDS)
        self.downstream.mode = "failing"
        event.figures["failing_at_seconds"] = _since(event.at, time.time())
        self._closed.wait(FAILING_SECONDS)
        self.downstream.mode = "ok"
        event.figures["recovered_at_seconds"] = _since(event.at, time.time())
        event.figures["downstream_calls"] = dict(self.downstream.calls)

    def _kill_driver(self, event: ChaosEvent) -> None:
        pid = self.driver_pid()
        if pid is None:
            raise RuntimeError("no driver process to kill")
        self.driver_killed.set()
        os.kill(pid, signal.SIGKILL)
        event.at = time.time()
        event.figures["killed_pid"] = pid
        # `until` is set by the release runner once the new driver process has resumed.

    def driver_resumed(self, at: float, resumed_in: str, pid: int) -> None:
        """The release runner reports the resume; it closes the kill-driver event's window."""
        with self._lock:
            for event in self.events:
                if event.kind == KILL_DRIVER:
                    event.until = at
                    event.figures.update(resumed_after_seconds=_since(event.at, at), resumed_in=resumed_in, new_pid=pid)

    def close(self) -> None:
        """Stop pending timers (bounded) and the downstream; idempotent."""
        self._closed.set()
        for thread in self._timers:
            thread.join(BOUND_SECONDS)
        if self.downstream is not None:
            self.downstream.close()
            self.downstream = None

    def missed(self) -> list[str]:
        """Chosen events that never fired (the release ended before their moment)."""
        fired = {e.kind for e in self.events}
        return [k for k in self.kinds if k not in fired]


def _app_environment(pid: int) -> dict[str, str]:
    """The APP_* variables of a running process (Linux /proc), but its instance name."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {k: v for k, _, v in pairs if k.startswith("APP_") and k != "APP_INSTANCE"}


def _wait_for(condition: Callable[[], bool], timeout: float = BOUND_SECONDS) -> float | None:
    """Poll `condition` every 50 ms; the time it held, or None after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if condition():
                return time.time()
        time.sleep(0.05)
    return None


def _since(start: float, end: float | None) -> float | None:
    return None if end is None else round(end - start, 3)


# -- the report ------------------------------------------------------------------------------------------
def chaos_summary(
    events: list[ChaosEvent], missed: list[str], records: list[Record], good: tuple[float, float] | None, t0: float
) -> dict[str, Any]:
    """The report's chaos section: per event its moment, figures and the failed requests it explains;
    failures of the good release no event explains; the breakers' transitions; and the expectations."""
    failed = [r for r in records if r.failed and not r.background]
    by_kind, unexplained = attribute(failed, events)
    in_good = [r for r in unexplained if good is not None and good[0] <= r.sent_at < good[1]]
    changes = breaker_changes(records)
    rows = []
    for e in sorted(events, key=lambda e: e.at):
        mine = by_kind.get(e.kind, [])
        rows.append(
            {
                "kind": e.kind,
                "at_seconds": round(e.at - t0, 3),
                "until_seconds": round(e.until - t0, 3),
                "state": e.state,
                "step": e.step,
                "failed_requests": len(mine),
                "failed_by_kind": _kinds(mine),
                "allowed_failures": allowed_failures(e),
                "figures": e.figures,
                "error": e.error,
            }
        )
        if e.kind == SLOW_DOWNSTREAM:
            opened = [c for c in changes if c.after == "open" and c.at >= e.at]
            closed = [c for c in changes if c.before != "closed" and c.after == "closed" and c.at >= e.at]
            rows[-1]["figures"] = {
                **e.figures,
                "breaker_first_open_after_seconds": round(opened[0].at - e.at, 3) if opened else None,
                "instances_whose_breaker_opened": len({(c.server, c.version) for c in opened}),
                "breaker_closed_again_after_seconds": round(closed[-1].at - e.at, 3) if closed else None,
            }
    expectations = {
        "every chaos event happened": not missed and all(e.error is None for e in events),
        "no failed request beyond what a chaos event cannot avoid": not in_good
        and all(row["allowed_failures"] is None or row["failed_requests"] <= row["allowed_failures"] for row in rows),
    }
    if any(e.kind == SLOW_DOWNSTREAM for e in events):
        expectations["the circuit breaker opened during slow-downstream"] = any(c.after == "open" for c in changes)
    return {
        "events": rows,
        "missed": missed,
        "failed_unexplained_in_good_release": len(in_good),
        "failed_unexplained_by_kind": _kinds(in_good),
        "breaker_changes": [
            {
                "at_seconds": round(c.at - t0, 3),
                "server": c.server,
                "version": c.version,
                "from": c.before,
                "to": c.after,
            }
            for c in changes
        ],
        "expectations": expectations,
    }


def _kinds(records: list[Record]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        key = (r.error or "no answer") if r.status == 0 else f"HTTP {r.status}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def headline(row: dict[str, Any]) -> str:
    """One line of an event's figures for the printed report (all of them are in report.json)."""
    f = row["figures"]
    kind = row["kind"]
    if kind == KILL_NEW_INSTANCE:
        return (
            f"{f.get('slot')} (pid {f.get('killed_pid')}) killed with {f.get('in_flight_at_kill')} in flight;"
            f" deregistered +{f.get('deregistered_after_seconds')} s ({f.get('sent_before_deregistered')} more sent"
            f" to it); replacement UP +{f.get('replaced_up_after_seconds')} s"
        )
    if kind == SLOW_DOWNSTREAM:
        return (
            f"slow, failing +{f.get('failing_at_seconds')} s, recovered +{f.get('recovered_at_seconds')} s; breaker"
            f" open +{f.get('breaker_first_open_after_seconds')} s on {f.get('instances_whose_breaker_opened')}"
            f" instances, closed again +{f.get('breaker_closed_again_after_seconds')} s"
        )
    if kind == RELOAD_HAPROXY:
        return (
            f"worker {f.get('old_worker')} -> {f.get('new_worker')} in {f.get('new_worker_after_seconds')} s;"
            f" weights {f.get('weights_before')} -> {f.get('weights_after')}"
        )
    if kind == KILL_DRIVER:
        return (
            f"driver pid {f.get('killed_pid')} killed; pid {f.get('new_pid')} resumed in {f.get('resumed_in')}"
            f" +{f.get('resumed_after_seconds')} s"
        )
    return ""
