"""Issue 13 at the component level: every value AWS (or the provider) would refuse at `up` is refused
by the resolve step first, naming the key; the good neighbour of each bad value is accepted."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from zero_downtime.components.addresses import exposure
from zero_downtime.components.blue_green_service import resolve_blue_green
from zero_downtime.components.naming import AUTO_NAME_SUFFIX, NAME_LIMITS, check_child_names
from zero_downtime.components.release_alarms import resolve_thresholds
from zero_downtime.components.rolling_asg import check_fleet_name, resolve_rolling_asg
from zero_downtime.components.rolling_deployment import resolve_rolling_deployment, spread_selector
from zero_downtime.components.routing import check_matcher, resolve_health_check, resolve_routing
from zero_downtime.components.rule_matching import RuleMatch, pattern_covers, shadows
from zero_downtime.components.shared_edge import resolve_shared_edge
from zero_downtime.components.tags import check_tags
from zero_downtime.components.validation import ArgError, check_image
from zero_downtime.contract.types import ResourceType as T

from tests.components.test_blue_green_service import base_args
from tests.components.test_rolling_asg import reference_args

SM_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf"
SSM_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/shop/db/password"


@dataclass
class Bad:
    id: str
    args: dict[str, Any]
    key: str
    says: str = ""

    def __str__(self) -> str:
        return self.id


SERVICE_BAD = [
    Bad("fargate-pair", {"cpu": 256, "memory": 4096}, "memory", "512, 1024 or 2048 MiB with cpu 256"),
    Bad("fargate-pair-step", {"cpu": 8192, "memory": 17408}, "memory", "16384-61440 in steps of 4096"),
    Bad("fargate-cpu", {"cpu": 300}, "cpu"),
    Bad("fargate-cpu-float", {"cpu": 256.0}, "cpu", "integer"),
    Bad("log-retention", {"log_retention_days": 45}, "log_retention_days", "retention periods"),
    Bad("tag-aws-prefix", {"tags": {"AWS:owner": "x"}}, "tags.AWS:owner", "reserved"),
    Bad("tag-key-long", {"tags": {"k" * 129: "x"}}, f"tags.{'k' * 129}", "1-128"),
    Bad("tag-value-long", {"tags": {"team": "v" * 257}}, "tags.team", "at most 256"),
    Bad("tag-value-number", {"tags": {"team": 5}}, "tags.team", "strings"),
    Bad("tag-characters", {"tags": {"team": "a;b"}}, "tags.team"),
    Bad("tags-too-many", {"tags": {f"t{i}": "x" for i in range(47)}}, "tags", "at most 46"),
    Bad("matcher-out-of-range", {"health_check": {"matcher": "600"}}, "health_check.matcher"),
    Bad("matcher-reversed-range", {"health_check": {"matcher": "299-200"}}, "health_check.matcher"),
    Bad("matcher-words", {"health_check": {"matcher": "ok"}}, "health_check.matcher"),
    Bad("matcher-number", {"health_check": {"matcher": 200}}, "health_check.matcher"),
    Bad("image-whitespace", {"blue": {"image": "web:1 web:2", "weight": 100}}, "blue.image", "without whitespace"),
    Bad("image-shell", {"green": {"image": "web:$(reboot)"}}, "green.image", "shell characters"),
    Bad("image-long", {"green": {"image": "r/" + "a" * 254}}, "green.image", "at most 255"),
    Bad("image-secret", {"green": {"image": {"secure": "v1:abc"}}}, "green.image", "must not be a secret"),
    Bad("alarm-inf", {"alarms": {"error_rate_percent": math.inf}}, "alarms.error_rate_percent", "finite"),
    Bad("alarm-nan", {"alarms": {"p99_latency_seconds": math.nan}}, "alarms.p99_latency_seconds", "finite"),
    Bad("env-number", {"environment": {"WORKERS": 4}}, "environment.WORKERS", "strings"),
    Bad("env-not-a-map", {"environment": ["A=1"]}, "environment", "mapping"),
    Bad("env-secret", {"environment": {"DB_PASSWORD": {"secure": "v1:x"}}}, "environment.DB_PASSWORD", "secret"),
    Bad("env-color-variable", {"environment": {"APP_COLOR": "red"}}, "environment.APP_COLOR"),
    Bad("secret-plain-value", {"secrets": {"DB_PASSWORD": "hunter2"}}, "secrets.DB_PASSWORD", "never the secret"),
    Bad("secret-parameter-name", {"secrets": {"DB_PASSWORD": "/shop/db"}}, "secrets.DB_PASSWORD"),
    Bad("secret-also-in-env", {"secrets": {"A": SM_ARN}, "environment": {"A": "x"}}, "secrets.A", "also set"),
    Bad("stickiness-enabled-text", {"stickiness": {"enabled": "yes"}}, "stickiness.enabled", "true or false"),
    Bad("stickiness-unknown-key", {"stickiness": {"enabled": True, "ttl": 5}}, "stickiness.ttl"),
    Bad("public-ip-text", {"assign_public_ip": "no"}, "assign_public_ip", "true or false"),
    Bad("path-pattern-chars", {"routing": {"priority": 5, "path_patterns": ["/[a-z]"]}}, "routing.path_patterns"),
    Bad("path-pattern-relative", {"routing": {"priority": 5, "path_patterns": ["api/*"]}}, "routing.path_patterns"),
    Bad("host-header-chars", {"routing": {"priority": 5, "host_headers": ["a b.example.com"]}}, "routing.host_headers"),
    Bad("health-path-space", {"health_check": {"path": "/he alth"}}, "health_check.path"),
    Bad("test-host", {"test_host_name": "not a host"}, "test_host_name"),
]


@pytest.mark.parametrize("case", SERVICE_BAD, ids=str)
def test_service_values_aws_refuses_are_refused_naming_the_key(case: Bad) -> None:
    with pytest.raises(ArgError) as raised:
        resolve_blue_green("web", base_args(**case.args))  # type: ignore[arg-type]
    assert raised.value.key == case.key
    assert case.says in str(raised.value)


@pytest.mark.parametrize(
    "args",
    [
        {"cpu": 256, "memory": 2048},
        {"cpu": 4096, "memory": 30720},
        {"cpu": 16384, "memory": 122880},
        {"log_retention_days": 3653},
        {"tags": {"cost-center": "CC 1234/shop", "owner": "a@b.example"}},
        {"health_check": {"matcher": "200,302"}},
        {"health_check": {"matcher": "200-299"}},
        {"health_check": {"matcher": "499"}},
        {"blue": {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:" + "a" * 64, "weight": 90}},
        {"secrets": {"DB_PASSWORD": SM_ARN, "TOKEN": SSM_ARN}},
        {"environment": {"LOG_LEVEL": "debug"}},
        {"routing": {"priority": 5, "path_patterns": ["/api/*", "/v?/*"], "host_headers": ["*.example.com"]}},
        {"test_host_name": "web.example.com"},
    ],
    ids=lambda a: ",".join(a),
)
def test_their_good_neighbours_are_accepted(args: dict[str, Any]) -> None:
    resolve_blue_green("web", base_args(**args))  # type: ignore[arg-type]


# --- names: the provider's auto-naming limits, checked up front ---------------------------------


def test_a_service_name_whose_target_group_would_be_too_long_is_refused() -> None:
    longest = NAME_LIMITS[T.TARGET_GROUP] - AUTO_NAME_SUFFIX - len("-green-tg")
    assert longest == 15
    resolve_blue_green("a" * longest, base_args())  # type: ignore[arg-type]
    with pytest.raises(ArgError) as raised:
        resolve_blue_green("a" * (longest + 1), base_args())  # type: ignore[arg-type]
    assert raised.value.key == "name"
    assert "target group" in str(raised.value) and "at most 15 characters" in str(raised.value)


@pytest.mark.parametrize("name", ["Web", "web_api", "1web", "wéb", "web api", ""])
def test_service_names_must_be_usable_in_aws_names(name: str) -> None:
    with pytest.raises(ArgError) as raised:
        resolve_blue_green(name, base_args())  # type: ignore[arg-type]
    assert raised.value.key == "name"


def test_fleet_names_are_held_to_their_target_groups_limit() -> None:
    longest = NAME_LIMITS[T.TARGET_GROUP] - AUTO_NAME_SUFFIX - len("-tg")
    check_fleet_name("r" * longest)
    resolve_rolling_asg(reference_args(), "r" * longest)  # type: ignore[arg-type]
    with pytest.raises(ArgError) as raised:
        resolve_rolling_asg(reference_args(), "r" * (longest + 1))  # type: ignore[arg-type]
    assert raised.value.key == "name" and f"at most {longest}" in str(raised.value)


def test_check_child_names_reports_the_binding_child() -> None:
    with pytest.raises(ArgError, match=r"the IAM role 'x+-execution-role'"):
        check_child_names("x" * 50, [(T.IAM_ROLE, "x" * 50 + "-execution-role"), (T.SNS_TOPIC, "x" * 50)])


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"instance_type": "t3 small"}, "instance_type"),
        ({"ami_id": "ami-xyz", "ami_ssm_parameter": None}, "ami_id"),
        ({"user_data": "x" * 16385}, "user_data"),
        ({"tags": {"aws:cloudformation": "x"}}, "tags.aws:cloudformation"),
        ({"warm_pool": {"reuse_on_scale_in": "yes"}}, "warm_pool.reuse_on_scale_in"),
    ],
)
def test_fleet_values_aws_refuses_are_refused_naming_the_key(overrides: dict[str, Any], key: str) -> None:
    args = {k: v for k, v in reference_args(**overrides).items() if v is not None}
    with pytest.raises(ArgError) as raised:
        resolve_rolling_asg(args)  # type: ignore[arg-type]
    assert raised.value.key == key


# --- the test listener: judged on the addresses covered -------------------------------------------


@pytest.mark.parametrize(
    "cidrs",
    [
        ["0.0.0.0/1", "128.0.0.0/1"],
        ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"],
        ["::/1", "8000::/1"],
        ["8.0.0.0/7"],
        ["2600::/24"],
    ],
    ids=["two-halves", "four-quarters", "ipv6-halves", "a-public-slash-7", "ipv6-public-slash-24"],
)
def test_a_test_listener_split_over_the_world_is_refused(cidrs: list[str]) -> None:
    with pytest.raises(ArgError) as raised:
        resolve_shared_edge({"test_listener_cidrs": cidrs})  # type: ignore[typeddict-item]
    assert raised.value.key == "test_listener_cidrs"
    assert "too much of the internet" in str(raised.value)


@pytest.mark.parametrize(
    "cidrs",
    [["10.0.0.0/8", "203.0.113.0/24"], ["8.0.0.0/8"], ["172.16.0.0/12", "192.168.0.0/16", "2001:db8::/32"]],
    ids=["private-and-documentation", "one-public-slash-8", "private-v4-and-v6"],
)
def test_narrow_or_private_test_listener_ranges_are_accepted(cidrs: list[str]) -> None:
    assert resolve_shared_edge({"test_listener_cidrs": cidrs}).test_listener_cidrs == cidrs  # type: ignore[typeddict-item]


def test_production_may_face_the_world_and_the_exposure_counts_only_public_addresses() -> None:
    resolve_shared_edge({"test_listener_cidrs": ["10.0.0.0/8"], "production_cidrs": ["0.0.0.0/1", "128.0.0.0/1"]})  # type: ignore[typeddict-item]
    assert exposure(["10.0.0.0/8"]).public_ipv4 == 0
    assert exposure(["0.0.0.0/1", "128.0.0.0/1"]).whole_ipv4
    assert exposure(["8.0.0.0/8"]).too_wide() is None


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ({"certificate_arn": "my-cert"}, "certificate_arn"),
        ({"access_logs_bucket": "Logs_Bucket"}, "access_logs_bucket"),
        ({"ssl_policy": "TLS 1.3"}, "ssl_policy"),
        ({"container_insights": "maybe"}, "container_insights"),
        ({"tags": {"aws:x": "y"}}, "tags.aws:x"),
        ({"test_listener_cidrs": [10]}, "test_listener_cidrs"),
    ],
)
def test_edge_values_aws_refuses_are_refused(args: dict[str, Any], key: str) -> None:
    with pytest.raises(ArgError) as raised:
        resolve_shared_edge({"test_listener_cidrs": ["10.0.0.0/8"], **args})  # type: ignore[typeddict-item]
    assert raised.value.key == key


# --- listener rules that starve another ------------------------------------------------------------


@pytest.mark.parametrize(
    ("wide", "narrow", "host", "covers"),
    [
        ("/*", "/anything", False, True),
        ("*", "/x", False, True),
        ("/api/*", "/api/v2/*", False, True),
        ("/api/*", "/apis/*", False, False),
        ("/api/*", "/API/x", False, False),
        ("/a?i/*", "/api/x", False, False),
        ("*.example.com", "Shop.Example.com", True, True),
        ("shop.example.com", "SHOP.example.com", True, True),
        ("shop.example.com", "www.example.com", True, False),
    ],
)
def test_pattern_cover_is_only_claimed_when_certain(wide: str, narrow: str, host: bool, covers: bool) -> None:
    assert pattern_covers(wide, narrow, host=host) is covers


def test_a_rule_with_unmodelled_conditions_never_shadows() -> None:
    catch_all = RuleMatch.of(["/*"])
    assert shadows(RuleMatch.of(["/*"]), catch_all)
    assert not shadows(RuleMatch(("/*",), None, other_conditions=True), catch_all)
    assert not shadows(RuleMatch.of(["/*"], ["a.example.com"]), catch_all)
    assert shadows(RuleMatch.of(None, ["a.example.com"]), RuleMatch.of(["/x"], ["A.example.com"]))


# --- helpers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("matcher", ["200", "200,302", "200-299", "499", "200-200"])
def test_alb_matchers_are_accepted(matcher: str) -> None:
    check_matcher(matcher, "m")


@pytest.mark.parametrize("matcher", ["199", "500", "200-500", "200,", "200 ", "2xx", "", "200-299,302"])
def test_other_matchers_are_refused(matcher: str) -> None:
    with pytest.raises(ArgError):
        check_matcher(matcher, "m")


def test_health_check_and_routing_name_their_nested_key() -> None:
    assert resolve_health_check({"matcher": "302"}, "hc").matcher == "302"
    with pytest.raises(ArgError, match=r"^hc\.matcher: "):
        resolve_health_check({"matcher": "99"}, "hc")
    with pytest.raises(ArgError, match=r"^r\.path_patterns: "):
        resolve_routing({"priority": 1, "path_patterns": ["/" + "a" * 128]}, "r")


@pytest.mark.parametrize("image", ["web", "registry.example.com:5000/shop/web:1.4.2", "web@sha256:" + "0" * 64])
def test_image_references_are_accepted(image: str) -> None:
    check_image(image, "image")


def test_outputs_pass_the_up_front_checks_unchanged() -> None:
    # Values only known at deployment cannot be judged now: they pass, as before.
    image = pulumi.Output.from_input("web:1")
    check_image(image, "image")
    assert check_tags(image) is image


def test_non_finite_thresholds_are_refused_everywhere() -> None:
    for key in ("error_rate_percent", "p99_latency_seconds"):
        with pytest.raises(ArgError, match=rf"^alarms\.{key}: must be a finite number"):
            resolve_thresholds({key: math.inf}, "alarms")  # type: ignore[misc]


# --- Kubernetes ---------------------------------------------------------------------------------------


def test_under_flagger_the_spread_counts_the_serving_pods() -> None:
    plain = resolve_rolling_deployment("web", {"image": "web:1"})
    flagger = resolve_rolling_deployment("web", {"image": "web:1", "managed_by_flagger": True})
    selector = {"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web-stack"}
    assert spread_selector(plain, selector) == selector
    # Flagger's primary pods carry app.kubernetes.io/name=web-primary but keep the instance label.
    assert spread_selector(flagger, selector) == {"app.kubernetes.io/instance": "web-stack"}


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ({"image": "web 1"}, "image"),
        ({"image": "web:1", "env": {"A": 1}}, "env.A"),
        ({"image": "web:1", "labels": {"bad key!": "x"}}, "labels.bad key!"),
        ({"image": "web:1", "labels": {"team": {"secure": "x"}}}, "labels.team"),
    ],
)
def test_kubernetes_values_the_api_server_refuses_are_refused(args: dict[str, Any], key: str) -> None:
    with pytest.raises(ArgError) as raised:
        resolve_rolling_deployment("web", args)  # type: ignore[arg-type]
    assert raised.value.key == key
