"""Creates in moto what the stack creates for one paired service, and returns its `services`
output entry, built through the contract (`zero_downtime.contract`) as the component builds it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from zero_downtime.contract import build_color, build_service

SERVICE = "api"


def _alarm(cw: Any, name: str, metric: str, lb: str, tg: str, threshold: float) -> None:
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/ApplicationELB",
        MetricName=metric,
        Dimensions=[{"Name": "LoadBalancer", "Value": lb}, {"Name": "TargetGroup", "Value": tg}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )


def build_paired_service(aws: dict[str, Any]) -> dict[str, Any]:
    ec2, elbv2, cw, sns = aws["ec2"], aws["elbv2"], aws["cloudwatch"], aws["sns"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    lb = elbv2.create_load_balancer(Name="api-alb", Subnets=subnets, Type="application")["LoadBalancers"][0]
    lb_suffix = lb["LoadBalancerArn"].split(":loadbalancer/")[1]
    tgs: dict[str, dict[str, str]] = {}
    for color in ("blue", "green"):
        tg = elbv2.create_target_group(
            Name=f"api-{color}-tg",
            Protocol="HTTP",
            Port=8080,
            VpcId=vpc,
            TargetType="ip",
            HealthCheckPath="/health",
        )["TargetGroups"][0]
        arn = tg["TargetGroupArn"]
        # Registered only as data: moto reports them healthy; nothing is ever sent to them.
        elbv2.register_targets(
            TargetGroupArn=arn,
            Targets=[{"Id": f"10.0.1.{10 + i}", "Port": 8080} for i in range(2)],
        )
        tgs[color] = {"arn": arn, "suffix": arn.split(":")[-1]}

    def forward(blue: int, green: int) -> list[dict[str, Any]]:
        return [
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": tgs["blue"]["arn"], "Weight": blue},
                        {"TargetGroupArn": tgs["green"]["arn"], "Weight": green},
                    ]
                },
            }
        ]

    not_found = [
        {
            "Type": "fixed-response",
            "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"},
        }
    ]
    prod = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=not_found
    )["Listeners"][0]
    test = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8443, DefaultActions=not_found
    )["Listeners"][0]
    catch_all = [{"Field": "path-pattern", "Values": ["/*"]}]
    prod_rule = elbv2.create_rule(
        ListenerArn=prod["ListenerArn"], Priority=50000, Conditions=catch_all, Actions=forward(100, 0)
    )["Rules"][0]
    test_rule = elbv2.create_rule(
        ListenerArn=test["ListenerArn"], Priority=50000, Conditions=catch_all, Actions=forward(0, 100)
    )["Rules"][0]
    topic = sns.create_topic(Name="api-releases")["TopicArn"]

    colors: dict[str, Any] = {}
    for color in ("blue", "green"):
        names = [f"api-{color}-5xx", f"api-{color}-latency"]
        _alarm(cw, names[0], "HTTPCode_Target_5XX_Count", lb_suffix, tgs[color]["suffix"], 10)
        _alarm(cw, names[1], "TargetResponseTime", lb_suffix, tgs[color]["suffix"], 2)
        colors[color] = build_color(
            service_name=f"api-{color}",
            service_arn=f"arn:aws:ecs:us-east-1:123456789012:service/c/api-{color}",
            target_group_arn=tgs[color]["arn"],
            target_group_arn_suffix=tgs[color]["suffix"],
            task_definition_arn=f"arn:aws:ecs:us-east-1:123456789012:task-definition/api-{color}:1",
            image="repo/api:1",
            desired_count=2 if color == "blue" else 0,
            weight=100 if color == "blue" else 0,
            # Created by the stack on AWS; moto has no composite alarms, so it is absent here.
            composite_alarm_name=f"api-{color}-health",
            alarm_names=names,
        )
    return build_service(
        config_path=f"services.{SERVICE}",
        mode="paired",
        live_color="blue",
        idle_color="green",
        weights={"blue": 100, "green": 0},
        cluster_name="c",
        cluster_arn="arn:aws:ecs:us-east-1:123456789012:cluster/c",
        load_balancer_arn_suffix=lb_suffix,
        production_listener_arn=prod["ListenerArn"],
        production_rule_arn=prod_rule["RuleArn"],
        test_listener_arn=test["ListenerArn"],
        test_rule_arn=test_rule["RuleArn"],
        production_url="http://api-alb.example/",
        test_url="http://api-alb.example:8443/",
        notification_topic_arn=topic,
        **colors,
    )


def rule_weights(elbv2: Any, rule_arn: str, entry: dict[str, Any]) -> dict[str, int]:
    """What describe_rules reports, by color."""
    rule = elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]
    by_arn = {entry[c]["targetGroupArn"]: c for c in ("blue", "green")}
    fwd = next(a for a in rule["Actions"] if a["Type"] == "forward")
    return {by_arn[g["TargetGroupArn"]]: g["Weight"] for g in fwd["ForwardConfig"]["TargetGroups"]}


def apply_like_pulumi(elbv2: Any, entry: dict[str, Any]):
    """An `up` stand-in for the fake Stack: writes the configured weights to the rule, as the
    program's ListenerRule would. (Only the rule: moto has nothing else the driver reads.)"""

    def on_up(config: dict[str, str]) -> None:
        base = entry["configPath"]
        blue = config.get(f"{base}.blue.weight")
        green = config.get(f"{base}.green.weight")
        if blue is None or green is None:
            return
        elbv2.modify_rule(
            RuleArn=entry["productionRuleArn"],
            Actions=[
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": entry["blue"]["targetGroupArn"], "Weight": int(blue)},
                            {
                                "TargetGroupArn": entry["green"]["targetGroupArn"],
                                "Weight": int(green),
                            },
                        ]
                    },
                }
            ],
        )

    return on_up


