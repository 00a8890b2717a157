"""Stack policies, through StackValidationArgs built from PolicyResources."""

from __future__ import annotations

import pytest
from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.policies.stack import flagger_primary_labels, selector_matches

from tests.policies.support import Case, assert_case, resource

ECS_ALARM = "ecs-service-target-group-alarm"
ASG_ALARM = "autoscaling-group-target-group-alarm"
PDB = "kubernetes-deployment-pdb"
REDIRECT = "elb-listener-http-redirects-https"
REDIRECT_NONPROD = "elb-listener-http-redirects-https-nonprod"
TEST_PORT = "elb-listener-test-port-private"
WEB_ON_LB = "ec2-security-group-public-only-on-load-balancer"
SHADOW = "elb-listener-rule-not-shadowed"
PROD_LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/edge/9f/prod"
TEST_LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/edge/9f/test"

TG_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/0123abcd"
TG_SUFFIX = "targetgroup/web-blue/0123abcd"
LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/edge/9f"
WORLD = ["0.0.0.0/0"]


def service(**props: object):
    lbs = [{"targetGroupArn": TG_ARN, "containerName": "app", "containerPort": 80.0}]
    return resource(T.ECS_SERVICE, "web-svc", {"loadBalancers": lbs, **props})


def alarm(dims: dict, name: str = "web-5xx", **deps: list):
    return resource(T.METRIC_ALARM, name, {"dimensions": dims}, **deps)


def asg(arns: list[str]):
    return resource(T.AUTOSCALING_GROUP, "fleet", {"targetGroupArns": arns})


# Preview: ARNs and ids of new resources are unknown; the engine relates resources by URN.
UNKNOWN = UNKNOWN_STRING_VALUE
TG = resource(T.TARGET_GROUP, "web-tg", {"arn": UNKNOWN}, preview=True)
PREVIEW_SERVICE = resource(
    T.ECS_SERVICE, "web-svc", {"loadBalancers": [{"targetGroupArn": UNKNOWN}]}, preview=True, loadBalancers=[TG]
)
PREVIEW_ALARM = resource(
    T.METRIC_ALARM, "web-5xx", {"dimensions": {"TargetGroup": UNKNOWN}}, preview=True, dimensions=[TG]
)
PREVIEW_ASG = resource(T.AUTOSCALING_GROUP, "fleet", {"targetGroupArns": [UNKNOWN]}, preview=True)

LABELS = {"app.kubernetes.io/name": "web", "tier": "front"}


def deployment(replicas: float = 2.0, namespace: str = "shop", name: str = "web"):
    return resource(
        T.K8S_DEPLOYMENT,
        name,
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": LABELS}}},
        },
    )


def pdb(selector: dict, namespace: str = "shop"):
    return resource(
        T.K8S_PDB,
        "web-pdb",
        {"metadata": {"namespace": namespace}, "spec": {"maxUnavailable": 1.0, "selector": selector}},
    )


CANARY = resource(
    T.FLAGGER_CANARY,
    "web-canary",
    {
        "metadata": {"namespace": "shop"},
        "spec": {"targetRef": {"kind": "Deployment", "name": "web"}},
    },
)


def lb(internal: bool = False, stack: str = "dev", **props: object):
    return resource(
        T.LOAD_BALANCER,
        "edge-alb",
        {
            "arn": LB_ARN,
            "internal": internal,
            "tags": {"stack": stack},
            **props,
        },
    )


