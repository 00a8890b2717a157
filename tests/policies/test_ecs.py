"""ECS service and task definition policies, through ResourceValidationArgs."""

from __future__ import annotations

import pytest

from tests.policies.support import Case, assert_case, containers_json

BREAKER = "ecs-service-circuit-breaker-rollback"
MIN = "ecs-service-min-healthy-100"
MAX = "ecs-service-max-percent-over-100"
GRACE = "ecs-service-health-check-grace-period"
NATIVE = "ecs-service-native-strategy-alarms-bake"
PRIVILEGED = "ecs-task-definition-no-privileged"
SECRETS = "ecs-task-definition-no-plaintext-secrets"
READ_ONLY = "ecs-task-definition-read-only-root"
LOGGING = "ecs-task-definition-logging"
FLAGS_AGENT = "ecs-task-definition-flags-agent"
AGENT_URL = {
    "name": "APP_FLAGS_AGENT_URL",
    "value": "http://localhost:2772/applications/a/environments/e/configurations/f",
}
AGENT_SIDECAR = {
    "name": "appconfig-agent",
    "image": "public.ecr.aws/aws-appconfig/aws-appconfig-agent:2.x",
    "portMappings": [{"containerPort": 2772.0, "protocol": "tcp"}],
}
SECRET_REFS = "ecs-task-definition-secret-references"
KEEP_WARM = "ecs-service-keep-warm-covers-contract-delay"
DELAY_TAG, WARM_TAG = "zero-downtime:contract-delay-seconds", "zero-downtime:keep-warm-seconds"
SM_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf"
SSM_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/shop/db/password"

GOOD_SERVICE = {
    "desiredCount": 2.0,
    "deploymentMinimumHealthyPercent": 100.0,
    "deploymentMaximumPercent": 200.0,
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "healthCheckGracePeriodSeconds": 30.0,
    "loadBalancers": [{"targetGroupArn": "arn:tg", "containerName": "app", "containerPort": 80.0}],
}
NATIVE_SERVICE = {
    **GOOD_SERVICE,
    "deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": "5"},
    "alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": True},
}
GOOD_CONTAINER = {
    "name": "app",
    "image": "nginx",
    "readonlyRootFilesystem": True,
    "logConfiguration": {"logDriver": "awslogs"},
    "environment": [{"name": "LOG_LEVEL", "value": "info"}],
    "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db"}],
}


def svc(**changes: object) -> dict:
    return {**GOOD_SERVICE, **changes}


def without(props: dict, key: str) -> dict:
    return {k: v for k, v in props.items() if k != key}


def task(**changes: object) -> dict:
    return {"containerDefinitions": containers_json({**GOOD_CONTAINER, **changes})}


