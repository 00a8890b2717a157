"""FlaggerCanary: a `flagger.app/v1beta1` Canary that shifts traffic to a new version step by step.

Flagger watches the target Deployment; on each pod-spec change it runs the pre-rollout acceptance
test against `<name>-canary`, then moves `step_weight` (or the next of `step_weights`) percent of
traffic every `interval` while the load test runs and the metrics hold, up to `max_weight`, and
promotes. `threshold` failed checks roll it back. Time to promote is about
interval x (max_weight / step_weight); time to roll back is interval x threshold.

The custom resource is registered with `apiextensions.CustomResource` (typed inputs, works under
mocks), never `yaml.ConfigFile`.
"""

import re
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components.rolling_deployment import check_dns_label
from components.validation import ArgError, check_choice, check_int, check_number

PROVIDERS: dict[str, str] = {"nginx": "nginx", "gatewayapi": "gatewayapi:v1", "istio": "istio"}
"""Our provider names -> Flagger's `spec.provider` values."""
BUILTIN_METRICS = ("request-success-rate", "request-duration")
WEBHOOK_TYPES = (
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-traffic-increase",
    "confirm-promotion",
    "post-rollout",
    "rollback",
    "event",
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class ThresholdRangeArgs(TypedDict):
    """Accepted range of a metric; at least one bound."""

    min: NotRequired[float]
    """Lowest passing value."""
    max: NotRequired[float]
    """Highest passing value."""


class MetricTemplateRefArgs(TypedDict):
    """A Flagger MetricTemplate holding the query of a custom metric."""

    name: str
    """MetricTemplate name."""
    namespace: NotRequired[str]
    """MetricTemplate namespace (default: the canary's)."""


class MetricArgs(TypedDict):
    """One metric check of the analysis."""

    name: str
    """request-success-rate / request-duration (builtin) or any name with a template_ref."""
    threshold_range: ThresholdRangeArgs
    """Accepted range (success rate in %, duration in ms)."""
    interval: NotRequired[str]
    """Query window, a duration like "1m" (default: the analysis interval)."""
    template_ref: NotRequired[MetricTemplateRefArgs]
    """Required for custom metrics."""


class WebhookArgs(TypedDict):
    """A Flagger load-tester webhook."""

    enabled: NotRequired[bool]
    """False drops the webhook (default True)."""
    url: NotRequired[str]
    """Webhook URL (default: the load tester)."""
    cmd: NotRequired[str]
    """Command the load tester runs."""
    timeout: NotRequired[str]
    """Duration before the call fails (defaults: acceptance 30s, load 5s)."""


class ExtraWebhookArgs(TypedDict):
    """Any other Flagger webhook (confirm-rollout, confirm-promotion, post-rollout, ...)."""

    name: str
    """Webhook name, unique in the canary."""
    type: str
    """One of WEBHOOK_TYPES."""
    url: str
    """URL called; 200-202 passes."""
    timeout: NotRequired[str]
    """Duration before the call fails (default 15s)."""
    metadata: NotRequired[dict[str, str]]
    """String metadata sent with the call."""


class SessionAffinityArgs(TypedDict):
    """Cookie-based session affinity during the analysis (Istio and Gateway API only)."""

    cookie_name: str
    """Cookie that pins a client to the canary."""
    max_age: NotRequired[int]
    """Cookie lifetime in seconds (default 86400)."""


class FlaggerCanaryArgs(TypedDict):
    """Target, routing and analysis of one canary."""

    target_name: str
    """Name of the Deployment Flagger drives (its `targetRef`)."""
    service_port: int
    """Port of the Services Flagger generates (`<target>`, `<target>-canary`, `<target>-primary`)."""
    target_port: NotRequired[Any]  # port number or name: Pulumi's schema has no unions
    """Container port (number or name) behind the service port (default "http")."""
    namespace: NotRequired[str]
    """Namespace of the Canary and its target (default "default")."""
    autoscaler_name: NotRequired[str]
    """HorizontalPodAutoscaler of the target (`autoscalerRef`); Flagger makes a primary copy."""
    provider: NotRequired[str]  # checked at runtime; the schema has no Literal
    """Traffic provider (default: Flagger's own mesh provider setting)."""
    ingress_name: NotRequired[str]
    """nginx: the Ingress Flagger clones into a canary Ingress (required with nginx)."""
    gateways: NotRequired[list[str]]
    """gatewayapi (required) and istio: gateways as "namespace/name" or "name"."""
    hosts: NotRequired[list[str]]
    """gatewayapi and istio: hostnames routed."""
    interval: NotRequired[str]
    """Time between analysis steps, a duration like "1m" or "30s" (default "1m")."""
    threshold: NotRequired[int]
    """Failed checks before rollback, >= 1 (default 5)."""
    max_weight: NotRequired[int]
    """Highest canary traffic % before promotion, 1-100 (default 50)."""
    step_weight: NotRequired[int]
    """Traffic % added per step, > 0 (default 10 unless step_weights is set)."""
    step_weights: NotRequired[list[int]]
    """Explicit increasing weights per step, instead of step_weight."""
    metrics: NotRequired[list[MetricArgs]]
    """Metric checks (default: request-success-rate min 99, request-duration max 500 ms)."""
    acceptance_test: NotRequired[WebhookArgs]
    """pre-rollout webhook (default: curl the canary's /health through the load tester)."""
    load_test: NotRequired[WebhookArgs]
    """rollout webhook (default: `hey` against the canary for a minute per step)."""
    load_tester_url: NotRequired[str]
    """Flagger load tester URL (default http://flagger-loadtester.<namespace>/)."""
    test_path: NotRequired[str]
    """Path the default acceptance test requests (default /health)."""
    extra_webhooks: NotRequired[list[ExtraWebhookArgs]]
    """More webhooks, e.g. confirm-promotion gates."""
    session_affinity: NotRequired[SessionAffinityArgs]
    """Cookie affinity during analysis (istio and gatewayapi only)."""
    progress_deadline_seconds: NotRequired[int]
    """Seconds the canary may make no progress before it is rolled back (default 600)."""


DEFAULT_METRICS: list[MetricArgs] = [
    {"name": "request-success-rate", "threshold_range": {"min": 99}, "interval": "1m"},
    {"name": "request-duration", "threshold_range": {"max": 500}, "interval": "1m"},
]


def parse_duration(value: Any, key: str) -> float:
    """Seconds in a Go duration ("1m", "30s", "1m30s", "500ms"); ArgError unless positive."""
    if isinstance(value, str) and value and _DURATION_PART.sub("", value) == "":
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))
        if seconds > 0:
            return seconds
    raise ArgError(key, f"must be a positive duration like '1m', '30s' or '1m30s', got {value!r}")


