"""The k8s stack file evaluates, and the `kubernetes` config section is validated as a whole."""

from __future__ import annotations

import copy
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc
from zero_downtime.contract.types import ResourceType
from zero_downtime.offline.evaluate import (
    PROJECT_ROOT,
    Evaluation,
    evaluate_program,
    load_stack_config,
    run_under_mocks,
)
from zero_downtime.offline.mocks import RecordingMocks
from zero_downtime.stack_config.convert import ConfigError
from zero_downtime.stack_config.kubernetes import UNDECRYPTED_SECRET, parse_kubernetes

KEY = "zero-downtime:kubernetes"
K8S_TYPES = {
    ResourceType.K8S_DEPLOYMENT,
    ResourceType.K8S_SERVICE,
    ResourceType.K8S_PDB,
    ResourceType.K8S_HPA,
    ResourceType.FLAGGER_CANARY,
}
INLINE_KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\n"


def _unwrap_secret(value: Any) -> Any:
    """The value inside Pulumi's secret envelope; fails when the value was sent in the clear."""
    assert isinstance(value, dict), f"expected a secret, got a plain {type(value).__name__}"
    assert value.get(rpc._special_sig_key) == rpc._special_secret_sig
    return value["value"]


def _section() -> dict[str, Any]:
    """The `kubernetes` section exactly as Pulumi.k8s.yaml holds it (a fresh copy per call)."""
    data = yaml.safe_load((PROJECT_ROOT / "Pulumi.k8s.yaml").read_text())
    return copy.deepcopy(data["config"][KEY])


def _evaluate(section: dict[str, Any]) -> Evaluation:
    return evaluate_program("k8s", overrides={"kubernetes": section})


def _provider_urn(ev: Evaluation) -> str:
    """URN suffix of the stack's one explicit provider (a default provider is `default_<version>`)."""
    providers = ev.of_type(ResourceType.K8S_PROVIDER)
    assert len(providers) == 1, "exactly one explicit kubernetes provider"
    return f"pulumi:providers:kubernetes::{providers[0].name}"