def put_traffic(
    cw: Any,
    entry: dict[str, Any],
    color: str,
    at: float,
    requests: int,
    errors: int,
    latency: float = 0.05,
) -> None:
    """Feed ALB-style datapoints for one color at epoch second `at`."""
    dims = [
        {"Name": "LoadBalancer", "Value": entry["loadBalancerArnSuffix"]},
        {"Name": "TargetGroup", "Value": entry[color]["targetGroupArnSuffix"]},
    ]
    ts = datetime.fromtimestamp(at, tz=UTC)
    data = [
        {"MetricName": "RequestCount", "Dimensions": dims, "Value": requests, "Timestamp": ts},
        {
            "MetricName": "HTTPCode_Target_5XX_Count",
            "Dimensions": dims,
            "Value": errors,
            "Timestamp": ts,
        },
        {"MetricName": "TargetResponseTime", "Dimensions": dims, "Value": latency, "Timestamp": ts},
    ]
    cw.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)


def feed_traffic(
    clock: Any,
    aws: dict[str, Any],
    entry: dict[str, Any],
    green_error_rate: Callable[[float], float] = lambda now: 0.0,
    rps: float = 20.0,
) -> None:
    """On every fake-clock tick, publish the datapoints the ALB would have for the elapsed time,
    split by the weights the rule reports at that moment."""
    last = {"t": clock.now()}

    def tick(now: float) -> None:
        elapsed = now - last["t"]
        if elapsed <= 0:
            return
        w = rule_weights(aws["elbv2"], entry["productionRuleArn"], entry)
        total = max(1, w["blue"] + w["green"])
        for color in ("blue", "green"):
            n = int(rps * elapsed * w[color] / total)
            if n:
                rate = green_error_rate(now) if color == "green" else 0.0
                put_traffic(aws["cloudwatch"], entry, color, now - elapsed / 2, n, int(n * rate))
        last["t"] = now

    clock.on_sleep(tick)
