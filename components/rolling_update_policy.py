"""CloudFormation `AutoScalingRollingUpdate` -> EC2 Auto Scaling instance refresh preferences.

Pure functions, no Pulumi resources: the stack config parser and `RollingAutoScalingGroup` both
call them, so a bad policy is refused before anything is created.

How each CloudFormation field maps (D = desired capacity, m = MinInstancesInService,
b = MaxBatchSize, capped at D):

- MinInstancesInService and MaxBatchSize -> MinHealthyPercentage and MaxHealthyPercentage.
  CloudFormation replaces at most b instances at a time and keeps at least m in service; when
  D - b < m it launches the batch above desired capacity first. An instance refresh keeps
  MinHealthyPercentage of D in service and lets capacity (healthy or pending) grow up to
  MaxHealthyPercentage of D, so the instances in flight are (max - min) % of D. We therefore
  keep k = max(m, D - b) in service and allow max(D, k + b) in total:
      min healthy % = ceil(100 * k / D),  max healthy % = floor(100 * max(D, k + b) / D).
  That is exactly b in flight, never fewer than m in service. (The naive m/D and 100 + b/D
  would let 2b, or with m = 0 the whole group, be replaced at once.) Rounding goes the safe
  way: the min is rounded up (AWS then keeps ceil(min% * D) healthy, never fewer than k) and
  the max down. Whole percentages cannot express one instance in a group of more than 100;
  if both round to 100, the max becomes 101 and a note says so. The percentages scale with
  desired capacity, so a group that scales keeps the same proportion in service.
- PauseTime -> InstanceWarmup (seconds). Without signals CloudFormation waits PauseTime after
  each batch; a refresh waits InstanceWarmup after each new instance is InService before it
  counts it healthy and moves on. Same intent: time for the new instances to settle. With no
  PauseTime (and no signals) the warmup is left unset, so the group's DefaultInstanceWarmup
  applies instead of CloudFormation's PT0S.
- WaitOnResourceSignals -> no equivalent, the models differ. CloudFormation waits for
  `cfn-signal` from each instance (PauseTime becomes the signal timeout, default PT5M). A
  refresh has no signals: the group's ELB health check (target group health) plus the
  warmup decide when an instance is ready. Make the health check path prove what the signal
  proved. A lifecycle hook is the closest tool when a signal must be kept.
- MinSuccessfulInstancesPercent -> no equivalent. CloudFormation tolerates up to
  100 - percent failed instances; a refresh needs every replacement to become healthy, and
  with auto rollback a failure (or one of the alarms in ALARM) rolls the group back. Values
  below 100 are accepted, recorded as a note, and the refresh is stricter than asked.
- SuspendProcesses -> no equivalent, the models differ. CloudFormation suspends the listed
  processes for the update; a refresh runs with the group's processes active (scaling,
  health-check replacement) and coordinates with them itself. The listed processes are not
  suspended (a note says so). Launch, Terminate and InstanceRefresh are refused: with them
  suspended no instance could ever be replaced.

Impossible policies raise `ArgError` (a `ValueError`) naming the field: MinInstancesInService
>= desired capacity, MaxBatchSize < 1, PauseTime over PT1H, MinSuccessfulInstancesPercent
outside 0-100, unknown fields or processes, and, for the resolved preferences, a minimum
healthy percentage not below the maximum (nothing could ever be replaced).
"""

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any, NotRequired, TypedDict

from .validation import ArgError

MAX_PAUSE_SECONDS = 3600
"""CloudFormation's PauseTime limit (PT1H)."""
MAX_CHECKPOINT_DELAY_SECONDS = 172_800
"""StartInstanceRefresh's CheckpointDelay limit (48 hours)."""
SIGNALS_DEFAULT_PAUSE = "PT5M"
"""CloudFormation's PauseTime default when WaitOnResourceSignals is true."""

ROLLING_UPDATE_DEFAULTS: dict[str, Any] = {
    "MaxBatchSize": 1,
    "MinInstancesInService": 0,
    "MinSuccessfulInstancesPercent": 100,
    "PauseTime": "PT0S",
    "WaitOnResourceSignals": False,
    "SuspendProcesses": [],
}
"""CloudFormation's own defaults for AutoScalingRollingUpdate."""

SCALING_PROCESSES = (
    "Launch",
    "Terminate",
    "AddToLoadBalancer",
    "AlarmNotification",
    "AZRebalance",
    "HealthCheck",
    "InstanceRefresh",
    "ReplaceUnhealthy",
    "ScheduledActions",
)
BLOCKING_PROCESSES = ("Launch", "Terminate", "InstanceRefresh")
"""Suspending any of these stops a refresh from ever replacing an instance."""

