"""RollingDeployment: a Kubernetes Deployment whose rollouts and node drains never drop a request.

What makes it safe, and why each default is what it is:
- RollingUpdate with maxUnavailable 0 and maxSurge 25%: a new pod must pass readiness before an
  old one is taken away, so serving capacity never dips during a rollout.
- Readiness gates traffic, liveness restarts a wedged pod, an optional startup probe covers slow
  boots without loosening liveness.
- preStop sleep: a terminating pod is removed from the Service's endpoints asynchronously
  (kube-proxy, ingress controllers and cloud load balancers catch up over seconds). Sleeping first
  keeps the pod serving until nobody routes to it any more; only then does SIGTERM start the
  app's drain. terminationGracePeriodSeconds must cover preStop + drain, or the kubelet SIGKILLs
  requests still in flight; that relation is validated.
- PodDisruptionBudget with maxUnavailable 1 (not 0, not a fixed minAvailable): node drains evict
  at most one pod at a time and wait for its replacement to be Ready. maxUnavailable 0 would block
  every drain forever (cluster upgrades and autoscaler scale-downs hang until someone deletes the
  budget); a fixed minAvailable = replicas-1 silently allows many evictions at once once an HPA
  has scaled the Deployment out. Size replicas for peak load + 1.
- Under Flagger (`managed_by_flagger`) Flagger generates the Services and renames the selector
  label of the pods it serves to `<name>-primary`, so the budget guards those pods instead, and
  the topology spread selects the `app.kubernetes.io/instance` label, which the primary and the
  canary pods both keep (Flagger only renames `app.kubernetes.io/name`).

`resolve_rolling_deployment` is the one pure step: defaults filled in, every field checked, a frozen
`DeploymentSettings` back. The constructor then builds each object from that record.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from ..contract.types import K8S_MANAGED_BY_LABEL, MANAGED_BY
from .defaults import DEFAULT_CONTAINER_PORT, DEFAULT_HEALTH_CHECK_PATH
from .validation import ArgError, check_choice, check_image, check_int, check_string_map, int_setting, is_known

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
# Flagger appends this to the selector label value of the pods it promotes.
FLAGGER_PRIMARY_SUFFIX = "-primary"
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
PRE_STOP_ACTIONS = ("sleep", "exec")

DEFAULT_NAMESPACE = "default"
DEFAULT_REPLICAS = 2
MIN_REPLICAS = 2
DEFAULT_SERVICE_PORT = 80
DEFAULT_SERVICE_TYPE = "ClusterIP"
DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = 0
DEFAULT_MIN_READY_SECONDS = 5
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_PRE_STOP_SECONDS = 10
DEFAULT_PRE_STOP_ACTION = "sleep"
DEFAULT_DRAIN_SECONDS = 15
GRACE_SLACK_SECONDS = 5
DEFAULT_TARGET_CPU_UTILIZATION = 70
DEFAULT_BUDGET_MAX_UNAVAILABLE = 1

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_PERCENT = re.compile(r"^([0-9]{1,3})%$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class ProbeArgs(TypedDict):
    """An HTTP GET probe. Unset fields take the probe's defaults."""

    path: NotRequired[str]
    """Request path (default /health)."""
    port: NotRequired[int]
    """Container port probed (default: the container port, 8080)."""
    initial_delay_seconds: NotRequired[int]
    """Seconds after start before the first probe."""
    period_seconds: NotRequired[int]
    """Seconds between probes."""
    timeout_seconds: NotRequired[int]
    """Seconds before one probe times out (default 1)."""
    failure_threshold: NotRequired[int]
    """Consecutive failures before the probe fails (default 3; startup probe 30)."""
    success_threshold: NotRequired[int]
    """Consecutive successes before a failed readiness probe passes again (default 1)."""


class ComputeResourcesArgs(TypedDict):
    """CPU and memory as Kubernetes quantities ("250m", "512Mi")."""

    cpu: NotRequired[str]
    """CPU quantity."""
    memory: NotRequired[str]
    """Memory quantity."""


