"""The `kubernetes` config section: an explicit provider and, per service, a RollingDeployment
and an optional FlaggerCanary.

`load_kubernetes` reads and validates the whole section (every service, every canary) before
anything is created; `create_kubernetes` then registers the provider and components and returns
the `kubernetes` stack output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from ..components.flagger_canary import (
    ExtraWebhookArgs,
    FlaggerCanary,
    FlaggerCanaryArgs,
    MetricArgs,
    resolve_flagger_canary,
)
from ..components.rolling_deployment import (
    RollingDeployment,
    RollingDeploymentArgs,
    check_dns_label,
    resolve_rolling_deployment,
)
from ..components.validation import ArgError
from .convert import ConfigError, from_config, reraise_as_config_error

SECTION = "kubernetes"
SECTION_KEYS = ("enabled", "kubeconfig", "context", "namespace", "services")
# Set by the wiring below, never from config.
DEPLOYMENT_WIRED = frozenset({"app_name", "managed_by_flagger"})
CANARY_WIRED = frozenset({"target_name", "service_port", "target_port", "namespace", "autoscaler_name"})
# Config-only key of `services.<name>.canary`: `enabled: false` keeps the settings but no canary.
CANARY_ENABLED = "enabled"
# Placeholder offline evaluation gives a secret it cannot decrypt.
UNDECRYPTED_SECRET = "[secret]"


@dataclass(frozen=True)
class KubernetesService:
    """One service: its Deployment args and, when enabled, its canary args."""

    name: str
    deployment: RollingDeploymentArgs
    canary: FlaggerCanaryArgs | None


@dataclass(frozen=True)
class KubernetesSettings:
    """The validated `kubernetes` section."""

    kubeconfig: str | None
    """Inline kubeconfig or a path; None reads $KUBECONFIG (or ~/.kube/config) at deploy time."""
    kubeconfig_source: Literal["config", "environment"]
    context: str | None
    namespace: str
    services: tuple[KubernetesService, ...]


def _looks_inline(kubeconfig: str) -> bool:
    """A kubeconfig's contents (YAML or JSON) rather than a path to one."""
    text = kubeconfig.lstrip()
    return "\n" in kubeconfig or text.startswith(("{", "apiVersion", "clusters", "kind"))


def _parse_kubeconfig(value: Any, is_secret: bool) -> str | None:
    key = f"{SECTION}.kubeconfig"
    if value is None or value == "":
        return None
    if isinstance(value, Mapping) and set(value) == {"secure"}:
        # Only offline evaluation sees this: the CLI decrypts nested secure values.
        return UNDECRYPTED_SECRET
    if not isinstance(value, str):
        raise ConfigError(f"{key}: must be a kubeconfig (a secret) or a path to one")
    if _looks_inline(value) and not is_secret:
        raise ConfigError(
            f"{key}: an inline kubeconfig holds cluster credentials and must be a secret: "
            f"pulumi config set --path --secret {key} < kubeconfig.yaml"
        )
    return value