def listener(
    port: float = 80.0,
    protocol: str = "HTTP",
    stack: str = "dev",
    name: str = "edge-http",
    redirect: bool = False,
    lb_arn: str = LB_ARN,
):
    action = (
        {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443"}}
        if redirect
        else {"type": "fixed-response"}
    )
    return resource(
        T.LISTENER,
        name,
        {
            "loadBalancerArn": lb_arn,
            "port": port,
            "protocol": protocol,
            "defaultActions": [action],
            "tags": {"stack": stack},
        },
    )


def sg(
    from_port: float,
    cidrs: list[str],
    name: str = "alb-sg",
    sg_id: str | None = "sg-alb",
    to_port: float | None = None,
    protocol: str = "tcp",
    preview: bool = False,
) -> PolicyResource:
    props: dict = {
        "ingress": [
            {
                "protocol": protocol,
                "fromPort": from_port,
                "toPort": from_port if to_port is None else to_port,
                "cidrBlocks": cidrs,
            }
        ]
    }
    if sg_id:
        props["id"] = sg_id
    return resource(T.SECURITY_GROUP, name, props, preview=preview)


def ingress_rule(port: float, group_id: str, name: str = "open-rule"):
    return resource(
        T.SECURITY_GROUP_INGRESS,
        name,
        {
            "ipProtocol": "tcp",
            "fromPort": port,
            "toPort": port,
            "cidrIpv4": "0.0.0.0/0",
            "securityGroupId": group_id,
        },
    )


ALB_SG = sg(443.0, WORLD)
# A preview: the SG id is not known yet, the engine links the LB to the SG by URN.
PREVIEW_SG = sg(443.0, WORLD, sg_id=UNKNOWN, preview=True)
PREVIEW_LB = resource(
    T.LOAD_BALANCER,
    "edge-alb",
    {"arn": UNKNOWN, "internal": True, "securityGroups": [UNKNOWN]},
    preview=True,
    securityGroups=[PREVIEW_SG],
)
PREVIEW_LISTENER = resource(
    T.LISTENER,
    "edge-http",
    {"loadBalancerArn": UNKNOWN, "port": 80.0, "protocol": "HTTP", "tags": {"stack": "prod"}},
    preview=True,
    loadBalancerArn=[PREVIEW_LB],
)


def rule(
    name: str,
    priority: float | None,
    paths: list[str] | None = None,
    hosts: list[str] | None = None,
    listener_arn: str = PROD_LISTENER,
    extra: list[dict] | None = None,
    preview: bool = False,
) -> PolicyResource:
    conditions: list[dict] = []
    if paths is not None:
        conditions.append({"pathPattern": {"values": paths}})
    if hosts is not None:
        conditions.append({"hostHeader": {"values": hosts}})
    props: dict = {"listenerArn": listener_arn, "conditions": conditions + (extra or [])}
    if priority is not None:
        props["priority"] = priority
    return resource(T.LISTENER_RULE, name, props, preview=preview)


CATCH_ALL = rule("web-prod-rule", 50000.0, ["/*"])

CASES = [
    # ECS services and ASGs need an alarm on their target group
    Case("ecs-alarm-compliant", ECS_ALARM, resources=[service(), alarm({"TargetGroup": TG_SUFFIX})]),
    Case(
        "ecs-alarm-metric-query",
        ECS_ALARM,
        resources=[
            service(),
            resource(
                T.METRIC_ALARM,
                "q",
                {"metricQueries": [{"id": "m1", "metric": {"dimensions": {"TargetGroup": TG_SUFFIX}}}]},
            ),
        ],
    ),
    Case("ecs-alarm-preview-by-dependency", ECS_ALARM, resources=[TG, PREVIEW_SERVICE, PREVIEW_ALARM]),
    Case(
        "ecs-alarm-preview-missing",
        ECS_ALARM,
        resources=[TG, PREVIEW_SERVICE],
        expect=["no CloudWatch alarm"],
        at=["web-svc"],
    ),
    Case(
        "asg-alarm-preview-unknown-arns-missing",
        ASG_ALARM,
        resources=[PREVIEW_ASG],
        expect=["no CloudWatch alarm"],
        at=["fleet"],
    ),
    Case("ecs-alarm-missing", ECS_ALARM, resources=[service()], expect=["no CloudWatch alarm"], at=["web-svc"]),
    Case(
        "ecs-alarm-other-target-group",
        ECS_ALARM,
        resources=[service(), alarm({"TargetGroup": "targetgroup/other/1"})],
        expect=["no CloudWatch alarm"],
        at=["web-svc"],
    ),
    Case("ecs-alarm-no-load-balancer", ECS_ALARM, resources=[resource(T.ECS_SERVICE, "worker", {"desiredCount": 2.0})]),
    Case("asg-alarm-compliant", ASG_ALARM, resources=[asg([TG_ARN]), alarm({"TargetGroup": TG_SUFFIX})]),
    Case("asg-alarm-missing", ASG_ALARM, resources=[asg([TG_ARN])], expect=["no CloudWatch alarm"], at=["fleet"]),
    Case("asg-alarm-no-target-groups", ASG_ALARM, resources=[asg([])]),
    # PodDisruptionBudgets
    Case("pdb-compliant", PDB, resources=[deployment(), pdb({"matchLabels": {"app.kubernetes.io/name": "web"}})]),
    Case("pdb-missing", PDB, resources=[deployment()], expect=["no PodDisruptionBudget"], at=["web"]),
    Case(
        "pdb-other-namespace",
        PDB,
        resources=[deployment(), pdb({"matchLabels": {"app.kubernetes.io/name": "web"}}, "default")],
        expect=["namespace shop"],
        at=["web"],
    ),
    Case(
        "pdb-selector-mismatch",
        PDB,
        resources=[deployment(), pdb({"matchLabels": {"app.kubernetes.io/name": "api"}})],
        expect=["no PodDisruptionBudget"],
    ),
    Case(
        "pdb-match-expressions",
        PDB,
        resources=[
            deployment(),
            pdb({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "edge"]}]}),
        ],
    ),
    Case(
        "pdb-flagger-primary",
        PDB,
        resources=[deployment(), CANARY, pdb({"matchLabels": {"app.kubernetes.io/name": "web-primary"}})],
    ),
    Case(
        "pdb-primary-without-flagger",
        PDB,
        resources=[deployment(), pdb({"matchLabels": {"app.kubernetes.io/name": "web-primary"}})],
        expect=["no PodDisruptionBudget"],
    ),
    Case("pdb-single-replica-not-required", PDB, resources=[deployment(replicas=1.0)]),
    Case("pdb-override-min-replicas", PDB, resources=[deployment(replicas=3.0)], config={"minReplicas": 4}),
    # HTTP -> HTTPS: mandatory in prod, advisory elsewhere
    Case(
        "redirect-prod-plain-http",
        REDIRECT,
        resources=[lb(stack="prod"), listener(stack="prod")],
        expect=["plain HTTP on port 80"],
        at=["edge-http"],
    ),
    Case(
        "redirect-prod-compliant",
        REDIRECT,
        resources=[
            lb(stack="prod"),
            listener(stack="prod", redirect=True),
            listener(443.0, "HTTPS", stack="prod", name="edge-https"),
        ],
    ),
    Case("redirect-prod-rule-ignores-dev", REDIRECT, resources=[lb(), listener()]),
    Case("redirect-prod-internal-lb", REDIRECT, resources=[lb(internal=True, stack="prod"), listener(stack="prod")]),
    Case(
        "redirect-prod-missing-lb-counts-as-public",
        REDIRECT,
        resources=[listener(stack="prod", lb_arn="x")],
        expect=["plain HTTP"],
    ),
    Case("redirect-prod-preview-internal-lb-by-dependency", REDIRECT, resources=[PREVIEW_LB, PREVIEW_LISTENER]),
    Case(
        "redirect-prod-test-port-not-production",
        REDIRECT,
        resources=[lb(stack="prod"), listener(9000.0, stack="prod", name="edge-test")],
    ),
    Case(
        "redirect-prod-config-forces-prod",
        REDIRECT,
        resources=[lb(), listener()],
        config={"prod": True},
        expect=["plain HTTP"],
    ),
    Case(
        "redirect-prod-config-stack-names",
        REDIRECT,
        resources=[lb(stack="live"), listener(stack="live")],
        config={"prodStacks": ["live"]},
        expect=["plain HTTP"],
    ),
    Case(
        "redirect-nonprod-plain-http",
        REDIRECT_NONPROD,
        resources=[lb(), listener()],
        expect=["plain HTTP"],
        at=["edge-http"],
    ),
    Case("redirect-nonprod-ignores-prod", REDIRECT_NONPROD, resources=[lb(stack="prod"), listener(stack="prod")]),
    Case(
        "redirect-nonprod-config-marks-dev-prod",
        REDIRECT_NONPROD,
        resources=[lb(), listener()],
        config={"prodStacks": ["dev"]},
    ),
    Case(
        "redirect-nonprod-missing-protocol-is-http",
        REDIRECT_NONPROD,
        resources=[lb(), resource(T.LISTENER, "bare", {"loadBalancerArn": LB_ARN, "port": 80.0})],
        expect=["plain HTTP"],
    ),
    # the test listener never faces the world
    Case(
        "test-port-private",
        TEST_PORT,
        resources=[lb(), listener(9000.0, name="edge-test"), sg(9000.0, ["10.0.0.0/16"]), ALB_SG],
    ),
    Case(
        "test-port-world",
        TEST_PORT,
        resources=[lb(), listener(9000.0, name="edge-test"), sg(9000.0, WORLD, name="test-sg")],
        expect=["test listener edge-test on port 9000"],
        at=["test-sg"],
    ),
    Case(
        "test-port-world-all-ports",
        TEST_PORT,
        resources=[lb(), listener(9000.0, name="edge-test"), sg(0.0, WORLD, name="wide", protocol="-1")],
        expect=["all ports"],
        at=["wide"],
    ),
    Case("test-port-missing-test-listener", TEST_PORT, resources=[lb(), listener(), ALB_SG]),
    Case(
        "test-port-override-production-ports",
        TEST_PORT,
        resources=[lb(), listener(9000.0, name="edge-test"), sg(9000.0, WORLD)],
        config={"productionPorts": [80, 443, 9000]},
    ),
    Case(
        "test-port-world-split-in-two-blocks",
        TEST_PORT,
        resources=[lb(), listener(9000.0, name="edge-test"), sg(9000.0, ["0.0.0.0/1", "128.0.0.0/1"], name="test-sg")],
        expect=["cover all of 0.0.0.0/0"],
        at=["test-sg"],
    ),
    Case(
        "test-port-two-narrow-resources-add-up",
        TEST_PORT,
        resources=[
            lb(),
            listener(9000.0, name="edge-test"),
            sg(9000.0, ["8.0.0.0/8"], name="office-sg"),
            sg(9000.0, ["9.0.0.0/8"], name="vpn-sg"),
        ],
        expect=["office-sg, vpn-sg together allow port 9000"],
        at=["office-sg"],
    ),
    Case(
        "test-port-override-widest-prefix",
        TEST_PORT,
        resources=[lb(), listener(9000.0, name="edge-test"), sg(9000.0, ["8.0.0.0/7"], name="test-sg")],
        config={"widestPublicIpv4Prefix": 6},
    ),
    # a rule never takes every request of a rule checked after it
    Case(
        "shadow-compliant-path-rule-and-catch-all",
        SHADOW,
        resources=[rule("api-prod-rule", 100.0, ["/api/*"]), CATCH_ALL],
    ),
    Case(
        "shadow-slash-star-starves-the-catch-all",
        SHADOW,
        resources=[rule("api-prod-rule", 100.0, ["/*"]), CATCH_ALL],
        expect=["api-prod-rule (priority 100) matches every request of web-prod-rule (priority 50000)"],
        at=["api-prod-rule"],
    ),
    Case(
        "shadow-prefix-covers-a-longer-prefix",
        SHADOW,
        resources=[rule("api-prod-rule", 100.0, ["/api/*"]), rule("v2-prod-rule", 200.0, ["/api/v2/*"])],
        expect=["matches every request of v2-prod-rule"],
        at=["api-prod-rule"],
    ),
    Case(
        "shadow-later-rule-may-take-what-the-earlier-leaves",
        SHADOW,
        resources=[rule("v2-prod-rule", 100.0, ["/api/v2/*"]), rule("api-prod-rule", 200.0, ["/api/*"])],
    ),
    Case(
        "shadow-host-condition-keeps-other-hosts",
        SHADOW,
        resources=[rule("admin-prod-rule", 100.0, ["/*"], hosts=["admin.example.com"]), CATCH_ALL],
    ),
    Case(
        "shadow-host-only-rule-over-same-host",
        SHADOW,
        resources=[
            rule("admin-prod-rule", 100.0, hosts=["Admin.example.com"]),
            rule("reports-prod-rule", 200.0, ["/reports/*"], hosts=["admin.example.com"]),
        ],
        expect=["matches every request of reports-prod-rule"],
    ),
    Case(
        "shadow-header-condition-narrows",
        SHADOW,
        resources=[
            rule(
                "beta-prod-rule", 100.0, ["/*"], extra=[{"httpHeader": {"httpHeaderName": "x-beta", "values": ["1"]}}]
            ),
            CATCH_ALL,
        ],
    ),
    Case(
        "shadow-other-listener",
        SHADOW,
        resources=[rule("api-test-rule", 100.0, ["/*"], listener_arn=TEST_LISTENER), CATCH_ALL],
    ),
    Case(
        "shadow-missing-priority",
        SHADOW,
        resources=[rule("api-prod-rule", None, ["/*"]), CATCH_ALL],
    ),
    Case(
        "shadow-preview-unknown-values",
        SHADOW,
        resources=[rule("api-prod-rule", 100.0, [UNKNOWN], preview=True), CATCH_ALL],
    ),
    # web ports open to the world only on the load balancer
    Case("web-on-lb-compliant", WEB_ON_LB, resources=[lb(securityGroups=["sg-alb"]), ALB_SG]),
    Case("web-on-lb-preview-by-dependency", WEB_ON_LB, resources=[PREVIEW_LB, PREVIEW_SG]),
    Case(
        "web-on-lb-preview-unattached",
        WEB_ON_LB,
        resources=[lb(securityGroups=[UNKNOWN]), PREVIEW_SG],
        expect=["no load balancer uses"],
        at=["alb-sg"],
    ),
    Case(
        "web-on-lb-unattached",
        WEB_ON_LB,
        resources=[lb(securityGroups=["sg-alb"]), sg(80.0, WORLD, name="app-sg", sg_id="sg-app")],
        expect=["no load balancer uses"],
        at=["app-sg"],
    ),
    Case(
        "web-on-lb-rule-compliant", WEB_ON_LB, resources=[lb(securityGroups=["sg-alb"]), ingress_rule(443.0, "sg-alb")]
    ),
    Case(
        "web-on-lb-rule-unattached",
        WEB_ON_LB,
        resources=[lb(securityGroups=["sg-alb"]), ingress_rule(443.0, "sg-app")],
        expect=["no load balancer uses"],
        at=["open-rule"],
    ),
    Case("web-on-lb-missing-load-balancer", WEB_ON_LB, resources=[ALB_SG], expect=["no load balancer"]),
    Case(
        "web-on-lb-override-ports",
        WEB_ON_LB,
        resources=[lb(securityGroups=["sg-alb"]), sg(8443.0, WORLD, name="api-sg", sg_id="sg-api")],
        config={"allowedPublicPorts": [8443]},
        expect=["port 8443"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_stack_policy(case: Case) -> None:
    assert_case(case)


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({}, True),
        ({"matchLabels": {"tier": "front"}}, True),
        ({"matchLabels": {"tier": "back"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["back"]}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, True),
        (None, False),
    ],
    ids=["empty-selects-all", "labels-match", "labels-differ", "not-in", "exists", "does-not-exist", "no-selector"],
)
def test_selector_semantics(selector: dict | None, matches: bool) -> None:
    assert selector_matches(selector, LABELS) is matches


def test_flagger_primary_labels_suffix_only_selector_keys() -> None:
    assert flagger_primary_labels({"app": "web", "app.kubernetes.io/name": "web", "tier": "x"}) == {
        "app": "web-primary",
        "app.kubernetes.io/name": "web-primary",
        "tier": "x",
    }
