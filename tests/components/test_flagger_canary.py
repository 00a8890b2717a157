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


# The resolve step on its own: every refusal with its key and whole message, each bound at its edge.

NGINX: dict[str, Any] = {"provider": "nginx", "ingress_name": "web", "public_host": "shop.example.com"}
GATEWAY: dict[str, Any] = {"provider": "gatewayapi", "hosts": ["shop.example.com"], "entry_url": "http://gw.edge"}
DNS_LABEL = "must be a DNS label: lowercase letters, digits and '-', starting with a letter, at most 253 characters"
LONG_NAME = "a" * 254


def _resolve(args: dict[str, Any]) -> Any:
    from zero_downtime.components.flagger_canary import resolve_flagger_canary

    return resolve_flagger_canary({**BASE, **args})  # type: ignore[typeddict-item]


def _metric(**fields: Any) -> dict[str, Any]:
    return {"metrics": [{"name": "request-duration", "threshold_range": {"max": 500}, **fields}]}


def _hook(**fields: Any) -> dict[str, Any]:
    return {"extra_webhooks": [{"name": "gate", "type": "confirm-promotion", "url": "http://gate.shop/", **fields}]}


@dataclass(frozen=True)
class Refused:
    id: str
    args: dict[str, Any]
    key: str
    problem: str


