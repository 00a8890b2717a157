"""The components' argument checks (`components/validation.py`) at their edges: the key named, the
problem said, the boundary values, and Outputs passing unchecked.

Written to kill the surviving mutants of `validation.py` (docs/DEVELOPING.md#mutation-testing):
the components' own tests use these helpers through each component, but only
`tests/components/test_hardening.py` is in mutmut's test selection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from zero_downtime.components.validation import (
    LOG_RETENTION_DAYS,
    ArgError,
    check_bool,
    check_choice,
    check_host_name,
    check_image,
    check_int,
    check_log_retention,
    check_not_secret,
    check_number,
    check_string_map,
    check_unknown_keys,
    int_setting,
    require,
    require_inputs,
)


def refused(call: Callable[[], object]) -> tuple[str, str]:
    """(key, problem) of the ArgError `call` raises."""
    with pytest.raises(ArgError) as err:
        call()
    assert str(err.value) == f"{err.value.key}: {err.value.problem}"
    return err.value.key, err.value.problem


def output(value: Any = "x") -> pulumi.Output[Any]:
    return pulumi.Output.from_input(value)


def test_an_arg_error_names_the_key_and_the_problem() -> None:
    err = ArgError("services.web.port", "must be >= 1, got 0")
    assert (err.key, err.problem, str(err)) == (
        "services.web.port",
        "must be >= 1, got 0",
        "services.web.port: must be >= 1, got 0",
    )


def test_require_refuses_missing_and_blank_values_naming_the_key() -> None:
    assert refused(lambda: require({}, "image")) == ("image", "is required")
    assert refused(lambda: require({"image": None}, "image", "services.web.")) == ("services.web.image", "is required")
    assert refused(lambda: require({"image": "  "}, "image")) == ("image", "is required")
    assert require({"image": "nginx"}, "image") == "nginx"
    assert require({"count": 0}, "count") == 0  # falsy is not missing


def test_require_inputs_names_the_first_missing_input() -> None:
    require_inputs({"vpcId": "vpc-1", "subnetIds": output(["s"])}, ["vpcId", "subnetIds"])
    assert refused(lambda: require_inputs({"vpcId": "vpc-1"}, ["vpcId", "subnetIds"])) == ("subnetIds", "is required")


def test_check_int_at_its_bounds() -> None:
    check_int(1, "n", minimum=1, maximum=10)
    check_int(10, "n", minimum=1, maximum=10)
    assert refused(lambda: check_int(0, "n", minimum=1)) == ("n", "must be >= 1, got 0")
    assert refused(lambda: check_int(11, "n", maximum=10)) == ("n", "must be <= 10, got 11")
    assert refused(lambda: check_int(2.0, "n")) == ("n", "must be an integer, got 2.0")
    assert refused(lambda: check_int(True, "n")) == ("n", "must be an integer, got True")
    check_int(output(0), "n", minimum=1)  # known only at deployment: passes unchecked


def test_check_number_at_its_bounds() -> None:
    check_number(5, "x")  # no bounds at all
    check_number(0, "x", minimum=0)
    check_number(0.001, "x", exclusive_minimum=0)
    assert refused(lambda: check_number(-0.001, "x", minimum=0)) == ("x", "must be >= 0, got -0.001")
    assert refused(lambda: check_number(0, "x", exclusive_minimum=0)) == ("x", "must be > 0, got 0")
    assert refused(lambda: check_number(-1, "x", exclusive_minimum=0)) == ("x", "must be > 0, got -1")
    assert refused(lambda: check_number("5", "x")) == ("x", "must be a number, got '5'")
    assert refused(lambda: check_number(True, "x")) == ("x", "must be a number, got True")
    assert refused(lambda: check_number(float("inf"), "x")) == ("x", "must be a finite number, got inf")
    check_number(output(-1), "x", minimum=0)


def test_check_choice() -> None:
    check_choice("b", "mode", ("a", "b"))
    assert refused(lambda: check_choice("c", "mode", ("a", "b"))) == ("mode", "must be one of a, b, got 'c'")
    check_choice(output("c"), "mode", ("a", "b"))


def test_int_setting_applies_the_default_and_both_bounds() -> None:
    assert int_setting({}, "count", 2) == 2
    assert int_setting({"count": 3}, "count", 2, minimum=1, maximum=3) == 3
    assert refused(lambda: int_setting({"count": 0}, "count", 2, where="svc.", minimum=1)) == (
        "svc.count",
        "must be >= 1, got 0",
    )
    assert refused(lambda: int_setting({"count": 4}, "count", 2, maximum=3)) == ("count", "must be <= 3, got 4")


def test_check_log_retention() -> None:
    for days in (1, 3, 3653):
        check_log_retention(days, "logRetentionDays")
    assert refused(lambda: check_log_retention(0, "logRetentionDays")) == ("logRetentionDays", "must be >= 1, got 0")
    assert refused(lambda: check_log_retention("7", "logRetentionDays")) == (
        "logRetentionDays",
        "must be an integer, got '7'",
    )
    periods = ", ".join(map(str, LOG_RETENTION_DAYS))
    assert refused(lambda: check_log_retention(2, "logRetentionDays")) == (
        "logRetentionDays",
        f"must be one of CloudWatch Logs' retention periods {periods}, got 2",
    )
    assert periods.startswith("1, 3, 5, 7, 14,")
    check_log_retention(output(2), "logRetentionDays")


def test_check_host_name() -> None:
    check_host_name("web.example.com", "host")
    assert refused(lambda: check_host_name("*.example.com", "host")) == (
        "host",
        "must be a host name like web.example.com, got '*.example.com'",
    )
    check_host_name(output("*.example.com"), "host")


def test_check_unknown_keys_names_the_first_unknown_key_sorted() -> None:
    check_unknown_keys({"a": 1}, ["a", "b"], "services.web", "unknown setting")
    assert refused(lambda: check_unknown_keys({"z": 1, "y": 2}, ["a"], "services.web", "unknown setting")) == (
        "services.web.y",
        "unknown setting",
    )
    assert refused(lambda: check_unknown_keys({"z": 1, "y": 2}, ["a"], "", "unknown service")) == (
        "y",
        "unknown service",
    )


def test_check_bool() -> None:
    check_bool(False, "enabled")
    assert refused(lambda: check_bool("true", "enabled")) == ("enabled", "must be true or false, got 'true'")
    check_bool(output("true"), "enabled")


SECRET_PROBLEM = (
    "must not be a secret: this value is stored in plain text where it is used; keep secrets in "
    "Secrets Manager or SSM Parameter Store and reference them by ARN (services.<name>.secrets)"
)


def test_check_not_secret() -> None:
    check_not_secret({"secure": "v1:abc", "other": 1}, "x")  # not a secret reference
    assert refused(lambda: check_not_secret({"secure": "v1:abc"}, "env.TOKEN")) == ("env.TOKEN", SECRET_PROBLEM)


def test_check_string_map() -> None:
    assert check_string_map({"A": "1"}, "environment") == {"A": "1"}
    out = output({"A": 1})
    assert check_string_map(out, "environment") is out  # type: ignore[comparison-overlap]
    assert check_string_map({"A": output(1)}, "environment")["A"] is not None
    assert refused(lambda: check_string_map(["A=1"], "environment")) == (
        "environment",
        "must be a mapping of names to strings, got list",
    )
    assert refused(lambda: check_string_map({1: "x"}, "environment")) == (
        "environment",
        "names must be non-empty strings, got 1",
    )
    assert refused(lambda: check_string_map({"": "x"}, "environment")) == (
        "environment",
        "names must be non-empty strings, got ''",
    )
    assert refused(lambda: check_string_map({"A": 1}, "environment")) == (
        "environment.A",
        "values must be strings (quote it), got 1",
    )
    assert refused(lambda: check_string_map({"A": 1}, "tags", what="tag values")) == (
        "tags.A",
        "tag values must be strings (quote it), got 1",
    )
    assert refused(lambda: check_string_map({"A": {"secure": "v1:x"}}, "environment")) == (
        "environment.A",
        SECRET_PROBLEM,
    )


def test_check_image() -> None:
    check_image("registry/repo:tag", "image")
    check_image("a" * 255, "image")  # exactly the maximum length
    check_image(output(" bad "), "image")
    required = "is required (a container image reference)"
    assert refused(lambda: check_image("  ", "image")) == ("image", required)
    assert refused(lambda: check_image(5, "image")) == ("image", required)
    assert refused(lambda: check_image("a" * 256, "image")) == ("image", "must be at most 255 characters, got 256")
    assert refused(lambda: check_image("repo:tag; rm -rf /", "image")) == (
        "image",
        "must be an image reference without whitespace or shell characters, like registry/repo:tag or "
        "repo@sha256:<digest> (letters, digits and '._:/@#-' only), got 'repo:tag; rm -rf /'",
    )