def test_k8s_stack_file_evaluates() -> None:
    ev = evaluate_program("k8s")
    section = _section()

    # Kubernetes only: no AWS resource in this environment.
    assert [r for r in ev.resources if r.type.startswith("aws:")] == []
    provider_urn = _provider_urn(ev)
    k8s_resources = [r for r in ev.resources if r.type in K8S_TYPES]
    assert k8s_resources
    for resource in k8s_resources:
        # A provider reference is `<provider URN>::<provider id>`.
        reference_urn = resource.provider.rsplit("::", 1)[0]
        assert reference_urn.endswith(provider_urn), f"{resource.name} must use the explicit provider"

    deployments = {r.inputs["metadata"]["name"]: r for r in ev.of_type(ResourceType.K8S_DEPLOYMENT)}
    assert set(deployments) == set(section["services"])
    api = section["services"]["api"]
    api_spec = deployments["api"].inputs["spec"]
    assert api_spec["replicas"] == api["replicas"]
    assert api_spec["template"]["spec"]["terminationGracePeriodSeconds"] == api["terminationGracePeriodSeconds"]
    assert api_spec["template"]["spec"]["terminationGracePeriodSeconds"] >= api["preStopSeconds"] + api["drainSeconds"]
    assert deployments["api"].inputs["metadata"]["namespace"] == section["namespace"]

    # web has a canary: Flagger generates its Services, so only api gets one from us.
    services = [r.inputs["metadata"]["name"] for r in ev.of_type(ResourceType.K8S_SERVICE)]
    assert services == ["api"]
    canaries = ev.of_type(ResourceType.FLAGGER_CANARY)
    assert len(canaries) == 1
    web_canary = section["services"]["web"]["canary"]
    analysis = canaries[0].inputs["spec"]["analysis"]
    assert analysis["maxWeight"] == web_canary["maxWeight"]
    assert analysis["stepWeight"] == web_canary["stepWeight"]
    assert canaries[0].inputs["spec"]["ingressRef"]["name"] == web_canary["ingressName"]
    assert canaries[0].inputs["spec"]["autoscalerRef"]["name"] == "web"

    out = ev.outputs["kubernetes"]
    assert out["kubeconfigSource"] == "environment"
    assert out["services"]["api"]["deploymentName"] == "api"
    assert out["services"]["api"]["serviceName"] == "api"
    assert out["services"]["api"]["canary"] is None
    assert out["services"]["web"]["canary"] == {
        "name": canaries[0].outputs["metadata"]["name"],
        "namespace": section["namespace"],
        "primaryDeploymentName": "web-primary",
    }


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda s: s["services"]["web"]["canary"].update(maxWeight=150), "kubernetes.services.web.canary.maxWeight"),
        (lambda s: s["services"]["web"]["canary"].update(stepWeight=0), "kubernetes.services.web.canary.stepWeight"),
        (
            lambda s: s["services"]["web"]["canary"].update(stepWeights=[20, 10], stepWeight=None),
            "kubernetes.services.web.canary.stepWeights[1]",
        ),
        (lambda s: s["services"]["web"]["canary"].update(threshold=0), "kubernetes.services.web.canary.threshold"),
        (lambda s: s["services"]["web"]["canary"].update(interval="1 min"), "kubernetes.services.web.canary.interval"),
        (
            lambda s: s["services"]["web"]["canary"].update(metrics=[{"name": "x", "thresholdRange": {"mx": 1}}]),
            "kubernetes.services.web.canary.metrics[0].thresholdRange.mx",
        ),
        (
            lambda s: s["services"]["web"]["canary"].update(metrics=[{"name": "x", "thresholdRange": {"max": 1}}]),
            "kubernetes.services.web.canary.metrics[0].templateRef",
        ),
        (
            lambda s: s["services"]["web"]["canary"].update(targetName="other"),
            "kubernetes.services.web.canary.targetName",
        ),
        (lambda s: s["services"]["web"]["canary"].update(enabled="yes"), "kubernetes.services.web.canary.enabled"),
        (
            lambda s: s["services"]["web"]["autoscaler"].update(minReplicas=1),
            "kubernetes.services.web.autoscaler.minReplicas",
        ),
        (
            lambda s: s["services"]["api"].update(terminationGracePeriodSeconds=25),
            "kubernetes.services.api.terminationGracePeriodSeconds",
        ),
        (
            lambda s: s["services"]["api"].update(readinessProbe={"path": "ready"}),
            "kubernetes.services.api.readinessProbe.path",
        ),
        (lambda s: s["services"]["api"].update(replica=3), "kubernetes.services.api.replica"),
        (lambda s: s["services"]["api"].update(appName="x"), "kubernetes.services.api.appName"),
        (
            lambda s: s["services"]["api"]["resources"]["requests"].update(cpu="fast"),
            "kubernetes.services.api.resources.requests.cpu",
        ),
        (lambda s: s["services"].update(Web_2={"image": "x:1"}), "kubernetes.services.Web_2"),
        (lambda s: s.update(cluster="prod"), "kubernetes.cluster"),
        (lambda s: s.update(namespace="Shop"), "kubernetes.namespace"),
        (lambda s: s["services"]["api"].update(namespace="a.b"), "kubernetes.services.api.namespace"),
        (lambda s: s.update(enabled="true"), "kubernetes.enabled"),
        (lambda s: s.update(services={}), "kubernetes.services"),
        (lambda s: s.update(kubeconfig=INLINE_KUBECONFIG), "kubernetes.kubeconfig"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_config_names_the_config_key(edit: Any, key: str) -> None:
    section = _section()
    edit(section)
    _drop_nones(section)
    with pytest.raises(ConfigError) as caught:
        _evaluate(section)
    assert str(caught.value).startswith(f"{key}:"), str(caught.value)


def _drop_nones(value: Any) -> None:
    if isinstance(value, dict):
        for k in [k for k, v in value.items() if v is None]:
            del value[k]
        for v in value.values():
            _drop_nones(v)


def test_bad_config_registers_nothing() -> None:
    """Validation of the whole section happens before the program creates any resource."""
    section = _section()
    section["services"]["web"]["canary"]["maxWeight"] = 0  # the last service: api would come first
    stack = load_stack_config("k8s", overrides={"kubernetes": section})
    errors: list[ConfigError] = []

    def program() -> None:
        try:
            runpy.run_path(str(Path(PROJECT_ROOT) / "__main__.py"), run_name="__pulumi_program__")
        except ConfigError as err:
            errors.append(err)

    ev = run_under_mocks(program, stack="k8s", config=stack.values, secret_keys=stack.secret_keys)
    assert len(errors) == 1 and str(errors[0]).startswith("kubernetes.services.web.canary.maxWeight:")
    assert ev.resources == []


def test_disabled_section_creates_nothing_when_the_stack_may_be_empty() -> None:
    section = _section()
    section["enabled"] = False
    ev = evaluate_program("k8s", overrides={"kubernetes": section, "allowEmpty": True})
    assert "kubernetes" not in ev.outputs
    assert [r for r in ev.resources if r.type in K8S_TYPES or r.type == ResourceType.K8S_PROVIDER] == []


def test_disabling_the_only_section_is_refused_unless_the_stack_may_be_empty() -> None:
    section = _section()
    section["enabled"] = False
    mocks = RecordingMocks()
    with pytest.raises(ConfigError, match=r"^services: the stack declares no service.*allowEmpty: true"):
        evaluate_program("k8s", overrides={"kubernetes": section}, mocks=mocks)
    assert mocks.resources == []


def test_disabled_canary_gives_the_service_a_plain_rollout() -> None:
    section = _section()
    section["services"]["web"]["canary"]["enabled"] = False
    ev = _evaluate(section)
    assert ev.of_type(ResourceType.FLAGGER_CANARY) == []
    services = sorted(r.inputs["metadata"]["name"] for r in ev.of_type(ResourceType.K8S_SERVICE))
    assert services == ["api", "web"]
    web_pdb = next(r for r in ev.of_type(ResourceType.K8S_PDB) if r.inputs["metadata"]["name"] == "web")
    web_deployment = next(r for r in ev.of_type(ResourceType.K8S_DEPLOYMENT) if r.inputs["metadata"]["name"] == "web")
    assert web_pdb.inputs["spec"]["selector"] == web_deployment.inputs["spec"]["selector"]
    assert ev.outputs["kubernetes"]["services"]["web"]["canary"] is None


def test_acceptance_test_follows_the_readiness_path() -> None:
    section = _section()
    section["services"]["web"]["readinessProbe"] = {"path": "/ready"}
    ev = _evaluate(section)
    hooks = ev.of_type(ResourceType.FLAGGER_CANARY)[0].inputs["spec"]["analysis"]["webhooks"]
    acceptance = next(h for h in hooks if h["type"] == "pre-rollout")
    assert acceptance["metadata"]["cmd"] == "curl -sf http://web-canary.shop:80/ready"


def test_encrypted_kubeconfig_in_the_stack_file_feeds_the_provider_as_a_secret() -> None:
    section = _section()
    section["kubeconfig"] = {"secure": "v1:AAAAciphertext"}
    ev = _evaluate(section)
    provider = ev.of_type(ResourceType.K8S_PROVIDER)[0]
    assert _unwrap_secret(provider.inputs["kubeconfig"]) == UNDECRYPTED_SECRET
    assert ev.outputs["kubernetes"]["kubeconfigSource"] == "config"


def test_inline_kubeconfig_is_accepted_when_the_cli_marks_it_secret() -> None:
    section = _section()
    section["kubeconfig"] = INLINE_KUBECONFIG
    stack = load_stack_config("k8s", overrides={"kubernetes": section})

    def program() -> None:
        runpy.run_path(str(Path(PROJECT_ROOT) / "__main__.py"), run_name="__pulumi_program__")

    ev = run_under_mocks(program, stack="k8s", config=stack.values, secret_keys=[KEY])
    provider = ev.of_type(ResourceType.K8S_PROVIDER)[0]
    assert _unwrap_secret(provider.inputs["kubeconfig"]) == INLINE_KUBECONFIG
    assert ev.outputs["kubernetes"]["kubeconfigSource"] == "config"


@pytest.mark.parametrize(
    ("kubeconfig", "is_secret", "expected"),
    [
        ("~/.kube/prod.yaml", False, "~/.kube/prod.yaml"),
        (INLINE_KUBECONFIG, True, INLINE_KUBECONFIG),
        ('{"apiVersion": "v1"}', True, '{"apiVersion": "v1"}'),
        (None, False, None),
    ],
    ids=["path-plain", "inline-secret", "json-secret", "environment"],
)
def test_kubeconfig_sources(kubeconfig: str | None, is_secret: bool, expected: str | None) -> None:
    section = _section()
    if kubeconfig is not None:
        section["kubeconfig"] = kubeconfig
    settings = parse_kubernetes(section, is_secret=is_secret)
    assert settings is not None
    assert settings.kubeconfig == expected
    assert settings.kubeconfig_source == ("environment" if expected is None else "config")


@pytest.mark.parametrize(
    "kubeconfig", [INLINE_KUBECONFIG, '{"apiVersion": "v1", "clusters": []}'], ids=["yaml", "json"]
)
def test_plain_inline_kubeconfig_is_refused(kubeconfig: str) -> None:
    section = _section()
    section["kubeconfig"] = kubeconfig
    with pytest.raises(ConfigError, match=r"^kubernetes\.kubeconfig: .*must be a secret"):
        parse_kubernetes(section, is_secret=False)
