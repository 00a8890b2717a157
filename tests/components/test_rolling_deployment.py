"""RollingDeployment: rollout strategy, probes, shutdown timing, PDB selector, HPA, and every invalid input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from zero_downtime.components.rolling_deployment import (
    FLAGGER_PRIMARY_SUFFIX,
    RollingDeployment,
    RollingDeploymentArgs,
    image_tag,
    resolve_rolling_deployment,
)
from zero_downtime.components.validation import ArgError
from zero_downtime.contract.types import ResourceType
from zero_downtime.offline.evaluate import Evaluation, run_under_mocks
from zero_downtime.offline.mocks import RecordedResource

IMAGE = "registry.example.com/shop/web:1.4.2"


def _deploy(args: RollingDeploymentArgs, name: str = "web") -> Evaluation:
    """Register one RollingDeployment under mocks and export its outputs."""

    def program() -> None:
        component = RollingDeployment(name, args)
        pulumi.export(
            "out",
            {
                "deployment": component.deployment_name,
                "service": component.service_name,
                "pdb": component.disruption_budget_name,
                "hpa": component.autoscaler_name,
                "namespace": component.namespace,
                "selector": component.selector,
            },
        )

    return run_under_mocks(program)


def _one(evaluation: Evaluation, type_token: str) -> RecordedResource:
    found = evaluation.of_type(type_token)
    assert len(found) == 1, f"expected one {type_token}, got {len(found)}"
    return found[0]


def _container(deployment: RecordedResource) -> dict[str, Any]:
    containers = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_defaults_keep_capacity_during_rollout_and_drain() -> None:
    ev = _deploy({"image": IMAGE})
    deployment = _one(ev, ResourceType.K8S_DEPLOYMENT)
    spec = deployment.inputs["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}
    assert spec["minReadySeconds"] == 5

    container = _container(deployment)
    assert container["image"] == IMAGE
    assert container["ports"] == [{"name": "http", "containerPort": 8080}]
    readiness, liveness = container["readinessProbe"], container["livenessProbe"]
    assert readiness["httpGet"] == {"path": "/health", "port": 8080}
    assert (readiness["initialDelaySeconds"], readiness["periodSeconds"]) == (10, 5)
    assert liveness["httpGet"] == {"path": "/health", "port": 8080}
    assert (liveness["initialDelaySeconds"], liveness["periodSeconds"]) == (30, 10)
    assert "startupProbe" not in container
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    }
    grace = spec["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= 10 + 15, "grace must cover preStop (10) + drain (15)"
    assert ev.mocks.options[(ResourceType.K8S_DEPLOYMENT, "web-deployment")]["ignore_changes"] == []


def test_labels_selectors_service_and_budget_line_up() -> None:
    ev = _deploy({"image": IMAGE, "labels": {"team": "shop", "app.kubernetes.io/name": "spoofed"}})
    deployment = _one(ev, ResourceType.K8S_DEPLOYMENT)
    selector = deployment.inputs["spec"]["selector"]["matchLabels"]
    pod_labels = deployment.inputs["spec"]["template"]["metadata"]["labels"]
    assert selector == {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web-test"}
    assert selector.items() <= pod_labels.items()
    assert pod_labels["team"] == "shop"
    assert pod_labels["app.kubernetes.io/version"] == "1.4.2"
    assert pod_labels["app.kubernetes.io/part-of"] == "zero-downtime"
    assert pod_labels["app.kubernetes.io/managed-by"] == "pulumi-zero-downtime"

    service = _one(ev, ResourceType.K8S_SERVICE)
    assert service.inputs["spec"]["selector"] == selector
    assert service.inputs["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]

    pdb = _one(ev, ResourceType.K8S_PDB)
    pdb_selector = pdb.inputs["spec"]["selector"]["matchLabels"]
    assert pdb_selector == selector
    assert pdb_selector.items() <= pod_labels.items()
    assert pdb.inputs["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in pdb.inputs["spec"]
    assert pdb.inputs["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert ev.of_type(ResourceType.K8S_HPA) == []

    out = ev.outputs["out"]
    assert out["deployment"] == deployment.outputs["metadata"]["name"] == "web"
    assert out["service"] == service.outputs["metadata"]["name"]
    assert out["pdb"] == pdb.outputs["metadata"]["name"]
    assert out["hpa"] is None
    assert out["namespace"] == "default"
    assert out["selector"] == selector


def test_startup_probe_exec_pre_stop_and_derived_grace() -> None:
    ev = _deploy(
        {
            "image": IMAGE,
            "namespace": "shop",
            "container_port": 9000,
            "readiness_probe": {"path": "/ready"},
            "startup_probe": {"failure_threshold": 12},
            "pre_stop_seconds": 12,
            "pre_stop_action": "exec",
            "drain_seconds": 20,
        }
    )
    deployment = _one(ev, ResourceType.K8S_DEPLOYMENT)
    container = _container(deployment)
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 9000}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": 9000}
    assert container["startupProbe"]["failureThreshold"] == 12
    assert container["startupProbe"]["periodSeconds"] == 5
    assert container["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "12"]}}}
    assert deployment.inputs["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 12 + 20 + 5
    assert deployment.inputs["metadata"]["namespace"] == "shop"
    assert ev.outputs["out"]["namespace"] == "shop"


def test_autoscaler_owns_replicas_after_creation() -> None:
    ev = _deploy(
        {
            "image": IMAGE,
            "replicas": 3,
            "autoscaler": {"min_replicas": 4, "max_replicas": 10, "target_cpu_utilization": 60},
        }
    )
    deployment = _one(ev, ResourceType.K8S_DEPLOYMENT)
    assert deployment.inputs["spec"]["replicas"] == 4
    assert ev.mocks.options[(ResourceType.K8S_DEPLOYMENT, "web-deployment")]["ignore_changes"] == ["spec.replicas"]
    hpa = _one(ev, ResourceType.K8S_HPA)
    spec = hpa.inputs["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (4, 10)
    assert spec["metrics"][0]["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 60},
    }
    assert ev.outputs["out"]["hpa"] == hpa.outputs["metadata"]["name"]


def test_flagger_managed_guards_primary_pods_and_leaves_services_to_flagger() -> None:
    ev = _deploy({"image": IMAGE, "managed_by_flagger": True, "disruption_budget": {"min_available": 1}})
    assert ev.of_type(ResourceType.K8S_SERVICE) == []
    pdb = _one(ev, ResourceType.K8S_PDB)
    assert pdb.inputs["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": f"web{FLAGGER_PRIMARY_SUFFIX}"}
    assert pdb.inputs["spec"]["minAvailable"] == 1
    assert ev.mocks.options[(ResourceType.K8S_DEPLOYMENT, "web-deployment")]["ignore_changes"] == ["spec.replicas"]
    assert ev.outputs["out"]["service"] is None


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("registry.example.com/shop/web:1.4.2", "1.4.2"),
        ("registry.example.com:5000/shop/web", None),
        ("web@sha256:" + "a" * 64, None),
        ("nginx", None),
    ],
    ids=["tag", "registry-port-no-tag", "digest", "bare"],
)
def test_version_label_comes_from_the_image_tag(image: str, tag: str | None) -> None:
    assert image_tag(image) == tag


def test_long_stack_name_falls_back_to_app_name_for_instance_label() -> None:
    def program() -> None:
        RollingDeployment("web", {"image": IMAGE})

    ev = run_under_mocks(program, stack="s" * 70)
    selector = _one(ev, ResourceType.K8S_DEPLOYMENT).inputs["spec"]["selector"]["matchLabels"]
    assert selector["app.kubernetes.io/instance"] == "web"


@dataclass(frozen=True)
class Bad:
    id: str
    args: dict[str, Any]
    key: str


BAD = [
    Bad("no-image", {}, "image"),
    Bad("blank-image", {"image": " "}, "image"),
    Bad("unknown-arg", {"replica": 3}, "replica"),
    Bad("one-replica", {"replicas": 1}, "replicas"),
    Bad("app-name-uppercase", {"app_name": "Web_App"}, "app_name"),
    Bad("app-name-too-long-for-flagger", {"app_name": "a" * 60, "managed_by_flagger": True}, "app_name"),
    Bad("version-invalid", {"version": "1.0/beta"}, "version"),
    Bad("namespace-invalid", {"namespace": "Shop"}, "namespace"),
    Bad("container-port", {"container_port": 70000}, "container_port"),
    Bad("service-port", {"service_port": 0}, "service_port"),
    Bad("service-type", {"service_type": "External"}, "service_type"),
    Bad("surge-over-100", {"max_surge": "150%"}, "max_surge"),
    Bad("unavailable-text", {"max_unavailable": "some"}, "max_unavailable"),
    Bad("both-zero", {"max_surge": 0, "max_unavailable": "0%"}, "max_surge"),
    Bad("min-ready-negative", {"min_ready_seconds": -1}, "min_ready_seconds"),
    Bad(
        "deadline-below-min-ready",
        {"min_ready_seconds": 30, "progress_deadline_seconds": 30},
        "progress_deadline_seconds",
    ),
    Bad("readiness-relative-path", {"readiness_probe": {"path": "health"}}, "readiness_probe.path"),
    Bad("readiness-period-zero", {"readiness_probe": {"period_seconds": 0}}, "readiness_probe.period_seconds"),
    Bad("readiness-unknown-key", {"readiness_probe": {"pth": "/x"}}, "readiness_probe.pth"),
    Bad("liveness-success-2", {"liveness_probe": {"success_threshold": 2}}, "liveness_probe.success_threshold"),
    Bad(
        "liveness-delay-negative",
        {"liveness_probe": {"initial_delay_seconds": -5}},
        "liveness_probe.initial_delay_seconds",
    ),
    Bad("startup-port", {"startup_probe": {"port": 0}}, "startup_probe.port"),
    Bad("pre-stop-zero", {"pre_stop_seconds": 0}, "pre_stop_seconds"),
    Bad("pre-stop-action", {"pre_stop_action": "wait"}, "pre_stop_action"),
    Bad("drain-negative", {"drain_seconds": -1}, "drain_seconds"),
    Bad(
        "grace-below-pre-stop-plus-drain",
        {"pre_stop_seconds": 10, "drain_seconds": 15, "termination_grace_period_seconds": 24},
        "termination_grace_period_seconds",
    ),
    Bad("cpu-quantity", {"resources": {"requests": {"cpu": "lots"}}}, "resources.requests.cpu"),
    Bad("gpu-resource", {"resources": {"limits": {"gpu": "1"}}}, "resources.limits.gpu"),
    Bad("resources-unknown", {"resources": {"claims": {}}}, "resources.claims"),
    Bad("env-not-string", {"env": {"PORT": 8080}}, "env.PORT"),
    Bad("label-value", {"labels": {"team": "shop floor"}}, "labels.team"),
    Bad("pdb-both", {"disruption_budget": {"max_unavailable": 1, "min_available": 1}}, "disruption_budget"),
    Bad("pdb-max-unavailable-zero", {"disruption_budget": {"max_unavailable": 0}}, "disruption_budget.max_unavailable"),
    Bad(
        "pdb-min-available-all",
        {"replicas": 3, "disruption_budget": {"min_available": 3}},
        "disruption_budget.min_available",
    ),
    Bad("pdb-min-available-100%", {"disruption_budget": {"min_available": "100%"}}, "disruption_budget.min_available"),
    Bad("pdb-unknown", {"disruption_budget": {"max_surge": 1}}, "disruption_budget.max_surge"),
    Bad("hpa-min-one", {"autoscaler": {"min_replicas": 1, "max_replicas": 5}}, "autoscaler.min_replicas"),
    Bad("hpa-max-below-min", {"autoscaler": {"min_replicas": 4, "max_replicas": 3}}, "autoscaler.max_replicas"),
    Bad("hpa-no-max", {"autoscaler": {"min_replicas": 2}}, "autoscaler.max_replicas"),
    Bad(
        "hpa-cpu-zero",
        {"autoscaler": {"max_replicas": 5, "target_cpu_utilization": 0}},
        "autoscaler.target_cpu_utilization",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_invalid_input_names_the_key_and_registers_nothing(case: Bad) -> None:
    args = {"image": IMAGE, **case.args} if case.id not in ("no-image", "blank-image") else case.args
    errors: list[ArgError] = []

    def program() -> None:
        try:
            RollingDeployment("web", args)  # type: ignore[arg-type]
        except ArgError as err:
            errors.append(err)

    ev = run_under_mocks(program)
    assert len(errors) == 1, "expected an ArgError"
    assert errors[0].key == case.key
    assert str(errors[0]).startswith(f"{case.key}:")
    assert ev.resources == []


def test_validation_is_a_value_error_with_the_relation_in_the_message() -> None:
    with pytest.raises(ValueError, match=r"termination_grace_period_seconds: .*10 \+ 15 = 25"):
        resolve_rolling_deployment(
            "web", {"image": IMAGE, "pre_stop_seconds": 10, "drain_seconds": 15, "termination_grace_period_seconds": 20}
        )


def test_resolve_writes_every_default_once() -> None:
    from zero_downtime.components.defaults import DEFAULT_CONTAINER_PORT, DEFAULT_HEALTH_CHECK_PATH
    from zero_downtime.components.rolling_deployment import (
        DEFAULT_PRE_STOP_SECONDS,
        DEFAULT_REPLICAS,
        DEFAULT_RESOURCES,
        DEFAULT_SERVICE_PORT,
        GRACE_SLACK_SECONDS,
        DisruptionBudgetSettings,
    )

    settings = resolve_rolling_deployment("web", {"image": IMAGE})
    assert settings.container_port == DEFAULT_CONTAINER_PORT == 8080
    assert settings.readiness_probe.port == settings.liveness_probe.port == DEFAULT_CONTAINER_PORT
    assert settings.readiness_probe.path == settings.liveness_probe.path == DEFAULT_HEALTH_CHECK_PATH
    assert settings.startup_probe is None
    assert (settings.app_name, settings.namespace, settings.version) == ("web", "default", "1.4.2")
    assert (settings.replicas, settings.service_port) == (DEFAULT_REPLICAS, DEFAULT_SERVICE_PORT)
    assert settings.termination_grace_period_seconds == DEFAULT_PRE_STOP_SECONDS + settings.drain_seconds + (
        GRACE_SLACK_SECONDS
    )
    assert settings.resources.requests == DEFAULT_RESOURCES["requests"]
    assert settings.disruption_budget == DisruptionBudgetSettings(max_unavailable=1)
    assert settings.autoscaler is None and not settings.replicas_owned_elsewhere
    assert settings.initial_replicas == DEFAULT_REPLICAS


def test_resolved_probe_port_follows_the_container_port() -> None:
    settings = resolve_rolling_deployment("web", {"image": IMAGE, "container_port": 9000, "startup_probe": {}})
    assert {p.port for p in (settings.readiness_probe, settings.liveness_probe, settings.startup_probe)} == {9000}


@pytest.mark.parametrize("flagger", [False, True], ids=["plain", "flagger"])
def test_children_are_the_registered_objects(flagger: bool) -> None:
    from tests.components.children import export_urns, registered_children

    built: list[RollingDeployment] = []

    def program() -> None:
        component = RollingDeployment(
            "web",
            {"image": IMAGE, "managed_by_flagger": flagger, "autoscaler": {"max_replicas": 4}},
        )
        built.append(component)
        children = {
            "deployment": component.deployment,
            "disruption_budget": component.disruption_budget,
        }
        if component.service is not None:
            children["service"] = component.service
        if component.autoscaler is not None:
            children["autoscaler"] = component.autoscaler
        export_urns(children)

    children = registered_children(run_under_mocks(program))
    expected = {
        "deployment": (ResourceType.K8S_DEPLOYMENT, "web-deployment"),
        "disruption_budget": (ResourceType.K8S_PDB, "web-pdb"),
        "autoscaler": (ResourceType.K8S_HPA, "web-hpa"),
    }
    if not flagger:
        expected["service"] = (ResourceType.K8S_SERVICE, "web-service")
    assert children == expected
    assert (built[0].service is None) == flagger


# -- the probe, resources, disruption budget and autoscaler steps of resolve_rolling_deployment ----------
REFUSALS = [
    pytest.param({"readiness_probe": {"pth": "/x"}}, "readiness_probe.pth", "is not a probe setting", id="probe-key"),
    pytest.param(
        {"liveness_probe": {"port": 80, "paths": ["/x"], "host": "x"}},
        "liveness_probe.host",
        "is not a probe setting",
        id="probe-first-unknown-key",
    ),
    pytest.param(
        {"readiness_probe": {"path": "health"}},
        "readiness_probe.path",
        "must be an absolute path starting with '/', got 'health'",
        id="probe-relative-path",
    ),
    pytest.param(
        {"startup_probe": {"path": None}},
        "startup_probe.path",
        "must be an absolute path starting with '/', got None",
        id="probe-no-path",
    ),
    pytest.param({"startup_probe": {"port": 0}}, "startup_probe.port", "must be >= 1, got 0", id="probe-port-0"),
    pytest.param(
        {"startup_probe": {"port": 65536}}, "startup_probe.port", "must be <= 65535, got 65536", id="probe-port-65536"
    ),
    pytest.param(
        {"liveness_probe": {"initial_delay_seconds": -1}},
        "liveness_probe.initial_delay_seconds",
        "must be >= 0, got -1",
        id="probe-delay-negative",
    ),
    pytest.param(
        {"readiness_probe": {"period_seconds": 0}},
        "readiness_probe.period_seconds",
        "must be >= 1, got 0",
        id="probe-period-0",
    ),
    pytest.param(
        {"readiness_probe": {"timeout_seconds": 0}},
        "readiness_probe.timeout_seconds",
        "must be >= 1, got 0",
        id="probe-timeout-0",
    ),
    pytest.param(
        {"readiness_probe": {"failure_threshold": 0}},
        "readiness_probe.failure_threshold",
        "must be >= 1, got 0",
        id="probe-failures-0",
    ),
    pytest.param(
        {"readiness_probe": {"success_threshold": 0}},
        "readiness_probe.success_threshold",
        "must be >= 1, got 0",
        id="probe-successes-0",
    ),
    pytest.param(
        {"liveness_probe": {"success_threshold": 2}},
        "liveness_probe.success_threshold",
        "must be 1, got 2",
        id="liveness-successes-2",
    ),
    pytest.param(
        {"startup_probe": {"success_threshold": 3}},
        "startup_probe.success_threshold",
        "must be 1, got 3",
        id="startup-successes-3",
    ),
    pytest.param(
        {"resources": {"claims": {}, "requests": {}}},
        "resources.claims",
        "must be requests or limits",
        id="resources-key",
    ),
    pytest.param(
        {"resources": {"limits": {"gpu": "1", "cpu": "1"}}},
        "resources.limits.gpu",
        "must be cpu or memory",
        id="resources-kind",
    ),
    pytest.param(
        {"resources": {"requests": {"cpu": "lots"}}},
        "resources.requests.cpu",
        "must be a Kubernetes quantity like '250m' or '512Mi', got 'lots'",
        id="resources-quantity",
    ),
    pytest.param(
        {"resources": {"limits": {"memory": 512}}},
        "resources.limits.memory",
        "must be a Kubernetes quantity like '250m' or '512Mi', got 512",
        id="resources-quantity-a-number",
    ),
    pytest.param(
        {"disruption_budget": {"max_surge": 1}},
        "disruption_budget.max_surge",
        "must be max_unavailable or min_available",
        id="budget-key",
    ),
    pytest.param(
        {"disruption_budget": {"max_unavailable": 1, "min_available": 1}},
        "disruption_budget",
        "set max_unavailable or min_available, not both",
        id="budget-both",
    ),
    pytest.param(
        {"disruption_budget": {"max_unavailable": 0}},
        "disruption_budget.max_unavailable",
        "must be >= 1, got 0",
        id="budget-max-unavailable-0",
    ),
    pytest.param(
        {"disruption_budget": {"max_unavailable": "0%"}},
        "disruption_budget.max_unavailable",
        "must be an integer or a percentage like '25%', got '0%'",
        id="budget-max-unavailable-0%",
    ),
    pytest.param(
        {"disruption_budget": {"max_unavailable": None}},
        "disruption_budget.max_unavailable",
        "must be an integer, got None",
        id="budget-max-unavailable-none",
    ),
    pytest.param(
        {"disruption_budget": {"min_available": "most"}},
        "disruption_budget.min_available",
        "must be an integer or a percentage like '25%', got 'most'",
        id="budget-min-available-text",
    ),
    pytest.param(
        {"disruption_budget": {"min_available": -1}},
        "disruption_budget.min_available",
        "must be >= 0, got -1",
        id="budget-min-available-negative",
    ),
    pytest.param(
        {"replicas": 3, "disruption_budget": {"min_available": 3}},
        "disruption_budget.min_available",
        "3 leaves no pod evictable with 3 replicas, so node drains would hang; use at most 2",
        id="budget-min-available-all",
    ),
    pytest.param(
        {"replicas": 5, "disruption_budget": {"min_available": 7}},
        "disruption_budget.min_available",
        "7 leaves no pod evictable with 5 replicas, so node drains would hang; use at most 4",
        id="budget-min-available-more-than-all",
    ),
    pytest.param(
        {"disruption_budget": {"min_available": "100%"}},
        "disruption_budget.min_available",
        "100% of 2 replicas keeps 2 (Kubernetes rounds up), which leaves no pod evictable, so node drains "
        "would hang; use at most 1 or 50%",
        id="budget-min-available-100%",
    ),
    pytest.param(
        {"disruption_budget": {"min_available": "51%"}},
        "disruption_budget.min_available",
        "51% of 2 replicas keeps 2 (Kubernetes rounds up), which leaves no pod evictable, so node drains "
        "would hang; use at most 1 or 50%",
        id="budget-min-available-51%-of-2",
    ),
    pytest.param(
        {"replicas": 3, "disruption_budget": {"min_available": "67%"}},
        "disruption_budget.min_available",
        "67% of 3 replicas keeps 3 (Kubernetes rounds up), which leaves no pod evictable, so node drains "
        "would hang; use at most 2 or 66%",
        id="budget-min-available-67%-of-3",
    ),
    pytest.param(
        {"autoscaler": {"max_replicas": 5, "min": 2}},
        "autoscaler.min",
        "is not an autoscaler setting",
        id="hpa-key",
    ),
    pytest.param(
        {"autoscaler": {"max_replicas": 5, "target_memory": 80, "cpu": 70}},
        "autoscaler.cpu",
        "is not an autoscaler setting",
        id="hpa-first-unknown-key",
    ),
    pytest.param({"autoscaler": {"min_replicas": 2}}, "autoscaler.max_replicas", "is required", id="hpa-no-max"),
    pytest.param({"autoscaler": {}}, "autoscaler.max_replicas", "is required", id="hpa-empty"),
    pytest.param(
        {"autoscaler": {"min_replicas": 1, "max_replicas": 5}},
        "autoscaler.min_replicas",
        "must be >= 2, got 1",
        id="hpa-min-1",
    ),
    pytest.param(
        {"autoscaler": {"min_replicas": 4, "max_replicas": 3}},
        "autoscaler.max_replicas",
        "must be >= 4, got 3",
        id="hpa-max-below-min",
    ),
    pytest.param(
        {"autoscaler": {"max_replicas": 5, "target_cpu_utilization": 0}},
        "autoscaler.target_cpu_utilization",
        "must be >= 1, got 0",
        id="hpa-cpu-0",
    ),
    pytest.param(
        {"autoscaler": {"max_replicas": 5, "target_cpu_utilization": 1001}},
        "autoscaler.target_cpu_utilization",
        "must be <= 1000, got 1001",
        id="hpa-cpu-1001",
    ),
]


@pytest.mark.parametrize(("changes", "key", "problem"), REFUSALS)
def test_resolve_refuses_naming_the_key_with_the_whole_message(changes: dict[str, Any], key: str, problem: str) -> None:
    with pytest.raises(ArgError) as raised:
        resolve_rolling_deployment("web", {"image": IMAGE, **changes})  # type: ignore[typeddict-item]
    assert (raised.value.key, raised.value.problem) == (key, problem)
    assert str(raised.value) == f"{key}: {problem}"


@pytest.mark.parametrize("probe", ["readiness_probe", "liveness_probe", "startup_probe"])
def test_resolve_accepts_each_probe_at_its_lowest_bounds_and_reads_it_back(probe: str) -> None:
    from zero_downtime.components.rolling_deployment import ProbeSettings

    lowest = {
        "path": "/",
        "port": 1,
        "initial_delay_seconds": 0,
        "period_seconds": 1,
        "timeout_seconds": 1,
        "failure_threshold": 1,
        "success_threshold": 1,
    }
    settings = resolve_rolling_deployment("web", {"image": IMAGE, probe: lowest})  # type: ignore[misc]
    assert getattr(settings, probe) == ProbeSettings(**lowest)


def test_resolve_accepts_the_highest_probe_port_and_readiness_success_threshold_above_1() -> None:
    settings = resolve_rolling_deployment(
        "web",
        {
            "image": IMAGE,
            "readiness_probe": {"port": 65535, "success_threshold": 3, "failure_threshold": 2, "timeout_seconds": 2},
            "startup_probe": {"port": 65535},
        },
    )
    readiness = settings.readiness_probe
    assert (readiness.port, readiness.success_threshold, readiness.failure_threshold) == (65535, 3, 2)
    assert readiness.timeout_seconds == 2
    assert settings.startup_probe is not None and settings.startup_probe.port == 65535


def test_resolve_passes_output_probe_fields_unchecked() -> None:
    port, period = pulumi.Output.from_input(0), pulumi.Output.from_input(0)
    settings = resolve_rolling_deployment(
        "web", {"image": IMAGE, "readiness_probe": {"port": port, "period_seconds": period}}
    )
    assert settings.readiness_probe.port is port
    assert settings.readiness_probe.period_seconds is period


def test_resolve_merges_given_resources_over_the_defaults() -> None:
    settings = resolve_rolling_deployment(
        "web", {"image": IMAGE, "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "1", "memory": "1Gi"}}}
    )
    assert settings.resources.requests == {"cpu": "250m", "memory": "128Mi"}
    assert settings.resources.limits == {"cpu": "1", "memory": "1Gi"}
    only_memory = resolve_rolling_deployment("web", {"image": IMAGE, "resources": {"requests": {"memory": "64Mi"}}})
    assert only_memory.resources.requests == {"cpu": "100m", "memory": "64Mi"}
    assert only_memory.resources.limits == {"cpu": "500m", "memory": "256Mi"}


@pytest.mark.parametrize(
    ("budget", "replicas", "expected"),
    [
        pytest.param({"max_unavailable": 1}, 2, {"max_unavailable": 1}, id="max-unavailable-1"),
        pytest.param({"max_unavailable": 3}, 2, {"max_unavailable": 3}, id="max-unavailable-above-replicas"),
        pytest.param({"max_unavailable": "1%"}, 2, {"max_unavailable": "1%"}, id="max-unavailable-1%"),
        pytest.param({"max_unavailable": "100%"}, 2, {"max_unavailable": "100%"}, id="max-unavailable-100%"),
        pytest.param({"min_available": 0}, 2, {"min_available": 0}, id="min-available-0"),
        pytest.param({"min_available": 2}, 3, {"min_available": 2}, id="min-available-one-below-replicas"),
        pytest.param({"min_available": "50%"}, 2, {"min_available": "50%"}, id="min-available-50%-of-2"),
        pytest.param({"min_available": "66%"}, 3, {"min_available": "66%"}, id="min-available-66%-of-3"),
        pytest.param({"min_available": "99%"}, 200, {"min_available": "99%"}, id="min-available-99%-of-200"),
        pytest.param({}, 2, {"max_unavailable": 1}, id="empty-means-the-default"),
    ],
)
def test_resolve_reads_the_disruption_budget_back(
    budget: dict[str, Any], replicas: int, expected: dict[str, Any]
) -> None:
    from zero_downtime.components.rolling_deployment import DisruptionBudgetSettings

    settings = resolve_rolling_deployment(
        "web",
        {"image": IMAGE, "replicas": replicas, "disruption_budget": budget},  # type: ignore[typeddict-item]
    )
    assert settings.disruption_budget == DisruptionBudgetSettings(**expected)


def test_resolve_passes_an_output_disruption_budget_unchecked() -> None:
    value = pulumi.Output.from_input(0)
    settings = resolve_rolling_deployment("web", {"image": IMAGE, "disruption_budget": {"max_unavailable": value}})
    assert settings.disruption_budget.max_unavailable is value
    assert settings.disruption_budget.min_available is None


@pytest.mark.parametrize(
    ("autoscaler", "expected"),
    [
        pytest.param({"max_replicas": 3}, (3, 3, 70), id="defaults-min-to-replicas-and-cpu-to-70"),
        pytest.param({"min_replicas": 2, "max_replicas": 2}, (2, 2, 70), id="max-equal-to-min"),
        pytest.param({"max_replicas": 9, "target_cpu_utilization": 1}, (3, 9, 1), id="cpu-1"),
        pytest.param({"max_replicas": 9, "target_cpu_utilization": 1000}, (3, 9, 1000), id="cpu-1000"),
    ],
)
def test_resolve_reads_the_autoscaler_back(autoscaler: dict[str, Any], expected: tuple[int, int, int]) -> None:
    from zero_downtime.components.rolling_deployment import AutoscalerSettings

    settings = resolve_rolling_deployment("web", {"image": IMAGE, "replicas": 3, "autoscaler": autoscaler})  # type: ignore[typeddict-item]
    assert settings.autoscaler == AutoscalerSettings(*expected)
    assert settings.initial_replicas == expected[0]


def test_an_output_min_replicas_passes_through_and_max_replicas_is_checked_against_the_floor() -> None:
    """min_replicas known only at deployment: max_replicas cannot be compared with it here, only
    with the lowest min_replicas allowed; no TypeError."""
    lowest = pulumi.Output.from_input(3)
    settings = resolve_rolling_deployment(
        "web", {"image": IMAGE, "autoscaler": {"min_replicas": lowest, "max_replicas": 5}}
    )
    assert settings.autoscaler is not None and settings.autoscaler.min_replicas is lowest
    with pytest.raises(ArgError) as err:
        resolve_rolling_deployment("web", {"image": IMAGE, "autoscaler": {"min_replicas": lowest, "max_replicas": 1}})
    assert (err.value.key, err.value.problem) == ("autoscaler.max_replicas", "must be >= 2, got 1")


@pytest.mark.parametrize("key", ["min_ready_seconds", "progress_deadline_seconds"])
def test_an_output_timing_passes_through_without_being_compared_with_the_other(key: str) -> None:
    """progress_deadline_seconds must exceed min_ready_seconds; with either known only at
    deployment, the comparison cannot be made here (no TypeError)."""
    value = pulumi.Output.from_input(30)
    settings = resolve_rolling_deployment("web", {"image": IMAGE, key: value})  # type: ignore[misc]
    assert getattr(settings, key) is value