class ResourcesArgs(TypedDict):
    """Container requests (scheduling, HPA utilization) and limits."""

    requests: NotRequired[ComputeResourcesArgs]
    """Requests (default cpu 100m, memory 128Mi)."""
    limits: NotRequired[ComputeResourcesArgs]
    """Limits (default cpu 500m, memory 256Mi)."""


class DisruptionBudgetArgs(TypedDict):
    """Exactly one of the two; default maxUnavailable 1 (see the module docstring)."""

    max_unavailable: NotRequired[Any]  # int or percentage string: Pulumi's schema has no unions
    """Pods voluntary disruptions may take down at once: an int >= 1 or a percentage."""
    min_available: NotRequired[Any]  # int or percentage string: Pulumi's schema has no unions
    """Pods that must stay up: an int below replicas, or a percentage below 100%."""


class AutoscalerArgs(TypedDict):
    """A HorizontalPodAutoscaler on CPU utilization."""

    min_replicas: NotRequired[int]
    """Lower bound, at least 2 (default: replicas)."""
    max_replicas: int
    """Upper bound, >= min_replicas."""
    target_cpu_utilization: NotRequired[int]
    """Average CPU utilization target, % of the CPU request (default 70)."""


class RollingDeploymentArgs(TypedDict):
    """A service on Kubernetes: image, size, probes, shutdown timing and disruption budget."""

    image: pulumi.Input[str]
    """Container image, ideally pinned by tag or digest."""
    app_name: NotRequired[str]
    """Name of the Deployment, Service and PDB and the app.kubernetes.io/name label (default: the component name)."""
    namespace: NotRequired[pulumi.Input[str]]
    """Namespace of every object (default "default")."""
    version: NotRequired[str]
    """app.kubernetes.io/version label (default: the image tag)."""
    part_of: NotRequired[str]
    """app.kubernetes.io/part-of label (default: the Pulumi project)."""
    replicas: NotRequired[int]
    """Pods, at least 2 so one can always be replaced while another serves (default 2)."""
    container_port: NotRequired[int]
    """Port the app listens on, named "http" (default 8080)."""
    service_port: NotRequired[int]
    """Port the Service exposes (default 80)."""
    service_type: NotRequired[str]  # checked at runtime; the schema has no Literal
    """Service type (default ClusterIP)."""
    max_surge: NotRequired[Any]  # int or percentage string: Pulumi's schema has no unions
    """Extra pods a rollout may add: an int or a percentage (default "25%")."""
    max_unavailable: NotRequired[Any]  # int or percentage string: Pulumi's schema has no unions
    """Pods a rollout may take down before replacements are Ready (default 0)."""
    min_ready_seconds: NotRequired[int]
    """Seconds a new pod must stay Ready before it counts as available (default 5)."""
    progress_deadline_seconds: NotRequired[int]
    """Seconds without progress before the rollout is reported failed (default 600)."""
    readiness_probe: NotRequired[ProbeArgs]
    """Overrides of the readiness probe (default /health on 8080, initial delay 10 s, period 5 s)."""
    liveness_probe: NotRequired[ProbeArgs]
    """Overrides of the liveness probe (default /health on 8080, initial delay 30 s, period 10 s)."""
    startup_probe: NotRequired[ProbeArgs]
    """Optional startup probe for slow boots (defaults: /health, period 5 s, 30 failures allowed)."""
    pre_stop_seconds: NotRequired[int]
    """Seconds the preStop hook sleeps so endpoint removal propagates before SIGTERM (default 10)."""
    pre_stop_action: NotRequired[str]  # checked at runtime; the schema has no Literal
    """"sleep" (native, Kubernetes >= 1.30, no shell needed) or "exec" (runs `sleep`) (default "sleep")."""
    drain_seconds: NotRequired[int]
    """Seconds the app needs after SIGTERM to finish in-flight requests (default 15)."""
    termination_grace_period_seconds: NotRequired[int]
    """Must be >= pre_stop_seconds + drain_seconds (default: that sum + 5 s of slack)."""
    resources: NotRequired[ResourcesArgs]
    """Requests and limits, merged over the defaults."""
    env: NotRequired[Mapping[str, str]]
    """Plain environment variables (never secrets: use a Secret reference outside this component)."""
    labels: NotRequired[Mapping[str, str]]
    """Extra labels on every object; the app.kubernetes.io/* labels win."""
    disruption_budget: NotRequired[DisruptionBudgetArgs]
    """PodDisruptionBudget override (default maxUnavailable 1)."""
    autoscaler: NotRequired[AutoscalerArgs]
    """Adds a HorizontalPodAutoscaler; replicas are then left to it after creation."""
    managed_by_flagger: NotRequired[bool]
    """Flagger drives this Deployment: it generates the Services and owns replicas; the PDB guards and the
    topology spread counts the primary pods."""


