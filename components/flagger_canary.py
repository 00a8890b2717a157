"""FlaggerCanary: a `flagger.app/v1beta1` Canary that shifts traffic to a new version step by step.

Flagger watches the target Deployment; on each pod-spec change it runs the pre-rollout acceptance
test against `<name>-canary`, then moves `step_weight` (or the next of `step_weights`) percent of
traffic every `interval` while the load test runs and the metrics hold, up to `max_weight`, and
promotes. `threshold` failed checks roll it back. Time to promote is about
interval x (max_weight / step_weight); time to roll back is interval x threshold.

With an ingress or gateway provider (nginx, gatewayapi) the analysis reads that ingress's or
gateway's metrics, so the default load test goes through it with the service's public host as Host
header, as Flagger's nginx tutorial does: load sent to `<name>-canary` directly is never measured.

`resolve_flagger_canary` is the one pure step (a frozen `CanarySettings` with every default filled
in); `canary_spec` turns it into the Canary's `spec` as Flagger reads it. The custom resource is
registered with `apiextensions.CustomResource` (typed inputs, works under mocks), never
`yaml.ConfigFile`.
"""

import re
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from ..contract.types import K8S_MANAGED_BY_LABEL, MANAGED_BY
from .defaults import DEFAULT_HEALTH_CHECK_PATH
from .rolling_deployment import DEFAULT_NAMESPACE, FLAGGER_PRIMARY_SUFFIX, check_dns_label
from .validation import ArgError, check_choice, check_int, check_number, int_setting, is_known

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
_COOKIE_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

MAX_TARGET_NAME_LENGTH = 63 - len(FLAGGER_PRIMARY_SUFFIX)
"""Flagger names the primary Deployment `<target>-primary`, which must still be a DNS label."""
DEFAULT_TARGET_PORT = "http"
DEFAULT_INTERVAL = "1m"
DEFAULT_THRESHOLD = 5
DEFAULT_MAX_WEIGHT = 50
DEFAULT_STEP_WEIGHT = 10
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_SESSION_MAX_AGE_SECONDS = 86400
DEFAULT_ACCEPTANCE_TIMEOUT = "30s"
DEFAULT_LOAD_TEST_TIMEOUT = "5s"
DEFAULT_EXTRA_WEBHOOK_TIMEOUT = "15s"
DEFAULT_NGINX_ENTRY_URL = "http://ingress-nginx-controller.ingress-nginx"
"""The controller Service of the ingress-nginx Helm chart installed in namespace ingress-nginx."""
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# What may appear in a URL the load tester's shell runs: no whitespace, quotes or shell operators.
_SHELL_SAFE_URL = re.compile(r"^https?://[A-Za-z0-9._~:/?#@!*+,=%-]+$")
_SHELL_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._~/?=%:@+,-]*$")


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
    """rollout webhook (default: `hey` for a minute per step, through the ingress or gateway with nginx
    and gatewayapi, else against the canary Service)."""
    load_tester_url: NotRequired[str]
    """Flagger load tester URL (default http://flagger-loadtester.<namespace>/)."""
    public_host: NotRequired[str]
    """Host clients reach the service at: the Ingress rule's host (nginx, required by the default load
    test) or one of `hosts` (gatewayapi, default the first)."""
    entry_url: NotRequired[str]
    """In-cluster URL of the ingress controller or gateway the default load test goes through (nginx
    default http://ingress-nginx-controller.ingress-nginx; required with gatewayapi)."""
    test_path: NotRequired[str]
    """Path the default acceptance test requests (default /health)."""
    extra_webhooks: NotRequired[list[ExtraWebhookArgs]]
    """More webhooks, e.g. confirm-promotion gates."""
    session_affinity: NotRequired[SessionAffinityArgs]
    """Cookie affinity during analysis (istio and gatewayapi only)."""
    progress_deadline_seconds: NotRequired[int]
    """Seconds the canary may make no progress before it is rolled back (default 600)."""


DEFAULT_METRICS: list[MetricArgs] = [
    {"name": "request-success-rate", "threshold_range": {"min": 99}, "interval": DEFAULT_INTERVAL},
    {"name": "request-duration", "threshold_range": {"max": 500}, "interval": DEFAULT_INTERVAL},
]


@dataclass(frozen=True)
class MetricSettings:
    """One metric check, validated."""

    name: str
    threshold_range: dict[str, float]
    interval: str | None = None
    template_ref: dict[str, str] | None = None

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "thresholdRange": dict(self.threshold_range)}
        if self.interval is not None:
            out["interval"] = self.interval
        if self.template_ref is not None:
            out["templateRef"] = dict(self.template_ref)
        return out