_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$")


class RollingUpdatePolicyArgs(TypedDict, total=False):
    """CloudFormation's AutoScalingRollingUpdate, field names as CloudFormation spells them."""

    MaxBatchSize: int
    """Instances replaced at a time (default 1)."""
    MinInstancesInService: int
    """Instances kept in service during the update (default 0); must be below desired capacity."""
    MinSuccessfulInstancesPercent: int
    """% of instances that must succeed (default 100); a refresh always needs 100, see notes."""
    PauseTime: str
    """ISO-8601 duration, at most PT1H (default PT0S, PT5M with signals)."""
    WaitOnResourceSignals: bool
    """Wait for cfn-signal (default false); a refresh uses ELB health checks instead."""
    SuspendProcesses: list[str]
    """Processes CloudFormation suspends during the update; not suspended by a refresh."""


class InstanceRefreshArgs(TypedDict):
    """Instance refresh preferences given directly; they override a translated policy."""

    min_healthy_percentage: NotRequired[int]
    """% of desired capacity kept healthy, 0-100 (AWS default 90)."""
    max_healthy_percentage: NotRequired[int]
    """% of desired capacity allowed in service or pending, 100-200 (AWS default 100)."""
    instance_warmup_seconds: NotRequired[int]
    """Seconds after InService before a new instance counts healthy (default: group warmup)."""
    checkpoint_percentages: NotRequired[list[int]]
    """Ascending % of the group replaced at which the refresh pauses; 100 ends the refresh."""
    checkpoint_delay_seconds: NotRequired[int]
    """Pause at each checkpoint, 0-172800 s (AWS default 3600); needs checkpoint_percentages."""
    skip_matching: NotRequired[bool]
    """Leave instances that already match the desired configuration (default true)."""
    auto_rollback: NotRequired[bool]
    """Roll back when the refresh fails or an alarm goes to ALARM (default true)."""


@dataclass(frozen=True)
class RefreshPreferences:
    """Resolved instance refresh preferences, in plain values."""

    min_healthy_percentage: int = 90
    max_healthy_percentage: int = 100
    instance_warmup_seconds: int | None = None
    checkpoint_percentages: tuple[int, ...] = ()
    checkpoint_delay_seconds: int | None = None
    skip_matching: bool = True
    auto_rollback: bool = True
    notes: tuple[str, ...] = field(default=(), compare=False)
    """Where the translation could not be faithful (signals, suspended processes, ...)."""

    def to_provider_args(self, alarm_names: Any = None) -> dict[str, Any]:
        """`aws.autoscaling.GroupInstanceRefreshPreferencesArgsDict` (the provider takes strings
        for durations). `alarm_names` may be an Output; it becomes the alarm specification."""
        out: dict[str, Any] = {
            "min_healthy_percentage": self.min_healthy_percentage,
            "max_healthy_percentage": self.max_healthy_percentage,
            "skip_matching": self.skip_matching,
            "auto_rollback": self.auto_rollback,
        }
        if self.instance_warmup_seconds is not None:
            out["instance_warmup"] = str(self.instance_warmup_seconds)
        if self.checkpoint_percentages:
            out["checkpoint_percentages"] = list(self.checkpoint_percentages)
            if self.checkpoint_delay_seconds is not None:
                out["checkpoint_delay"] = str(self.checkpoint_delay_seconds)
        if alarm_names is not None:
            out["alarm_specification"] = {"alarms": alarm_names}
        return out

    def to_boto3(self, alarm_names: Sequence[str] = ()) -> dict[str, Any]:
        """`Preferences` for boto3 `autoscaling.start_instance_refresh` (the release driver)."""
        out: dict[str, Any] = {
            "MinHealthyPercentage": self.min_healthy_percentage,
            "MaxHealthyPercentage": self.max_healthy_percentage,
            "SkipMatching": self.skip_matching,
            "AutoRollback": self.auto_rollback,
        }
        if self.instance_warmup_seconds is not None:
            out["InstanceWarmup"] = self.instance_warmup_seconds
        if self.checkpoint_percentages:
            out["CheckpointPercentages"] = list(self.checkpoint_percentages)
            if self.checkpoint_delay_seconds is not None:
                out["CheckpointDelay"] = self.checkpoint_delay_seconds
        if alarm_names:
            out["AlarmSpecification"] = {"Alarms": list(alarm_names)}
        return out