PROBE_DEFAULTS: dict[str, ProbeArgs] = {
    "readiness_probe": {
        "path": DEFAULT_HEALTH_CHECK_PATH,
        "initial_delay_seconds": 10,
        "period_seconds": 5,
        "timeout_seconds": 1,
        "failure_threshold": 3,
        "success_threshold": 1,
    },
    "liveness_probe": {
        "path": DEFAULT_HEALTH_CHECK_PATH,
        "initial_delay_seconds": 30,
        "period_seconds": 10,
        "timeout_seconds": 1,
        "failure_threshold": 3,
        "success_threshold": 1,
    },
    "startup_probe": {
        "path": DEFAULT_HEALTH_CHECK_PATH,
        "initial_delay_seconds": 0,
        "period_seconds": 5,
        "timeout_seconds": 1,
        "failure_threshold": 30,
        "success_threshold": 1,
    },
}
"""Per probe, every field but the port (which defaults to the container port)."""
DEFAULT_RESOURCES: ResourcesArgs = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}


@dataclass(frozen=True)
class ProbeSettings:
    """An HTTP GET probe with every field filled in."""

    path: str
    port: int
    initial_delay_seconds: int
    period_seconds: int
    timeout_seconds: int
    failure_threshold: int
    success_threshold: int


@dataclass(frozen=True)
class ResourceSettings:
    """Container requests and limits, merged over DEFAULT_RESOURCES."""

    requests: dict[str, str]
    limits: dict[str, str]


@dataclass(frozen=True)
class DisruptionBudgetSettings:
    """Exactly one of the two is set."""

    max_unavailable: Any = None
    min_available: Any = None


@dataclass(frozen=True)
class AutoscalerSettings:
    min_replicas: int
    max_replicas: int
    target_cpu_utilization: int = DEFAULT_TARGET_CPU_UTILIZATION


@dataclass(frozen=True)
class DeploymentSettings:
    """Everything a RollingDeployment is configured with, defaults filled in."""

    image: Any
    app_name: str
    namespace: Any
    version: str | None
    part_of: str
    replicas: int
    container_port: int
    service_port: int
    service_type: str
    max_surge: Any
    max_unavailable: Any
    min_ready_seconds: int
    progress_deadline_seconds: int
    readiness_probe: ProbeSettings
    liveness_probe: ProbeSettings
    startup_probe: ProbeSettings | None
    pre_stop_seconds: int
    pre_stop_action: str
    drain_seconds: int
    termination_grace_period_seconds: int
    resources: ResourceSettings
    disruption_budget: DisruptionBudgetSettings
    autoscaler: AutoscalerSettings | None
    managed_by_flagger: bool
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def replicas_owned_elsewhere(self) -> bool:
        """Flagger (scales the target to 0) and an HPA both own spec.replicas after creation."""
        return self.managed_by_flagger or self.autoscaler is not None

    @property
    def initial_replicas(self) -> int:
        return self.autoscaler.min_replicas if self.autoscaler is not None else self.replicas


def check_dns_label(value: Any, key: str, *, max_length: int = 63) -> None:
    """A Kubernetes object name usable as a DNS label (Services require it)."""
    if not is_known(value):
        return
    if not isinstance(value, str) or not _DNS_LABEL.match(value) or len(value) > max_length:
        raise ArgError(
            key,
            f"must be a DNS label: lowercase letters, digits and '-', starting with a letter, "
            f"at most {max_length} characters, got {value!r}",
        )