@dataclass(frozen=True)
class WebhookSettings:
    """One webhook, validated; built-in ones always carry their command as metadata."""

    name: str
    type: str
    url: str
    timeout: str
    metadata: dict[str, str] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "url": self.url, "timeout": self.timeout}
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out


@dataclass(frozen=True)
class SessionAffinitySettings:
    cookie_name: str
    max_age: int = DEFAULT_SESSION_MAX_AGE_SECONDS


@dataclass(frozen=True)
class CanarySettings:
    """Everything a FlaggerCanary is configured with, defaults filled in."""

    target_name: str
    namespace: str
    service_port: int
    metrics: tuple[MetricSettings, ...]
    webhooks: tuple[WebhookSettings, ...]
    target_port: Any = DEFAULT_TARGET_PORT
    """A port number or name."""
    autoscaler_name: str | None = None
    provider: str | None = None
    """Our provider name (a key of PROVIDERS); None leaves Flagger's mesh provider setting."""
    ingress_name: str | None = None
    gateways: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    interval: str = DEFAULT_INTERVAL
    threshold: int = DEFAULT_THRESHOLD
    max_weight: int = DEFAULT_MAX_WEIGHT
    step_weight: int | None = DEFAULT_STEP_WEIGHT
    """None when step_weights is set."""
    step_weights: tuple[int, ...] = ()
    session_affinity: SessionAffinitySettings | None = None
    progress_deadline_seconds: int = DEFAULT_PROGRESS_DEADLINE_SECONDS


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


