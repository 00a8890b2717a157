"""Issue 13 at the component level: every value AWS (or the provider) would refuse at `up` is refused
by the resolve step first, naming the key; the good neighbour of each bad value is accepted."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from zero_downtime.components.addresses import exposure
from zero_downtime.components.blue_green_service import resolve_blue_green, resolve_flag_agent
from zero_downtime.components.feature_flags import resolve_feature_flags
from zero_downtime.components.flagger_canary import resolve_flagger_canary
from zero_downtime.components.migrations import MigrationSettings, resolve_migrations
from zero_downtime.components.naming import AUTO_NAME_SUFFIX, NAME_LIMITS, check_child_names
from zero_downtime.components.network import resolve_network
from zero_downtime.components.probe import resolve_probe
from zero_downtime.components.release_alarms import resolve_release_alarms, resolve_thresholds
from zero_downtime.components.rolling_asg import check_fleet_name, resolve_rolling_asg
from zero_downtime.components.rolling_deployment import resolve_rolling_deployment, spread_selector
from zero_downtime.components.rolling_update_policy import resolve_refresh_preferences
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


# --- issue 17: each resolve step's refusals exactly (key and whole message) and its bounds -----------
# Written against mutmut's survivors: a refusal checked only by its key let a mutant drop the
# message, rename the key or move a bound by one. Here each bound is accepted at its edge and
# refused one step beyond, with the whole message.


def refused(resolve: Any, *args: Any, **kwargs: Any) -> str:
    """The whole message of the ArgError the resolve step raises."""
    with pytest.raises(ArgError) as raised:
        resolve(*args, **kwargs)
    assert str(raised.value) == f"{raised.value.key}: {raised.value.problem}"
    return str(raised.value)


NETWORK_REFUSED = [
    ({"availability_zone_count": 1}, "availability_zone_count: must be >= 2, got 1"),
    ({"availability_zone_count": 4}, "availability_zone_count: must be <= 3, got 4"),
    ({"nat_gateway_count": 0}, "nat_gateway_count: must be >= 1, got 0"),
    (
        {"availability_zone_count": 2, "nat_gateway_count": 3},
        "nat_gateway_count: must be <= availability_zone_count (2): one per zone at most, got 3",
    ),
    ({"cidr_block": "10.0.0.0/21"}, "cidr_block: must be /20 or larger, got /21"),
    ({"cidr_block": "10.0.0.0/15"}, "cidr_block: must be /16 or smaller (AWS's largest VPC), got /15"),
    ({"cidr_block": "fd00::/56"}, "cidr_block: is not an IPv4 CIDR block: 'fd00::/56'"),
    ({"cidr_block": "10.0.0.1/16"}, "cidr_block: is not an IPv4 CIDR block: '10.0.0.1/16'"),
    ({"cidr_block": 10}, "cidr_block: is not an IPv4 CIDR block: 10"),
]


@pytest.mark.parametrize(("args", "message"), NETWORK_REFUSED, ids=[m for _, m in NETWORK_REFUSED])
def test_network_refusals_name_the_key_and_the_bound(args: dict[str, Any], message: str) -> None:
    assert refused(resolve_network, args) == message


def test_network_bounds_are_accepted_at_their_edges() -> None:
    edge = resolve_network({"cidr_block": "10.0.0.0/20", "availability_zone_count": 3, "nat_gateway_count": 3})
    assert (edge.cidr_block, edge.availability_zone_count, edge.nat_gateway_count) == ("10.0.0.0/20", 3, 3)
    assert resolve_network({"cidr_block": "10.0.0.0/16", "nat_gateway_count": 1}).nat_gateway_count == 1


def test_network_counts_and_block_only_known_at_deployment_pass_unchecked() -> None:
    block, many = pulumi.Output.from_input("x"), pulumi.Output.from_input(9)
    assert resolve_network({"cidr_block": block}).cidr_block is block
    assert resolve_network({"nat_gateway_count": many}).nat_gateway_count is many
    assert resolve_network({"availability_zone_count": many, "nat_gateway_count": 3}).nat_gateway_count == 3


EDGE_REFUSED = [
    ({"test_listener_cidrs": ["0.0.0.0/0"]}, "test_listener_cidrs: must not contain 0.0.0.0/0: the test listener"),
    ({"production_cidrs": ["nope"]}, "production_cidrs: 'nope' is not a CIDR block"),
    ({"test_listener_port": 0}, "test_listener_port: must be >= 1, got 0"),
    ({"test_listener_port": 65536}, "test_listener_port: must be <= 65535, got 65536"),
    ({"test_listener_port": 443}, "test_listener_port: must differ from the production ports 80 and 443, got 443"),
    ({"test_listener_port": 80}, "test_listener_port: must differ from the production ports 80 and 443, got 80"),
    ({"probe_source_ips": ["10.0.0.0/8"]}, "probe_source_ips: '10.0.0.0/8' is not an IPv4 address"),
    (
        {"certificate_arn": "arn:aws:iam::1:x"},
        "certificate_arn: must be an ACM certificate ARN, got 'arn:aws:iam::1:x'",
    ),
    ({"ssl_policy": "a b"}, "ssl_policy: must be an ELB security policy name, got 'a b'"),
    ({"access_logs_bucket": "A_B"}, "access_logs_bucket: must be an S3 bucket name, got 'A_B'"),
    ({"idle_timeout_seconds": 0}, "idle_timeout_seconds: must be >= 1, got 0"),
    ({"idle_timeout_seconds": 4001}, "idle_timeout_seconds: must be <= 4000, got 4001"),
]


@pytest.mark.parametrize(("overrides", "message"), EDGE_REFUSED, ids=[m for _, m in EDGE_REFUSED])
def test_edge_refusals_name_the_key_and_the_bound(overrides: dict[str, Any], message: str) -> None:
    assert refused(resolve_shared_edge, {"test_listener_cidrs": ["10.0.0.0/8"], **overrides}).startswith(message)


def test_edge_bounds_are_accepted_at_their_edges_and_every_value_is_kept() -> None:
    given = {
        "test_listener_cidrs": ["10.0.0.0/8"],
        "production_cidrs": ["0.0.0.0/0"],
        "test_listener_port": 65535,
        "access_logs_bucket": "logs.example",
        "idle_timeout_seconds": 4000,
    }
    edge = resolve_shared_edge(given)  # type: ignore[arg-type]
    assert (edge.test_listener_port, edge.idle_timeout_seconds, edge.access_logs_bucket) == (
        65535,
        4000,
        "logs.example",
    )
    low = resolve_shared_edge({**given, "test_listener_port": 1, "idle_timeout_seconds": 1})  # type: ignore[typeddict-item]
    assert (low.test_listener_port, low.idle_timeout_seconds) == (1, 1)


def test_edge_values_only_known_at_deployment_pass_unchecked() -> None:
    port, text = pulumi.Output.from_input(443), pulumi.Output.from_input("not checked now")
    given = {"test_listener_cidrs": ["10.0.0.0/8"], "test_listener_port": port, "certificate_arn": text}
    edge = resolve_shared_edge({**given, "ssl_policy": text, "access_logs_bucket": text})  # type: ignore[arg-type]
    assert (edge.test_listener_port, edge.certificate_arn, edge.ssl_policy, edge.access_logs_bucket) == (
        port,
        text,
        text,
        text,
    )


REFRESH_REFUSED = [
    ({"max_healthy_percentage": 99}, "instance_refresh.maxHealthy: must be >= 100, got 99"),
    ({"max_healthy_percentage": 201}, "instance_refresh.maxHealthy: must be <= 200, got 201"),
    ({"instance_warmup_seconds": -1}, "instance_refresh.instance_warmup_seconds: must be >= 0, got -1"),
    ({"checkpoint_delay_seconds": -1}, "instance_refresh.checkpoint_delay_seconds: must be >= 0, got -1"),
    ({"bogus": 1}, "instance_refresh.bogus: is not an instance refresh preference"),
    (
        {"min_healthy_percentage": 100, "max_healthy_percentage": 100},
        "instance_refresh.maxHealthy: must be above min healthy percentage (100), got 100: with no room between "
        "them no instance could ever be replaced",
    ),
    (
        {"min_healthy_percentage": 0, "max_healthy_percentage": 101},
        "instance_refresh.maxHealthy: may exceed min healthy percentage (0) by at most 100 (AWS limit), got 101",
    ),
    ({"checkpoint_delay_seconds": 60}, "instance_refresh.checkpoint_delay_seconds: needs checkpoints"),
]


@pytest.mark.parametrize(("given", "message"), REFRESH_REFUSED, ids=[m for _, m in REFRESH_REFUSED])
def test_refresh_preference_refusals_name_the_key_the_user_wrote(given: dict[str, Any], message: str) -> None:
    names = {"max_healthy_percentage": "maxHealthy", "checkpoint_percentages": "checkpoints"}
    assert (
        refused(resolve_refresh_preferences, desired_capacity=4, instance_refresh=given, field_names=names) == message
    )


def test_refresh_preferences_at_their_edges_are_kept() -> None:
    prefs = resolve_refresh_preferences(
        desired_capacity=4,
        instance_refresh={
            "min_healthy_percentage": 100,
            "max_healthy_percentage": 200,
            "instance_warmup_seconds": 0,
            "checkpoint_percentages": [50, 100],
            "checkpoint_delay_seconds": 0,
        },
    )
    assert (prefs.min_healthy_percentage, prefs.max_healthy_percentage) == (100, 200)
    assert (prefs.instance_warmup_seconds, prefs.checkpoint_delay_seconds) == (0, 0)
    assert prefs.notes == ()  # the last checkpoint is 100: nothing left behind to note
    low = resolve_refresh_preferences(
        desired_capacity=4, instance_refresh={"min_healthy_percentage": 0, "max_healthy_percentage": 100}
    )
    assert (low.min_healthy_percentage, low.max_healthy_percentage) == (0, 100)
    short = resolve_refresh_preferences(desired_capacity=4, instance_refresh={"checkpoint_percentages": [50]})
    assert short.notes == ("The last checkpoint is 50%: the refresh stops there and leaves old instances.",)
    unnamed = refused(resolve_refresh_preferences, desired_capacity=4, instance_refresh={"checkpoint_delay_seconds": 1})
    assert unnamed == "instance_refresh.checkpoint_delay_seconds: needs checkpoint_percentages"


PROBE = {"vpc_id": "vpc-1", "subnet_ids": ["subnet-1"], "test_listener_port": 9443}
PROBE_REFUSED = [
    ({"test_listener_port": None}, "test_listener_port: is required"),
    ({"test_listener_port": 0}, "test_listener_port: must be >= 1, got 0"),
    ({"test_listener_port": 65536}, "test_listener_port: must be <= 65535, got 65536"),
    ({"timeout_seconds": 9}, "timeout_seconds: must be >= 10, got 9"),
    ({"timeout_seconds": 901}, "timeout_seconds: must be <= 900, got 901"),
]


@pytest.mark.parametrize(("overrides", "message"), PROBE_REFUSED, ids=[m for _, m in PROBE_REFUSED])
def test_probe_refusals_name_the_key_and_the_bound(overrides: dict[str, Any], message: str) -> None:
    assert refused(resolve_probe, {**PROBE, **overrides}) == message


def test_probe_bounds_are_accepted_at_their_edges() -> None:
    high = resolve_probe({**PROBE, "test_listener_port": 65535, "timeout_seconds": 900})  # type: ignore[typeddict-item]
    low = resolve_probe({**PROBE, "test_listener_port": 1, "timeout_seconds": 10})  # type: ignore[typeddict-item]
    assert (high.test_listener_port, high.timeout_seconds, low.test_listener_port, low.timeout_seconds) == (
        65535,
        900,
        1,
        10,
    )


AGENT_PATH_OK = "/applications/shop/environments/prod/configurations/flags"
CONFIG_ARN = "arn:aws:appconfig:us-east-1:123456789012:application/abc1/environment/def2/configuration/ghi3"
AGENT_REFUSED = [
    ([1], "flag_agent: must be a mapping of flag agent settings, got [1]"),
    ({"agent_path": AGENT_PATH_OK, "poll": 1}, "flag_agent.poll: is not a flag agent setting"),
    (
        {"agent_path": 5},
        "flag_agent.agent_path: must be /applications/<application>/environments/<environment>/configurations/"
        "<profile>, got 5",
    ),
    ({"agent_path": AGENT_PATH_OK, "flag_set": ""}, "flag_agent.flag_set: must be a name of 1-255 characters, got ''"),
    (
        {"agent_path": AGENT_PATH_OK, "flag_set": " "},
        "flag_agent.flag_set: must be a name of 1-255 characters, got ' '",
    ),
    (
        {"agent_path": AGENT_PATH_OK, "flag_set": "f" * 256},
        f"flag_agent.flag_set: must be a name of 1-255 characters, got '{'f' * 256}'",
    ),
    (
        {"agent_path": AGENT_PATH_OK, "configuration_arn": CONFIG_ARN + "*"},
        "flag_agent.configuration_arn: must be one AppConfig configuration's ARN, arn:aws:appconfig:<region>:"
        f"<account>:application/<id>/environment/<id>/configuration/<id> (no wildcard), got '{CONFIG_ARN}*'",
    ),
    (
        {"agent_path": AGENT_PATH_OK, "poll_interval_seconds": 0},
        "flag_agent.poll_interval_seconds: must be >= 1, got 0",
    ),
    (
        {"agent_path": AGENT_PATH_OK, "poll_interval_seconds": 3601},
        "flag_agent.poll_interval_seconds: must be <= 3600, got 3601",
    ),
]


@pytest.mark.parametrize(("given", "message"), AGENT_REFUSED, ids=[m[:60] for _, m in AGENT_REFUSED])
def test_flag_agent_refusals_name_the_key_and_the_bound(given: Any, message: str) -> None:
    assert refused(resolve_flag_agent, given) == message


def test_flag_agent_path_only_known_at_deployment_is_refused_and_bounds_are_accepted_at_their_edges() -> None:
    unknown = pulumi.Output.from_input(AGENT_PATH_OK)
    assert refused(resolve_flag_agent, {"agent_path": unknown}) == (
        "flag_agent.agent_path: must be known at preview, not an Output"
    )
    agent = resolve_flag_agent({"agent_path": AGENT_PATH_OK, "flag_set": "f" * 255, "poll_interval_seconds": 3600})
    assert agent is not None and (agent.flag_set, agent.poll_interval_seconds) == ("f" * 255, 3600)
    default = resolve_flag_agent({"agent_path": AGENT_PATH_OK, "poll_interval_seconds": 1})
    assert default is not None and (default.flag_set, default.poll_interval_seconds) == ("shop", 1)


NOT_A_FLAG_MAP = "flags: must be a non-empty mapping of flag key -> settings, given as plain values"
FLAGS = {"environment": "prod", "flags": {"checkout": {"percentage": 5}}}
FLAGS_REFUSED = [
    ({"environment": None}, "environment: is required"),
    ({"flags": {}}, "flags: must be a non-empty mapping of flag key -> settings, given as plain values"),
    (
        {"flags": [("checkout", {})]},
        "flags: must be a non-empty mapping of flag key -> settings, given as plain values",
    ),
    ({"flags": {f"f{i}": {} for i in range(101)}}, "flags: at most 100 flags, got 101"),
    (
        {"strategy": {"growth": 1}},
        "strategy.growth: unknown key (known: deployment_duration_minutes, final_bake_time_minutes, growth_factor, "
        "growth_type)",
    ),
    ({"strategy": {"growth_factor": 0.99}}, "strategy.growth_factor: must be a number 1-100, got 0.99"),
    ({"strategy": {"growth_factor": 100.5}}, "strategy.growth_factor: must be a number 1-100, got 100.5"),
    ({"strategy": {"growth_factor": True}}, "strategy.growth_factor: must be a number 1-100, got True"),
    ({"strategy": {"growth_factor": "5"}}, "strategy.growth_factor: must be a number 1-100, got '5'"),
]


@pytest.mark.parametrize(("overrides", "message"), FLAGS_REFUSED, ids=[m[:60] for _, m in FLAGS_REFUSED])
def test_feature_flag_refusals_name_the_key_and_the_bound(overrides: dict[str, Any], message: str) -> None:
    assert refused(resolve_feature_flags, "shop", {**FLAGS, **overrides}) == message


def test_feature_flag_bounds_are_accepted_at_their_edges() -> None:
    many = {f"f{i}": {} for i in range(100)}
    for factor in (1, 100):
        settings = resolve_feature_flags("shop", {**FLAGS, "flags": many, "strategy": {"growth_factor": factor}})  # type: ignore[typeddict-item]
        assert (len(settings.flag_keys), settings.growth_factor) == (100, float(factor))
    unknown = pulumi.Output.from_input(500)
    assert resolve_feature_flags("shop", {**FLAGS, "strategy": {"growth_factor": unknown}}).growth_factor is unknown  # type: ignore[typeddict-item]


ALARM_ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-health"
MORE_FLAGS_REFUSED = [
    ({"strategy": {"deployment_duration_minutes": -1}}, "strategy.deployment_duration_minutes: must be >= 0, got -1"),
    ({"alarm_arns": ALARM_ARN}, f"alarm_arns: must be a list of alarm ARNs, got '{ALARM_ARN}'"),
    ({"alarm_arns": [ALARM_ARN] * 6}, "alarm_arns: AppConfig monitors at most 5 alarms, got 6"),
    ({"alarm_arns": [ALARM_ARN, "web-health"]}, "alarm_arns[1]: must be a CloudWatch alarm ARN, got 'web-health'"),
]


@pytest.mark.parametrize(("overrides", "message"), MORE_FLAGS_REFUSED, ids=[m[:60] for _, m in MORE_FLAGS_REFUSED])
def test_feature_flag_strategy_and_alarm_refusals(overrides: dict[str, Any], message: str) -> None:
    assert refused(resolve_feature_flags, "shop", {**FLAGS, **overrides}) == message


def test_feature_flags_keep_what_was_given_and_pass_what_is_only_known_later() -> None:
    arns = [pulumi.Output.from_input("x"), *[ALARM_ARN] * 4]
    given = {**FLAGS, "alarm_arns": arns, "tags": {"team": "shop"}, "strategy": {"deployment_duration_minutes": 0}}
    settings = resolve_feature_flags("shop", given)  # type: ignore[arg-type]
    assert settings.tags == {"team": "shop"}
    assert settings.deployment_duration_minutes == 0
    assert resolve_feature_flags("shop", {**FLAGS, "alarm_arns": None}).flag_keys == ("checkout",)  # type: ignore[typeddict-item]
    whole = resolve_feature_flags("shop", {**FLAGS, "strategy": {"growth_factor": 3}})  # type: ignore[typeddict-item]
    assert type(whole.growth_factor) is float and whole.growth_factor == 3.0
    later = pulumi.Output.from_input([ALARM_ARN] * 9)
    assert resolve_feature_flags("shop", {**FLAGS, "alarm_arns": later}).flag_keys == ("checkout",)  # type: ignore[typeddict-item]
    flags_later = pulumi.Output.from_input({"checkout": {}})
    assert refused(resolve_feature_flags, "shop", {**FLAGS, "flags": flags_later}) == NOT_A_FLAG_MAP


THRESHOLDS_REFUSED = [
    ([1], "alarms: must be a mapping of alarm settings, got [1]"),
    ({"bogus": 1}, "alarms.bogus: is not a known alarm setting"),
    ({"period_seconds": 9}, "alarms.period_seconds: must be >= 10, got 9"),
    ({"period_seconds": 11}, "alarms.period_seconds: must be 10, 30 or a multiple of 60, got 11"),
    ({"period_seconds": 90}, "alarms.period_seconds: must be 10, 30 or a multiple of 60, got 90"),
    ({"evaluation_periods": 0}, "alarms.evaluation_periods: must be >= 1, got 0"),
    ({"datapoints_to_alarm": 0}, "alarms.datapoints_to_alarm: must be >= 1, got 0"),
    (
        {"evaluation_periods": 2, "datapoints_to_alarm": 3},
        "alarms.datapoints_to_alarm: must be <= evaluation_periods (2), got 3",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), THRESHOLDS_REFUSED, ids=[m[:60] for _, m in THRESHOLDS_REFUSED])
def test_threshold_refusals_name_the_key_and_the_bound(overrides: Any, message: str) -> None:
    assert refused(resolve_thresholds, overrides, "alarms") == message


def test_thresholds_at_their_edges_and_only_known_later_are_accepted() -> None:
    for period in (10, 30, 60, 120):
        assert resolve_thresholds({"period_seconds": period}).period_seconds == period
    edge = resolve_thresholds({"evaluation_periods": 1, "datapoints_to_alarm": 1})
    assert (edge.evaluation_periods, edge.datapoints_to_alarm) == (1, 1)
    assert resolve_thresholds({"evaluation_periods": 3, "datapoints_to_alarm": 3}).datapoints_to_alarm == 3
    later = pulumi.Output.from_input(7)
    assert resolve_thresholds({"period_seconds": later}).period_seconds is later
    assert resolve_thresholds({"evaluation_periods": 1, "datapoints_to_alarm": later}).datapoints_to_alarm is later
    assert resolve_thresholds({"evaluation_periods": later, "datapoints_to_alarm": 5}).datapoints_to_alarm == 5


def test_release_alarms_keep_their_tags() -> None:
    settings = resolve_release_alarms({"service": "web", "tags": {"team": "shop"}})  # type: ignore[typeddict-item]
    assert settings.tags == {"team": "shop"}
    assert resolve_release_alarms({"service": "web"}).tags == {}  # type: ignore[typeddict-item]


EXPAND = {"expand_command": "alembic upgrade 0002", "compat_command": "compat-gate 0002"}
MIGRATIONS_REFUSED = [
    (["alembic upgrade head"], "migrations: must be a map of expandCommand, compatCommand, contractCommand, ..."),
    ({**EXPAND, "contract": "x"}, "migrations.contract: is not a known migrations setting"),
    ({"compat_command": "compat-gate"}, "migrations: needs expandCommand, contractCommand or both"),
    ({}, "migrations: needs expandCommand, contractCommand or both"),
    (
        {"expand_command": "alembic upgrade 0002"},
        "migrations.compat_command: is required with expandCommand: the compatibility gate",
    ),
    (
        {"contract_command": "alembic upgrade 0003", "compat_command": "compat-gate"},
        "migrations.compat_command: gates an expand: give it with expandCommand",
    ),
    (
        {**EXPAND, "contract_delay_seconds": 60},
        "migrations.contract_delay_seconds: delays a contract: give it with contractCommand",
    ),
    (
        {**EXPAND, "contract_delay_seconds": -1},
        "migrations.contract_delay_seconds: must be a whole number of seconds 0-604800, got -1",
    ),
    (
        {**EXPAND, "keep_warm_seconds": 604801},
        "migrations.keep_warm_seconds: must be a whole number of seconds 0-604800, got 604801",
    ),
    (
        {**EXPAND, "keep_warm_seconds": True},
        "migrations.keep_warm_seconds: must be a whole number of seconds 0-604800, got True",
    ),
    (
        {**EXPAND, "keep_warm_seconds": 1.0},
        "migrations.keep_warm_seconds: must be a whole number of seconds 0-604800, got 1.0",
    ),
    (
        {**EXPAND, "expand_command": 5},
        "migrations.expand_command: must be a command string known at preview, got 5",
    ),
    ({**EXPAND, "expand_command": "x" * 4097}, "migrations.expand_command: must be at most 4096 characters"),
    ({**EXPAND, "expand_command": "   "}, "migrations.expand_command: must name a program"),
    (
        {**EXPAND, "contract_command": "psql -c 'drop"},
        "migrations.contract_command: cannot be split into arguments: No closing quotation",
    ),
]


@pytest.mark.parametrize(("given", "message"), MIGRATIONS_REFUSED, ids=[m[:70] for _, m in MIGRATIONS_REFUSED])
def test_migration_refusals_name_the_key_and_the_rule(given: Any, message: str) -> None:
    assert refused(resolve_migrations, given) == message


def test_migrations_are_resolved_with_their_defaults_and_edges() -> None:
    assert resolve_migrations(None) is None
    expand_only = resolve_migrations(EXPAND)  # type: ignore[arg-type]
    assert expand_only == MigrationSettings("alembic upgrade 0002", "compat-gate 0002", None, 0, 900)
    contract_only = resolve_migrations(
        {"contract_command": "x" * 4096, "contract_delay_seconds": 604800, "keep_warm_seconds": 0}
    )
    assert contract_only == MigrationSettings(None, None, "x" * 4096, 604800, 0)
    both = resolve_migrations({**EXPAND, "contract_command": "c", "contract_delay_seconds": 0})  # type: ignore[typeddict-item]
    assert both == MigrationSettings("alembic upgrade 0002", "compat-gate 0002", "c", 0, 900)


FLEET_REFUSED = [
    ({"instance_type": "small"}, "instance_type: must be an EC2 instance type like t3.small, got 'small'"),
    ({"desired_capacity": None}, "desired_capacity: is required"),
    ({"ami_ssm_parameter": "/ami"}, "ami_id: give exactly one of ami_id and ami_ssm_parameter"),
    ({"ami_id": "ami-1"}, "ami_id: must be an AMI id like ami-0123456789abcdef0, got 'ami-1'"),
    (
        {"ami_id": None, "ami_ssm_parameter": "ami"},
        "ami_ssm_parameter: must be a parameter path starting with /, got 'ami'",
    ),
    ({"released_ami_id": "img-1"}, "released_ami_id: must be an AMI id like ami-0123456789abcdef0, got 'img-1'"),
    ({"released_ami_id": 5}, "released_ami_id: must be an AMI id like ami-0123456789abcdef0, got 5"),
    ({"desired_capacity": 0, "min_size": 0}, "desired_capacity: must be >= 1, got 0"),
    ({"min_size": -1}, "min_size: must be >= 0, got -1"),
    ({"max_size": 0, "min_size": 0, "desired_capacity": 0}, "desired_capacity: must be >= 1, got 0"),
    ({"min_size": 13}, "min_size: must be <= max_size (12), got 13"),
    ({"desired_capacity": 13}, "desired_capacity: must be within min_size..max_size (8..12), got 13"),
    ({"instance_port": 0}, "instance_port: must be >= 1, got 0"),
    ({"instance_port": 65536}, "instance_port: must be <= 65535, got 65536"),
    ({"default_instance_warmup_seconds": -1}, "default_instance_warmup_seconds: must be >= 0, got -1"),
    ({"deregistration_delay_seconds": -1}, "deregistration_delay_seconds: must be >= 0, got -1"),
    ({"deregistration_delay_seconds": 3601}, "deregistration_delay_seconds: must be <= 3600, got 3601"),
    ({"root_volume_size_gib": 0}, "root_volume_size_gib: must be >= 1, got 0"),
    ({"root_volume_size_gib": 16385}, "root_volume_size_gib: must be <= 16384, got 16385"),
    ({"metadata_hop_limit": 0}, "metadata_hop_limit: must be >= 1, got 0"),
    ({"metadata_hop_limit": 65}, "metadata_hop_limit: must be <= 64, got 65"),
    ({"released_version": 0}, "released_version: must be >= 1, got 0"),
    ({"user_data": b"#!/bin/sh"}, "user_data: must be text (a script), got bytes"),
    ({"user_data": "x" * (16 * 1024 + 1)}, "user_data: must be at most 16384 bytes (EC2's limit)"),
]


@pytest.mark.parametrize(("overrides", "message"), FLEET_REFUSED, ids=[m[:60] for _, m in FLEET_REFUSED])
def test_fleet_refusals_name_the_key_and_the_bound(overrides: dict[str, Any], message: str) -> None:
    assert refused(resolve_rolling_asg, reference_args(**overrides)) == message


def test_fleet_capacity_given_as_an_output_is_refused_with_why() -> None:
    message = refused(resolve_rolling_asg, reference_args(max_size=pulumi.Output.from_input(12)))
    assert message == "max_size: must be a plain integer, not an Output"


def test_fleet_bounds_at_their_edges_and_given_values_are_kept() -> None:
    high = resolve_rolling_asg(
        reference_args(  # type: ignore[arg-type]
            desired_capacity=12,
            instance_port=65535,
            deregistration_delay_seconds=3600,
            root_volume_size_gib=16384,
            metadata_hop_limit=64,
            released_ami_id="ami-0fedcba9876543210",
            user_data="x" * (16 * 1024),
        )
    )
    assert (high.instance_port, high.deregistration_delay_seconds) == (65535, 3600)
    assert (high.root_volume_size_gib, high.metadata_hop_limit) == (16384, 64)
    assert (high.instance_type, high.ami_id, high.released_ami_id) == (
        "t3.small",
        "ami-0123456789abcdef0",
        "ami-0fedcba9876543210",
    )
    assert high.user_data == "x" * (16 * 1024)
    low = resolve_rolling_asg(
        reference_args(  # type: ignore[arg-type]
            min_size=0,
            max_size=1,
            desired_capacity=1,
            rolling_update=None,
            instance_port=1,
            default_instance_warmup_seconds=0,
            deregistration_delay_seconds=0,
            root_volume_size_gib=1,
            metadata_hop_limit=1,
            released_version=1,
        )
    )
    assert (low.instance_port, low.default_instance_warmup_seconds, low.deregistration_delay_seconds) == (1, 0, 0)
    assert (low.root_volume_size_gib, low.metadata_hop_limit, low.released_version) == (1, 1, 1)
    same = resolve_rolling_asg(reference_args(min_size=10, max_size=10))  # type: ignore[arg-type]
    assert same.desired_capacity == 10
    later = pulumi.Output.from_input("t3.small")
    assert resolve_rolling_asg(reference_args(instance_type=later, ami_id=later, released_ami_id=later)).ami_id is later  # type: ignore[arg-type]
    assert resolve_rolling_asg(reference_args(user_data=later)).user_data is later  # type: ignore[arg-type]


CANARY = {"target_name": "web", "service_port": 80, "namespace": "shop"}
CANARY_REFUSED = [
    ({"target_name": None}, "target_name: is required"),
    ({"service_port": 0}, "service_port: must be >= 1, got 0"),
    ({"service_port": 65536}, "service_port: must be <= 65535, got 65536"),
    ({"target_port": 0}, "target_port: must be >= 1, got 0"),
    ({"target_port": 65536}, "target_port: must be <= 65535, got 65536"),
    ({"target_port": ""}, "target_port: must be a port number or name, got ''"),
    ({"target_port": 8.5}, "target_port: must be a port number or name, got 8.5"),
    ({"threshold": 0}, "threshold: must be >= 1, got 0"),
    ({"progress_deadline_seconds": 0}, "progress_deadline_seconds: must be >= 1, got 0"),
]


@pytest.mark.parametrize(("overrides", "message"), CANARY_REFUSED, ids=[m[:60] for _, m in CANARY_REFUSED])
def test_canary_refusals_name_the_key_and_the_bound(overrides: dict[str, Any], message: str) -> None:
    assert refused(resolve_flagger_canary, {**CANARY, **overrides}) == message


def test_canary_required_port_and_names_are_checked_by_their_key() -> None:
    assert refused(resolve_flagger_canary, {"target_name": "web"}) == "service_port: is required"
    assert refused(resolve_flagger_canary, {**CANARY, "autoscaler_name": "A"}).startswith("autoscaler_name: ")
    assert refused(resolve_flagger_canary, {**CANARY, "bogus": 1}).startswith("bogus: ")


def test_canary_bounds_at_their_edges_and_every_setting_is_kept() -> None:
    long_name = "a" * 253
    high = resolve_flagger_canary(
        {**CANARY, "service_port": 65535, "target_port": 65535, "autoscaler_name": long_name}  # type: ignore[typeddict-item]
    )
    assert (high.service_port, high.target_port, high.autoscaler_name) == (65535, 65535, long_name)
    low = resolve_flagger_canary(
        {**CANARY, "service_port": 1, "target_port": 1, "threshold": 1, "progress_deadline_seconds": 1}
    )  # type: ignore[typeddict-item]
    assert (low.service_port, low.target_port, low.threshold, low.progress_deadline_seconds) == (1, 1, 1, 1)
    default = resolve_flagger_canary({"target_name": "web", "service_port": 80})
    assert (default.namespace, default.target_port, default.max_weight, default.step_weight) == (
        "default",
        "http",
        50,
        10,
    )
    assert default.progress_deadline_seconds == 600


def test_network_and_edge_keep_their_tags_and_the_insights_switch() -> None:
    assert resolve_network({"tags": {"team": "shop"}}).tags == {"team": "shop"}
    edge = resolve_shared_edge({"test_listener_cidrs": ["10.0.0.0/8"], "container_insights": False})
    assert edge.container_insights is False


def test_fleet_max_size_and_warm_pool_capacity_are_checked_against_their_bounds() -> None:
    message = refused(resolve_rolling_asg, reference_args(max_size=0, min_size=0, desired_capacity=1))
    assert message == "max_size: must be >= 1, got 0"
    pool = {"max_group_prepared_capacity": 9}
    assert refused(resolve_rolling_asg, reference_args(warm_pool=pool)) == (
        "warm_pool.max_group_prepared_capacity: must be >= 10, got 9"
    )
    kept = resolve_rolling_asg(reference_args(warm_pool={"max_group_prepared_capacity": 10}))  # type: ignore[arg-type]
    assert kept.warm_pool is not None and kept.warm_pool.max_group_prepared_capacity == 10


def test_canary_keeps_its_weights_and_refuses_a_non_mapping_and_a_name_past_253() -> None:
    canary = resolve_flagger_canary({**CANARY, "max_weight": 60, "step_weight": 20})  # type: ignore[typeddict-item]
    assert (canary.max_weight, canary.step_weight) == (60, 20)
    with pytest.raises(ArgError) as raised:
        resolve_flagger_canary([CANARY])  # type: ignore[arg-type]
    assert (raised.value.key, raised.value.problem) == ("", f"must be a mapping, got {[CANARY]!r}")
    assert refused(resolve_flagger_canary, {**CANARY, "autoscaler_name": "a" * 254}).startswith("autoscaler_name: ")


def test_fleet_keeps_the_optional_settings_it_passes_through() -> None:
    given = {
        "root_device_name": "/dev/sda1",
        "kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/1",
        "instance_profile_name": "fleet-profile",
        "notification_topic_arn": "arn:aws:sns:us-east-1:123456789012:fleet",
    }
    fleet = resolve_rolling_asg(reference_args(**given))  # type: ignore[arg-type]
    assert {k: getattr(fleet, k) for k in given} == given
    grace = resolve_rolling_asg(reference_args(health_check={"grace_period_seconds": 42}))  # type: ignore[arg-type]
    assert grace.grace_period_seconds == 42


DEPLOYMENT = {"image": "web:1"}
DEPLOYMENT_REFUSED = [
    ({"bogus": 1}, "bogus: is not a RollingDeployment argument"),
    ({"image": None}, "image: is required"),
    ({"container_port": 0}, "container_port: must be >= 1, got 0"),
    ({"container_port": 65536}, "container_port: must be <= 65535, got 65536"),
    ({"service_port": 0}, "service_port: must be >= 1, got 0"),
    ({"service_port": 65536}, "service_port: must be <= 65535, got 65536"),
    (
        {"max_surge": 0, "max_unavailable": "0%"},
        "max_surge: max_surge and max_unavailable cannot both be 0: the rollout could not progress",
    ),
    ({"min_ready_seconds": -1}, "min_ready_seconds: must be >= 0, got -1"),
    ({"progress_deadline_seconds": 0, "min_ready_seconds": 0}, "progress_deadline_seconds: must be >= 1, got 0"),
    (
        {"progress_deadline_seconds": 5, "min_ready_seconds": 5},
        "progress_deadline_seconds: must be > min_ready_seconds (5), got 5",
    ),
    ({"pre_stop_seconds": 0}, "pre_stop_seconds: must be >= 1, got 0"),
    ({"drain_seconds": -1}, "drain_seconds: must be >= 0, got -1"),
    ({"termination_grace_period_seconds": 0}, "termination_grace_period_seconds: must be >= 1, got 0"),
]


@pytest.mark.parametrize(("overrides", "message"), DEPLOYMENT_REFUSED, ids=[m[:60] for _, m in DEPLOYMENT_REFUSED])
def test_deployment_refusals_name_the_key_and_the_bound(overrides: dict[str, Any], message: str) -> None:
    assert refused(resolve_rolling_deployment, "web", {**DEPLOYMENT, **overrides}) == message


def test_deployment_name_length_leaves_room_for_flaggers_suffix_only_under_flagger() -> None:
    assert resolve_rolling_deployment("web", {**DEPLOYMENT, "app_name": "a" * 63}).app_name == "a" * 63  # type: ignore[typeddict-item]
    assert refused(resolve_rolling_deployment, "web", {**DEPLOYMENT, "app_name": "a" * 64}).startswith("app_name: ")
    flagger = {**DEPLOYMENT, "managed_by_flagger": True}
    assert resolve_rolling_deployment("web", {**flagger, "app_name": "a" * 55}).app_name == "a" * 55  # type: ignore[typeddict-item]
    assert refused(resolve_rolling_deployment, "web", {**flagger, "app_name": "a" * 56}).startswith("app_name: ")


def test_deployment_bounds_at_their_edges_and_given_values_are_kept() -> None:
    given = {
        **DEPLOYMENT,
        "container_port": 65535,
        "service_port": 65535,
        "service_type": "NodePort",
        "min_ready_seconds": 0,
        "progress_deadline_seconds": 1,
        "pre_stop_seconds": 1,
        "drain_seconds": 0,
        "termination_grace_period_seconds": 1,
        "env": {"LOG_LEVEL": "debug"},
        "part_of": "shop",
    }
    d = resolve_rolling_deployment("web", given)  # type: ignore[arg-type]
    assert (d.container_port, d.service_port, d.service_type) == (65535, 65535, "NodePort")
    assert (d.min_ready_seconds, d.progress_deadline_seconds) == (0, 1)
    assert (d.pre_stop_seconds, d.drain_seconds, d.termination_grace_period_seconds) == (1, 0, 1)
    assert (d.env, d.part_of) == ({"LOG_LEVEL": "debug"}, "shop")
    low = resolve_rolling_deployment("web", {**DEPLOYMENT, "container_port": 1, "service_port": 1})  # type: ignore[typeddict-item]
    assert (low.container_port, low.service_port) == (1, 1)
    assert refused(resolve_rolling_deployment, "web", {**DEPLOYMENT, "part_of": "-bad-"}).startswith("part_of: ")
    assert refused(
        resolve_rolling_deployment,
        "web",
        {**DEPLOYMENT, "pre_stop_seconds": 5, "drain_seconds": 5, "termination_grace_period_seconds": 9},
    ) == (
        "termination_grace_period_seconds: must be >= pre_stop_seconds + drain_seconds (5 + 5 = 10), got 9: the "
        "kubelet would SIGKILL requests still in flight"
    )
    exact = {**DEPLOYMENT, "pre_stop_seconds": 5, "drain_seconds": 5, "termination_grace_period_seconds": 10}
    assert resolve_rolling_deployment("web", exact).termination_grace_period_seconds == 10  # type: ignore[arg-type]


SERVICE_REFUSED = [
    ({"live_color": "red"}, "live_color: must be blue or green, got 'red'"),
    (
        {"blue": {"image": "web:1", "weight": 90}, "green": {"image": "web:2", "weight": 20}},
        "green.weight: blue.weight + green.weight must sum to 100, got 90 + 20",
    ),
    (
        {"green": {"image": "web:2", "weight": 10, "desired_count": 0}},
        "green.desired_count: must be >= 1 while green gets 10% of traffic: requests would fail",
    ),
    ({"container_port": 0}, "container_port: must be >= 1, got 0"),
    ({"container_port": 65536}, "container_port: must be <= 65535, got 65536"),
    ({"cpu": 300}, "cpu: must be a Fargate CPU size 256, 512, 1024, 2048, 4096, 8192, 16384, got 300"),
    ({"deregistration_delay_seconds": -1}, "deregistration_delay_seconds: must be >= 0, got -1"),
    ({"health_check_grace_period_seconds": -1}, "health_check_grace_period_seconds: must be >= 0, got -1"),
    (
        {"health_check_grace_period_seconds": 2147483648},
        "health_check_grace_period_seconds: must be <= 2147483647, got 2147483648",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), SERVICE_REFUSED, ids=[m[:60] for _, m in SERVICE_REFUSED])
def test_service_refusals_name_the_key_and_the_bound(overrides: dict[str, Any], message: str) -> None:
    assert refused(resolve_blue_green, "web", base_args(**overrides)) == message


def test_service_name_refusals_say_why() -> None:
    assert refused(resolve_blue_green, "Web", base_args()) == (
        "name: must be lowercase letters, digits and '-', starting with a letter (used in AWS names), got 'Web'"
    )


def test_service_bounds_at_their_edges_defaults_follow_the_live_color_and_outputs_pass() -> None:
    high = resolve_blue_green(
        "web",
        base_args(  # type: ignore[arg-type]
            container_port=65535, deregistration_delay_seconds=0, health_check_grace_period_seconds=2147483647
        ),
    )
    assert (high.container_port, high.deregistration_delay_seconds) == (65535, 0)
    assert high.health_check_grace_period_seconds == 2147483647
    low = resolve_blue_green("web", base_args(container_port=1, health_check_grace_period_seconds=0))  # type: ignore[arg-type]
    assert (low.container_port, low.health_check_grace_period_seconds) == (1, 0)
    blue, green = {"image": "a:1"}, {"image": "a:2"}
    green_live = resolve_blue_green("web", base_args(live_color="green", blue=blue, green=green))  # type: ignore[arg-type]
    assert (green_live.blue.weight, green_live.green.weight) == (0, 100)
    idle_green = {"image": "a:2", "weight": 0, "desired_count": 0}
    idle = resolve_blue_green("web", base_args(green=idle_green, blue={"image": "a:1", "weight": 100}))  # type: ignore[arg-type]
    assert idle.green.desired_count == 0
    cpu = pulumi.Output.from_input(256)
    assert resolve_blue_green("web", base_args(cpu=cpu, memory=122880)).memory == 122880  # type: ignore[arg-type]
    assert refused(resolve_blue_green, "web", base_args(cpu=cpu, memory=511)) == "memory: must be >= 512, got 511"
    assert refused(resolve_blue_green, "web", base_args(cpu=cpu, memory=122881)) == (
        "memory: must be <= 122880, got 122881"
    )
    memory = pulumi.Output.from_input(3)
    assert resolve_blue_green("web", base_args(cpu=256, memory=memory)).memory is memory  # type: ignore[arg-type]


AGENT = {"agent_path": AGENT_PATH_OK}
MIGRATE = {"expand_command": "alembic upgrade 0002", "compat_command": "compat-gate 0002"}
SERVICE_MORE_REFUSED = [
    ({"environment": {"APP_COLOR": "red"}}, "environment.APP_COLOR: is set by the component to the task's color"),
    (
        {"flag_agent": AGENT, "environment": {"APP_FLAG_SET": "x"}},
        "environment.APP_FLAG_SET: is set by the component from the flag set it reads",
    ),
    (
        {"flag_agent": AGENT, "secrets": {"APP_FLAGS_AGENT_URL": SM_ARN}},
        "secrets.APP_FLAGS_AGENT_URL: is set by the component from the flag set it reads",
    ),
    (
        {"environment": {"Z": "x", "B": "y"}, "secrets": {"A": SM_ARN, "Z": SM_ARN}},
        "secrets.Z: is also set in environment: ECS refuses a variable defined twice",
    ),
    (
        {"blue": {"image": "a:1", "weight": 99}, "green": {"image": "a:2", "weight": 1, "desired_count": 0}},
        "green.desired_count: must be >= 1 while green gets 1% of traffic: requests would fail",
    ),
    (
        {"mode": "native", "native": {"strategy": "BLUE_GREEN"}, "migrations": MIGRATE},
        "migrations: needs mode paired: the release driver runs migrations, ECS's native strategies do not",
    ),
    (
        {"test_host_name": "api.example.org", "routing": {"priority": 5, "host_headers": ["web.example.com"]}},
        "test_host_name: 'api.example.org' matches none of routing.host_headers ['web.example.com']: pre-traffic "
        "checks with it would reach the listener's default 404, not the service",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), SERVICE_MORE_REFUSED, ids=[m[:60] for _, m in SERVICE_MORE_REFUSED])
def test_service_variable_mode_and_migration_refusals_exactly(overrides: dict[str, Any], message: str) -> None:
    assert refused(resolve_blue_green, "web", base_args(**overrides)) == message


def test_service_mode_only_known_at_deployment_is_refused_and_a_bad_mode_names_its_key() -> None:
    later = pulumi.Output.from_input("native")
    assert refused(resolve_blue_green, "web", base_args(mode=later)) == (
        "mode: must be known at preview (paired or native), not an Output"
    )
    assert refused(resolve_blue_green, "web", base_args(mode="rolling")).startswith("mode: ")


def test_service_keeps_migrations_the_public_ip_switch_and_the_live_colors_default_weights() -> None:
    settings = resolve_blue_green("web", base_args(migrations=MIGRATE, assign_public_ip=True))  # type: ignore[arg-type]
    assert settings.migrations == MigrationSettings("alembic upgrade 0002", "compat-gate 0002", None, 0, 900)
    assert settings.assign_public_ip is True
    plain = resolve_blue_green("web", base_args())  # type: ignore[arg-type]
    assert (plain.migrations, plain.assign_public_ip) == (None, False)
    blue_live = resolve_blue_green("web", base_args(blue={"image": "a:1"}, green={"image": "a:2"}))  # type: ignore[arg-type]
    assert (blue_live.blue.weight, blue_live.green.weight) == (100, 0)


def test_service_variables_reserved_for_the_flag_agent_are_free_without_it_and_outputs_pass() -> None:
    free = {"APP_FLAG_SET": "mine"}
    assert resolve_blue_green("web", base_args(environment=free)).environment == free  # type: ignore[arg-type]
    secret = {"APP_FLAGS_AGENT_URL": SM_ARN}
    assert resolve_blue_green("web", base_args(secrets=secret)).secrets == secret  # type: ignore[arg-type]
    env_later, secrets_later = pulumi.Output.from_input({"A": "x"}), pulumi.Output.from_input({"A": SM_ARN})
    with_agent = resolve_blue_green("web", base_args(flag_agent=AGENT, environment=env_later, secrets=secrets_later))  # type: ignore[arg-type]
    assert with_agent.environment is env_later
    mixed = resolve_blue_green("web", base_args(environment={"A": "x"}, secrets=secrets_later))  # type: ignore[arg-type]
    assert mixed.secrets is secrets_later
    mixed = resolve_blue_green("web", base_args(environment=env_later, secrets={"A": SM_ARN}))  # type: ignore[arg-type]
    assert mixed.environment is env_later
    count_later = pulumi.Output.from_input(0)
    later = resolve_blue_green("web", base_args(green={"image": "a:2", "weight": 10, "desired_count": count_later}))  # type: ignore[arg-type]
    assert later.green.desired_count is count_later


def test_service_keeps_its_tags_cpu_and_log_retention() -> None:
    settings = resolve_blue_green("web", base_args(cpu=512, memory=1024, log_retention_days=3653))  # type: ignore[arg-type]
    assert (settings.tags, settings.cpu, settings.log_retention_days) == ({"team": "platform"}, 512, 3653)