def _check_keys(given: Any, allowed: type, key: str) -> None:
    if not isinstance(given, dict):
        raise ArgError(key, f"must be a mapping, got {given!r}")
    unknown = set(given) - set(allowed.__annotations__)
    if unknown:
        raise ArgError(f"{key}.{sorted(unknown)[0]}" if key else sorted(unknown)[0], "is not a known setting")


def _check_str_list(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ArgError(key, f"must be a list of non-empty strings, got {value!r}")
    return list(value)


def _resolve_weights(args: FlaggerCanaryArgs) -> dict[str, Any]:
    max_weight = args.get("max_weight", 50)
    check_int(max_weight, "max_weight", minimum=1, maximum=100)
    if "step_weight" in args and "step_weights" in args:
        raise ArgError("step_weights", "set step_weight or step_weights, not both")
    if "step_weights" in args:
        steps = args["step_weights"]
        if not isinstance(steps, list) or not steps:
            raise ArgError("step_weights", f"must be a non-empty list of weights, got {steps!r}")
        for i, step in enumerate(steps):
            check_int(step, f"step_weights[{i}]", minimum=1, maximum=100)
            if i and step <= steps[i - 1]:
                raise ArgError(f"step_weights[{i}]", f"must be > the previous step ({steps[i - 1]}), got {step}")
        # Flagger promotes after the last step, so max_weight must not cut the list short.
        if steps[-1] > max_weight:
            raise ArgError("step_weights", f"last step {steps[-1]} exceeds max_weight {max_weight}")
        return {"maxWeight": max_weight, "stepWeights": list(steps)}
    step = args.get("step_weight", 10)
    check_int(step, "step_weight", minimum=1)
    if step > max_weight:
        raise ArgError("step_weight", f"must be <= max_weight ({max_weight}), got {step}")
    return {"maxWeight": max_weight, "stepWeight": step}


def _resolve_metrics(metrics: Any) -> list[dict[str, Any]]:
    if not isinstance(metrics, list) or not metrics:
        raise ArgError("metrics", "must be a non-empty list: a canary without metric checks proves nothing")
    resolved = []
    for i, metric in enumerate(metrics):
        key = f"metrics[{i}]"
        _check_keys(metric, MetricArgs, key)
        name = metric.get("name")
        if not isinstance(name, str) or not name:
            raise ArgError(f"{key}.name", "is required")
        bounds = metric.get("threshold_range")
        if bounds is None:
            raise ArgError(f"{key}.threshold_range", "is required (min and/or max)")
        _check_keys(bounds, ThresholdRangeArgs, f"{key}.threshold_range")
        if not bounds:
            raise ArgError(f"{key}.threshold_range", "needs min, max or both")
        for bound in ("min", "max"):
            if bound in bounds:
                check_number(bounds[bound], f"{key}.threshold_range.{bound}")
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            raise ArgError(f"{key}.threshold_range", f"min {bounds['min']} is above max {bounds['max']}")
        out: dict[str, Any] = {"name": name, "thresholdRange": dict(bounds)}
        if "interval" in metric:
            parse_duration(metric["interval"], f"{key}.interval")
            out["interval"] = metric["interval"]
        ref = metric.get("template_ref")
        if ref is not None:
            _check_keys(ref, MetricTemplateRefArgs, f"{key}.template_ref")
            check_dns_label(ref.get("name"), f"{key}.template_ref.name", max_length=253)
            out["templateRef"] = dict(ref)
        elif name not in BUILTIN_METRICS:
            raise ArgError(
                f"{key}.template_ref",
                f"is required for custom metric {name!r} (builtin: {', '.join(BUILTIN_METRICS)})",
            )
        resolved.append(out)
    return resolved


def _resolve_webhook(
    given: Any, key: str, *, kind: str, name: str, default_url: str, default_cmd: str, default_timeout: str
) -> dict[str, Any] | None:
    given = {} if given is None else given
    _check_keys(given, WebhookArgs, key)
    enabled = given.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ArgError(f"{key}.enabled", f"must be true or false, got {enabled!r}")
    if not enabled:
        return None
    url = given.get("url", default_url)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ArgError(f"{key}.url", f"must be an http(s) URL, got {url!r}")
    cmd = given.get("cmd", default_cmd)
    if not isinstance(cmd, str) or not cmd.strip():
        raise ArgError(f"{key}.cmd", "must be a non-empty command")
    timeout = given.get("timeout", default_timeout)
    parse_duration(timeout, f"{key}.timeout")
    metadata = {"cmd": cmd}
    if kind == "pre-rollout":
        # `bash` makes the load tester run the command synchronously and report its exit code.
        metadata = {"type": "bash", "cmd": cmd}
    return {"name": name, "type": kind, "url": url, "timeout": timeout, "metadata": metadata}


def _resolve_extra_webhooks(hooks: Any, taken: set[str]) -> list[dict[str, Any]]:
    if not isinstance(hooks, list):
        raise ArgError("extra_webhooks", f"must be a list, got {hooks!r}")
    resolved = []
    for i, hook in enumerate(hooks):
        key = f"extra_webhooks[{i}]"
        _check_keys(hook, ExtraWebhookArgs, key)
        for required in ("name", "type", "url"):
            if not isinstance(hook.get(required), str) or not hook[required]:
                raise ArgError(f"{key}.{required}", "is required")
        if hook["name"] in taken:
            raise ArgError(f"{key}.name", f"{hook['name']!r} is already used by another webhook")
        taken.add(hook["name"])
        check_choice(hook["type"], f"{key}.type", WEBHOOK_TYPES)
        if not hook["url"].startswith(("http://", "https://")):
            raise ArgError(f"{key}.url", f"must be an http(s) URL, got {hook['url']!r}")
        timeout = hook.get("timeout", "15s")
        parse_duration(timeout, f"{key}.timeout")
        metadata = hook.get("metadata") or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise ArgError(f"{key}.metadata", "must map names to strings")
        out = {"name": hook["name"], "type": hook["type"], "url": hook["url"], "timeout": timeout}
        if metadata:
            out["metadata"] = dict(metadata)
        resolved.append(out)
    return resolved


def _resolve_routing(args: FlaggerCanaryArgs, namespace: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec fields, service fields) for the provider."""
    provider = args.get("provider")
    spec: dict[str, Any] = {}
    service: dict[str, Any] = {}
    gateways = _check_str_list(args["gateways"], "gateways") if "gateways" in args else None
    hosts = _check_str_list(args["hosts"], "hosts") if "hosts" in args else None
    if provider is None:
        for key in ("ingress_name", "gateways", "hosts"):
            if key in args:
                raise ArgError(key, "needs a provider (nginx, gatewayapi or istio)")
        return spec, service
    check_choice(provider, "provider", tuple(PROVIDERS))
    spec["provider"] = PROVIDERS[provider]
    if provider == "nginx":
        ingress = args.get("ingress_name")
        if ingress is None:
            raise ArgError("ingress_name", "is required with provider nginx")
        check_dns_label(ingress, "ingress_name", max_length=253)
        for key in ("gateways", "hosts"):
            if key in args:
                raise ArgError(key, "is not used by provider nginx (the Ingress holds hosts)")
        spec["ingressRef"] = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": ingress}
        return spec, service
    if "ingress_name" in args:
        raise ArgError("ingress_name", f"is only used by provider nginx, not {provider}")
    if provider == "gatewayapi":
        if not gateways:
            raise ArgError("gateways", "at least one gateway is required with provider gatewayapi")
        refs = []
        for i, gateway in enumerate(gateways):
            gw_namespace, _, gw_name = gateway.rpartition("/")
            check_dns_label(gw_name, f"gateways[{i}]", max_length=253)
            refs.append({"name": gw_name, "namespace": gw_namespace or namespace})
        service["gatewayRefs"] = refs
    elif gateways:
        service["gateways"] = gateways
    if hosts:
        service["hosts"] = hosts
    return spec, service


def validate_flagger_canary_args(args: FlaggerCanaryArgs) -> dict[str, Any]:
    """The Canary `spec` as Flagger reads it, with defaults. Raises ArgError naming the key."""
    _check_keys(args, FlaggerCanaryArgs, "")
    target = args.get("target_name")
    if target is None:
        raise ArgError("target_name", "is required")
    check_dns_label(target, "target_name", max_length=55)
    namespace = args.get("namespace", "default")
    check_dns_label(namespace, "namespace")
    if "service_port" not in args:
        raise ArgError("service_port", "is required")
    port = args["service_port"]
    check_int(port, "service_port", minimum=1, maximum=65535)
    target_port = args.get("target_port", "http")
    if isinstance(target_port, int):
        check_int(target_port, "target_port", minimum=1, maximum=65535)
    elif not isinstance(target_port, str) or not target_port:
        raise ArgError("target_port", f"must be a port number or name, got {target_port!r}")

    interval = args.get("interval", "1m")
    parse_duration(interval, "interval")
    threshold = args.get("threshold", 5)
    check_int(threshold, "threshold", minimum=1)
    analysis: dict[str, Any] = {"interval": interval, "threshold": threshold, **_resolve_weights(args)}
    analysis["metrics"] = _resolve_metrics(args.get("metrics", DEFAULT_METRICS))

    test_path = args.get("test_path", "/health")
    if not isinstance(test_path, str) or not test_path.startswith("/"):
        raise ArgError("test_path", f"must be an absolute path starting with '/', got {test_path!r}")
    loader = args.get("load_tester_url", f"http://flagger-loadtester.{namespace}/")
    if not isinstance(loader, str) or not loader.startswith(("http://", "https://")):
        raise ArgError("load_tester_url", f"must be an http(s) URL, got {loader!r}")
    canary_url = f"http://{target}-canary.{namespace}:{port}"
    webhooks = [
        hook
        for hook in (
            _resolve_webhook(
                args.get("acceptance_test"),
                "acceptance_test",
                kind="pre-rollout",
                name="acceptance-test",
                default_url=loader,
                default_cmd=f"curl -sf {canary_url}{test_path}",
                default_timeout="30s",
            ),
            _resolve_webhook(
                args.get("load_test"),
                "load_test",
                kind="rollout",
                name="load-test",
                default_url=loader,
                default_cmd=f"hey -z 1m -q 10 -c 2 {canary_url}/",
                default_timeout="5s",
            ),
        )
        if hook is not None
    ]
    webhooks += _resolve_extra_webhooks(args.get("extra_webhooks", []), {h["name"] for h in webhooks})
    if webhooks:
        analysis["webhooks"] = webhooks

    provider_spec, service_extra = _resolve_routing(args, namespace)
    affinity = args.get("session_affinity")
    if affinity is not None:
        _check_keys(affinity, SessionAffinityArgs, "session_affinity")
        if args.get("provider") not in ("istio", "gatewayapi"):
            raise ArgError("session_affinity", "needs provider istio or gatewayapi (Flagger supports no other)")
        cookie = affinity.get("cookie_name")
        if not isinstance(cookie, str) or not re.match(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", cookie):
            raise ArgError("session_affinity.cookie_name", f"must be a cookie name, got {cookie!r}")
        max_age = affinity.get("max_age", 86400)
        check_int(max_age, "session_affinity.max_age", minimum=1)
        analysis["sessionAffinity"] = {"cookieName": cookie, "maxAge": max_age}

    deadline = args.get("progress_deadline_seconds", 600)
    check_int(deadline, "progress_deadline_seconds", minimum=1)
    spec: dict[str, Any] = {
        **provider_spec,
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
        "progressDeadlineSeconds": deadline,
        "service": {"port": port, "targetPort": target_port, **service_extra},
        "analysis": analysis,
    }
    autoscaler = args.get("autoscaler_name")
    if autoscaler is not None:
        check_dns_label(autoscaler, "autoscaler_name", max_length=253)
        spec["autoscalerRef"] = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": autoscaler,
        }
    return {"name": target, "namespace": namespace, "spec": spec}


class FlaggerCanary(pulumi.ComponentResource):
    """A Flagger Canary for one Deployment, with metric analysis and load-tester webhooks."""

    canary_name: pulumi.Output[str]
    """Name of the Canary custom resource."""
    namespace: pulumi.Output[str]
    """Namespace of the Canary."""
    service_name: pulumi.Output[str]
    """The Service Flagger generates for clients (`<target>`)."""
    primary_deployment_name: pulumi.Output[str]
    """The Deployment Flagger creates to serve stable traffic (`<target>-primary`)."""

    def __init__(self, name: str, args: FlaggerCanaryArgs, opts: pulumi.ResourceOptions | None = None):
        resolved = validate_flagger_canary_args(args)
        super().__init__("zero-downtime:index:FlaggerCanary", name, None, opts)
        target = resolved["name"]
        canary = k8s.apiextensions.CustomResource(
            f"{name}-canary",
            api_version="flagger.app/v1beta1",
            kind="Canary",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=target,
                namespace=resolved["namespace"],
                labels={"app.kubernetes.io/name": target, "app.kubernetes.io/managed-by": "pulumi-zero-downtime"},
            ),
            spec=resolved["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.canary_name = canary.metadata.apply(lambda m: m["name"])
        self.namespace = canary.metadata.apply(lambda m: m["namespace"])
        self.service_name = pulumi.Output.from_input(target)
        self.primary_deployment_name = pulumi.Output.from_input(f"{target}-primary")
        self.register_outputs(
            {
                "canary_name": self.canary_name,
                "namespace": self.namespace,
                "service_name": self.service_name,
                "primary_deployment_name": self.primary_deployment_name,
            }
        )