def check_label_value(value: Any, key: str) -> None:
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
        raise ArgError(key, f"must be a label value (<= 63 of A-Z a-z 0-9 - _ .), got {value!r}")


def check_label_key(key: Any, where: str) -> None:
    """A label key: `name` or `prefix/name`, name <= 63 characters, prefix a DNS subdomain."""
    prefix, _, name = key.rpartition("/") if isinstance(key, str) else ("", "", "")
    if not (
        isinstance(key, str)
        and _LABEL_NAME.match(name)
        and (not prefix or (len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix)))
    ):
        raise ArgError(where, f"is not a label key (name or prefix/name, name <= 63 of A-Z a-z 0-9 - _ .), got {key!r}")


def check_int_or_percent(value: Any, key: str, *, minimum: int = 0) -> None:
    """Kubernetes IntOrString counts: an int >= minimum, or "N%" with N in minimum..100."""
    if not is_known(value):
        return
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if not match or not minimum <= int(match.group(1)) <= 100:
            raise ArgError(key, f"must be an integer or a percentage like '25%', got {value!r}")
        return
    check_int(value, key, minimum=minimum)


def _is_zero(value: int | str) -> bool:
    return value in (0, "0%")


def image_tag(image: Any) -> str | None:
    """The tag of `repo/name:tag` as a label value; None for digests, Outputs or no tag."""
    if not isinstance(image, str) or "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    tag = last.rsplit(":", 1)[-1]
    return tag if len(tag) <= 63 and _LABEL_VALUE.match(tag) else None


def _resolve_probe(name: str, override: ProbeArgs | None, port: int) -> ProbeSettings:
    unknown = set(override or {}) - set(ProbeArgs.__annotations__)
    if unknown:
        raise ArgError(f"{name}.{sorted(unknown)[0]}", "is not a probe setting")
    probe = ProbeSettings(**{**PROBE_DEFAULTS[name], "port": port, **(override or {})})  # type: ignore[arg-type]
    if not isinstance(probe.path, str) or not probe.path.startswith("/"):
        raise ArgError(f"{name}.path", f"must be an absolute path starting with '/', got {probe.path!r}")
    check_int(probe.port, f"{name}.port", minimum=1, maximum=65535)
    check_int(probe.initial_delay_seconds, f"{name}.initial_delay_seconds", minimum=0)
    check_int(probe.period_seconds, f"{name}.period_seconds", minimum=1)
    check_int(probe.timeout_seconds, f"{name}.timeout_seconds", minimum=1)
    check_int(probe.failure_threshold, f"{name}.failure_threshold", minimum=1)
    check_int(probe.success_threshold, f"{name}.success_threshold", minimum=1)
    # The API server rejects any other value for liveness and startup probes.
    if name != "readiness_probe" and probe.success_threshold != 1:
        raise ArgError(f"{name}.success_threshold", f"must be 1, got {probe.success_threshold}")
    return probe


def _resolve_resources(override: ResourcesArgs | None) -> ResourceSettings:
    unknown = set(override or {}) - {"requests", "limits"}
    if unknown:
        raise ArgError(f"resources.{sorted(unknown)[0]}", "must be requests or limits")
    resolved: dict[str, dict[str, str]] = {}
    for part in ("requests", "limits"):
        given = dict((override or {}).get(part) or {})
        bad = set(given) - {"cpu", "memory"}
        if bad:
            raise ArgError(f"resources.{part}.{sorted(bad)[0]}", "must be cpu or memory")
        merged = {**DEFAULT_RESOURCES[part], **given}  # type: ignore[literal-required]
        for kind, quantity in merged.items():
            if not isinstance(quantity, str) or not _QUANTITY.match(quantity):
                raise ArgError(
                    f"resources.{part}.{kind}",
                    f"must be a Kubernetes quantity like '250m' or '512Mi', got {quantity!r}",
                )
        resolved[part] = merged
    return ResourceSettings(requests=resolved["requests"], limits=resolved["limits"])