def _check_str_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ArgError(key, f"must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _check_url(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ArgError(key, f"must be an http(s) URL, got {value!r}")
    return value


def _resolve_weights(args: FlaggerCanaryArgs) -> tuple[int, int | None, tuple[int, ...]]:
    """(max_weight, step_weight, step_weights): exactly one of the step forms is set."""
    max_weight = int_setting(args, "max_weight", DEFAULT_MAX_WEIGHT, minimum=1, maximum=100)
    if "step_weight" in args and "step_weights" in args:
        raise ArgError("step_weights", "set step_weight or step_weights, not both")
    if "step_weights" in args:
        steps = args["step_weights"]
        if not isinstance(steps, list) or not steps:
            raise ArgError("step_weights", f"must be a non-empty list of weights, got {steps!r}")
        # An Output is known only at deployment and is not checked here: the comparisons between
        # values below are made only between plain values.
        for i, step in enumerate(steps):
            check_int(step, f"step_weights[{i}]", minimum=1, maximum=100)
            if i and is_known(step) and is_known(steps[i - 1]) and step <= steps[i - 1]:
                raise ArgError(f"step_weights[{i}]", f"must be > the previous step ({steps[i - 1]}), got {step}")
        # Flagger promotes after the last step, so max_weight must not cut the list short.
        if is_known(steps[-1]) and is_known(max_weight) and steps[-1] > max_weight:
            raise ArgError("step_weights", f"last step {steps[-1]} exceeds max_weight {max_weight}")
        return max_weight, None, tuple(steps)
    step = int_setting(args, "step_weight", DEFAULT_STEP_WEIGHT, minimum=1)
    if is_known(step) and is_known(max_weight) and step > max_weight:
        raise ArgError("step_weight", f"must be <= max_weight ({max_weight}), got {step}")
    return max_weight, step, ()


def _resolve_metrics(metrics: Any) -> tuple[MetricSettings, ...]:
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
        low, high = bounds.get("min"), bounds.get("max")
        if low is not None and high is not None and is_known(low) and is_known(high) and low > high:
            raise ArgError(f"{key}.threshold_range", f"min {bounds['min']} is above max {bounds['max']}")
        interval = metric.get("interval")
        if "interval" in metric:
            parse_duration(interval, f"{key}.interval")
        ref = metric.get("template_ref")
        if ref is not None:
            _check_keys(ref, MetricTemplateRefArgs, f"{key}.template_ref")
            check_dns_label(ref.get("name"), f"{key}.template_ref.name", max_length=253)
        elif name not in BUILTIN_METRICS:
            raise ArgError(
                f"{key}.template_ref",
                f"is required for custom metric {name!r} (builtin: {', '.join(BUILTIN_METRICS)})",
            )
        resolved.append(
            MetricSettings(
                name=name,
                threshold_range=dict(bounds),
                interval=interval,
                template_ref=dict(ref) if ref is not None else None,
            )
        )
    return tuple(resolved)


def _resolve_webhook(
    given: Any, key: str, *, kind: str, name: str, default_url: str, default_cmd: str, default_timeout: str
) -> WebhookSettings | None:
    given = {} if given is None else given
    _check_keys(given, WebhookArgs, key)
    enabled = given.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ArgError(f"{key}.enabled", f"must be true or false, got {enabled!r}")
    if not enabled:
        return None
    url = _check_url(given.get("url", default_url), f"{key}.url")
    cmd = given.get("cmd", default_cmd)
    if not isinstance(cmd, str) or not cmd.strip():
        raise ArgError(f"{key}.cmd", "must be a non-empty command")
    timeout = given.get("timeout", default_timeout)
    parse_duration(timeout, f"{key}.timeout")
    metadata = {"cmd": cmd}
    if kind == "pre-rollout":
        # `bash` makes the load tester run the command synchronously and report its exit code.
        metadata = {"type": "bash", "cmd": cmd}
    return WebhookSettings(name=name, type=kind, url=url, timeout=timeout, metadata=metadata)


def _resolve_extra_webhooks(hooks: Any, taken: set[str]) -> list[WebhookSettings]:
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
        _check_url(hook["url"], f"{key}.url")
        timeout = hook.get("timeout", DEFAULT_EXTRA_WEBHOOK_TIMEOUT)
        parse_duration(timeout, f"{key}.timeout")
        metadata = hook.get("metadata") or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise ArgError(f"{key}.metadata", "must map names to strings")
        resolved.append(
            WebhookSettings(name=hook["name"], type=hook["type"], url=hook["url"], timeout=timeout, metadata=metadata)
        )
    return resolved


def _load_test_target(args: FlaggerCanaryArgs, provider: str | None, hosts: tuple[str, ...], canary_url: str) -> str:
    """What the default load test runs `hey` against: through the ingress or gateway whose metrics
    the analysis reads (Host header = the public host), or the canary Service for other providers."""
    if provider not in ("nginx", "gatewayapi"):
        for key in ("public_host", "entry_url"):
            if key in args:
                raise ArgError(key, "is only used with provider nginx or gatewayapi")
        return f"{canary_url}/"
    host = args.get("public_host", hosts[0] if hosts else None)
    if host is None:
        raise ArgError(
            "public_host",
            f"is required with provider {provider}: the analysis reads the {provider} metrics, so the default load "
            "test must reach the canary through it with the service's host (or set load_test.cmd)",
        )
    if not isinstance(host, str) or not _HOSTNAME.match(host):
        raise ArgError("public_host", f"must be a host name like app.example.com, got {host!r}")
    if provider == "gatewayapi" and hosts and host not in hosts:
        raise ArgError("public_host", f"must be one of hosts {list(hosts)}, got {host!r}")
    if "entry_url" not in args and provider == "gatewayapi":
        raise ArgError(
            "entry_url", "is required with provider gatewayapi: the gateway's in-cluster URL (or set load_test.cmd)"
        )
    entry = _check_shell_safe_url(args.get("entry_url", DEFAULT_NGINX_ENTRY_URL), "entry_url")
    return f"-host {host} {entry.rstrip('/')}/"


def _check_shell_safe_url(value: Any, key: str) -> str:
    url = _check_url(value, key)
    if not _SHELL_SAFE_URL.match(url):
        raise ArgError(key, f"must be a plain URL without spaces, quotes or shell characters, got {url!r}")
    return url


def _resolve_webhooks(
    args: FlaggerCanaryArgs, target: str, namespace: str, port: int, provider: str | None, hosts: tuple[str, ...]
) -> tuple[WebhookSettings, ...]:
    test_path = args.get("test_path", DEFAULT_HEALTH_CHECK_PATH)
    # The default acceptance test puts the path in a shell command: nothing a shell would interpret.
    if not isinstance(test_path, str) or not _SHELL_SAFE_PATH.match(test_path):
        raise ArgError(
            "test_path",
            f"must be an absolute path starting with '/', without spaces or shell characters, got {test_path!r}",
        )
    loader = _check_url(args.get("load_tester_url", f"http://flagger-loadtester.{namespace}/"), "load_tester_url")
    canary_url = f"http://{target}-canary.{namespace}:{port}"
    acceptance = _resolve_webhook(
        args.get("acceptance_test"),
        "acceptance_test",
        kind="pre-rollout",
        name="acceptance-test",
        default_url=loader,
        default_cmd=f"curl -sf {canary_url}{test_path}",
        default_timeout=DEFAULT_ACCEPTANCE_TIMEOUT,
    )
    load_args = args.get("load_test")
    uses_default_cmd = not (isinstance(load_args, dict) and ("cmd" in load_args or load_args.get("enabled") is False))
    load_target = _load_test_target(args, provider, hosts, canary_url) if uses_default_cmd else f"{canary_url}/"
    load = _resolve_webhook(
        load_args,
        "load_test",
        kind="rollout",
        name="load-test",
        default_url=loader,
        default_cmd=f"hey -z 1m -q 10 -c 2 {load_target}",
        default_timeout=DEFAULT_LOAD_TEST_TIMEOUT,
    )
    webhooks = [hook for hook in (acceptance, load) if hook is not None]
    webhooks += _resolve_extra_webhooks(args.get("extra_webhooks", []), {h.name for h in webhooks})
    return tuple(webhooks)


def _resolve_routing(args: FlaggerCanaryArgs) -> tuple[str | None, str | None, tuple[str, ...], tuple[str, ...]]:
    """(provider, ingress_name, gateways, hosts), checked against the provider."""
    provider = args.get("provider")
    gateways = _check_str_list(args["gateways"], "gateways") if "gateways" in args else ()
    hosts = _check_str_list(args["hosts"], "hosts") if "hosts" in args else ()
    if provider is None:
        for key in ("ingress_name", "gateways", "hosts"):
            if key in args:
                raise ArgError(key, "needs a provider (nginx, gatewayapi or istio)")
        return None, None, (), ()
    check_choice(provider, "provider", tuple(PROVIDERS))
    if provider == "nginx":
        ingress = args.get("ingress_name")
        if ingress is None:
            raise ArgError("ingress_name", "is required with provider nginx")
        check_dns_label(ingress, "ingress_name", max_length=253)
        for key in ("gateways", "hosts"):
            if key in args:
                raise ArgError(key, "is not used by provider nginx (the Ingress holds hosts)")
        return provider, ingress, (), ()
    if "ingress_name" in args:
        raise ArgError("ingress_name", f"is only used by provider nginx, not {provider}")
    if provider == "gatewayapi":
        if not gateways:
            raise ArgError("gateways", "at least one gateway is required with provider gatewayapi")
        for i, gateway in enumerate(gateways):
            check_dns_label(gateway.rpartition("/")[2], f"gateways[{i}]", max_length=253)
    return provider, None, gateways, hosts


def _resolve_session_affinity(affinity: Any, provider: str | None) -> SessionAffinitySettings | None:
    if affinity is None:
        return None
    _check_keys(affinity, SessionAffinityArgs, "session_affinity")
    if provider not in ("istio", "gatewayapi"):
        raise ArgError("session_affinity", "needs provider istio or gatewayapi (Flagger supports no other)")
    cookie = affinity.get("cookie_name")
    if not isinstance(cookie, str) or not _COOKIE_NAME.match(cookie):
        raise ArgError("session_affinity.cookie_name", f"must be a cookie name, got {cookie!r}")
    max_age = int_setting(affinity, "max_age", DEFAULT_SESSION_MAX_AGE_SECONDS, where="session_affinity.", minimum=1)
    return SessionAffinitySettings(cookie_name=cookie, max_age=max_age)


def resolve_flagger_canary(args: FlaggerCanaryArgs) -> CanarySettings:
    """Defaults applied and every field checked. Raises ArgError naming the key."""
    _check_keys(args, FlaggerCanaryArgs, "")
    target = args.get("target_name")
    if target is None:
        raise ArgError("target_name", "is required")
    check_dns_label(target, "target_name", max_length=MAX_TARGET_NAME_LENGTH)
    namespace = args.get("namespace", DEFAULT_NAMESPACE)
    check_dns_label(namespace, "namespace")
    if "service_port" not in args:
        raise ArgError("service_port", "is required")
    port = args["service_port"]
    check_int(port, "service_port", minimum=1, maximum=65535)
    target_port = args.get("target_port", DEFAULT_TARGET_PORT)
    if isinstance(target_port, int):
        check_int(target_port, "target_port", minimum=1, maximum=65535)
    elif not isinstance(target_port, str) or not target_port:
        raise ArgError("target_port", f"must be a port number or name, got {target_port!r}")

    interval = args.get("interval", DEFAULT_INTERVAL)
    parse_duration(interval, "interval")
    threshold = int_setting(args, "threshold", DEFAULT_THRESHOLD, minimum=1)
    max_weight, step_weight, step_weights = _resolve_weights(args)
    metrics = _resolve_metrics(args.get("metrics", DEFAULT_METRICS))
    provider, ingress, gateways, hosts = _resolve_routing(args)
    affinity = _resolve_session_affinity(args.get("session_affinity"), provider)
    webhooks = _resolve_webhooks(args, target, namespace, port, provider, hosts)
    deadline = int_setting(args, "progress_deadline_seconds", DEFAULT_PROGRESS_DEADLINE_SECONDS, minimum=1)
    autoscaler = args.get("autoscaler_name")
    if autoscaler is not None:
        check_dns_label(autoscaler, "autoscaler_name", max_length=253)
    return CanarySettings(
        target_name=target,
        namespace=namespace,
        service_port=port,
        metrics=metrics,
        webhooks=webhooks,
        target_port=target_port,
        autoscaler_name=autoscaler,
        provider=provider,
        ingress_name=ingress,
        gateways=gateways,
        hosts=hosts,
        interval=interval,
        threshold=threshold,
        max_weight=max_weight,
        step_weight=step_weight,
        step_weights=step_weights,
        session_affinity=affinity,
        progress_deadline_seconds=deadline,
    )


def _analysis(settings: CanarySettings) -> dict[str, Any]:
    analysis: dict[str, Any] = {
        "interval": settings.interval,
        "threshold": settings.threshold,
        "maxWeight": settings.max_weight,
    }
    if settings.step_weights:
        analysis["stepWeights"] = list(settings.step_weights)
    else:
        analysis["stepWeight"] = settings.step_weight
    analysis["metrics"] = [m.spec() for m in settings.metrics]
    if settings.webhooks:
        analysis["webhooks"] = [h.spec() for h in settings.webhooks]
    if settings.session_affinity is not None:
        analysis["sessionAffinity"] = {
            "cookieName": settings.session_affinity.cookie_name,
            "maxAge": settings.session_affinity.max_age,
        }
    return analysis


def _service(settings: CanarySettings) -> dict[str, Any]:
    service: dict[str, Any] = {"port": settings.service_port, "targetPort": settings.target_port}
    if settings.provider == "gatewayapi":
        service["gatewayRefs"] = [
            {"name": name, "namespace": namespace or settings.namespace}
            for namespace, _, name in (g.rpartition("/") for g in settings.gateways)
        ]
    elif settings.gateways:
        service["gateways"] = list(settings.gateways)
    if settings.hosts:
        service["hosts"] = list(settings.hosts)
    return service


def canary_spec(settings: CanarySettings) -> dict[str, Any]:
    """The Canary `spec` as Flagger reads it."""
    spec: dict[str, Any] = {}
    if settings.provider is not None:
        spec["provider"] = PROVIDERS[settings.provider]
    if settings.ingress_name is not None:
        spec["ingressRef"] = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": settings.ingress_name}
    spec.update(
        {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": settings.target_name},
            "progressDeadlineSeconds": settings.progress_deadline_seconds,
            "service": _service(settings),
            "analysis": _analysis(settings),
        }
    )
    if settings.autoscaler_name is not None:
        spec["autoscalerRef"] = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": settings.autoscaler_name,
        }
    return spec