CASES = [
    # circuit breaker
    Case("breaker-compliant", BREAKER, svc()),
    Case("breaker-no-rollback", BREAKER, svc(deploymentCircuitBreaker={"enable": True}), expect=["rollback: true"]),
    Case("breaker-missing", BREAKER, without(GOOD_SERVICE, "deploymentCircuitBreaker"), expect=["not set"]),
    Case(
        "breaker-code-deploy-controller",
        BREAKER,
        svc(deploymentCircuitBreaker=None, deploymentController={"type": "CODE_DEPLOY"}),
    ),
    # minimum healthy percent
    Case("min-compliant", MIN, svc()),
    Case("min-50", MIN, svc(deploymentMinimumHealthyPercent=50.0), expect=["is 50"]),
    Case("min-missing", MIN, without(GOOD_SERVICE, "deploymentMinimumHealthyPercent"), expect=["not set"]),
    Case("min-no-tasks", MIN, svc(desiredCount=0.0, deploymentMinimumHealthyPercent=0.0)),
    Case("min-override-allows-50", MIN, svc(deploymentMinimumHealthyPercent=50.0), config={"minHealthyPercent": 50}),
    # maximum percent
    Case("max-compliant", MAX, svc()),
    Case("max-100", MAX, svc(deploymentMaximumPercent=100.0), expect=["Set it to 150"]),
    Case(
        "max-150-one-task-rounds-down",
        MAX,
        svc(desiredCount=1.0, deploymentMaximumPercent=150.0),
        expect=["Set it to 200"],
    ),
    Case("max-missing", MAX, without(GOOD_SERVICE, "deploymentMaximumPercent"), expect=["not set"]),
    Case(
        "max-override-200",
        MAX,
        svc(deploymentMaximumPercent=150.0),
        config={"minMaximumPercent": 200},
        expect=["Set it to 200"],
    ),
    # grace period
    Case("grace-compliant", GRACE, svc()),
    Case("grace-zero", GRACE, svc(healthCheckGracePeriodSeconds=0.0), expect=["is 0s"]),
    Case("grace-missing", GRACE, without(GOOD_SERVICE, "healthCheckGracePeriodSeconds"), expect=["not set"]),
    Case(
        "grace-no-load-balancer",
        GRACE,
        without(without(GOOD_SERVICE, "loadBalancers"), "healthCheckGracePeriodSeconds"),
    ),
    Case("grace-override-120", GRACE, svc(), config={"minSeconds": 120}, expect=["at least 120s"]),
    # native strategies
    Case("native-compliant", NATIVE, NATIVE_SERVICE),
    Case("native-rolling-not-applicable", NATIVE, svc()),
    Case(
        "native-missing-alarms-and-bake",
        NATIVE,
        {**without(NATIVE_SERVICE, "alarms"), "deploymentConfiguration": {"strategy": "CANARY"}},
        expect=["alarm rollback", "bake time is not set"],
    ),
    Case(
        "native-alarms-disabled",
        NATIVE,
        {**NATIVE_SERVICE, "alarms": {"alarmNames": ["a"], "enable": False, "rollback": True}},
        expect=["alarm rollback"],
    ),
    Case(
        "native-override-bake-10",
        NATIVE,
        NATIVE_SERVICE,
        config={"minBakeTimeMinutes": 10},
        expect=["bakeTimeInMinutes to 10"],
    ),
    # privileged
    Case("privileged-compliant", PRIVILEGED, task()),
    Case("privileged-true", PRIVILEGED, task(privileged=True), expect=["container app is privileged"]),
    Case("privileged-missing-definitions", PRIVILEGED, {}),
    Case("privileged-malformed-json", PRIVILEGED, {"containerDefinitions": "[{"}),
    # secrets are references, never the secret itself
    Case(
        "secret-refs-compliant",
        SECRET_REFS,
        task(secrets=[{"name": "DB_PASSWORD", "valueFrom": SM_ARN}, {"name": "TOKEN", "valueFrom": SSM_ARN}]),
    ),
    Case(
        "secret-refs-plain-value",
        SECRET_REFS,
        task(secrets=[{"name": "DB_PASSWORD", "valueFrom": "hunter2"}]),
        expect=["secret DB_PASSWORD from a value that is not a Secrets Manager or SSM parameter ARN"],
    ),
    Case(
        "secret-refs-parameter-name",
        SECRET_REFS,
        task(secrets=[{"name": "DB_PASSWORD", "valueFrom": "/shop/db/password"}]),
        expect=["DB_PASSWORD"],
    ),
    Case(
        "secret-refs-override-allows-parameter-names",
        SECRET_REFS,
        task(secrets=[{"name": "DB_PASSWORD", "valueFrom": "/shop/db/password"}]),
        config={"allowParameterNames": True},
    ),
    Case(
        "secret-refs-override-still-refuses-plain-values",
        SECRET_REFS,
        task(secrets=[{"name": "DB_PASSWORD", "valueFrom": "hunter2"}]),
        config={"allowParameterNames": True},
        expect=["DB_PASSWORD"],
    ),
    Case("secret-refs-missing-secrets", SECRET_REFS, task(secrets=None)),
    # plaintext secrets
    Case("secrets-compliant", SECRETS, task()),
    Case(
        "secrets-password-in-env",
        SECRETS,
        task(environment=[{"name": "DB_PASSWORD", "value": "x"}, {"name": "API_KEY", "value": "y"}]),
        expect=["DB_PASSWORD", "API_KEY"],
    ),
    Case(
        "secrets-key-is-a-word-not-a-substring",
        SECRETS,
        task(environment=[{"name": "KEYCLOAK_URL", "value": "https://id"}]),
    ),
    Case("secrets-missing-environment", SECRETS, task(environment=None)),
    Case(
        "secrets-override-allowed-name",
        SECRETS,
        task(environment=[{"name": "PUBLIC_TOKEN_URL", "value": "https://x"}]),
        config={"allowedNames": ["PUBLIC_TOKEN_URL"]},
    ),
    Case(
        "secrets-override-pattern",
        SECRETS,
        task(environment=[{"name": "DSN", "value": "pg://"}]),
        config={"secretNamePattern": "^DSN$"},
        expect=["DSN"],
    ),
    # read-only root
    Case("read-only-compliant", READ_ONLY, task()),
    Case("read-only-false", READ_ONLY, task(readonlyRootFilesystem=False), expect=["writable"]),
    Case("read-only-missing", READ_ONLY, task(readonlyRootFilesystem=None), expect=["writable"]),
    # logging
    Case("logging-compliant", LOGGING, task()),
    Case("logging-missing", LOGGING, task(logConfiguration=None), expect=["no logConfiguration"]),
    Case("logging-no-driver", LOGGING, task(logConfiguration={"options": {}}), expect=["no logConfiguration"]),
    # the flags agent beside a container that reads flags from it
    Case("flags-agent-not-read", FLAGS_AGENT, task()),
    Case(
        "flags-agent-beside",
        FLAGS_AGENT,
        {"containerDefinitions": containers_json({**GOOD_CONTAINER, "environment": [AGENT_URL]}, AGENT_SIDECAR)},
    ),
    Case(
        "flags-agent-mirrored-image-by-port",
        FLAGS_AGENT,
        {
            "containerDefinitions": containers_json(
                {**GOOD_CONTAINER, "environment": [AGENT_URL]},
                {**AGENT_SIDECAR, "image": "mirror.example.com/agent:2"},
            )
        },
    ),
    Case("flags-agent-missing", FLAGS_AGENT, task(environment=[AGENT_URL]), expect=["no other container"]),
    Case(
        "flags-agent-other-port",
        FLAGS_AGENT,
        {
            "containerDefinitions": containers_json(
                {**GOOD_CONTAINER, "environment": [{**AGENT_URL, "value": "http://localhost:2999/x"}]},
                {**AGENT_SIDECAR, "image": "mirror.example.com/agent:2"},
            )
        },
        expect=["serves port 2999"],
    ),
    # migrations: the keep-warm covers the contract delay (issue 15)
    Case("keep-warm-compliant", KEEP_WARM, svc(tags={DELAY_TAG: "600", WARM_TAG: "900"})),
    Case("keep-warm-no-migrations", KEEP_WARM, svc(tags={"service": "web"})),
    Case(
        "keep-warm-shorter-than-delay",
        KEEP_WARM,
        svc(tags={DELAY_TAG: "600", WARM_TAG: "300"}),
        expect=["contract delay of 600s but keeps the old color warm 300s: a rollback"],
    ),
    Case(
        "keep-warm-missing",
        KEEP_WARM,
        svc(tags={DELAY_TAG: "600"}),
        expect=["keeps the old color warm not declared"],
    ),
    Case("keep-warm-delay-not-a-number", KEEP_WARM, svc(tags={DELAY_TAG: "soon", WARM_TAG: "900"}), expect=["soon"]),
    Case(
        "keep-warm-override-margin",
        KEEP_WARM,
        svc(tags={DELAY_TAG: "600", WARM_TAG: "900"}),
        config={"minMarginSeconds": 600},
        expect=["at least 1200"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_ecs_policy(case: Case) -> None:
    assert_case(case)
