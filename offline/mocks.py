"""A recording `pulumi.runtime.Mocks`: realistic provider outputs, and every registration kept.

Used by the unit tests, the offline preview and the offline policy check, so all three see
the same resource graph that `pulumi up` would register.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

from ..contract.types import ResourceType as T

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

AUTO_NAME_RANDOM_CHARS = 7
"""pulumi-terraform-bridge `AutoName`: `<logical name>` + `-` + 7 random hex characters."""
K8S_AUTO_NAME_RANDOM_CHARS = 8
"""pulumi-kubernetes: `<logical name>` + `-` + 8 random characters, no maximum of its own."""


@dataclass(frozen=True)
class NameRule:
    """How a resource type's physical name is made and what the provider and AWS accept."""

    limit: int
    """Longest name: the provider's auto-naming maximum or AWS's, whichever is smaller."""
    prop: str = "name"
    """The input holding the name (camelCase, as the engine passes it)."""
    auto: bool = True
    """Auto-named from the logical name when the input is not set."""
    pattern: re.Pattern[str] | None = None
    """Characters AWS accepts, when it restricts them."""
    prefix_prop: str | None = None
    """The `namePrefix` input, if the type has one, and its own limit."""
    prefix_limit: int = 0


_ELB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
NAME_RULES: dict[str, NameRule] = {
    # pulumi-aws provider/aliases.go: `"name": tfbridge.AutoName("name", 32, "-")`; ELBv2 API: 32
    # alphanumerics and hyphens, not starting or ending with a hyphen. name_prefix: at most 6.
    T.TARGET_GROUP: NameRule(32, pattern=_ELB_NAME, prefix_prop="namePrefix", prefix_limit=6),
    T.LOAD_BALANCER: NameRule(32, pattern=_ELB_NAME, prefix_prop="namePrefix", prefix_limit=6),
    # pulumi-aws resources.go: `"name": tfbridge.AutoName("name", 64, "-")`; name_prefix at most 38.
    T.IAM_ROLE: NameRule(64, pattern=re.compile(r"^[\w+=,.@-]+$"), prefix_prop="namePrefix", prefix_limit=38),
    T.IAM_ROLE_POLICY: NameRule(128, pattern=re.compile(r"^[\w+=,.@-]+$")),
    T.LAMBDA_FUNCTION: NameRule(64, pattern=re.compile(r"^[A-Za-z0-9_-]+$")),
    # The provider's default auto-naming maximum (provider/autonaming.go) is 255 for the rest.
    T.SNS_TOPIC: NameRule(255, pattern=re.compile(r"^[A-Za-z0-9_-]+$")),
    T.LOG_GROUP: NameRule(255, pattern=re.compile(r"^[A-Za-z0-9_\-/.#]+$")),
    T.SECURITY_GROUP: NameRule(255),
    T.ECS_SERVICE: NameRule(255, pattern=re.compile(r"^[A-Za-z0-9_-]+$")),
    T.ECS_CLUSTER: NameRule(255, pattern=re.compile(r"^[A-Za-z0-9_-]+$")),
    T.LAUNCH_TEMPLATE: NameRule(128, pattern=re.compile(r"^[A-Za-z0-9().\-/_]+$")),
    T.AUTOSCALING_GROUP: NameRule(255),
    T.METRIC_ALARM: NameRule(255),
    # Not auto-named: the program always sets them.
    T.COMPOSITE_ALARM: NameRule(255, prop="alarmName", auto=False),
    T.ECS_TASK_DEFINITION: NameRule(255, prop="family", auto=False, pattern=re.compile(r"^[A-Za-z0-9_-]+$")),
}
"""Physical naming of every AWS resource type the stack creates (components/naming.py holds the same limits)."""

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
K8S_DNS_LABEL_KINDS = frozenset({T.K8S_SERVICE})
"""Kinds whose names must be DNS labels (63 characters); other kinds take DNS subdomains (253)."""


class ProviderRefusal(ValueError):
    """What the provider (or AWS, or the Kubernetes API server) would answer at `up`: the mocks raise it."""


