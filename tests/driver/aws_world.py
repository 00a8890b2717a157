"""Creates in moto what the stack creates for one paired service, and returns its `services`
output entry, built through the contract (`zero_downtime.contract`) as the component builds it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from zero_downtime.contract import COLORS, build_color, build_service
from zero_downtime.contract.release_state import ServiceState, StoreKeys, decode_service_state

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


def build_paired_service(aws: dict[str, Any], service: str = SERVICE) -> dict[str, Any]:
    ec2, elbv2, cw, sns = aws["ec2"], aws["elbv2"], aws["cloudwatch"], aws["sns"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    lb = elbv2.create_load_balancer(Name=f"{service}-alb", Subnets=subnets, Type="application")["LoadBalancers"][0]
    lb_suffix = lb["LoadBalancerArn"].split(":loadbalancer/")[1]
    tgs: dict[str, dict[str, str]] = {}
    for color in ("blue", "green"):
        tg = elbv2.create_target_group(
            Name=f"{service}-{color}-tg",
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
    topic = sns.create_topic(Name=f"{service}-releases")["TopicArn"]

    colors: dict[str, Any] = {}
    for color in ("blue", "green"):
        names = [f"{service}-{color}-5xx", f"{service}-{color}-latency"]
        _alarm(cw, names[0], "HTTPCode_Target_5XX_Count", lb_suffix, tgs[color]["suffix"], 10)
        _alarm(cw, names[1], "TargetResponseTime", lb_suffix, tgs[color]["suffix"], 2)
        colors[color] = build_color(
            service_name=f"{service}-{color}",
            service_arn=f"arn:aws:ecs:us-east-1:123456789012:service/c/{service}-{color}",
            target_group_arn=tgs[color]["arn"],
            target_group_arn_suffix=tgs[color]["suffix"],
            task_definition_arn=f"arn:aws:ecs:us-east-1:123456789012:task-definition/{service}-{color}:1",
            image=f"repo/{service}:1",
            desired_count=2 if color == "blue" else 0,
            weight=100 if color == "blue" else 0,
            # Created by the stack on AWS; moto has no composite alarms, so it is absent here.
            composite_alarm_name=f"{service}-{color}-health",
            alarm_names=names,
        )
    return build_service(
        config_path=f"services.{service}",
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
        production_url=f"http://{service}-alb.example/",
        test_url=f"http://{service}-alb.example:8443/",
        notification_topic_arn=topic,
        test_host_name=None,
        probe_function_arn=None,
        **colors,
    )


def rule_weights(elbv2: Any, rule_arn: str, entry: dict[str, Any]) -> dict[str, int]:
    """What describe_rules reports, by color."""
    rule = elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]
    by_arn = {entry[c]["targetGroupArn"]: c for c in ("blue", "green")}
    fwd = next(a for a in rule["Actions"] if a["Type"] == "forward")
    return {by_arn[g["TargetGroupArn"]]: g["Weight"] for g in fwd["ForwardConfig"]["TargetGroups"]}


class FakeProgram:
    """What `up` does for the paired service, as far as moto can show it: it reads the service's
    release state from the release store (as stack_config/release_state.py does) and applies it to
    the rule's weights, to the stack output entry, and to the registered targets (one per task, as
    ECS registers them). Without release state it applies git's `config` (`liveColor`, weights).

    It also watches the zero-downtime invariant: an `up` must never give weight to a color whose
    tasks are not already running, i.e. whose count before this `up` is below what it must serve.
    """

    def __init__(
        self,
        aws: dict[str, Any],
        entry: dict[str, Any],
        blobs: Any,
        *,
        project: str = "zero-downtime",
        stack: str = "dev",
    ) -> None:
        self.aws = aws
        self.entry = entry
        self.blobs = blobs
        self.keys = StoreKeys(project, stack)
        self.service = entry["configPath"].split(".", 1)[1]
        self.running = {c: int(entry[c]["desiredCount"]) for c in COLORS}
        self.violations: list[str] = []
        self.ups = 0

    def state(self) -> ServiceState | None:
        blob = self.blobs.get(self.keys.service_state(self.service))
        return None if blob is None else decode_service_state(blob.data, "test")

    def __call__(self, config: dict[str, str]) -> None:
        self.ups += 1
        state = self.state()
        base = self.entry["configPath"]
        if state is not None:
            live, weights = state.live_color, state.weights.as_dict()
            counts = {c: state.color(c).desired_count for c in COLORS}
            images = {c: state.color(c).image for c in COLORS}
        else:  # never released: git's stack file bootstraps
            live = config.get(f"{base}.liveColor", self.entry["liveColor"])
            weights = {c: int(config.get(f"{base}.{c}.weight", self.entry[c]["weight"])) for c in COLORS}
            counts = {c: int(config.get(f"{base}.{c}.desiredCount", self.entry[c]["desiredCount"])) for c in COLORS}
            images = {c: config.get(f"{base}.{c}.image", self.entry[c]["image"]) for c in COLORS}
        for c in COLORS:
            if weights[c] > 0 and self.running[c] < max(1, counts[c]):
                self.violations.append(
                    f"up {self.ups}: {c} gets {weights[c]}% with {self.running[c]} tasks running of {counts[c]}"
                )
        elbv2 = self.aws["elbv2"]
        elbv2.modify_rule(
            RuleArn=self.entry["productionRuleArn"],
            Actions=[
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": self.entry[c]["targetGroupArn"], "Weight": weights[c]} for c in COLORS
                        ]
                    },
                }
            ],
        )
        for c in COLORS:
            self._register(c, counts[c])
            self.entry[c].update(image=images[c], desiredCount=counts[c], weight=weights[c])
        self.running = dict(counts)
        self.entry.update(liveColor=live, idleColor="green" if live == "blue" else "blue", weights=weights)

    def _register(self, color: str, count: int) -> None:
        """One healthy target per task, as ECS registers a Fargate task's IP."""
        elbv2, arn = self.aws["elbv2"], self.entry[color]["targetGroupArn"]
        current = [d["Target"] for d in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]]
        if len(current) > count:
            elbv2.deregister_targets(TargetGroupArn=arn, Targets=current[count:])
        elif len(current) < count:
            base = 10 if color == "blue" else 110
            wanted = [{"Id": f"10.0.1.{base + i}", "Port": 8080} for i in range(count)]
            have = {t["Id"] for t in current}
            elbv2.register_targets(TargetGroupArn=arn, Targets=[t for t in wanted if t["Id"] not in have])


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
