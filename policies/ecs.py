"""ECS services (zero-downtime deployments) and task definitions (container security)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..contract.types import ResourceType
from .config import Setting
from .props import as_bool, as_int, get, is_mapping, items, mapping, tags
from .rules import ADVISORY, MANDATORY, GuardResourcePolicy

SERVICE = (ResourceType.ECS_SERVICE,)
TASK_DEFINITION = (ResourceType.ECS_TASK_DEFINITION,)
NATIVE_STRATEGIES = frozenset({"BLUE_GREEN", "CANARY", "LINEAR"})
DEFAULT_SECRET_PATTERN = r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|(^|_)(API_?|ACCESS_?)?KEY(_|$)"
SECRET_REFERENCE = re.compile(
    r"^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:\d{12}:secret:.+|ssm:[a-z0-9-]+:\d{12}:parameter/.+)$"
)
"""A container secret's valueFrom: a Secrets Manager secret or an SSM parameter, by ARN."""
SSM_PARAMETER_NAME = re.compile(r"^/[A-Za-z0-9_.\-/]+$")


def _ecs_controlled(props: Mapping[str, Any]) -> bool:
    """CODE_DEPLOY and EXTERNAL controllers ignore the rolling settings checked here."""
    return get(props, "deploymentController.type", "ECS") == "ECS"


def _desired(props: Mapping[str, Any]) -> int:
    # The provider's default desiredCount is 0: nothing runs, nothing to keep up.
    return as_int(get(props, "desiredCount")) or 0


def check_circuit_breaker(props: Mapping[str, Any], _config: Mapping[str, Any]) -> Iterator[str]:
    if not _ecs_controlled(props):
        return
    breaker = mapping(get(props, "deploymentCircuitBreaker"))
    if as_bool(breaker.get("enable")) is not True or as_bool(breaker.get("rollback")) is not True:
        yield (
            f"deploymentCircuitBreaker is {dict(breaker) or 'not set'}: a failing deployment keeps "
            "replacing tasks. Set deploymentCircuitBreaker={enable: true, rollback: true}."
        )


