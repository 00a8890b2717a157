"""The release machine: one run loop that every release strategy shares.

A strategy (`service.py`: traffic between two colors; `fleet.py`: an instance refresh; later
migrations or flags) supplies only its states and what each does: a handler per state that performs
the state's effect and then enters the next state, or returns to be called again (a poll). The
machine owns everything else:

- **Record before effect.** `enter` and `record` write the whole new `Status` to the journal, and
  only then does the machine move on; a handler runs after its state is recorded. A kill at any
  point leaves a record that `resume` continues from, so every handler is written to be safe to
  run twice.
- **The abort check** between steps: another process asks through the journal.
- **Errors.** A `PortError` rolls the release back, or stops it in FAILED when the rollback itself
  failed. A strategy may claim an error first (`on_error`).
- **Load.** The last record holds the whole Status: nothing is replayed.
- **One result** for every command (`Result`), whose `outcome` the CLI maps to an exit code.

    PENDING -> <strategy states> -> SUCCEEDED
    any failing gate / abort / PortError -> ROLLING_BACK -> ROLLED_BACK (FAILED if the rollback fails)

Models: Flagger's scheduler tick over a typed CanaryStatus with per-strategy runners, and Argo
Rollouts' idempotent reconcile steps.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ...contract import Weights
from .errors import PortError, StateError
from .ports import Clock, EventPublisher, Journal, NullPublisher, ReleaseEvent
from .status import (
    FAILED,
    PAUSED,
    ROLLED_BACK,
    ROLLING_BACK,
    STOPPED,
    SUCCEEDED,
    TERMINAL,
    Outcome,
    Record,
    Status,
)

log = logging.getLogger(__name__)

STUCK_LIMIT = 10_000
"""Handler calls in a row that neither change the status nor let time pass: a loop bug, stopped."""
ROLLBACK_FACTS = ("detected_at", "rollback_started_at", "restored_at", "rollback_seconds")

Handler = Callable[["Machine"], None]


@dataclass(frozen=True)
class Progress:
    """One live-progress update for a UI (the CLI's lines, the rehearsal's panel)."""

    state: str
    step: int | None
    steps: int | None
    failed_checks: int
    message: str = ""
    weights: Weights | None = None
    requests: int | None = None
    error_rate: float | None = None
    p99_seconds: float | None = None
    seconds_left: float | None = None


@dataclass(frozen=True)
class Result:
    """How a command left a release, with its decision trail."""

    status: Status
    trail: tuple[Record, ...]

    @property
    def outcome(self) -> Outcome:
        return Outcome.of(self.status.state)

    @property
    def release_id(self) -> str:
        return self.status.release_id

    @property
    def state(self) -> str:
        return self.status.state

    @property
    def reason(self) -> str:
        return self.status.reason

    @property
    def rollback_seconds(self) -> float | None:
        value = self.status.facts.get("rollback_seconds")
        return None if value is None else float(value)


class Strategy(Protocol):
    """What a release strategy supplies. `StrategyBase` gives the defaults."""

    kind: str
    """Recorded in every status; the CLI picks the strategy that continues a release by it."""
    id_prefix: str
    """Start of the release ids this strategy's releases get (`r-…`, `f-…`)."""
    project: str
    stack: str
    target: str
    resource: str
    """What the release moves (listener rule, Auto Scaling group): part of every record's binding."""
    steps: int | None
    handlers: Mapping[str, Handler]
    """State -> what it does. Each handler ends by entering the next state, or returns to poll."""
    published: frozenset[str]
    """States announced to the EventPublisher."""

    def spec_dict(self) -> dict[str, Any]: ...

    def start_message(self) -> str: ...

    def abortable(self, status: Status) -> bool:
        """Honour an abort request from another process in this state."""
        ...

    def may_abort(self, status: Status) -> bool:
        """For the `abort` command: False when there is nothing to do; StateError when it cannot."""
        ...

    def on_error(self, m: Machine, exc: PortError) -> bool:
        """Handle a PortError outside ROLLING_BACK; False lets the machine roll back."""
        ...

    def on_resume(self, m: Machine) -> None:
        """Put the release back on its feet after a kill, before the loop continues."""
        ...

    def on_promote(self, m: Machine) -> None:
        """Leave PAUSED forward; StateError when the strategy has no manual gate."""
        ...

    def weights_in(self, status: Status) -> Weights | None:
        """Production traffic as it should be in `status`, for progress (None: not a traffic release)."""
        ...