APPCONFIG_REQUIRED: dict[str, tuple[str, ...]] = {
    # pulumi-aws appconfig: the inputs without which the provider (or the AppConfig API) refuses.
    T.APPCONFIG_APPLICATION: ("name",),
    T.APPCONFIG_ENVIRONMENT: ("applicationId", "name"),
    T.APPCONFIG_PROFILE: ("applicationId", "locationUri", "name"),
    T.APPCONFIG_HOSTED_VERSION: ("applicationId", "configurationProfileId", "content", "contentType"),
    T.APPCONFIG_STRATEGY: ("deploymentDurationInMinutes", "growthFactor", "replicateTo", "name"),
    T.APPCONFIG_DEPLOYMENT: (
        "applicationId",
        "configurationProfileId",
        "configurationVersion",
        "deploymentStrategyId",
        "environmentId",
    ),
}
APPCONFIG_ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    (T.APPCONFIG_PROFILE, "type"): ("AWS.AppConfig.FeatureFlags", "AWS.Freeform"),
    (T.APPCONFIG_STRATEGY, "growthType"): ("LINEAR", "EXPONENTIAL"),
    (T.APPCONFIG_STRATEGY, "replicateTo"): ("NONE", "SSM_DOCUMENT"),
}
APPCONFIG_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    (T.APPCONFIG_STRATEGY, "growthFactor"): (1, 100),
    (T.APPCONFIG_STRATEGY, "deploymentDurationInMinutes"): (0, 1440),
    (T.APPCONFIG_STRATEGY, "finalBakeTimeInMinutes"): (0, 1440),
}
APPCONFIG_NAME_LIMITS = {
    T.APPCONFIG_APPLICATION: 64,
    T.APPCONFIG_ENVIRONMENT: 64,
    T.APPCONFIG_STRATEGY: 64,
    T.APPCONFIG_PROFILE: 128,
}
APPCONFIG_MAX_MONITORS = 5


SECRET_SIG = "4dabf18193072939515e22adb298388d"
"""Pulumi's marker of a secret value on the wire (the provider schema marks e.g. `content` secret)."""


def unsecret(value: Any) -> Any:
    """The plain value of an input the engine passes as a secret."""
    if isinstance(value, dict) and SECRET_SIG in value:
        return value.get("value")
    return value


def check_appconfig(args: pulumi.runtime.MockResourceArgs) -> None:
    """Raise ProviderRefusal for AppConfig inputs the provider or AppConfig would refuse at `up`."""
    t, inputs = args.typ, args.inputs
    if t not in APPCONFIG_REQUIRED:
        return
    for key in APPCONFIG_REQUIRED[t]:
        if inputs.get(key) in (None, ""):
            raise ProviderRefusal(f"{t} {args.name!r}: {key} is required")
    for (typ, key), allowed in APPCONFIG_ENUMS.items():
        if typ == t and key in inputs and inputs[key] not in allowed:
            raise ProviderRefusal(f"{t} {args.name!r}: {key} {inputs[key]!r} is not one of {', '.join(allowed)}")
    for (typ, key), (low, high) in APPCONFIG_RANGES.items():
        value = inputs.get(key)
        if typ == t and value is not None and not low <= float(value) <= high:
            raise ProviderRefusal(f"{t} {args.name!r}: {key} {value!r} is outside {low:g}-{high:g}")
    limit, name = APPCONFIG_NAME_LIMITS.get(t), inputs.get("name")
    if limit and isinstance(name, str) and not 1 <= len(name) <= limit:
        raise ProviderRefusal(f"{t} {args.name!r}: name {name!r} must be 1-{limit} characters")
    monitors = inputs.get("monitors") or []
    if len(monitors) > APPCONFIG_MAX_MONITORS:
        raise ProviderRefusal(f"{t} {args.name!r}: at most {APPCONFIG_MAX_MONITORS} monitors, got {len(monitors)}")
    for monitor in monitors:
        if not isinstance(monitor, dict) or not monitor.get("alarmArn"):
            raise ProviderRefusal(f"{t} {args.name!r}: every monitor needs an alarmArn, got {monitor!r}")
    if t == T.APPCONFIG_HOSTED_VERSION and inputs.get("contentType") == "application/json":
        try:
            json.loads(unsecret(inputs["content"]))
        except ValueError as exc:
            raise ProviderRefusal(f"{t} {args.name!r}: content is not JSON: {exc}") from None


