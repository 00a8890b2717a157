"""The project's config namespace as a whole, checked before any section is read.

- Every key is known: the scalar keys declared in Pulumi.yaml and the object keys it documents. A
  typo (`servics:`) would otherwise leave an empty stack that passes every policy, and a real `up`
  would plan to delete everything.
- Every declared key has its declared type, as the Pulumi CLI checks it (an offline run has no CLI).
- No value is a secret except the kubeconfig: anything else lands in plain text where it is used.
- The stack deploys something, unless it says `allowEmpty: true` on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

from ..components.validation import is_secret_reference
from .convert import ConfigError

DECLARED: dict[str, str] = {
    "releaseStore": "string",
    "vpcId": "string",
    "publicSubnetIds": "array",
    "privateSubnetIds": "array",
    "networkCidr": "string",
    "availabilityZoneCount": "integer",
    "natGatewayCount": "integer",
    "certificateArn": "string",
    "hostName": "string",
    "sslPolicy": "string",
    "productionCidrs": "array",
    "testListenerPort": "integer",
    "testListenerCidrs": "array",
    "accessLogsBucket": "string",
    "idleTimeoutSeconds": "integer",
    "containerInsights": "boolean",
    "preTrafficProbe": "boolean",
    "allowEmpty": "boolean",
}
"""The scalar keys Pulumi.yaml declares, with their declared types (tests keep both equal)."""
OBJECTS = ("services", "fleets", "alarms", "tags", "kubernetes", "featureFlags")
"""The object-valued keys Pulumi.yaml documents (its schema cannot type objects)."""
ALLOW_EMPTY = "allowEmpty"
SECRET_KEYS = frozenset({"kubernetes"})
"""Keys that may hold a secret: only the kubeconfig inside `kubernetes`."""
SECRET_PATHS = frozenset({"kubernetes.kubeconfig"})
_TRUE, _FALSE = ("true", "True"), ("false", "False")
NOT_A_SECRET = (
    "must not be a secret: this value is stored in plain text where it is used; keep secrets in Secrets "
    "Manager or SSM Parameter Store and reference them by ARN under services.<name>.secrets"
)


def project_values(project: str) -> dict[str, str]:
    """Every `<project>:<key>` the program was given (as the CLI passes them: strings), by key."""
    given = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{project}:"
    return {k[len(prefix) :]: v for k, v in given.items() if k.startswith(prefix)}


def _check_declared(key: str, kind: str, text: Any) -> None:
    if not isinstance(text, str):
        text = json.dumps(text)
    if kind == "integer":
        try:
            int(text)
        except ValueError:
            raise ConfigError(f"{key}: must be an integer, got {text[:60]!r}") from None
    elif kind == "boolean" and text not in _TRUE + _FALSE:
        raise ConfigError(f"{key}: must be true or false, got {text[:60]!r}")
    elif kind == "array":
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{key}: must be a list of strings, got {text[:60]!r}")


def _object(key: str, text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        raise ConfigError(f"{key}: must be a mapping, got {text[:60]!r}") from None


def find_secret(value: Any, path: str) -> str | None:
    """The config path of the first `{secure: ...}` value inside `value` outside SECRET_PATHS."""
    if path in SECRET_PATHS:
        return None
    if is_secret_reference(value):
        return path
    if isinstance(value, Mapping):
        children = ((f"{path}.{k}", v) for k, v in value.items())
    elif isinstance(value, list):
        children = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    return next((found for child, v in children if (found := find_secret(v, child))), None)


def _deploys_something(objects: Mapping[str, Any]) -> bool | None:
    """True when a section declares something to deploy; None when a section is malformed (its
    own parser names the key then)."""
    services, fleets, kubernetes, flags = (objects.get(k) for k in ("services", "fleets", "kubernetes", "featureFlags"))
    if any(v is not None and not isinstance(v, Mapping) for v in (services, fleets, kubernetes, flags)):
        return None
    kubernetes_on = kubernetes is not None and kubernetes.get("enabled", True) is not False
    return bool(services) or bool(fleets) or kubernetes_on or bool(flags)


def check_project_config(config: pulumi.Config) -> None:
    """Refuse, naming the key, an unknown or ill-typed project key, a secret where a plain value is
    expected, and a stack that would deploy nothing (unless `allowEmpty: true`)."""
    values = project_values(config.name)
    known = set(DECLARED) | set(OBJECTS)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"{unknown[0]}: unknown key in the {config.name} namespace (known: {', '.join(sorted(known))}); a "
            "misspelt section would leave the stack empty and `up` would delete what it deployed"
        )
    for key in sorted(values):
        if key not in SECRET_KEYS and pulumi.runtime.is_config_secret(config.full_key(key)):
            raise ConfigError(f"{key}: {NOT_A_SECRET}")
    for key, kind in DECLARED.items():
        if key in values:
            _check_declared(key, kind, values[key])
    objects = {key: _object(key, values[key]) for key in OBJECTS if key in values}
    for key, value in objects.items():
        found = find_secret(value, key)
        if found:
            raise ConfigError(f"{found}: {NOT_A_SECRET}")
    allow_empty = values.get(ALLOW_EMPTY, "false") in _TRUE
    if _deploys_something(objects) is False and not allow_empty:
        raise ConfigError(
            "services: the stack declares no service, fleet or Kubernetes service, so `up` would delete "
            f"everything it deployed; declare one, or set {config.name}:{ALLOW_EMPTY}: true to empty it on purpose"
        )