class StrategyBase:
    """Defaults for the optional parts of `Strategy`."""

    id_prefix: str = "r"
    project: str = ""
    resource: str = ""
    steps: int | None = None
    published: frozenset[str] = frozenset()

    def start_message(self) -> str:
        return "release started"

    def abortable(self, status: Status) -> bool:
        return status.state != ROLLING_BACK

    def may_abort(self, status: Status) -> bool:
        return True

    def on_error(self, m: Machine, exc: PortError) -> bool:
        return False

    def on_resume(self, m: Machine) -> None:
        return None

    def on_promote(self, m: Machine) -> None:
        raise StateError(f"a {m.status.kind} release has no manual gate to promote")

    def weights_in(self, status: Status) -> Weights | None:
        return None


def new_release_id(prefix: str, now: float) -> str:
    """`<prefix>-<UTC start to the microsecond>-<random>`: ids sort by start time."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int((now % 1) * 1_000_000):06d}"
    return f"{prefix}-{stamp}-{uuid.uuid4().hex[:6]}"


def latest_status(
    journal: Journal, release_id: str | None = None, *, project: str | None = None, resource: str | None = None
) -> Status:
    """The status of `release_id` (default: the newest release) from its last record.

    The record must be bound to what the caller acts on: the journal's stack and service, and, when
    given, the project and the resource (listener rule, Auto Scaling group). A record copied from
    elsewhere, or left by a service since re-created, is refused naming both sides.
    """
    last = journal.last(release_id)
    if last is None:
        what = f"release {release_id}" if release_id else "release"
        raise StateError(f"no {what} recorded for {journal.stack}/{journal.service}")
    status = last.status
    expected = {"stack": journal.stack, "service": journal.service, "project": project, "resource": resource}
    recorded = {"stack": status.stack, "service": status.target, "project": status.project, "resource": status.resource}
    differ = [k for k, v in expected.items() if v is not None and recorded[k] != v]
    if differ:
        theirs = ", ".join(f"{k} {recorded[k]!r}" for k in differ)
        ours = ", ".join(f"{k} {expected[k]!r}" for k in differ)
        raise StateError(
            f"release {status.release_id} in the journal of {journal.stack}/{journal.service} is bound to {theirs}, "
            f"not {ours}; refusing to act on it"
        )
    return status


class Machine:
    """Runs one release of one strategy. Create with `start` (new) or `continue_` (from the journal)."""

    def __init__(
        self,
        strategy: Strategy,
        journal: Journal,
        clock: Clock,
        status: Status,
        *,
        next_seq: int,
        publisher: EventPublisher | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        if status.kind != strategy.kind:
            raise StateError(f"release {status.release_id} is a {status.kind} release, not {strategy.kind}")
        self.strategy = strategy
        self.journal = journal
        self.clock = clock
        self.status = status
        self.publisher = publisher or NullPublisher()
        self.on_progress = on_progress
        self._next_seq = next_seq

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        strategy: Strategy,
        journal: Journal,
        clock: Clock,
        *,
        release_id: str | None = None,
        publisher: EventPublisher | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Machine:
        status = Status(
            release_id=release_id or new_release_id(strategy.id_prefix, clock.now()),
            kind=strategy.kind,
            stack=strategy.stack,
            target=strategy.target,
            spec=strategy.spec_dict(),
            project=strategy.project,
            resource=strategy.resource,
        )
        m = cls(strategy, journal, clock, status, next_seq=0, publisher=publisher, on_progress=on_progress)
        m._write("start", status, {})
        m._publish(status, strategy.start_message(), always=True)
        return m

    @classmethod
    def continue_(
        cls,
        strategy: Strategy,
        journal: Journal,
        clock: Clock,
        status: Status,
        *,
        publisher: EventPublisher | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Machine:
        """A machine for a recorded release (`latest_status`), to resume, promote or abort it."""
        next_seq = journal.next_seq(status.release_id)
        return cls(strategy, journal, clock, status, next_seq=next_seq, publisher=publisher, on_progress=on_progress)

    # -- commands ----------------------------------------------------------------------------------
    def run(self) -> Result:
        """Advance until the release succeeds, rolls back, fails or pauses."""
        stuck = 0
        while self.status.state not in STOPPED:
            self.journal.keep_alive()
            before, at = self.status, self.clock.now()
            requested = self.journal.abort_requested(self.status.release_id)
            if requested and self.status.state != ROLLING_BACK and self.strategy.abortable(self.status):
                self.journal.clear_abort()
                self.begin_rollback(f"aborted: {requested}")
                continue
            handler = self.strategy.handlers.get(self.status.state)
            if handler is None:
                self.enter(FAILED, reason=f"a {self.status.kind} release has no state {self.status.state}")
                break
            try:
                handler(self)
            except PortError as exc:
                self._on_error(exc)
            stuck = stuck + 1 if self.status is before and self.clock.now() == at else 0
            if stuck >= STUCK_LIMIT:  # pragma: no cover - only a handler bug gets here
                self.fail(f"{self.status.state} made no progress in {STUCK_LIMIT} rounds")
        return self.result()

    def resume(self) -> Result:
        """Continue after a kill: from the recorded state, or roll back when that is unsafe."""
        if self.status.state not in TERMINAL:
            self.record("resume", note=f"resumed in {self.status.state}")
        self.strategy.on_resume(self)
        return self.run()

    def promote(self) -> Result:
        """Continue a release waiting at a manual gate."""
        if self.status.state != PAUSED:
            raise StateError(f"promote needs a PAUSED release; {self.status.release_id} is {self.status.state}")
        self.strategy.on_promote(self)
        return self.run()

    def abort(self, reason: str = "aborted by operator") -> Result:
        """Roll back now. Where the strategy allows, repeating it re-applies the rollback."""
        if self.status.state == SUCCEEDED:
            raise StateError(f"release {self.status.release_id} already succeeded; there is nothing to roll back")
        if not self.strategy.may_abort(self.status):
            return self.result()
        self.begin_rollback(reason)
        return self.run()

    def result(self) -> Result:
        return Result(self.status, tuple(self.journal.records(self.status.release_id)))

    # -- what handlers call --------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.now()

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)

    def abort_requested(self) -> bool:
        """True when another process asked to abort; the loop rolls back before the next step."""
        return self.journal.abort_requested(self.status.release_id) is not None

    def enter(
        self,
        state: str,
        *,
        step: int | None = None,
        reason: str = "",
        facts: Mapping[str, Any] | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the transition to `state` (step kept when None, reason kept when empty), then announce it."""
        changes: dict[str, Any] = {"state": state}
        if step is not None:
            changes["step"] = step
        if reason:
            changes["reason"] = reason
        if facts:
            changes["facts"] = facts
        new = self.status.evolve(**changes)
        self._write("transition", new, {**(detail or {}), **({"note": reason} if reason else {})})
        self._publish(new, reason or state)
        self._progress(
            Progress(
                state=new.state,
                step=new.step,
                steps=self.strategy.steps,
                failed_checks=new.failed_checks,
                message=reason,
                weights=self.strategy.weights_in(new),
            )
        )

    def record(
        self,
        event: str,
        *,
        note: str = "",
        detail: Mapping[str, Any] | None = None,
        facts: Mapping[str, Any] | None = None,
        failed_checks: int | None = None,
    ) -> None:
        """Record an event in the current state (a check, an intention before its effect)."""
        changes: dict[str, Any] = {}
        if facts:
            changes["facts"] = facts
        if failed_checks is not None:
            changes["failed_checks"] = failed_checks
        new = self.status.evolve(**changes) if changes else self.status
        self._write(event, new, {**(detail or {}), **({"note": note} if note else {})})

    def report(self, progress: Progress) -> None:
        """Pass a progress update (e.g. an analysis check) to the UI; nothing is recorded."""
        self._progress(progress)

    def begin_rollback(self, reason: str) -> None:
        """Enter ROLLING_BACK. Detection time is kept from the first failure, so latency is measured
        from it; a rollback of a finished rollback (an idempotent abort) measures afresh."""
        from_state, now = self.status.state, self.now()
        if from_state == ROLLED_BACK:
            self.status = self.status.forget(*ROLLBACK_FACTS)
        facts = {"detected_at": self.status.facts.get("detected_at", now), "rollback_started_at": now}
        self.enter(ROLLING_BACK, reason=reason, facts=facts, detail={"from_state": from_state})

    def fail(self, reason: str) -> None:
        """Stop in FAILED: the release cannot go on by itself; the reason says what to do."""
        self.enter(FAILED, reason=reason, facts={"failed_in": self.status.state})

    # -- internals ---------------------------------------------------------------------------------
    def _on_error(self, exc: PortError) -> None:
        if self.status.state == ROLLING_BACK:
            self.fail(f"rollback failed: {exc}")
        elif not self.strategy.on_error(self, exc):
            self.begin_rollback(f"{self.status.state} failed: {exc}")

    def _write(self, event: str, status: Status, detail: Mapping[str, Any]) -> None:
        record = Record(seq=self._next_seq, ts=self.now(), event=event, status=status, detail=detail)
        self.journal.append(record)  # durable before anything acts on it
        self._next_seq += 1
        self.status = status

    def _publish(self, status: Status, message: str, *, always: bool = False) -> None:
        if not always and status.state not in self.strategy.published:
            return
        event = ReleaseEvent(
            stack=status.stack,
            service=status.target,
            release_id=status.release_id,
            state=status.state,
            message=message,
            data={"step": status.step, "failed_checks": status.failed_checks},
        )
        try:
            self.publisher.publish(event)
        except Exception as exc:  # events are best effort; they never change the release
            log.warning("could not publish release event: %s", exc)

    def _progress(self, progress: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(progress)