REFUSED = [
    # weights
    Refused(
        "both-step-forms",
        {"step_weight": 10, "step_weights": [10]},
        "step_weights",
        "set step_weight or step_weights, not both",
    ),
    Refused("step-weights-empty", {"step_weights": []}, "step_weights", "must be a non-empty list of weights, got []"),
    Refused(
        "step-weights-not-a-list", {"step_weights": 10}, "step_weights", "must be a non-empty list of weights, got 10"
    ),
    Refused("step-weights-zero", {"step_weights": [0, 10]}, "step_weights[0]", "must be >= 1, got 0"),
    Refused(
        "step-weights-101", {"step_weights": [50, 101], "max_weight": 100}, "step_weights[1]", "must be <= 100, got 101"
    ),
    Refused(
        "step-weights-equal",
        {"step_weights": [10, 10, 20]},
        "step_weights[1]",
        "must be > the previous step (10), got 10",
    ),
    Refused(
        "step-weights-decreasing",
        {"step_weights": [5, 20, 15]},
        "step_weights[2]",
        "must be > the previous step (20), got 15",
    ),
    Refused(
        "step-weights-past-max", {"step_weights": [10, 20, 60]}, "step_weights", "last step 60 exceeds max_weight 50"
    ),
    Refused("step-weight-zero", {"step_weight": 0}, "step_weight", "must be >= 1, got 0"),
    Refused("step-weight-past-max", {"step_weight": 51}, "step_weight", "must be <= max_weight (50), got 51"),
    Refused("max-weight-zero", {"max_weight": 0}, "max_weight", "must be >= 1, got 0"),
    Refused("max-weight-101", {"max_weight": 101}, "max_weight", "must be <= 100, got 101"),
    # metrics
    Refused(
        "metrics-empty",
        {"metrics": []},
        "metrics",
        "must be a non-empty list: a canary without metric checks proves nothing",
    ),
    Refused(
        "metrics-not-a-list",
        {"metrics": {"name": "x"}},
        "metrics",
        "must be a non-empty list: a canary without metric checks proves nothing",
    ),
    Refused(
        "metric-not-a-mapping",
        {"metrics": ["request-duration"]},
        "metrics[0]",
        "must be a mapping, got 'request-duration'",
    ),
    Refused("metric-unknown-key", _metric(query="up"), "metrics[0].query", "is not a known setting"),
    Refused(
        "metric-name-empty",
        {"metrics": [{"name": "", "threshold_range": {"max": 1}}]},
        "metrics[0].name",
        "is required",
    ),
    Refused(
        "metric-name-number",
        {"metrics": [{"name": 5, "threshold_range": {"max": 1}}]},
        "metrics[0].name",
        "is required",
    ),
    Refused(
        "metric-no-range",
        {"metrics": [{"name": "request-duration"}]},
        "metrics[0].threshold_range",
        "is required (min and/or max)",
    ),
    Refused(
        "metric-range-unknown-key",
        _metric(threshold_range={"mean": 1}),
        "metrics[0].threshold_range.mean",
        "is not a known setting",
    ),
    Refused(
        "metric-range-not-a-mapping",
        _metric(threshold_range=[1]),
        "metrics[0].threshold_range",
        "must be a mapping, got [1]",
    ),
    Refused("metric-range-empty", _metric(threshold_range={}), "metrics[0].threshold_range", "needs min, max or both"),
    Refused(
        "metric-min-text",
        _metric(threshold_range={"min": "high"}),
        "metrics[0].threshold_range.min",
        "must be a number, got 'high'",
    ),
    Refused(
        "metric-max-text",
        _metric(threshold_range={"max": "low"}),
        "metrics[0].threshold_range.max",
        "must be a number, got 'low'",
    ),
    Refused(
        "metric-min-above-max",
        _metric(threshold_range={"min": 99, "max": 90}),
        "metrics[0].threshold_range",
        "min 99 is above max 90",
    ),
    Refused(
        "metric-template-unknown-key",
        _metric(template_ref={"name": "t", "kind": "x"}),
        "metrics[0].template_ref.kind",
        "is not a known setting",
    ),
    Refused(
        "metric-template-name",
        _metric(template_ref={"name": "Bad_Name"}),
        "metrics[0].template_ref.name",
        f"{DNS_LABEL}, got 'Bad_Name'",
    ),
    Refused(
        "metric-template-name-254",
        _metric(template_ref={"name": LONG_NAME}),
        "metrics[0].template_ref.name",
        f"{DNS_LABEL}, got {LONG_NAME!r}",
    ),
    Refused(
        "metric-custom-without-template",
        {
            "metrics": [
                {"name": "request-duration", "threshold_range": {"max": 1}},
                {"name": "errors", "threshold_range": {"max": 1}},
            ]
        },
        "metrics[1].template_ref",
        "is required for custom metric 'errors' (builtin: request-success-rate, request-duration)",
    ),
    # acceptance and load test
    Refused(
        "acceptance-enabled-text",
        {"acceptance_test": {"enabled": "no"}},
        "acceptance_test.enabled",
        "must be true or false, got 'no'",
    ),
    Refused("load-test-blank-cmd", {"load_test": {"cmd": "  "}}, "load_test.cmd", "must be a non-empty command"),
    Refused("load-test-cmd-number", {"load_test": {"cmd": 5}}, "load_test.cmd", "must be a non-empty command"),
    Refused(
        "test-path-relative",
        {"test_path": "health"},
        "test_path",
        "must be an absolute path starting with '/', without spaces or shell characters, got 'health'",
    ),
    Refused(
        "load-test-default-cmd-needs-host",
        {"provider": "nginx", "ingress_name": "web", "load_test": {"timeout": "9s"}},
        "public_host",
        (
            "is required with provider nginx: the analysis reads the nginx metrics, so the default load test "
            "must reach the canary through it with the service's host (or set load_test.cmd)"
        ),
    ),
    # extra webhooks
    Refused(
        "extra-not-a-list",
        {"extra_webhooks": {"name": "gate"}},
        "extra_webhooks",
        "must be a list, got {'name': 'gate'}",
    ),
    Refused("extra-not-a-mapping", {"extra_webhooks": ["gate"]}, "extra_webhooks[0]", "must be a mapping, got 'gate'"),
    Refused("extra-unknown-key", _hook(headers={}), "extra_webhooks[0].headers", "is not a known setting"),
    Refused(
        "extra-no-name",
        {"extra_webhooks": [{"type": "event", "url": "http://a/"}]},
        "extra_webhooks[0].name",
        "is required",
    ),
    Refused(
        "extra-no-type",
        {"extra_webhooks": [{"name": "x", "url": "http://a/"}]},
        "extra_webhooks[0].type",
        "is required",
    ),
    Refused(
        "extra-empty-url",
        {"extra_webhooks": [{"name": "x", "type": "event", "url": ""}]},
        "extra_webhooks[0].url",
        "is required",
    ),
    Refused(
        "extra-named-load-test",
        _hook(name="load-test"),
        "extra_webhooks[0].name",
        "'load-test' is already used by another webhook",
    ),
    Refused(
        "extra-named-acceptance-test",
        _hook(name="acceptance-test"),
        "extra_webhooks[0].name",
        "'acceptance-test' is already used by another webhook",
    ),
    Refused(
        "extra-twice",
        {"extra_webhooks": [{"name": "gate", "type": "event", "url": "http://a/"}] * 2},
        "extra_webhooks[1].name",
        "'gate' is already used by another webhook",
    ),
    Refused(
        "extra-url-scheme",
        _hook(url="ftp://gate/"),
        "extra_webhooks[0].url",
        "must be an http(s) URL, got 'ftp://gate/'",
    ),
    Refused(
        "extra-timeout",
        _hook(timeout="soon"),
        "extra_webhooks[0].timeout",
        "must be a positive duration like '1m', '30s' or '1m30s', got 'soon'",
    ),
    Refused(
        "extra-metadata-number",
        _hook(metadata={"retries": 3}),
        "extra_webhooks[0].metadata",
        "must map names to strings",
    ),
    Refused("extra-metadata-list", _hook(metadata=["a"]), "extra_webhooks[0].metadata", "must map names to strings"),
    # routing
    Refused(
        "gateways-empty-name",
        {"provider": "istio", "gateways": [""]},
        "gateways",
        "must be a list of non-empty strings, got ['']",
    ),
    Refused(
        "hosts-not-a-list",
        {"provider": "istio", "hosts": "a.example.com"},
        "hosts",
        "must be a list of non-empty strings, got 'a.example.com'",
    ),
    Refused(
        "ingress-without-provider",
        {"ingress_name": "web"},
        "ingress_name",
        "needs a provider (nginx, gatewayapi or istio)",
    ),
    Refused(
        "gateways-without-provider", {"gateways": ["gw"]}, "gateways", "needs a provider (nginx, gatewayapi or istio)"
    ),
    Refused(
        "hosts-without-provider", {"hosts": ["a.example.com"]}, "hosts", "needs a provider (nginx, gatewayapi or istio)"
    ),
    Refused(
        "provider-unknown",
        {"provider": "linkerd"},
        "provider",
        "must be one of nginx, gatewayapi, istio, got 'linkerd'",
    ),
    Refused("nginx-without-ingress", {"provider": "nginx"}, "ingress_name", "is required with provider nginx"),
    Refused("nginx-ingress-invalid", {**NGINX, "ingress_name": "Web"}, "ingress_name", f"{DNS_LABEL}, got 'Web'"),
    Refused(
        "nginx-ingress-254", {**NGINX, "ingress_name": LONG_NAME}, "ingress_name", f"{DNS_LABEL}, got {LONG_NAME!r}"
    ),
    Refused(
        "nginx-with-gateways",
        {**NGINX, "gateways": ["gw"]},
        "gateways",
        "is not used by provider nginx (the Ingress holds hosts)",
    ),
    Refused(
        "nginx-with-hosts",
        {**NGINX, "hosts": ["a.example.com"]},
        "hosts",
        "is not used by provider nginx (the Ingress holds hosts)",
    ),
    Refused(
        "ingress-with-istio",
        {"provider": "istio", "ingress_name": "web"},
        "ingress_name",
        "is only used by provider nginx, not istio",
    ),
    Refused(
        "gatewayapi-without-gateways",
        {"provider": "gatewayapi"},
        "gateways",
        "at least one gateway is required with provider gatewayapi",
    ),
    Refused(
        "gateway-name-254",
        {**GATEWAY, "gateways": ["gw", f"edge/{LONG_NAME}"]},
        "gateways[1]",
        f"{DNS_LABEL}, got {LONG_NAME!r}",
    ),
    # session affinity
    Refused(
        "affinity-not-a-mapping",
        {"provider": "istio", "session_affinity": "c"},
        "session_affinity",
        "must be a mapping, got 'c'",
    ),
    Refused(
        "affinity-unknown-key",
        {"provider": "istio", "session_affinity": {"cookie_name": "c", "ttl": 5}},
        "session_affinity.ttl",
        "is not a known setting",
    ),
    Refused(
        "affinity-without-provider",
        {"session_affinity": {"cookie_name": "c"}},
        "session_affinity",
        "needs provider istio or gatewayapi (Flagger supports no other)",
    ),
    Refused(
        "affinity-with-nginx",
        {**NGINX, "session_affinity": {"cookie_name": "c"}},
        "session_affinity",
        "needs provider istio or gatewayapi (Flagger supports no other)",
    ),
    Refused(
        "affinity-cookie",
        {"provider": "istio", "session_affinity": {"cookie_name": "a cookie"}},
        "session_affinity.cookie_name",
        "must be a cookie name, got 'a cookie'",
    ),
    Refused(
        "affinity-max-age-zero",
        {"provider": "istio", "session_affinity": {"cookie_name": "c", "max_age": 0}},
        "session_affinity.max_age",
        "must be >= 1, got 0",
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_resolve_refuses_with_the_key_and_the_whole_message(case: Refused) -> None:
    with pytest.raises(ArgError) as caught:
        _resolve(case.args)
    assert (caught.value.key, caught.value.problem) == (case.key, case.problem)
    assert str(caught.value) == f"{case.key}: {case.problem}"


def test_weights_are_accepted_at_their_edges() -> None:
    # max_weight 1 with one step of 1; a step_weight equal to max_weight; step_weights from 1 up to 100.
    smallest = _resolve({"max_weight": 1, "step_weight": 1})
    assert (smallest.max_weight, smallest.step_weight, smallest.step_weights) == (1, 1, ())
    equal = _resolve({"max_weight": 50, "step_weight": 50})
    assert (equal.max_weight, equal.step_weight, equal.step_weights) == (50, 50, ())
    full = _resolve({"max_weight": 100, "step_weights": [1, 2, 100]})
    assert (full.max_weight, full.step_weight, full.step_weights) == (100, None, (1, 2, 100))
    single = _resolve({"step_weights": [50]})
    assert (single.max_weight, single.step_weight, single.step_weights) == (50, None, (50,))
    # Only the last step is held against max_weight.
    assert _resolve({"step_weights": [10, 40, 50]}).step_weights == (10, 40, 50)


def test_metric_settings_read_back() -> None:
    metrics = _resolve(
        {
            "metrics": [
                {"name": "request-success-rate", "threshold_range": {"min": 99.5, "max": 99.5}},
                {
                    "name": "errors",
                    "threshold_range": {"max": 1},
                    "interval": "2m",
                    "template_ref": {"name": "a" * 253},
                },
            ]
        }
    ).metrics
    assert [(m.name, m.threshold_range, m.interval, m.template_ref) for m in metrics] == [
        ("request-success-rate", {"min": 99.5, "max": 99.5}, None, None),
        ("errors", {"max": 1}, "2m", {"name": "a" * 253}),
    ]


def _webhooks(args: dict[str, Any]) -> dict[str, tuple[str, str, str, str, dict[str, str]]]:
    return {h.name: (h.type, h.url, h.timeout, h.metadata) for h in _resolve(args).webhooks}


def test_extra_webhooks_read_back_with_their_defaults() -> None:
    hooks = _webhooks(
        {
            "acceptance_test": {"enabled": False},
            "load_test": {"enabled": False},
            "extra_webhooks": [
                {"name": "gate", "type": "confirm-promotion", "url": "http://gate.shop/check"},
                {
                    "name": "notify",
                    "type": "event",
                    "url": "https://hooks.example.com/",
                    "timeout": "1m",
                    "metadata": {"channel": "releases"},
                },
            ],
        }
    )
    assert hooks == {
        "gate": ("confirm-promotion", "http://gate.shop/check", "15s", {}),
        "notify": ("event", "https://hooks.example.com/", "1m", {"channel": "releases"}),
    }


def test_default_webhooks_are_named_for_their_stage() -> None:
    hooks = _webhooks({})
    assert hooks == {
        "acceptance-test": (
            "pre-rollout",
            "http://flagger-loadtester.shop/",
            "30s",
            {"type": "bash", "cmd": "curl -sf http://web-canary.shop:80/health"},
        ),
        "load-test": (
            "rollout",
            "http://flagger-loadtester.shop/",
            "5s",
            {"cmd": "hey -z 1m -q 10 -c 2 http://web-canary.shop:80/"},
        ),
    }


def test_a_disabled_load_test_needs_no_public_host() -> None:
    # nginx without public_host: the default load test could not reach the canary, but there is none.
    settings = _resolve({"provider": "nginx", "ingress_name": "web", "load_test": {"enabled": False}})
    assert [h.name for h in settings.webhooks] == ["acceptance-test"]
    # An enabled load test without a command still needs it (see the refusal table).
    enabled = _resolve({**NGINX, "load_test": {"enabled": True}})
    assert (
        _webhooks_cmd(enabled)
        == "hey -z 1m -q 10 -c 2 -host shop.example.com http://ingress-nginx-controller.ingress-nginx/"
    )


def _webhooks_cmd(settings: Any) -> str:
    return next(h for h in settings.webhooks if h.name == "load-test").metadata["cmd"]


def test_routing_names_are_accepted_up_to_253_characters() -> None:
    name = "a" * 253
    nginx = _resolve({**NGINX, "ingress_name": name})
    assert (nginx.provider, nginx.ingress_name, nginx.gateways, nginx.hosts) == ("nginx", name, (), ())
    gateway = _resolve({**GATEWAY, "gateways": ["gw", f"edge/{name}"]})
    assert (gateway.provider, gateway.ingress_name, gateway.gateways, gateway.hosts) == (
        "gatewayapi",
        None,
        ("gw", f"edge/{name}"),
        ("shop.example.com",),
    )
    istio = _resolve({"provider": "istio", "gateways": ["Any_Name"], "hosts": ["a.example.com"]})
    assert (istio.gateways, istio.hosts) == (("Any_Name",), ("a.example.com",))


def test_session_affinity_defaults_and_edges() -> None:
    from zero_downtime.components.flagger_canary import SessionAffinitySettings

    default = _resolve({"provider": "istio", "session_affinity": {"cookie_name": "canary"}}).session_affinity
    assert default == SessionAffinitySettings(cookie_name="canary", max_age=86400)
    shortest = _resolve({**GATEWAY, "gateways": ["gw"], "session_affinity": {"cookie_name": "c", "max_age": 1}})
    assert shortest.session_affinity == SessionAffinitySettings(cookie_name="c", max_age=1)


def test_values_only_known_at_deployment_pass_unchecked() -> None:
    seen: list[Any] = []

    def program() -> None:
        # Outputs belong to a running program: create them under the mocks' runtime.
        ingress, max_age = pulumi.Output.from_input("web"), pulumi.Output.from_input(60)
        nginx = _resolve({**NGINX, "ingress_name": ingress})
        istio = _resolve({"provider": "istio", "session_affinity": {"cookie_name": "c", "max_age": max_age}})
        seen.append((nginx.ingress_name is ingress, istio.session_affinity.max_age is max_age))

    run_under_mocks(program, stack="unit")
    assert seen == [(True, True)]


@pytest.mark.parametrize(
    "weights",
    [
        pytest.param({"step_weight": "output"}, id="step-weight"),
        pytest.param({"max_weight": "output"}, id="max-weight"),
        pytest.param({"max_weight": "output", "step_weight": 20}, id="max-weight-with-step"),
        pytest.param({"step_weights": [5, "output", 50]}, id="step-weights-middle"),
        pytest.param({"step_weights": [5, 10, "output"]}, id="step-weights-last"),
        pytest.param({"max_weight": "output", "step_weights": [5, 10]}, id="max-weight-with-steps"),
    ],
)
def test_weights_only_known_at_deployment_pass_without_being_compared(weights: dict[str, Any]) -> None:
    """An Output weight cannot be compared with another weight here: no TypeError, passed on."""
    seen: list[bool] = []

    def program() -> None:
        output = pulumi.Output.from_input(30)

        def swap(value: Any) -> Any:
            if value == "output":
                return output
            return [swap(v) for v in value] if isinstance(value, list) else value

        settings = _resolve({key: swap(value) for key, value in weights.items()})
        seen.append(any(v is output for v in (settings.max_weight, settings.step_weight, *settings.step_weights)))

    run_under_mocks(program, stack="unit")
    assert seen == [True]


@pytest.mark.parametrize("outputs", [("min", "max"), ("min",), ("max",)], ids="-".join)
def test_a_threshold_range_only_known_at_deployment_passes_without_being_compared(outputs: tuple[str, ...]) -> None:
    seen: list[bool] = []

    def program() -> None:
        plain = {"min": 1.0, "max": 0.5}  # min above max: only a comparison would refuse it
        given = {k: pulumi.Output.from_input(v) if k in outputs else v for k, v in plain.items()}
        metric = {"name": "request-duration", "threshold_range": given}
        bounds = _resolve({"metrics": [metric]}).metrics[0].threshold_range
        seen.append(all(bounds[k] is given[k] for k in outputs))

    run_under_mocks(program, stack="unit")
    assert seen == [True]