def _canary_from_config(raw: Any, prefix: str) -> tuple[dict[str, Any], bool]:
    """Config `canary` -> (FlaggerCanaryArgs without wired keys, enabled)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix}: must be a mapping, got {type(raw).__name__}")
    raw = dict(raw)
    enabled = raw.pop(CANARY_ENABLED, True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{prefix}.{CANARY_ENABLED}: must be true or false, got {enabled!r}")
    args = from_config(raw, FlaggerCanaryArgs, prefix, exclude=CANARY_WIRED)
    # Lists of TypedDicts are converted item by item (from_config recurses into mappings only).
    for key, item_type, camel in (
        ("metrics", MetricArgs, "metrics"),
        ("extra_webhooks", ExtraWebhookArgs, "extraWebhooks"),
    ):
        if key in args:
            items = args[key]
            if not isinstance(items, list):
                raise ConfigError(f"{prefix}.{camel}: must be a list, got {type(items).__name__}")
            args[key] = [from_config(item, item_type, f"{prefix}.{camel}[{i}]") for i, item in enumerate(items)]
    return args, enabled


def _arg_error_key(err: ArgError, wired_to_service: frozenset[str]) -> ArgError:
    """Errors on args the wiring derives from the service name point at the service itself."""
    return ArgError("", err.problem) if err.key in wired_to_service else err


def _parse_service(name: Any, raw: Any, namespace: str) -> KubernetesService:
    prefix = f"{SECTION}.services.{name}"
    if not isinstance(name, str):
        raise ConfigError(f"{prefix}: service names must be strings")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix}: must be a mapping, got {type(raw).__name__}")
    raw = dict(raw)
    raw_canary = raw.pop("canary", None)
    deployment = from_config(raw, RollingDeploymentArgs, prefix, exclude=DEPLOYMENT_WIRED)
    canary: dict[str, Any] | None = None
    if raw_canary is not None:
        canary, enabled = _canary_from_config(raw_canary, f"{prefix}.canary")
        canary = canary if enabled else None

    deployment = {"namespace": namespace, **deployment, "app_name": name, "managed_by_flagger": canary is not None}
    try:
        resolved = resolve_rolling_deployment(name, deployment)  # type: ignore[arg-type]
    except ArgError as err:
        reraise_as_config_error(_arg_error_key(err, frozenset({"app_name"})), prefix)
    if canary is not None:
        canary = {
            # The acceptance test probes what readiness probes, unless told otherwise.
            "test_path": resolved.readiness_probe.path,
            **canary,
            "target_name": name,
            "namespace": resolved.namespace,
            "service_port": resolved.service_port,
            "target_port": resolved.container_port,
        }
        if resolved.autoscaler is not None:
            canary["autoscaler_name"] = name
        try:
            resolve_flagger_canary(canary)  # type: ignore[arg-type]
        except ArgError as err:
            reraise_as_config_error(_arg_error_key(err, frozenset({"target_name"})), f"{prefix}.canary")
    return KubernetesService(name, deployment, canary)  # type: ignore[arg-type]


def parse_kubernetes(raw: Any, *, is_secret: bool = False) -> KubernetesSettings | None:
    """Config `kubernetes` -> settings, or None when absent or `enabled: false`.

    `is_secret` tells whether the CLI marked the section secret (it does when any nested value,
    such as the kubeconfig, was set with --secret). Raises ConfigError naming the config key.
    """
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{SECTION}: must be a mapping with keys {', '.join(SECTION_KEYS)}")
    unknown = sorted(set(raw) - set(SECTION_KEYS))
    if unknown:
        raise ConfigError(f"{SECTION}.{unknown[0]}: unknown key (known: {', '.join(SECTION_KEYS)})")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{SECTION}.enabled: must be true or false, got {enabled!r}")
    if not enabled:
        return None
    kubeconfig = _parse_kubeconfig(raw.get("kubeconfig"), is_secret)
    context = raw.get("context")
    if context is not None and (not isinstance(context, str) or not context):
        raise ConfigError(f"{SECTION}.context: must be a kubeconfig context name, got {context!r}")
    namespace = raw.get("namespace", "default")
    try:
        check_dns_label(namespace, "namespace")
    except ArgError as err:
        raise ConfigError(f"{SECTION}.namespace: {err.problem}") from err
    services_raw = raw.get("services") or {}
    if not isinstance(services_raw, Mapping):
        raise ConfigError(f"{SECTION}.services: must be a map of service name -> settings")
    if not services_raw:
        raise ConfigError(f"{SECTION}.services: declare at least one service, or set {SECTION}.enabled to false")
    services = tuple(_parse_service(name, svc, namespace) for name, svc in services_raw.items())
    return KubernetesSettings(
        kubeconfig=kubeconfig,
        kubeconfig_source="config" if kubeconfig else "environment",
        context=context,
        namespace=namespace,
        services=services,
    )


def load_kubernetes(config: pulumi.Config) -> KubernetesSettings | None:
    """Read `<project>:kubernetes` (an object) and validate it whole."""
    text = config.get(SECTION)
    if text is None:
        return None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{SECTION}: must be an object, got {text[:40]!r}") from err
    return parse_kubernetes(raw, is_secret=pulumi.runtime.is_config_secret(config.full_key(SECTION)))


def create_provider(settings: KubernetesSettings) -> k8s.Provider:
    """The explicit provider every Kubernetes resource of this stack uses (never the ambient default)."""
    kubeconfig = pulumi.Output.secret(settings.kubeconfig) if settings.kubeconfig else None
    return k8s.Provider("kubernetes", kubeconfig=kubeconfig, context=settings.context)


def create_kubernetes(settings: KubernetesSettings) -> dict[str, Any]:
    """Provider + one RollingDeployment (+ FlaggerCanary) per service; returns the `kubernetes` output."""
    provider = create_provider(settings)
    exports: dict[str, Any] = {}
    for service in settings.services:
        opts = pulumi.ResourceOptions(providers=[provider])
        deployment = RollingDeployment(f"k8s-{service.name}", service.deployment, opts)
        entry: dict[str, Any] = {
            "namespace": deployment.namespace,
            "deploymentName": deployment.deployment_name,
            "serviceName": deployment.service_name,
            "disruptionBudgetName": deployment.disruption_budget_name,
            "autoscalerName": deployment.autoscaler_name,
            "canary": None,
        }
        if service.canary is not None:
            canary = FlaggerCanary(
                f"k8s-{service.name}",
                service.canary,
                pulumi.ResourceOptions(providers=[provider], depends_on=[deployment]),
            )
            entry["serviceName"] = canary.service_name
            entry["canary"] = {
                "name": canary.canary_name,
                "namespace": canary.namespace,
                "primaryDeploymentName": canary.primary_deployment_name,
            }
        exports[service.name] = entry
    return {"kubeconfigSource": settings.kubeconfig_source, "services": exports}
