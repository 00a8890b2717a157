"""A recording `pulumi.runtime.Mocks`: realistic provider outputs, and every registration kept.

Used by the unit tests, the offline preview and the offline policy check, so all three see
the same resource graph that `pulumi up` would register.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


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


def _physical_name(args: pulumi.runtime.MockResourceArgs, max_len: int = 32) -> str:
    given = args.inputs.get("name")
    if isinstance(given, str) and given:
        return given
    # Auto-naming: the engine appends a random suffix; a stable hash keeps tests deterministic.
    return f"{args.name[: max_len - 8]}-{_short_hash(args.name)[:7]}"


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
        name = inputs.get("name") or _physical_name(args, 64)
        out = {"arn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}"}
        rid = name
    elif t == "aws:sns/topic:Topic":
        name = _physical_name(args, 64)
        out = {"name": name, "arn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}"}
        rid = out["arn"]
    elif t == "aws:iam/role:Role":
        name = _physical_name(args, 64)
        out = {"name": name, "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"}
        rid = name
    elif t == "aws:cloudwatch/logGroup:LogGroup":
        name = _physical_name(args, 64)
        out = {"name": name, "arn": f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}"}
        rid = name
    elif t == "aws:autoscaling/group:Group":
        name = _physical_name(args, 64)
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
    elif t.startswith("aws:ec2/") or t.startswith("aws:vpc/"):
        kind = t.rsplit(":", 1)[-1].lower()
        rid = f"{kind[:6]}-{suffix[:12]}"
        out = {"arn": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:{kind}/{rid}"}
    elif t.startswith("aws:"):
        out = {"arn": f"arn:aws:mock:{REGION}:{ACCOUNT_ID}:{args.name}"}
    elif t.startswith("kubernetes:"):
        metadata = dict(inputs.get("metadata") or {})
        metadata.setdefault("name", _physical_name(args, 63))
        metadata.setdefault("namespace", "default")
        out = {"metadata": metadata}
        rid = f"{metadata['namespace']}/{metadata['name']}"
    return rid, {**inputs, **out}


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
