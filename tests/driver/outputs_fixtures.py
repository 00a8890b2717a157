"""Stack outputs as the components export them, built through the contract, for driver tests."""

from __future__ import annotations

from typing import Any

from zero_downtime.contract import COLORS, build_color, build_service

ACCOUNT = "123456789012"


def color_entry(service: str, color: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "service_name": f"{service}-{color}",
        "service_arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/edge/{service}-{color}",
        "target_group_arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/{service}-{color}/1",
        "target_group_arn_suffix": f"targetgroup/{service}-{color}/1",
        "task_definition_arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{service}-{color}:1",
        "image": f"repo/{service}:1",
        "desired_count": 2 if color == "blue" else 0,
        "weight": 100 if color == "blue" else 0,
        "composite_alarm_name": None,
        "alarm_names": [],
    }
    return build_color(**{**values, **overrides})


def service_entry(service: str = "api", **overrides: Any) -> dict[str, Any]:
    """One entry of the stack output `services`, blue live, every field set."""
    lb = "app/edge/1"
    values: dict[str, Any] = {
        "config_path": f"services.{service}",
        "mode": "paired",
        "live_color": "blue",
        "idle_color": "green",
        "weights": {"blue": 100, "green": 0},
        "cluster_arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/edge",
        "cluster_name": "edge",
        "load_balancer_arn_suffix": lb,
        "production_listener_arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener/{lb}/80",
        "production_rule_arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener-rule/{lb}/80/1",
        "test_listener_arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener/{lb}/9000",
        "test_rule_arn": f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener-rule/{lb}/9000/1",
        "production_url": "http://edge.example.com/",
        "test_url": "http://edge.example.com:9000/",
        "notification_topic_arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:{service}-releases",
        "test_host_name": None,
        "probe_function_arn": None,
        **{c: color_entry(service, c) for c in COLORS},
    }
    return build_service(**{**values, **overrides})