def _resolve_budget(override: DisruptionBudgetArgs | None, replicas: int) -> DisruptionBudgetSettings:
    given = dict(override or {})
    unknown = set(given) - {"max_unavailable", "min_available"}
    if unknown:
        raise ArgError(f"disruption_budget.{sorted(unknown)[0]}", "must be max_unavailable or min_available")
    if len(given) > 1:
        raise ArgError("disruption_budget", "set max_unavailable or min_available, not both")
    if not given:
        return DisruptionBudgetSettings(max_unavailable=DEFAULT_BUDGET_MAX_UNAVAILABLE)
    if "max_unavailable" in given:
        value = given["max_unavailable"]
        check_int_or_percent(value, "disruption_budget.max_unavailable", minimum=1)
        return DisruptionBudgetSettings(max_unavailable=value)
    value = given["min_available"]
    key = "disruption_budget.min_available"
    check_int_or_percent(value, key)
    if isinstance(value, int):
        if value >= replicas:
            raise ArgError(
                key,
                f"{value} leaves no pod evictable with {replicas} replicas, so node drains would hang; "
                f"use at most {replicas - 1}",
            )
    elif isinstance(value, str):
        # Kubernetes rounds a percentage of minAvailable up (the disruption controller's
        # GetScaledValueFromIntOrPercent with roundUp), so 51% of 2 pods keeps both.
        kept = math.ceil(int(value[:-1]) * replicas / 100)
        if kept >= replicas:
            most = 100 * (replicas - 1) // replicas
            raise ArgError(
                key,
                f"{value} of {replicas} replicas keeps {kept} (Kubernetes rounds up), which leaves no pod "
                f"evictable, so node drains would hang; use at most {replicas - 1} or {most}%",
            )
    return DisruptionBudgetSettings(min_available=value)


def _resolve_autoscaler(override: AutoscalerArgs | None, replicas: int) -> AutoscalerSettings | None:
    if override is None:
        return None
    unknown = set(override) - set(AutoscalerArgs.__annotations__)
    if unknown:
        raise ArgError(f"autoscaler.{sorted(unknown)[0]}", "is not an autoscaler setting")
    if "max_replicas" not in override:
        raise ArgError("autoscaler.max_replicas", "is required")
    hpa = AutoscalerSettings(**{"min_replicas": replicas, **override})  # type: ignore[arg-type]
    check_int(hpa.min_replicas, "autoscaler.min_replicas", minimum=MIN_REPLICAS)
    # With an Output min_replicas, only its floor is known here; the Kubernetes API refuses an HPA
    # whose maxReplicas is below its minReplicas at deployment.
    lowest = hpa.min_replicas if is_known(hpa.min_replicas) else MIN_REPLICAS
    check_int(hpa.max_replicas, "autoscaler.max_replicas", minimum=lowest)
    check_int(hpa.target_cpu_utilization, "autoscaler.target_cpu_utilization", minimum=1, maximum=1000)
    return hpa