def parse_pause_time(value: Any, key: str = "PauseTime") -> int:
    """ISO-8601 `PT#H#M#S` -> seconds, at most PT1H as CloudFormation allows."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or value == "PT":
        raise ArgError(key, f"must be an ISO-8601 duration like PT5M or PT1M30S, got {value!r}")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total > MAX_PAUSE_SECONDS:
        raise ArgError(key, f"must be at most PT1H (3600 s), got {value} ({total} s)")
    return total


def _int_field(value: Any, key: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgError(key, f"must be an integer, got {value!r}")
    if value < minimum:
        raise ArgError(key, f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ArgError(key, f"must be <= {maximum}, got {value}")
    return value


def _bool_field(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ArgError(key, f"must be true or false, got {value!r}")
    return value


def translate_rolling_update(
    policy: Mapping[str, Any],
    desired_capacity: int,
    where: str = "rollingUpdate",
) -> RefreshPreferences:
    """Translate a CloudFormation rolling-update policy for a group of `desired_capacity`.

    Raises `ArgError` naming `<where>.<Field>` for an impossible or malformed policy.
    """
    if not isinstance(policy, Mapping):
        raise ArgError(where, f"must be a mapping of AutoScalingRollingUpdate fields, got {policy!r}")
    unknown = sorted(set(policy) - set(ROLLING_UPDATE_DEFAULTS))
    if unknown:
        known = ", ".join(ROLLING_UPDATE_DEFAULTS)
        raise ArgError(f"{where}.{unknown[0]}", f"is not an AutoScalingRollingUpdate field ({known})")
    desired = _int_field(desired_capacity, "desired capacity", 1)

    def key(name: str) -> str:
        return f"{where}.{name}"

    signals = _bool_field(policy.get("WaitOnResourceSignals", False), key("WaitOnResourceSignals"))
    # No PauseTime and no signals: defer to the group's DefaultInstanceWarmup rather than
    # CloudFormation's PT0S, which would count a new instance healthy the moment it is InService.
    default_pause = SIGNALS_DEFAULT_PAUSE if signals else None
    batch = _int_field(policy.get("MaxBatchSize", 1), key("MaxBatchSize"), 1)
    in_service = _int_field(policy.get("MinInstancesInService", 0), key("MinInstancesInService"), 0)
    success = _int_field(
        policy.get("MinSuccessfulInstancesPercent", 100),
        key("MinSuccessfulInstancesPercent"),
        0,
        100,
    )
    pause_time = policy.get("PauseTime", default_pause)
    pause = None if pause_time is None else parse_pause_time(pause_time, key("PauseTime"))
    processes = policy.get("SuspendProcesses", [])
    if isinstance(processes, str) or not isinstance(processes, Sequence):
        raise ArgError(key("SuspendProcesses"), f"must be a list of process names, got {processes!r}")
    for process in processes:
        if process not in SCALING_PROCESSES:
            raise ArgError(
                key("SuspendProcesses"),
                f"{process!r} is not a scaling process ({', '.join(SCALING_PROCESSES)})",
            )
        if process in BLOCKING_PROCESSES:
            raise ArgError(
                key("SuspendProcesses"),
                f"suspending {process} would stop the refresh from ever replacing an instance",
            )

    if in_service >= desired:
        raise ArgError(
            key("MinInstancesInService"),
            f"must be below the desired capacity ({desired}), got {in_service}: no instance could "
            "ever be replaced (to launch before terminating, set instanceRefresh "
            "minHealthyPercentage 100 and maxHealthyPercentage above 100 instead)",
        )

    notes: list[str] = []
    if batch > desired:
        notes.append(f"MaxBatchSize {batch} exceeds the desired capacity {desired}: one batch replaces all.")
    batch = min(batch, desired)
    kept = max(in_service, desired - batch)
    ceiling = max(desired, kept + batch)
    min_pct = math.ceil(100 * kept / desired)
    max_pct = math.floor(100 * ceiling / desired)
    if kept == 0:
        notes.append(
            "No instance stays in service while a batch is replaced: for zero downtime set "
            "instanceRefresh minHealthyPercentage 100 and maxHealthyPercentage above 100."
        )
    if max_pct <= min_pct:
        max_pct = min_pct + 1
        notes.append(
            f"A batch of {batch} is under 1% of {desired} instances: max healthy raised to "
            f"{max_pct}% so the refresh can launch before it terminates."
        )
    if signals:
        notes.append(
            "WaitOnResourceSignals: a refresh has no cfn-signal; the ELB health check and "
            f"{pause} s of instance warmup decide when a new instance is ready."
        )
    if success < 100:
        notes.append(
            f"MinSuccessfulInstancesPercent {success}: a refresh needs every replacement healthy "
            "and rolls back otherwise (stricter)."
        )
    if processes:
        notes.append(
            f"SuspendProcesses {', '.join(processes)}: not suspended; a refresh runs with the group's processes active."
        )
    return RefreshPreferences(
        min_healthy_percentage=min_pct,
        max_healthy_percentage=max_pct,
        instance_warmup_seconds=pause,
        notes=tuple(notes),
    )


_REFRESH_KEYS = tuple(InstanceRefreshArgs.__annotations__)


def resolve_refresh_preferences(
    *,
    desired_capacity: int,
    rolling_update: Mapping[str, Any] | None = None,
    instance_refresh: Mapping[str, Any] | None = None,
    rolling_update_key: str = "rolling_update",
    instance_refresh_key: str = "instance_refresh",
    field_names: Mapping[str, str] | None = None,
) -> RefreshPreferences:
    """AWS defaults, then the translated CloudFormation policy, then explicit preferences.

    `field_names` maps our snake_case preference names to the names the caller's config uses
    (e.g. camelCase), so errors name the key the user wrote.
    """
    names = dict(field_names or {})

    def key(name: str) -> str:
        return f"{instance_refresh_key}.{names.get(name, name)}"

    prefs = RefreshPreferences()
    if rolling_update is not None:
        prefs = translate_rolling_update(rolling_update, desired_capacity, rolling_update_key)
    given = dict(instance_refresh or {})
    unknown = sorted(set(given) - set(_REFRESH_KEYS))
    if unknown:
        raise ArgError(key(unknown[0]), "is not an instance refresh preference")

    updates: dict[str, Any] = {}
    if "min_healthy_percentage" in given:
        updates["min_healthy_percentage"] = _int_field(
            given["min_healthy_percentage"], key("min_healthy_percentage"), 0, 100
        )
    if "max_healthy_percentage" in given:
        updates["max_healthy_percentage"] = _int_field(
            given["max_healthy_percentage"], key("max_healthy_percentage"), 100, 200
        )
    if "instance_warmup_seconds" in given:
        updates["instance_warmup_seconds"] = _int_field(
            given["instance_warmup_seconds"], key("instance_warmup_seconds"), 0
        )
    if "checkpoint_percentages" in given:
        updates["checkpoint_percentages"] = _checkpoints(given["checkpoint_percentages"], key("checkpoint_percentages"))
    if "checkpoint_delay_seconds" in given:
        updates["checkpoint_delay_seconds"] = _int_field(
            given["checkpoint_delay_seconds"],
            key("checkpoint_delay_seconds"),
            0,
            MAX_CHECKPOINT_DELAY_SECONDS,
        )
    for flag in ("skip_matching", "auto_rollback"):
        if flag in given:
            updates[flag] = _bool_field(given[flag], key(flag))
    prefs = replace(prefs, **updates)
    if prefs.checkpoint_percentages and prefs.checkpoint_percentages[-1] != 100:
        last = prefs.checkpoint_percentages[-1]
        note = f"The last checkpoint is {last}%: the refresh stops there and leaves old instances."
        prefs = replace(prefs, notes=(*prefs.notes, note))

    low, high = prefs.min_healthy_percentage, prefs.max_healthy_percentage
    if low >= high:
        raise ArgError(
            key("max_healthy_percentage"),
            f"must be above min healthy percentage ({low}), got {high}: with no room between "
            "them no instance could ever be replaced",
        )
    if high - low > 100:
        raise ArgError(
            key("max_healthy_percentage"),
            f"may exceed min healthy percentage ({low}) by at most 100 (AWS limit), got {high}",
        )
    if prefs.checkpoint_delay_seconds is not None and not prefs.checkpoint_percentages:
        raise ArgError(
            key("checkpoint_delay_seconds"),
            f"needs {names.get('checkpoint_percentages', 'checkpoint_percentages')}",
        )
    return prefs


def _checkpoints(value: Any, key: str) -> tuple[int, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ArgError(key, f"must be a non-empty list of percentages, got {value!r}")
    points = tuple(_int_field(v, key, 1, 100) for v in value)
    if any(b <= a for a, b in pairwise(points)):
        raise ArgError(key, f"must be strictly ascending, got {list(points)}")
    return points
