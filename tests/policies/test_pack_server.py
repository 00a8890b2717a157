"""The real CrossGuard path: policies/__main__.py serves the pack over gRPC as the CLI would use it.

The pack runs in a subprocess (building PolicyPack blocks); the test talks to it on 127.0.0.1
with the analyzer protocol: GetAnalyzerInfo, Configure, Analyze, AnalyzeStack.
"""

from __future__ import annotations

import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as pb
from pulumi.runtime.proto import analyzer_pb2_grpc as pb_grpc
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.policies.pack import all_policies

ENTRY = Path(__file__).resolve().parents[2] / "policies" / "__main__.py"
START_TIMEOUT_SECONDS = 60


@pytest.fixture
def analyzer(tmp_path: Path) -> Iterator[pb_grpc.AnalyzerStub]:
    # Started from another directory, as the CLI would, to prove the entry finds its imports.
    proc = subprocess.Popen([sys.executable, str(ENTRY)], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    channel = None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_SECONDS)
        assert ready, "the pack did not print its port"
        port = int(proc.stdout.readline())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield pb_grpc.AnalyzerStub(channel)
    finally:
        if channel is not None:
            channel.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def analyze(stub: pb_grpc.AnalyzerStub, resource_type: str, name: str, props: dict):
    request = pb.AnalyzeRequest(
        type=resource_type,
        properties=struct(props),
        urn=f"urn:pulumi:prod::zero-downtime::{resource_type}::{name}",
        name=name,
    )
    return stub.Analyze(request, timeout=30).diagnostics


DISABLED_TG = {"protocol": "HTTP", "healthCheck": {"enabled": False}, "deregistrationDelay": 30}


def test_info_lists_every_policy_with_level_and_schema(analyzer: pb_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(struct_pb2.Struct(), timeout=30)
    served = {p.name: p for p in info.policies}
    assert info.name == "zero-downtime-guardrails"
    assert set(served) == {p.name for p in all_policies()}
    assert served["ecs-service-min-healthy-100"].enforcementLevel == pb.MANDATORY
    assert served["ecs-task-definition-read-only-root"].enforcementLevel == pb.ADVISORY
    assert "exemptions" in served["elb-target-group-deregistration-delay"].configSchema.properties
    assert served["kubernetes-deployment-pdb"].policy_type == pb.POLICY_TYPE_STACK


def test_analyze_reports_a_disabled_health_check(analyzer: pb_grpc.AnalyzerStub) -> None:
    diagnostics = analyze(analyzer, T.TARGET_GROUP, "green-tg", DISABLED_TG)
    found = [d for d in diagnostics if d.policyName == "elb-target-group-health-check"]
    assert len(found) == 1
    assert found[0].enforcementLevel == pb.MANDATORY
    assert "enabled is false" in found[0].message


def test_configured_exemption_and_level_apply(analyzer: pb_grpc.AnalyzerStub) -> None:
    analyzer.Configure(
        pb.ConfigureAnalyzerRequest(
            policyConfig={
                "elb-target-group-health-check": pb.PolicyConfig(
                    enforcementLevel=pb.MANDATORY,
                    properties=struct({"exemptions": [{"resource": "green-tg", "reason": "load test, OPS-3"}]}),
                ),
                "elb-target-group-deregistration-delay": pb.PolicyConfig(
                    enforcementLevel=pb.ADVISORY, properties=struct({"minSeconds": 60})
                ),
            }
        ),
        timeout=30,
    )
    diagnostics = analyze(analyzer, T.TARGET_GROUP, "green-tg", DISABLED_TG)
    names = {d.policyName: d for d in diagnostics}
    assert "elb-target-group-health-check" not in names
    delay = names["elb-target-group-deregistration-delay"]
    assert delay.enforcementLevel == pb.ADVISORY
    assert "between 60 and 120 seconds" in delay.message, "Struct floats read as integers"


def test_unknown_preview_value_is_reported_not_crashed(analyzer: pb_grpc.AnalyzerStub) -> None:
    props = {**DISABLED_TG, "healthCheck": {"enabled": UNKNOWN_BOOLEAN_VALUE, "path": "/"}}
    diagnostics = analyze(analyzer, T.TARGET_GROUP, "new-tg", props)
    found = [d for d in diagnostics if d.policyName == "elb-target-group-health-check"]
    assert len(found) == 1
    assert "during preview" in found[0].message
    assert found[0].enforcementLevel == pb.ADVISORY


def test_analyze_stack_reports_a_deployment_without_pdb(analyzer: pb_grpc.AnalyzerStub) -> None:
    deployment = pb.AnalyzerResource(
        type=T.K8S_DEPLOYMENT,
        name="web",
        urn=f"urn:pulumi:prod::zero-downtime::{T.K8S_DEPLOYMENT}::web",
        properties=struct(
            {
                "metadata": {"namespace": "shop"},
                "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "web"}}}},
            }
        ),
    )
    response = analyzer.AnalyzeStack(pb.AnalyzeStackRequest(resources=[deployment]), timeout=30)
    found = [d for d in response.diagnostics if d.policyName == "kubernetes-deployment-pdb"]
    assert [d.urn for d in found] == [deployment.urn]
    assert found[0].enforcementLevel == pb.MANDATORY