def resolve_rolling_deployment(name: str, args: RollingDeploymentArgs) -> DeploymentSettings:
    """Defaults applied and every field checked. Raises ArgError naming the key."""
    unknown = set(args) - set(RollingDeploymentArgs.__annotations__)
    if unknown:
        raise ArgError(sorted(unknown)[0], "is not a RollingDeployment argument")
    image = args.get("image")
    if image is None:
        raise ArgError("image", "is required")
    check_image(image, "image")
    app_name = args.get("app_name", name)
    flagger = bool(args.get("managed_by_flagger", False))
    # Flagger derives `<name>-primary` and `<name>-canary`; both must stay valid names.
    check_dns_label(app_name, "app_name", max_length=63 - len(FLAGGER_PRIMARY_SUFFIX) if flagger else 63)
    namespace = args.get("namespace", DEFAULT_NAMESPACE)
    check_dns_label(namespace, "namespace")
    version = args.get("version", image_tag(image))
    if version is not None:
        check_label_value(version, "version")
    part_of = args.get("part_of", pulumi.get_project())
    check_label_value(part_of, "part_of")

    replicas = int_setting(args, "replicas", DEFAULT_REPLICAS, minimum=MIN_REPLICAS)
    container_port = int_setting(args, "container_port", DEFAULT_CONTAINER_PORT, minimum=1, maximum=65535)
    service_port = int_setting(args, "service_port", DEFAULT_SERVICE_PORT, minimum=1, maximum=65535)
    service_type = args.get("service_type", DEFAULT_SERVICE_TYPE)
    check_choice(service_type, "service_type", SERVICE_TYPES)

    max_surge = args.get("max_surge", DEFAULT_MAX_SURGE)
    max_unavailable = args.get("max_unavailable", DEFAULT_MAX_UNAVAILABLE)
    check_int_or_percent(max_surge, "max_surge")
    check_int_or_percent(max_unavailable, "max_unavailable")
    if _is_zero(max_surge) and _is_zero(max_unavailable):
        raise ArgError(
            "max_surge",
            "max_surge and max_unavailable cannot both be 0: the rollout could not progress",
        )
    min_ready = int_setting(args, "min_ready_seconds", DEFAULT_MIN_READY_SECONDS, minimum=0)
    deadline = int_setting(args, "progress_deadline_seconds", DEFAULT_PROGRESS_DEADLINE_SECONDS, minimum=1)
    if is_known(deadline) and is_known(min_ready) and deadline <= min_ready:  # Outputs: not comparable here
        raise ArgError(
            "progress_deadline_seconds",
            f"must be > min_ready_seconds ({min_ready}), got {deadline}",
        )

    readiness = _resolve_probe("readiness_probe", args.get("readiness_probe"), container_port)
    liveness = _resolve_probe("liveness_probe", args.get("liveness_probe"), container_port)
    startup = args.get("startup_probe")
    startup_probe = _resolve_probe("startup_probe", startup, container_port) if startup is not None else None

    pre_stop = int_setting(args, "pre_stop_seconds", DEFAULT_PRE_STOP_SECONDS, minimum=1)
    pre_stop_action = args.get("pre_stop_action", DEFAULT_PRE_STOP_ACTION)
    check_choice(pre_stop_action, "pre_stop_action", PRE_STOP_ACTIONS)
    drain = int_setting(args, "drain_seconds", DEFAULT_DRAIN_SECONDS, minimum=0)
    grace = int_setting(args, "termination_grace_period_seconds", pre_stop + drain + GRACE_SLACK_SECONDS, minimum=1)
    if grace < pre_stop + drain:
        raise ArgError(
            "termination_grace_period_seconds",
            f"must be >= pre_stop_seconds + drain_seconds ({pre_stop} + {drain} = {pre_stop + drain}), "
            f"got {grace}: the kubelet would SIGKILL requests still in flight",
        )

    env = check_string_map(args.get("env") or {}, "env")
    labels = check_string_map(args.get("labels") or {}, "labels")
    for label_name, label_value in labels.items():
        check_label_key(label_name, f"labels.{label_name}")
        check_label_value(label_value, f"labels.{label_name}")

    return DeploymentSettings(
        image=image,
        app_name=app_name,
        namespace=namespace,
        version=version,
        part_of=part_of,
        replicas=replicas,
        container_port=container_port,
        service_port=service_port,
        service_type=service_type,
        max_surge=max_surge,
        max_unavailable=max_unavailable,
        min_ready_seconds=min_ready,
        progress_deadline_seconds=deadline,
        readiness_probe=readiness,
        liveness_probe=liveness,
        startup_probe=startup_probe,
        pre_stop_seconds=pre_stop,
        pre_stop_action=pre_stop_action,
        drain_seconds=drain,
        termination_grace_period_seconds=grace,
        resources=_resolve_resources(args.get("resources")),
        disruption_budget=_resolve_budget(args.get("disruption_budget"), replicas),
        autoscaler=_resolve_autoscaler(args.get("autoscaler"), replicas),
        managed_by_flagger=flagger,
        env=env,
        labels=labels,
    )


