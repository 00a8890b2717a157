"""Kubernetes Deployments (rolling without dropping requests) and Flagger canaries."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..contract.types import ResourceType
from .config import Setting
from .props import as_int, duration_seconds, get, items, mapping
from .rules import MANDATORY, GuardResourcePolicy

DEPLOYMENT = (ResourceType.K8S_DEPLOYMENT,)
CANARY = (ResourceType.FLAGGER_CANARY,)
DEFAULT_GRACE_SECONDS = 30
_SLEEP = re.compile(r"\bsleep\s+(\d+(?:\.\d+)?)")


def containers(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [mapping(c) for c in items(get(props, "spec.template.spec.containers"))]


def replicas(props: Mapping[str, Any]) -> int:
    value = as_int(get(props, "spec.replicas"))
    return 1 if value is None else value  # the API server's default


def check_readiness(props: Mapping[str, Any], _config: Mapping[str, Any]) -> Iterator[str]:
    for container in containers(props):
        if not container.get("readinessProbe"):
            yield (
                f"container {container.get('name', '?')} has no readinessProbe: pods get traffic "
                "before the app can answer. Add readinessProbe (httpGet on a readiness path)."
            )


def _unavailable_pods(value: Any) -> int | None:
    """Absolute maxUnavailable; a percentage counts only when it is 0% (no pod count offline)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return 0 if as_int(value.strip()[:-1]) == 0 else None
    return as_int(value)


def check_rolling_update(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    expected = config["maxUnavailable"]
    kind = get(props, "spec.strategy.type", "RollingUpdate")
    if kind != "RollingUpdate":
        yield (
            f"strategy.type is {kind}: every pod stops before new ones start. Use strategy="
            f"{{type: RollingUpdate, rollingUpdate: {{maxUnavailable: {expected}, maxSurge: 1}}}}."
        )
        return
    value = get(props, "spec.strategy.rollingUpdate.maxUnavailable")
    if _unavailable_pods(value) is None or _unavailable_pods(value) > expected:
        shown = "not set (25%)" if value is None else value
        yield (
            f"rollingUpdate.maxUnavailable is {shown}: ready pods stop before replacements are "
            f"ready. Set strategy.rollingUpdate.maxUnavailable to {expected} or less, maxSurge >= 1."
        )


def check_replicas(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    minimum = config["minReplicas"]
    count = replicas(props)
    if count < minimum:
        shown = count if get(props, "spec.replicas") is not None else "not set (1)"
        yield (f"replicas is {shown}: one pod restarting is an outage. Set spec.replicas to {minimum} or more.")


def prestop_delay(container: Mapping[str, Any]) -> float | None:
    """Seconds a preStop hook holds the pod (exec `sleep N` or the `sleep` action); 0 if other."""
    hook = mapping(get(container, "lifecycle.preStop"))
    if not hook:
        return None
    seconds = get(hook, "sleep.seconds")
    if seconds is not None:
        return float(as_int(seconds) or 0)
    command = " ".join(str(part) for part in items(get(hook, "exec.command")))
    match = _SLEEP.search(command)
    return float(match.group(1)) if match else 0.0


def check_prestop(props: Mapping[str, Any], _config: Mapping[str, Any]) -> Iterator[str]:
    all_containers = containers(props)
    serving = [c for c in all_containers if items(c.get("ports"))] or all_containers[:1]
    grace = as_int(get(props, "spec.template.spec.terminationGracePeriodSeconds"))
    grace = DEFAULT_GRACE_SECONDS if grace is None else grace
    for container in serving:
        name = container.get("name", "?")
        delay = prestop_delay(container)
        if delay is None:
            yield (
                f"container {name} has no preStop hook: it stops while endpoints still send it "
                "requests. Add lifecycle.preStop (sleep a few seconds)."
            )
        elif grace <= delay:
            yield (
                f"terminationGracePeriodSeconds {grace} is not longer than container {name}'s "
                f"preStop delay {delay:g}s: the pod is killed mid-drain. Raise it above "
                f"{delay:g} plus the app's shutdown time."
            )


def check_canary_analysis(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    analysis = mapping(get(props, "spec.analysis"))
    threshold = as_int(analysis.get("threshold"))
    if threshold is None or threshold < 1:
        yield (
            "analysis.threshold is not set: a failing canary is never rolled back. Set "
            "spec.analysis.threshold (failed checks before rollback, e.g. 5)."
        )
    if duration_seconds(analysis.get("interval")) is None:
        yield "analysis.interval is not set: set spec.analysis.interval (e.g. 1m)."
    metrics = items(analysis.get("metrics"))
    if len(metrics) < config["minMetrics"]:
        yield (
            f"analysis has {len(metrics)} metrics: the canary is promoted unchecked. Add "
            f"{config['minMetrics']} or more to spec.analysis.metrics (e.g. request-success-rate "
            "with thresholdRange.min 99)."
        )


POLICIES = [
    GuardResourcePolicy(
        "kubernetes-deployment-readiness-probe",
        "Every container of a Deployment has a readiness probe.",
        MANDATORY,
        DEPLOYMENT,
        check_readiness,
    ),
    GuardResourcePolicy(
        "kubernetes-deployment-rolling-update",
        "Deployments roll without taking ready pods away (RollingUpdate, maxUnavailable 0).",
        MANDATORY,
        DEPLOYMENT,
        check_rolling_update,
        {"maxUnavailable": Setting("integer", 0, "Largest maxUnavailable (pods) allowed.", 0, 100)},
    ),
    GuardResourcePolicy(
        "kubernetes-deployment-replicas",
        "Deployments run enough replicas to survive one pod going away.",
        MANDATORY,
        DEPLOYMENT,
        check_replicas,
        {"minReplicas": Setting("integer", 2, "Fewest replicas allowed.", 1, 1000)},
    ),
    GuardResourcePolicy(
        "kubernetes-deployment-prestop-hook",
        "Serving containers drain in a preStop hook that the grace period outlasts.",
        MANDATORY,
        DEPLOYMENT,
        check_prestop,
    ),
    GuardResourcePolicy(
        "flagger-canary-analysis",
        "Flagger canaries analyse metrics on an interval and roll back after a threshold.",
        MANDATORY,
        CANARY,
        check_canary_analysis,
        {"minMetrics": Setting("integer", 1, "Fewest analysis metrics allowed.", 1, 100)},
    ),
]
