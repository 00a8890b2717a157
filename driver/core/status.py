"""The typed status of one release, and the journal record that carries it whole.

Every journal record holds the complete `Status` after its event, so reading a release back needs
only its last record: nothing is replayed, and a strategy cannot forget to carry a fact over.

    {"format": 1, "seq": 7, "ts": 1700000042.0, "event": "transition", "detail": {...},
     "release_id": "r-…", "kind": "service", "stack": "dev", "target": "api",
     "state": "BAKING", "step": 0, "failed_checks": 0, "reason": "",
     "spec": {... the release's input ...}, "facts": {... what later states need ...},
     "project": "zero-downtime", "resource": "<listener rule ARN or Auto Scaling group>"}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from .errors import JournalError

RECORD_FORMAT = 1
"""Version of a journal record's layout (the store's other documents carry theirs)."""

# States every strategy shares; a strategy adds its own between PENDING and the terminal ones.
PENDING = "PENDING"
PAUSED = "PAUSED"
ROLLING_BACK = "ROLLING_BACK"
SUCCEEDED = "SUCCEEDED"
ROLLED_BACK = "ROLLED_BACK"
FAILED = "FAILED"
TERMINAL = frozenset({SUCCEEDED, ROLLED_BACK, FAILED})
STOPPED = TERMINAL | {PAUSED}
"""The loop stops in these; `promote`, `abort` or `resume` continue a release from them."""


class Outcome(StrEnum):
    """How a command left the release. The CLI maps each to an exit code."""

    SUCCEEDED = "SUCCEEDED"
    ROLLED_BACK = "ROLLED_BACK"
    FAILED = "FAILED"
    PAUSED = "PAUSED"
    RUNNING = "RUNNING"
    """Still running in another driver (e.g. `abort` waited for it and gave up)."""

    @classmethod
    def of(cls, state: str) -> Outcome:
        return cls(state) if state in cls.__members__ else cls.RUNNING


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class Status:
    """Everything known about one release at one moment."""

    release_id: str
    kind: str
    """The strategy that runs it: `service` (traffic between colors) or `fleet` (instance refresh)."""
    stack: str
    target: str
    """The service or fleet released."""
    spec: Mapping[str, Any]
    """The release's validated input, as the strategy serialises it."""
    state: str = PENDING
    step: int | None = None
    failed_checks: int = 0
    """Failed analysis checks so far (Flagger's failedChecks)."""
    reason: str = ""
    """Why the release is in this state, for the operator."""
    facts: Mapping[str, Any] = field(default_factory=dict)
    """What later states need: a warm deadline, when a failure was detected, a refresh id..."""
    project: str = ""
    """The Pulumi project; with stack, target and resource it binds the record to what it acts on."""
    resource: str = ""
    """What the release moves: the production listener rule (services) or the Auto Scaling group (fleets)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", _frozen(self.spec))
        object.__setattr__(self, "facts", _frozen(self.facts))

    def evolve(self, **changes: Any) -> Status:
        """A copy with `changes`; `facts` given here are merged into the current ones."""
        if "facts" in changes:
            changes["facts"] = {**self.facts, **changes["facts"]}
        return replace(self, **changes)

    def forget(self, *keys: str) -> Status:
        """A copy without the facts `keys`."""
        return replace(self, facts={k: v for k, v in self.facts.items() if k not in keys})

    def to_dict(self) -> dict[str, Any]:
        return {
            "release_id": self.release_id,
            "kind": self.kind,
            "stack": self.stack,
            "target": self.target,
            "state": self.state,
            "step": self.step,
            "failed_checks": self.failed_checks,
            "reason": self.reason,
            "spec": dict(self.spec),
            "facts": dict(self.facts),
            "project": self.project,
            "resource": self.resource,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> Status:
        """Parse a journal record's status; JournalError names `where` and the field at fault."""
        text = {k: data.get(k) for k in ("release_id", "kind", "stack", "target", "state")}
        for key, value in text.items():
            if not isinstance(value, str) or not value:
                raise JournalError(f"{where}: field {key!r} must be a non-empty string, got {value!r}")
        step, failed = data.get("step"), data.get("failed_checks", 0)
        if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 0):
            raise JournalError(f"{where}: field 'step' must be null or an integer >= 0, got {step!r}")
        if not isinstance(failed, int) or isinstance(failed, bool) or failed < 0:
            raise JournalError(f"{where}: field 'failed_checks' must be an integer >= 0, got {failed!r}")
        for key in ("spec", "facts"):
            if not isinstance(data.get(key, {}), Mapping):
                raise JournalError(f"{where}: field {key!r} must be an object")
        for key in ("reason", "project", "resource"):
            if not isinstance(data.get(key) or "", str):
                raise JournalError(f"{where}: field {key!r} must be a string")
        return cls(
            release_id=text["release_id"],  # type: ignore[arg-type]
            kind=text["kind"],  # type: ignore[arg-type]
            stack=text["stack"],  # type: ignore[arg-type]
            target=text["target"],  # type: ignore[arg-type]
            state=text["state"],  # type: ignore[arg-type]
            spec=data.get("spec") or {},
            step=step,
            failed_checks=failed,
            reason=data.get("reason") or "",
            facts=data.get("facts") or {},
            project=data.get("project") or "",
            resource=data.get("resource") or "",
        )


@dataclass(frozen=True)
class Record:
    """One journal entry: an event and the whole Status after it."""

    seq: int
    """Position in the release's journal, from 0; a writer that finds `seq` taken has lost the release."""
    ts: float
    event: str
    """`start`, `transition`, `check`, `resume`, `promote`, or a strategy's own (e.g. `traffic_restored`)."""
    status: Status
    detail: Mapping[str, Any] = field(default_factory=dict)
    """What only this event says: a verdict, the checks run, a refresh's progress."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "detail", _frozen(self.detail))

    @property
    def state(self) -> str:
        return self.status.state

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "seq": self.seq,
            "ts": self.ts,
            "event": self.event,
            "detail": dict(self.detail),
            **self.status.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Record:
        if not isinstance(data, Mapping):
            raise JournalError(f"{where}: a record must be a JSON object, got {type(data).__name__}")
        if type(data.get("format")) is not int or data.get("format") != RECORD_FORMAT:
            raise JournalError(f"{where}: this driver reads record format {RECORD_FORMAT}, got {data.get('format')!r}")
        seq, ts, event = data.get("seq"), data.get("ts"), data.get("event")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise JournalError(f"{where}: field 'seq' must be an integer >= 0, got {seq!r}")
        if not isinstance(ts, int | float) or isinstance(ts, bool) or not math.isfinite(ts):
            raise JournalError(f"{where}: field 'ts' must be a number of seconds, got {ts!r}")
        if not isinstance(event, str) or not event:
            raise JournalError(f"{where}: field 'event' must be a non-empty string, got {event!r}")
        detail = data.get("detail") or {}
        if not isinstance(detail, Mapping):
            raise JournalError(f"{where}: field 'detail' must be an object")
        return cls(seq=seq, ts=float(ts), event=event, status=Status.from_dict(data, where), detail=detail)