def selector_labels(app_name: str) -> dict[str, str]:
    """The Deployment selector: immutable, so it holds only labels that never change."""
    instance = f"{app_name}-{pulumi.get_stack()}"
    # Stack names may be longer or use characters a label value cannot hold.
    if len(instance) > 63 or not _LABEL_VALUE.match(instance):
        instance = app_name
    return {NAME_LABEL: app_name, INSTANCE_LABEL: instance}


def spread_selector(settings: DeploymentSettings, selector: dict[str, str]) -> dict[str, str]:
    """The pods the topology spread counts: the serving ones.

    Flagger serves from a `<name>-primary` copy whose pods carry `app.kubernetes.io/name:
    <name>-primary`, so selecting `<name>` would count none of them (Flagger only rewrites a spread
    selector equal to the Deployment's name in recent versions). The instance label is carried
    unchanged by the primary and the canary pods, so selecting it spreads every serving pod.
    """
    if settings.managed_by_flagger:
        return {INSTANCE_LABEL: selector[INSTANCE_LABEL]}
    return dict(selector)


def object_labels(settings: DeploymentSettings) -> dict[str, str]:
    """Labels on every object: the user's, then the app.kubernetes.io/* ones, which win."""
    standard = {
        **selector_labels(settings.app_name),
        "app.kubernetes.io/part-of": settings.part_of,
        K8S_MANAGED_BY_LABEL: MANAGED_BY,
    }
    if settings.version:
        standard["app.kubernetes.io/version"] = settings.version
    return {**settings.labels, **standard}


def _probe(probe: ProbeSettings) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=probe.path, port=probe.port),
        initial_delay_seconds=probe.initial_delay_seconds,
        period_seconds=probe.period_seconds,
        timeout_seconds=probe.timeout_seconds,
        failure_threshold=probe.failure_threshold,
        success_threshold=probe.success_threshold,
    )


def _pre_stop(action: str, seconds: int) -> k8s.core.v1.LifecycleHandlerArgs:
    if action == "sleep":
        return k8s.core.v1.LifecycleHandlerArgs(sleep=k8s.core.v1.SleepActionArgs(seconds=seconds))
    return k8s.core.v1.LifecycleHandlerArgs(exec_=k8s.core.v1.ExecActionArgs(command=["sleep", str(seconds)]))


def container(settings: DeploymentSettings) -> k8s.core.v1.ContainerArgs:
    """The one application container: image, port, probes, resources and the preStop hook."""
    return k8s.core.v1.ContainerArgs(
        name=settings.app_name,
        image=settings.image,
        ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=settings.container_port)],
        env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(settings.env.items())] or None,
        resources=k8s.core.v1.ResourceRequirementsArgs(
            requests=settings.resources.requests, limits=settings.resources.limits
        ),
        readiness_probe=_probe(settings.readiness_probe),
        liveness_probe=_probe(settings.liveness_probe),
        startup_probe=_probe(settings.startup_probe) if settings.startup_probe is not None else None,
        lifecycle=k8s.core.v1.LifecycleArgs(pre_stop=_pre_stop(settings.pre_stop_action, settings.pre_stop_seconds)),
    )