def check_min_healthy(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if not _ecs_controlled(props) or _desired(props) < 1:
        return
    floor = config["minHealthyPercent"]
    value = as_int(get(props, "deploymentMinimumHealthyPercent"))
    if value is None:
        yield (
            "deploymentMinimumHealthyPercent is not set (its AWS default depends on the scheduling "
            f"strategy). Set deploymentMinimumHealthyPercent to {floor} or more."
        )
    elif value < floor:
        yield (
            f"deploymentMinimumHealthyPercent is {value}: a deployment may stop running tasks before "
            f"new ones are healthy. Set it to {floor} or more."
        )


def check_max_percent(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    desired = _desired(props)
    if not _ecs_controlled(props) or desired < 1:
        return
    floor = config["minMaximumPercent"]
    value = as_int(get(props, "deploymentMaximumPercent"))
    if value is None:
        yield (
            "deploymentMaximumPercent is not set. Set it above 100 (200 is usual) so new tasks "
            "start before old ones stop."
        )
        return
    # ECS rounds the surge down: with 1 task, 150% still allows no extra task.
    surge = math.floor(desired * value / 100) - desired
    if value < floor or surge < 1:
        needed = max(floor, math.ceil((desired + 1) * 100 / desired))
        yield (
            f"deploymentMaximumPercent is {value} with desiredCount {desired}: no extra task can "
            f"start during a deployment. Set it to {needed} or more."
        )


def check_grace_period(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if not items(get(props, "loadBalancers")):
        return
    minimum = config["minSeconds"]
    value = as_int(get(props, "healthCheckGracePeriodSeconds"))
    if value is None or value < minimum:
        shown = "not set" if value is None else f"{value}s"
        yield (
            f"healthCheckGracePeriodSeconds is {shown} on a load-balanced service: tasks still "
            f"starting fail ELB checks and get killed. Set it to at least {minimum}s "
            "(longer than the app's start-up)."
        )


def check_native_strategy(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    strategy = get(props, "deploymentConfiguration.strategy")
    if strategy not in NATIVE_STRATEGIES:
        return
    alarms = mapping(get(props, "alarms"))
    names = items(alarms.get("alarmNames"))
    enabled = as_bool(alarms.get("enable")) is True and as_bool(alarms.get("rollback")) is True
    if not names or not enabled:
        yield (
            f"{strategy} deployment without alarm rollback: a bad release shifts all traffic. Set "
            "alarms={alarmNames: [...], enable: true, rollback: true}."
        )
    bake = as_int(get(props, "deploymentConfiguration.bakeTimeInMinutes"))
    minimum = config["minBakeTimeMinutes"]
    if bake is None or bake < minimum:
        shown = "not set" if bake is None else f"{bake} min"
        yield (
            f"{strategy} deployment bake time is {shown}: the old revision is dropped before "
            f"alarms can fire. Set deploymentConfiguration.bakeTimeInMinutes to {minimum} or more."
        )


# Set by BlueGreenService on the ECS services of a service that declares migrations
# (components/migrations.py); plain strings so this module imports no component.
CONTRACT_DELAY_TAG = "zero-downtime:contract-delay-seconds"
KEEP_WARM_TAG = "zero-downtime:keep-warm-seconds"


def check_keep_warm_covers_contract_delay(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    """A service that declares schema migrations keeps its old color warm at least the contract
    delay (plus a margin): until the contract may start, a rollback must find the old version up."""
    found = tags(props)
    if CONTRACT_DELAY_TAG not in found:
        return
    delay = as_int(found.get(CONTRACT_DELAY_TAG))
    keep_warm = as_int(found.get(KEEP_WARM_TAG))
    needed = (delay or 0) + config["minMarginSeconds"]
    if delay is None:
        yield (
            f"tag {CONTRACT_DELAY_TAG} is {found.get(CONTRACT_DELAY_TAG)!r}, not a number of seconds: set "
            "migrations.contractDelaySeconds on the service."
        )
    elif keep_warm is None or keep_warm < needed:
        shown = "not declared" if keep_warm is None else f"{keep_warm}s"
        yield (
            f"the service declares migrations with a contract delay of {delay}s but keeps the old color warm "
            f"{shown}: a rollback before the contract would find the old version gone. Set "
            f"migrations.keepWarmSeconds to at least {needed} (or lower migrations.contractDelaySeconds)."
        )


def container_definitions(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """`containerDefinitions` is a JSON string; a malformed one is the provider's to reject."""
    raw = get(props, "containerDefinitions")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return []
    return [c for c in items(raw) if is_mapping(c)]


def _container_name(container: Mapping[str, Any], index: int) -> str:
    return str(container.get("name") or f"#{index}")


def check_privileged(props: Mapping[str, Any], _config: Mapping[str, Any]) -> Iterator[str]:
    for i, container in enumerate(container_definitions(props)):
        if as_bool(container.get("privileged")) is True:
            yield (
                f"container {_container_name(container, i)} is privileged: it has root on the "
                "host. Remove privileged (grant a specific linuxParameters.capabilities.add instead)."
            )


def check_plaintext_secrets(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    pattern = re.compile(config["secretNamePattern"], re.IGNORECASE)
    allowed = {name.upper() for name in config["allowedNames"]}
    for i, container in enumerate(container_definitions(props)):
        for variable in items(container.get("environment")):
            name = str(mapping(variable).get("name") or "")
            if name.upper() in allowed or not pattern.search(name):
                continue
            yield (
                f"container {_container_name(container, i)} has {name} in plain environment: it "
                "shows in the console and API. Move it to secrets "
                "[{name, valueFrom: <Secrets Manager or SSM ARN>}]."
            )


def check_secret_references(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    for i, container in enumerate(container_definitions(props)):
        for secret in items(container.get("secrets")):
            secret = mapping(secret)
            name, reference = secret.get("name"), secret.get("valueFrom")
            if not isinstance(reference, str):
                continue  # unknown during preview, or the provider's to reject
            if SECRET_REFERENCE.match(reference):
                continue
            if config["allowParameterNames"] and SSM_PARAMETER_NAME.match(reference):
                continue
            yield (
                f"container {_container_name(container, i)} takes secret {name} from a value that is not a "
                "Secrets Manager or SSM parameter ARN: a secret written there is stored in plain text in the "
                "task definition. Set valueFrom to arn:aws:secretsmanager:<region>:<account>:secret:<name> or "
                "arn:aws:ssm:<region>:<account>:parameter/<name>."
            )


def check_read_only_root(props: Mapping[str, Any], _config: Mapping[str, Any]) -> Iterator[str]:
    for i, container in enumerate(container_definitions(props)):
        if as_bool(container.get("readonlyRootFilesystem")) is not True:
            yield (
                f"container {_container_name(container, i)} has a writable root filesystem. Set "
                "readonlyRootFilesystem: true and mount a volume where it must write."
            )


def check_logging(props: Mapping[str, Any], _config: Mapping[str, Any]) -> Iterator[str]:
    for i, container in enumerate(container_definitions(props)):
        if not get(container, "logConfiguration.logDriver"):
            yield (
                f"container {_container_name(container, i)} has no logConfiguration: its output "
                "is lost. Set logConfiguration={logDriver: awslogs, options: {...}}."
            )


FLAGS_AGENT_URL = "APP_FLAGS_AGENT_URL"
"""Where the sample app (and any app following its convention) reads flags from the AppConfig agent."""
LOCAL_URL = re.compile(r"^https?://(localhost|127\.0\.0\.1)(?::(\d+))?/")
AGENT_IMAGE = "aws-appconfig-agent"


def check_flags_agent(props: Mapping[str, Any], _config: Mapping[str, Any]) -> Iterator[str]:
    """A container that reads its flags from a local AppConfig agent has one beside it in the task."""
    containers = container_definitions(props)
    for i, container in enumerate(containers):
        url = next(
            (
                str(mapping(v).get("value") or "")
                for v in items(container.get("environment"))
                if mapping(v).get("name") == FLAGS_AGENT_URL
            ),
            None,
        )
        match = LOCAL_URL.match(url) if url else None
        if match is None:
            continue
        port = int(match.group(2) or 80)
        others = [c for j, c in enumerate(containers) if j != i]
        serves = any(
            AGENT_IMAGE in str(c.get("image") or "")
            or any(as_int(mapping(m).get("containerPort")) == port for m in items(c.get("portMappings")))
            for c in others
        )
        if not serves:
            yield (
                f"container {_container_name(container, i)} reads its flags from {url} ({FLAGS_AGENT_URL}) but no "
                f"other container of the task is an AppConfig agent or serves port {port}: every flag evaluates to "
                "its default. Add the agent sidecar (services.<name>.flagSet, or BlueGreenService flag_agent)."
            )


POLICIES = [
    GuardResourcePolicy(
        "ecs-service-circuit-breaker-rollback",
        "ECS services roll back failed deployments with the deployment circuit breaker.",
        MANDATORY,
        SERVICE,
        check_circuit_breaker,
    ),
    GuardResourcePolicy(
        "ecs-service-min-healthy-100",
        "ECS services keep all desired tasks running during a deployment.",
        MANDATORY,
        SERVICE,
        check_min_healthy,
        {"minHealthyPercent": Setting("integer", 100, "Lowest deploymentMinimumHealthyPercent allowed.", 0, 100)},
    ),
    GuardResourcePolicy(
        "ecs-service-max-percent-over-100",
        "ECS services can start new tasks before stopping old ones.",
        MANDATORY,
        SERVICE,
        check_max_percent,
        {"minMaximumPercent": Setting("integer", 101, "Lowest deploymentMaximumPercent allowed.", 101, 200)},
    ),
    GuardResourcePolicy(
        "ecs-service-health-check-grace-period",
        "Load-balanced ECS services give new tasks a health-check grace period.",
        MANDATORY,
        SERVICE,
        check_grace_period,
        {"minSeconds": Setting("integer", 10, "Shortest grace period allowed.", 1, 2147483647)},
    ),
    GuardResourcePolicy(
        "ecs-service-native-strategy-alarms-bake",
        "ECS blue/green, canary and linear deployments roll back on alarms after a bake time.",
        MANDATORY,
        SERVICE,
        check_native_strategy,
        {"minBakeTimeMinutes": Setting("integer", 1, "Shortest bakeTimeInMinutes allowed.", 0, 1440)},
    ),
    GuardResourcePolicy(
        "ecs-service-keep-warm-covers-contract-delay",
        "ECS services that declare schema migrations keep the old color warm at least the contract delay.",
        MANDATORY,
        SERVICE,
        check_keep_warm_covers_contract_delay,
        {
            "minMarginSeconds": Setting(
                "integer", 0, "Seconds the keep-warm must exceed the contract delay by.", 0, 7 * 24 * 3600
            )
        },
    ),
    GuardResourcePolicy(
        "ecs-task-definition-no-privileged",
        "ECS containers do not run privileged.",
        MANDATORY,
        TASK_DEFINITION,
        check_privileged,
    ),
    GuardResourcePolicy(
        "ecs-task-definition-no-plaintext-secrets",
        "ECS containers take secrets from `secrets`, never from plain `environment`.",
        MANDATORY,
        TASK_DEFINITION,
        check_plaintext_secrets,
        {
            "secretNamePattern": Setting(
                "string",
                DEFAULT_SECRET_PATTERN,
                "Regular expression (case-insensitive) for variable names that hold secrets.",
                regex=True,
            ),
            "allowedNames": Setting(
                "array",
                [],
                "Variable names that match the pattern but hold no secret.",
                item_type="string",
            ),
        },
    ),
    GuardResourcePolicy(
        "ecs-task-definition-secret-references",
        "ECS container secrets reference Secrets Manager or SSM parameters by ARN, never hold the secret.",
        MANDATORY,
        TASK_DEFINITION,
        check_secret_references,
        {
            "allowParameterNames": Setting(
                "boolean",
                False,
                "Also accept SSM parameter names starting with '/' (valid when the parameter is in the task's region).",
            )
        },
    ),
    GuardResourcePolicy(
        "ecs-task-definition-read-only-root",
        "ECS containers run with a read-only root filesystem.",
        ADVISORY,
        TASK_DEFINITION,
        check_read_only_root,
    ),
    GuardResourcePolicy(
        "ecs-task-definition-logging",
        "ECS containers ship their logs.",
        ADVISORY,
        TASK_DEFINITION,
        check_logging,
    ),
    GuardResourcePolicy(
        "ecs-task-definition-flags-agent",
        "ECS containers that read flags from a local AppConfig agent run one in the same task.",
        ADVISORY,
        TASK_DEFINITION,
        check_flags_agent,
    ),
]
