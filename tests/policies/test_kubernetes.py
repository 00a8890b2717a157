"""Kubernetes Deployment and Flagger Canary policies, through ResourceValidationArgs."""

from __future__ import annotations

import copy

import pytest

from tests.policies.support import Case, assert_case

READY = "kubernetes-deployment-readiness-probe"
ROLLING = "kubernetes-deployment-rolling-update"
REPLICAS = "kubernetes-deployment-replicas"
PRESTOP = "kubernetes-deployment-prestop-hook"
CANARY = "flagger-canary-analysis"

CONTAINER = {
    "name": "web",
    "image": "nginx",
    "ports": [{"containerPort": 80.0}],
    "readinessProbe": {"httpGet": {"path": "/ready", "port": 80.0}},
    "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 10"]}}},
}
GOOD = {
    "metadata": {"name": "web", "namespace": "apps"},
    "spec": {
        "replicas": 3.0,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0.0, "maxSurge": 1.0}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"terminationGracePeriodSeconds": 30.0, "containers": [CONTAINER]},
        },
    },
}


def deployment(path: str = "", value: object = None, *, delete: bool = False) -> dict:
    """GOOD with one nested key changed (or deleted); path like 'spec.replicas'."""
    props = copy.deepcopy(GOOD)
    if not path:
        return props
    *parents, last = path.split(".")
    node = props
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if delete:
        del node[last]
    else:
        node[last] = value
    return props


def with_container(**changes: object) -> dict:
    container = {k: v for k, v in {**CONTAINER, **changes}.items() if v is not None}
    return deployment("spec.template.spec.containers", [container])


SIDECAR = {"name": "proxy", "image": "envoy", "readinessProbe": {"tcpSocket": {"port": 9901.0}}}
ANALYSIS = {"interval": "1m", "threshold": 5.0, "metrics": [{"name": "request-success-rate"}]}

CASES = [
    Case("ready-compliant", READY, deployment()),
    Case("ready-missing", READY, with_container(readinessProbe=None), expect=["container web"]),
    Case(
        "ready-sidecar-missing",
        READY,
        deployment("spec.template.spec.containers", [CONTAINER, {"name": "proxy", "image": "e"}]),
        expect=["container proxy"],
    ),
    Case("rolling-compliant", ROLLING, deployment()),
    Case("rolling-zero-percent", ROLLING, deployment("spec.strategy.rollingUpdate.maxUnavailable", "0%")),
    Case("rolling-recreate", ROLLING, deployment("spec.strategy", {"type": "Recreate"}), expect=["Recreate"]),
    Case(
        "rolling-25-percent", ROLLING, deployment("spec.strategy.rollingUpdate.maxUnavailable", "25%"), expect=["25%"]
    ),
    Case(
        "rolling-missing-strategy-defaults-25",
        ROLLING,
        deployment("spec.strategy", delete=True),
        expect=["not set (25%)"],
    ),
    Case(
        "rolling-override-allows-1",
        ROLLING,
        deployment("spec.strategy.rollingUpdate.maxUnavailable", 1.0),
        config={"maxUnavailable": 1},
    ),
    Case("replicas-compliant", REPLICAS, deployment()),
    Case("replicas-1", REPLICAS, deployment("spec.replicas", 1.0), expect=["replicas is 1"]),
    Case("replicas-missing", REPLICAS, deployment("spec.replicas", delete=True), expect=["not set (1)"]),
    Case("replicas-override-min-4", REPLICAS, deployment(), config={"minReplicas": 4}, expect=["4 or more"]),
    Case("prestop-compliant", PRESTOP, deployment()),
    Case("prestop-sleep-action", PRESTOP, with_container(lifecycle={"preStop": {"sleep": {"seconds": 5.0}}})),
    Case("prestop-missing", PRESTOP, with_container(lifecycle=None), expect=["no preStop hook"]),
    Case(
        "prestop-grace-too-short",
        PRESTOP,
        deployment("spec.template.spec.terminationGracePeriodSeconds", 10.0),
        expect=["terminationGracePeriodSeconds 10"],
    ),
    Case(
        "prestop-default-grace-30-vs-45",
        PRESTOP,
        with_container(lifecycle={"preStop": {"exec": {"command": ["sleep", "45"]}}}),
        expect=["terminationGracePeriodSeconds 30"],
    ),
    Case(
        "prestop-sidecar-without-ports-exempt",
        PRESTOP,
        deployment("spec.template.spec.containers", [CONTAINER, SIDECAR]),
    ),
    Case("canary-compliant", CANARY, {"spec": {"analysis": ANALYSIS}}),
    Case(
        "canary-missing-analysis",
        CANARY,
        {"spec": {}},
        expect=["threshold is not set", "interval is not set", "0 metrics"],
    ),
    Case("canary-no-metrics", CANARY, {"spec": {"analysis": {**ANALYSIS, "metrics": []}}}, expect=["0 metrics"]),
    Case(
        "canary-override-two-metrics",
        CANARY,
        {"spec": {"analysis": ANALYSIS}},
        config={"minMetrics": 2},
        expect=["1 metrics"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_kubernetes_policy(case: Case) -> None:
    assert_case(case)