class RollingDeployment(pulumi.ComponentResource):
    """Deployment + Service + PodDisruptionBudget (+ HorizontalPodAutoscaler) that keep capacity.

    Children, for callers who need them: `deployment` (k8s Deployment), `service` (k8s Service; None
    when Flagger generates the Services), `disruption_budget` (PodDisruptionBudget) and `autoscaler`
    (HorizontalPodAutoscaler, None without one).
    """

    deployment_name: pulumi.Output[str]
    """Name of the Deployment."""
    service_name: pulumi.Output[str | None]
    """Name of the Service; None when Flagger generates the Services."""
    disruption_budget_name: pulumi.Output[str]
    """Name of the PodDisruptionBudget."""
    autoscaler_name: pulumi.Output[str | None]
    """Name of the HorizontalPodAutoscaler, None without one."""
    namespace: pulumi.Output[str]
    """Namespace of every object."""
    selector: pulumi.Output[dict[str, str]]
    """Labels the Deployment (and the Service) select pods by."""

    def __init__(self, name: str, args: RollingDeploymentArgs, opts: pulumi.ResourceOptions | None = None):
        settings = resolve_rolling_deployment(name, args)
        super().__init__("zero-downtime:index:RollingDeployment", name, None, opts)
        selector = selector_labels(settings.app_name)
        labels = object_labels(settings)

        self.deployment = self._deployment(name, settings, selector, labels)
        self.service = None if settings.managed_by_flagger else self._service(name, settings, selector, labels)
        self.disruption_budget = self._disruption_budget(name, settings, selector, labels)
        self.autoscaler = self._autoscaler(name, settings, labels) if settings.autoscaler is not None else None

        self.deployment_name = self.deployment.metadata.name
        self.service_name = pulumi.Output.from_input(self.service.metadata.name if self.service else None)
        self.disruption_budget_name = self.disruption_budget.metadata.name
        self.autoscaler_name = pulumi.Output.from_input(self.autoscaler.metadata.name if self.autoscaler else None)
        self.namespace = self.deployment.metadata.namespace
        self.selector = pulumi.Output.from_input(selector)
        self.register_outputs(
            {
                "deployment_name": self.deployment_name,
                "service_name": self.service_name,
                "disruption_budget_name": self.disruption_budget_name,
                "autoscaler_name": self.autoscaler_name,
                "namespace": self.namespace,
                "selector": self.selector,
            }
        )

    @staticmethod
    def _metadata(settings: DeploymentSettings, labels: dict[str, str]) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=settings.app_name, namespace=settings.namespace, labels=labels)

    def _deployment(
        self, name: str, settings: DeploymentSettings, selector: dict[str, str], labels: dict[str, str]
    ) -> k8s.apps.v1.Deployment:
        return k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=self._metadata(settings, labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=settings.initial_replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                min_ready_seconds=settings.min_ready_seconds,
                progress_deadline_seconds=settings.progress_deadline_seconds,
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                        max_surge=settings.max_surge, max_unavailable=settings.max_unavailable
                    ),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        containers=[container(settings)],
                        termination_grace_period_seconds=settings.termination_grace_period_seconds,
                        # Spread replicas over nodes so one node drain takes at most one of them.
                        topology_spread_constraints=[
                            k8s.core.v1.TopologySpreadConstraintArgs(
                                max_skew=1,
                                topology_key="kubernetes.io/hostname",
                                when_unsatisfiable="ScheduleAnyway",
                                label_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels=spread_selector(settings, selector)
                                ),
                            )
                        ],
                    ),
                ),
            ),
            # Re-applying our replicas on every `up` would fight Flagger or the HPA.
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=["spec.replicas"] if settings.replicas_owned_elsewhere else None
            ),
        )

    def _service(
        self, name: str, settings: DeploymentSettings, selector: dict[str, str], labels: dict[str, str]
    ) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            f"{name}-service",
            metadata=self._metadata(settings, labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                type=settings.service_type,
                selector=selector,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="http", port=settings.service_port, target_port="http", protocol="TCP"
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _disruption_budget(
        self, name: str, settings: DeploymentSettings, selector: dict[str, str], labels: dict[str, str]
    ) -> k8s.policy.v1.PodDisruptionBudget:
        budget = settings.disruption_budget
        guarded = (
            {NAME_LABEL: f"{settings.app_name}{FLAGGER_PRIMARY_SUFFIX}"}
            if settings.managed_by_flagger
            else dict(selector)
        )
        return k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=self._metadata(settings, labels),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=guarded),
                max_unavailable=budget.max_unavailable,
                min_available=budget.min_available,
                # A crash-looping pod must not block a drain: evicting it costs no capacity.
                unhealthy_pod_eviction_policy="AlwaysAllow",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _autoscaler(
        self, name: str, settings: DeploymentSettings, labels: dict[str, str]
    ) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
        hpa = settings.autoscaler
        assert hpa is not None
        return k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=self._metadata(settings, labels),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=self.deployment.metadata.name
                ),
                min_replicas=hpa.min_replicas,
                max_replicas=hpa.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=hpa.target_cpu_utilization
                            ),
                        ),
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