def check_physical_name(args: pulumi.runtime.MockResourceArgs) -> None:
    """Raise ProviderRefusal for a name the provider or AWS would refuse, as `up` would fail."""
    t, inputs = args.typ, args.inputs
    if t.startswith("kubernetes:"):
        _check_k8s_name(t, args.name, inputs)
        return
    rule = NAME_RULES.get(t)
    if rule is None:
        return
    given = inputs.get(rule.prop)
    prefix = inputs.get(rule.prefix_prop) if rule.prefix_prop else None
    if isinstance(prefix, str):
        if len(prefix) > rule.prefix_limit:
            raise ProviderRefusal(
                f"{t} {args.name!r}: {rule.prefix_prop} {prefix!r} is longer than {rule.prefix_limit} characters"
            )
        return
    if isinstance(given, str):
        name = given
        if len(name) > rule.limit:
            raise ProviderRefusal(f"{t} {args.name!r}: {rule.prop} {name!r} is longer than {rule.limit} characters")
    elif rule.auto:
        if len(args.name) + 1 + AUTO_NAME_RANDOM_CHARS > rule.limit:
            raise ProviderRefusal(
                f"could not make instance of '{t}': name '{args.name}-' plus {AUTO_NAME_RANDOM_CHARS} random chars "
                f"is longer than maximum length {rule.limit}"
            )
        name = f"{args.name}-{'0' * AUTO_NAME_RANDOM_CHARS}"
    else:
        return
    if rule.pattern is not None and not rule.pattern.match(name):
        raise ProviderRefusal(f"{t} {args.name!r}: {rule.prop} {name!r} holds characters AWS refuses")


def _check_k8s_name(t: str, logical: str, inputs: dict[str, Any]) -> None:
    metadata = inputs.get("metadata") or {}
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(name, str):
        name = f"{logical}-{'0' * K8S_AUTO_NAME_RANDOM_CHARS}"
    label = t in K8S_DNS_LABEL_KINDS
    limit, pattern = (63, _DNS_LABEL) if label else (253, _DNS_SUBDOMAIN)
    if len(name) > limit or not pattern.match(name):
        kind = "DNS label" if label else "DNS subdomain"
        raise ProviderRefusal(f"{t} {logical!r}: metadata.name {name!r} is not a {kind} of at most {limit} characters")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class RecordedResource:
    """One registered resource: its type token, logical name, inputs and mocked outputs."""

    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str
    provider: str | None = None
    custom: bool = True
    urn: str = ""
    parent: str = ""
    """URN of the parent resource."""
    dependencies: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    protect: bool = False

    @property
    def urn_name(self) -> str:
        return f"{self.type}::{self.name}"


def _physical_name(args: pulumi.runtime.MockResourceArgs) -> str:
    given = args.inputs.get("name")
    if isinstance(given, str) and given:
        return given
    # Auto-naming: the provider appends `-` and 7 random characters (a stable hash here, so tests are
    # deterministic); `check_physical_name` has refused a name that would be too long.
    return f"{args.name}-{_short_hash(args.name)[:AUTO_NAME_RANDOM_CHARS]}"