class FlaggerCanary(pulumi.ComponentResource):
    """A Flagger Canary for one Deployment, with metric analysis and load-tester webhooks.

    Children, for callers who need them: `canary` (the k8s apiextensions.CustomResource).
    """

    canary_name: pulumi.Output[str]
    """Name of the Canary custom resource."""
    namespace: pulumi.Output[str]
    """Namespace of the Canary."""
    service_name: pulumi.Output[str]
    """The Service Flagger generates for clients (`<target>`)."""
    primary_deployment_name: pulumi.Output[str]
    """The Deployment Flagger creates to serve stable traffic (`<target>-primary`)."""

    def __init__(self, name: str, args: FlaggerCanaryArgs, opts: pulumi.ResourceOptions | None = None):
        settings = resolve_flagger_canary(args)
        super().__init__("zero-downtime:index:FlaggerCanary", name, None, opts)
        target = settings.target_name
        self.canary = k8s.apiextensions.CustomResource(
            f"{name}-canary",
            api_version="flagger.app/v1beta1",
            kind="Canary",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=target,
                namespace=settings.namespace,
                labels={"app.kubernetes.io/name": target, K8S_MANAGED_BY_LABEL: MANAGED_BY},
            ),
            spec=canary_spec(settings),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.canary_name = self.canary.metadata.apply(lambda m: m["name"])
        self.namespace = self.canary.metadata.apply(lambda m: m["namespace"])
        self.service_name = pulumi.Output.from_input(target)
        self.primary_deployment_name = pulumi.Output.from_input(f"{target}{FLAGGER_PRIMARY_SUFFIX}")
        self.register_outputs(
            {
                "canary_name": self.canary_name,
                "namespace": self.namespace,
                "service_name": self.service_name,
                "primary_deployment_name": self.primary_deployment_name,
            }
        )
