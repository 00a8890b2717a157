"""FlaggerCanary: the Canary's analysis, webhooks and routing, and every invalid input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from zero_downtime.components.flagger_canary import FlaggerCanary, FlaggerCanaryArgs, parse_duration
from zero_downtime.components.validation import ArgError
from zero_downtime.contract.types import ResourceType
from zero_downtime.offline.evaluate import Evaluation, run_under_mocks
from zero_downtime.offline.mocks import RecordedResource

BASE: FlaggerCanaryArgs = {"target_name": "web", "service_port": 80, "namespace": "shop"}


def _canary(args: dict[str, Any]) -> tuple[Evaluation, RecordedResource]:
    def program() -> None:
        component = FlaggerCanary("web", {**BASE, **args})  # type: ignore[typeddict-item]
        pulumi.export(
            "out",
            {
                "name": component.canary_name,
                "namespace": component.namespace,
                "service": component.service_name,
                "primary": component.primary_deployment_name,
            },
        )

    ev = run_under_mocks(program)
    found = ev.of_type(ResourceType.FLAGGER_CANARY)
    assert len(found) == 1
    return ev, found[0]


def test_default_analysis_metrics_and_webhooks() -> None:
    ev, canary = _canary({})
    assert canary.inputs["apiVersion"] == "flagger.app/v1beta1"
    assert canary.inputs["kind"] == "Canary"
    assert canary.inputs["metadata"]["name"] == "web"
    assert canary.inputs["metadata"]["namespace"] == "shop"
    spec = canary.inputs["spec"]
    assert spec["targetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert spec["service"] == {"port": 80, "targetPort": "http"}
    assert "provider" not in spec
    assert "autoscalerRef" not in spec

    analysis = spec["analysis"]
    assert (analysis["interval"], analysis["threshold"]) == ("1m", 5)
    assert (analysis["maxWeight"], analysis["stepWeight"]) == (50, 10)
    assert "stepWeights" not in analysis
    metrics = {m["name"]: m for m in analysis["metrics"]}
    assert metrics["request-success-rate"]["thresholdRange"] == {"min": 99}
    assert metrics["request-duration"]["thresholdRange"] == {"max": 500}

    hooks = {h["type"]: h for h in analysis["webhooks"]}
    assert set(hooks) == {"pre-rollout", "rollout"}
    acceptance, load = hooks["pre-rollout"], hooks["rollout"]
    assert acceptance["url"] == load["url"] == "http://flagger-loadtester.shop/"
    assert acceptance["metadata"] == {"type": "bash", "cmd": "curl -sf http://web-canary.shop:80/health"}
    assert load["metadata"]["cmd"].startswith("hey ")
    assert load["metadata"]["cmd"].endswith("http://web-canary.shop:80/")
    assert ev.outputs["out"] == {"name": "web", "namespace": "shop", "service": "web", "primary": "web-primary"}


def test_step_weights_replace_step_weight() -> None:
    _, canary = _canary({"step_weights": [5, 10, 25, 50], "max_weight": 50})
    analysis = canary.inputs["spec"]["analysis"]
    assert analysis["stepWeights"] == [5, 10, 25, 50]
    assert "stepWeight" not in analysis


def test_nginx_routes_through_the_ingress() -> None:
    _, canary = _canary(
        {"provider": "nginx", "ingress_name": "web", "autoscaler_name": "web", "public_host": "shop.example.com"}
    )
    spec = canary.inputs["spec"]
    assert spec["provider"] == "nginx"
    assert spec["ingressRef"] == {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "web"}
    assert spec["autoscalerRef"] == {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "web"}


def _load_cmd(canary: RecordedResource) -> str:
    return next(h for h in canary.inputs["spec"]["analysis"]["webhooks"] if h["type"] == "rollout")["metadata"]["cmd"]


def test_nginx_load_test_goes_through_the_ingress_controller_with_the_public_host() -> None:
    # The nginx analysis reads the ingress controller's metrics: load sent to web-canary directly is never
    # measured. As Flagger's nginx tutorial does, `hey` sends the Ingress host through the controller.
    _, canary = _canary({"provider": "nginx", "ingress_name": "web", "public_host": "shop.example.com"})
    cmd = _load_cmd(canary)
    assert cmd == "hey -z 1m -q 10 -c 2 -host shop.example.com http://ingress-nginx-controller.ingress-nginx/"
    assert "web-canary" not in cmd
    _, custom = _canary(
        {
            "provider": "nginx",
            "ingress_name": "web",
            "public_host": "shop.example.com",
            "entry_url": "http://nginx.ingress:8080",
        }
    )
    assert _load_cmd(custom).endswith("-host shop.example.com http://nginx.ingress:8080/")


def test_gateway_api_load_test_goes_through_the_gateway() -> None:
    _, canary = _canary(
        {
            "provider": "gatewayapi",
            "gateways": ["edge/public"],
            "hosts": ["shop.example.com", "www.example.com"],
            "entry_url": "http://public-gateway.edge",
        }
    )
    assert _load_cmd(canary).endswith("-host shop.example.com http://public-gateway.edge/")


def test_a_custom_load_test_needs_no_public_host() -> None:
    _, canary = _canary({"provider": "nginx", "ingress_name": "web", "load_test": {"cmd": "hey -z 30s http://x/"}})
    assert _load_cmd(canary) == "hey -z 30s http://x/"


def test_gateway_api_refs_hosts_and_session_affinity() -> None:
    _, canary = _canary(
        {
            "provider": "gatewayapi",
            "gateways": ["edge/public", "internal"],
            "hosts": ["shop.example.com"],
            "session_affinity": {"cookie_name": "canary-session", "max_age": 3600},
            "entry_url": "http://public.edge",
        }
    )
    spec = canary.inputs["spec"]
    assert spec["provider"] == "gatewayapi:v1"
    assert spec["service"]["gatewayRefs"] == [
        {"name": "public", "namespace": "edge"},
        {"name": "internal", "namespace": "shop"},
    ]
    assert spec["service"]["hosts"] == ["shop.example.com"]
    assert spec["analysis"]["sessionAffinity"] == {"cookieName": "canary-session", "maxAge": 3600}


def test_istio_gateways_pass_through() -> None:
    _, canary = _canary({"provider": "istio", "gateways": ["istio-system/public"], "hosts": ["a.example.com"]})
    service = canary.inputs["spec"]["service"]
    assert service["gateways"] == ["istio-system/public"]
    assert service["hosts"] == ["a.example.com"]


def test_custom_metrics_disabled_and_extra_webhooks() -> None:
    _, canary = _canary(
        {
            "metrics": [
                {"name": "error-rate", "threshold_range": {"max": 1}, "template_ref": {"name": "error-rate"}},
                {"name": "request-duration", "threshold_range": {"max": 250}, "interval": "30s"},
            ],
            "acceptance_test": {"enabled": False},
            "load_test": {"cmd": "hey -z 30s http://web-canary.shop:80/", "timeout": "10s"},
            "extra_webhooks": [
                {"name": "gate", "type": "confirm-promotion", "url": "http://flagger-loadtester.shop/gate/check"}
            ],
            "interval": "30s",
            "threshold": 2,
        }
    )
    analysis = canary.inputs["spec"]["analysis"]
    assert analysis["metrics"] == [
        {"name": "error-rate", "thresholdRange": {"max": 1}, "templateRef": {"name": "error-rate"}},
        {"name": "request-duration", "thresholdRange": {"max": 250}, "interval": "30s"},
    ]
    assert [h["name"] for h in analysis["webhooks"]] == ["load-test", "gate"]
    assert analysis["webhooks"][0]["timeout"] == "10s"
    assert analysis["webhooks"][0]["metadata"] == {"cmd": "hey -z 30s http://web-canary.shop:80/"}
    assert analysis["webhooks"][1]["type"] == "confirm-promotion"
    assert (analysis["interval"], analysis["threshold"]) == ("30s", 2)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1m", 60), ("30s", 30), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600), ("1.5m", 90)],
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text, "interval") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1 minute", "0s", "10", "m", "-1m", 60, None])
def test_bad_durations_are_rejected(text: Any) -> None:
    with pytest.raises(ArgError, match=r"^interval: must be a positive duration"):
        parse_duration(text, "interval")


@dataclass(frozen=True)
class Bad:
    id: str
    args: dict[str, Any]
    key: str


BAD = [
    Bad("max-weight-zero", {"max_weight": 0}, "max_weight"),
    Bad("max-weight-101", {"max_weight": 101}, "max_weight"),
    Bad("step-weight-zero", {"step_weight": 0}, "step_weight"),
    Bad("step-weight-negative", {"step_weight": -5}, "step_weight"),
    Bad("step-weight-above-max", {"step_weight": 60, "max_weight": 50}, "step_weight"),
    Bad("both-step-forms", {"step_weight": 10, "step_weights": [10, 20]}, "step_weights"),
    Bad("step-weights-empty", {"step_weights": []}, "step_weights"),
    Bad("step-weights-not-increasing", {"step_weights": [10, 10, 20]}, "step_weights[1]"),
    Bad("step-weights-decreasing", {"step_weights": [5, 20, 15]}, "step_weights[2]"),
    Bad("step-weights-zero", {"step_weights": [0, 10]}, "step_weights[0]"),
    Bad("step-weights-past-max", {"step_weights": [10, 60], "max_weight": 50}, "step_weights"),
    Bad("threshold-zero", {"threshold": 0}, "threshold"),
    Bad("interval-words", {"interval": "1 minute"}, "interval"),
    Bad("interval-zero", {"interval": "0s"}, "interval"),
    Bad("metrics-empty", {"metrics": []}, "metrics"),
    Bad("metric-no-range", {"metrics": [{"name": "request-duration"}]}, "metrics[0].threshold_range"),
    Bad(
        "metric-empty-range",
        {"metrics": [{"name": "request-duration", "threshold_range": {}}]},
        "metrics[0].threshold_range",
    ),
    Bad(
        "metric-min-above-max",
        {"metrics": [{"name": "request-success-rate", "threshold_range": {"min": 99, "max": 90}}]},
        "metrics[0].threshold_range",
    ),
    Bad(
        "metric-custom-without-template",
        {"metrics": [{"name": "error-rate", "threshold_range": {"max": 1}}]},
        "metrics[0].template_ref",
    ),
    Bad(
        "metric-interval",
        {"metrics": [{"name": "request-duration", "threshold_range": {"max": 1}, "interval": "soon"}]},
        "metrics[0].interval",
    ),
    Bad("provider-unknown", {"provider": "linkerd"}, "provider"),
    Bad("nginx-without-ingress", {"provider": "nginx"}, "ingress_name"),
    Bad("nginx-with-hosts", {"provider": "nginx", "ingress_name": "web", "hosts": ["a.example.com"]}, "hosts"),
    Bad("ingress-without-provider", {"ingress_name": "web"}, "ingress_name"),
    Bad("ingress-with-istio", {"provider": "istio", "ingress_name": "web"}, "ingress_name"),
    Bad("gatewayapi-without-gateways", {"provider": "gatewayapi"}, "gateways"),
    Bad("gateway-name-invalid", {"provider": "gatewayapi", "gateways": ["edge/Public_GW"]}, "gateways[0]"),
    Bad("hosts-not-strings", {"provider": "istio", "hosts": [1]}, "hosts"),
    Bad(
        "affinity-with-nginx",
        {"provider": "nginx", "ingress_name": "web", "session_affinity": {"cookie_name": "c"}},
        "session_affinity",
    ),
    Bad(
        "affinity-cookie",
        {"provider": "istio", "session_affinity": {"cookie_name": "a cookie"}},
        "session_affinity.cookie_name",
    ),
    Bad(
        "affinity-max-age",
        {"provider": "istio", "session_affinity": {"cookie_name": "c", "max_age": 0}},
        "session_affinity.max_age",
    ),
    Bad("acceptance-timeout", {"acceptance_test": {"timeout": "soon"}}, "acceptance_test.timeout"),
    Bad("acceptance-enabled-text", {"acceptance_test": {"enabled": "no"}}, "acceptance_test.enabled"),
    Bad("load-test-url", {"load_test": {"url": "ftp://loader/"}}, "load_test.url"),
    Bad("load-test-unknown", {"load_test": {"command": "hey"}}, "load_test.command"),
    Bad("load-tester-url", {"load_tester_url": "flagger-loadtester"}, "load_tester_url"),
    Bad("test-path", {"test_path": "health"}, "test_path"),
    Bad("test-path-shell", {"test_path": "/health; rm -rf /"}, "test_path"),
    Bad("nginx-load-test-without-host", {"provider": "nginx", "ingress_name": "web"}, "public_host"),
    Bad(
        "public-host-invalid",
        {"provider": "nginx", "ingress_name": "web", "public_host": "shop.example.com -c 1000"},
        "public_host",
    ),
    Bad(
        "entry-url-shell",
        {"provider": "nginx", "ingress_name": "web", "public_host": "a.example.com", "entry_url": "http://x/$(id)"},
        "entry_url",
    ),
    Bad(
        "gateway-load-test-without-entry", {"provider": "gatewayapi", "gateways": ["gw"], "hosts": ["a.b"]}, "entry_url"
    ),
    Bad(
        "gateway-public-host-not-routed",
        {"provider": "gatewayapi", "gateways": ["gw"], "hosts": ["a.b"], "public_host": "c.d", "entry_url": "http://g"},
        "public_host",
    ),
    Bad("public-host-without-ingress", {"provider": "istio", "public_host": "a.example.com"}, "public_host"),
    Bad(
        "extra-webhook-type",
        {"extra_webhooks": [{"name": "x", "type": "pre-deploy", "url": "http://a/"}]},
        "extra_webhooks[0].type",
    ),
    Bad(
        "extra-webhook-dup",
        {"extra_webhooks": [{"name": "load-test", "type": "event", "url": "http://a/"}]},
        "extra_webhooks[0].name",
    ),
    Bad("extra-webhook-no-url", {"extra_webhooks": [{"name": "x", "type": "event"}]}, "extra_webhooks[0].url"),
    Bad("target-missing", {"target_name": None}, "target_name"),
    Bad("target-too-long", {"target_name": "a" * 56}, "target_name"),
    Bad("namespace-invalid", {"namespace": "Shop"}, "namespace"),
    Bad("service-port", {"service_port": 0}, "service_port"),
    Bad("target-port", {"target_port": 70000}, "target_port"),
    Bad("deadline", {"progress_deadline_seconds": 0}, "progress_deadline_seconds"),
    Bad("unknown-arg", {"max_weigth": 40}, "max_weigth"),
]


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_invalid_input_names_the_key_and_registers_nothing(case: Bad) -> None:
    args = {k: v for k, v in {**BASE, **case.args}.items() if v is not None}
    errors: list[ArgError] = []

    def program() -> None:
        try:
            FlaggerCanary("web", args)  # type: ignore[arg-type]
        except ArgError as err:
            errors.append(err)

    ev = run_under_mocks(program)
    assert len(errors) == 1, "expected an ArgError"
    assert errors[0].key == case.key
    assert isinstance(errors[0], ValueError)
    assert ev.resources == []


def test_resolve_writes_every_default_and_the_spec_is_built_from_it() -> None:
    from zero_downtime.components.defaults import DEFAULT_HEALTH_CHECK_PATH
    from zero_downtime.components.flagger_canary import (
        DEFAULT_INTERVAL,
        DEFAULT_MAX_WEIGHT,
        DEFAULT_STEP_WEIGHT,
        DEFAULT_THRESHOLD,
        canary_spec,
        resolve_flagger_canary,
    )

    settings = resolve_flagger_canary(BASE)
    assert (settings.interval, settings.threshold) == (DEFAULT_INTERVAL, DEFAULT_THRESHOLD)
    assert (settings.max_weight, settings.step_weight, settings.step_weights) == (
        DEFAULT_MAX_WEIGHT,
        DEFAULT_STEP_WEIGHT,
        (),
    )
    assert [m.name for m in settings.metrics] == ["request-success-rate", "request-duration"]
    acceptance = next(h for h in settings.webhooks if h.type == "pre-rollout")
    assert acceptance.metadata["cmd"].endswith(DEFAULT_HEALTH_CHECK_PATH)
    assert (settings.provider, settings.gateways, settings.session_affinity) == (None, (), None)
    _, canary = _canary({})
    assert canary.inputs["spec"] == canary_spec(settings)


def test_child_is_the_registered_canary() -> None:
    from tests.components.children import export_urns, registered_children

    def program() -> None:
        export_urns({"canary": FlaggerCanary("web", BASE).canary})

    assert registered_children(run_under_mocks(program)) == {"canary": (ResourceType.FLAGGER_CANARY, "web-canary")}