def _outputs_for(args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
    """Provider-computed outputs per type, camelCase as the engine returns them."""
    t, inputs = args.typ, dict(args.inputs)
    suffix = _short_hash(args.name)
    rid = f"{args.name}-id"
    out: dict[str, Any] = {}
    if t == "aws:lb/loadBalancer:LoadBalancer":
        name = _physical_name(args)
        out = {
            "name": name,
            "arn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:loadbalancer/app/{name}/{suffix}",
            "arnSuffix": f"app/{name}/{suffix}",
            "dnsName": f"{name}-{suffix[:8]}.{REGION}.elb.amazonaws.com",
            "zoneId": "Z35SXDOTRQ7X7K",
        }
        rid = out["arn"]
    elif t == "aws:lb/targetGroup:TargetGroup":
        name = _physical_name(args)
        out = {
            "name": name,
            "arn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:targetgroup/{name}/{suffix}",
            "arnSuffix": f"targetgroup/{name}/{suffix}",
        }
        rid = out["arn"]
    elif t == "aws:lb/listener:Listener":
        out = {"arn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:listener/app/lb/{suffix}/{suffix[:8]}"}
        rid = out["arn"]
    elif t == "aws:lb/listenerRule:ListenerRule":
        out = {"arn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:listener-rule/app/lb/{suffix}/{suffix[:8]}"}
        rid = out["arn"]
    elif t == "aws:ecs/cluster:Cluster":
        name = _physical_name(args)
        out = {"name": name, "arn": f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/{name}"}
        rid = out["arn"]
    elif t == "aws:ecs/service:Service":
        name = _physical_name(args)
        cluster = inputs.get("cluster", "cluster")
        cluster_name = str(cluster).rsplit("/", 1)[-1]
        out = {
            "name": name,
            "arn": f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/{cluster_name}/{name}",
        }
        rid = out["arn"]
    elif t == "aws:ecs/taskDefinition:TaskDefinition":
        family = inputs.get("family", args.name)
        out = {
            "arn": f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:task-definition/{family}:1",
            "revision": 1,
        }
    elif t in (
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/compositeAlarm:CompositeAlarm",
    ):
        name = inputs.get("name") or _physical_name(args)
        out = {"arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}"}
        rid = name
    elif t == "aws:sns/topic:Topic":
        name = _physical_name(args)
        out = {"name": name, "arn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}"}
        rid = out["arn"]
    elif t == "aws:iam/role:Role":
        name = _physical_name(args)
        out = {"name": name, "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"}
        rid = name
    elif t == "aws:cloudwatch/logGroup:LogGroup":
        name = _physical_name(args)
        out = {"name": name, "arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}"}
        rid = name
    elif t == "aws:autoscaling/group:Group":
        name = _physical_name(args)
        out = {
            "name": name,
            "arn": f"arn:aws:autoscaling:{REGION}:{ACCOUNT_ID}:autoScalingGroup:{suffix}:autoScalingGroupName/{name}",
        }
        rid = name
    elif t == "aws:ec2/launchTemplate:LaunchTemplate":
        rid = f"lt-{suffix[:17]}"
        out = {
            "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:launch-template/{rid}",
            "latestVersion": 1,
        }
    elif t == "aws:lambda/function:Function":
        name = _physical_name(args)
        out = {"name": name, "arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"}
        rid = name
    elif t.startswith("aws:appconfig/"):
        rid, out = _appconfig_outputs(t, inputs, suffix)
    elif t == "aws:ec2/eip:Eip":
        rid = f"eipalloc-{suffix[:17]}"
        digits = int(suffix[:6], 16)
        # An address of AWS's public EC2 space (3.0.0.0/9), stable per logical name.
        out = {"allocationId": rid, "publicIp": f"3.{digits % 128}.{(digits >> 7) % 256}.{(digits >> 15) % 254 + 1}"}
    elif t.startswith("aws:ec2/") or t.startswith("aws:vpc/"):
        kind = t.rsplit(":", 1)[-1].lower()
        rid = f"{kind[:6]}-{suffix[:12]}"
        out = {"arn": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:{kind}/{rid}"}
    elif t.startswith("aws:"):
        out = {"arn": f"arn:aws:mock:{REGION}:{ACCOUNT_ID}:{args.name}"}
    elif t.startswith("kubernetes:"):
        metadata = dict(inputs.get("metadata") or {})
        metadata.setdefault("name", f"{args.name}-{_short_hash(args.name)[:K8S_AUTO_NAME_RANDOM_CHARS]}")
        metadata.setdefault("namespace", "default")
        out = {"metadata": metadata}
        rid = f"{metadata['namespace']}/{metadata['name']}"
    return rid, {**inputs, **out}


def _appconfig_outputs(t: str, inputs: dict[str, Any], suffix: str) -> tuple[str, dict[str, Any]]:
    """AppConfig ids are 7 lowercase alphanumerics; composite resource ids join them with `:`."""
    own = suffix[:7]
    app = str(inputs.get("applicationId", own))
    base = f"arn:aws:appconfig:{REGION}:{ACCOUNT_ID}:application/{app}"
    if t == T.APPCONFIG_APPLICATION:
        return own, {"arn": f"arn:aws:appconfig:{REGION}:{ACCOUNT_ID}:application/{own}"}
    if t == T.APPCONFIG_ENVIRONMENT:
        return f"{own}:{app}", {"environmentId": own, "arn": f"{base}/environment/{own}"}
    if t == T.APPCONFIG_PROFILE:
        return f"{own}:{app}", {"configurationProfileId": own, "arn": f"{base}/configurationprofile/{own}"}
    if t == T.APPCONFIG_HOSTED_VERSION:
        profile = inputs.get("configurationProfileId")
        arn = f"{base}/configurationprofile/{profile}/hostedconfigurationversion/1"
        return f"{app}/{profile}/1", {"versionNumber": 1, "arn": arn}
    if t == T.APPCONFIG_STRATEGY:
        return own, {"arn": f"arn:aws:appconfig:{REGION}:{ACCOUNT_ID}:deploymentstrategy/{own}"}
    if t == T.APPCONFIG_DEPLOYMENT:
        env = inputs.get("environmentId")
        arn = f"{base}/environment/{env}/deployment/1"
        return f"{app}/{env}/1", {"deploymentNumber": 1, "state": "COMPLETE", "arn": arn}
    return own, {"arn": f"{base}/{own}"}  # pragma: no cover - types the components do not create


def _call_result(args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    token = args.token
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        return {
            "names": [f"{REGION}a", f"{REGION}b", f"{REGION}c"],
            "zoneIds": ["use1-az1", "use1-az2", "use1-az4"],
        }
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "accountId": ACCOUNT_ID,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/mock",
            "userId": "MOCK",
        }
    if token == "aws:index/getRegion:getRegion":
        return {"name": REGION, "region": REGION, "id": REGION}
    if token == "aws:ssm/getParameter:getParameter":
        return {"name": args.args.get("name"), "value": "ami-0123456789abcdef0", "type": "String"}
    if token == "aws:iam/getPolicyDocument:getPolicyDocument":
        return {"json": json.dumps({"Version": "2012-10-17", "Statement": args.args.get("statements", [])})}
    return {}


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that answer like the providers would and remember every resource registered."""

    resources: list[RecordedResource] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Resource options seen by RecordingMonitor, keyed by (type, name): plain mocks never see options.
    options: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        check_physical_name(args)
        check_appconfig(args)
        rid, outputs = _outputs_for(args)
        options = self.options.get((args.typ, args.name), {})
        self.resources.append(
            RecordedResource(
                args.typ, args.name, dict(args.inputs), outputs, rid, args.provider, bool(args.custom), **options
            )
        )
        return rid, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.calls.append((args.token, dict(args.args)))
        return _call_result(args)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> RecordedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"expected exactly one resource named {name!r}, found {len(matches)}")
        return matches[0]


class RecordingMonitor(MockMonitor):
    """A MockMonitor that also hands the registration's options (ignoreChanges, parent...) to the mocks."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request):  # gRPC method name, hence CamelCase
        self.recording.options[(request.type, request.name)] = {
            "urn": self.make_urn(request.parent, request.type, request.name),
            "parent": request.parent,
            "dependencies": list(request.dependencies),
            "ignore_changes": list(request.ignoreChanges),
            "protect": bool(request.protect),
        }
        return super().RegisterResource(request)
