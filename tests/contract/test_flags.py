"""The feature-flag document and the `featureFlags` output: build -> parse round trips, refusals by key."""

from __future__ import annotations

import json

import pytest
from zero_downtime.contract import ContractError, build_feature_flags, parse_feature_flags
from zero_downtime.contract import flags as flag_doc

ENTRY = {
    "config_path": "featureFlags.checkout",
    "application_id": "abc1234",
    "application_name": "checkout",
    "environment_id": "env1234",
    "environment_name": "prod",
    "configuration_profile_id": "prf1234",
    "configuration_profile_name": "flags",
    "deployment_strategy_id": "str1234",
    "kill_switch_strategy_id": "kil1234",
    "flags": ["new-checkout"],
    "alarm_names": ["web-blue-health"],
    "agent_path": "/applications/checkout/environments/prod/configurations/flags",
}


def test_the_output_round_trips() -> None:
    parsed = parse_feature_flags({"featureFlags": {"checkout": build_feature_flags(**ENTRY)}}, "checkout")
    assert parsed.name == "checkout"
    assert parsed.flags == ("new-checkout",)
    assert parsed.deployment_strategy_id == "str1234"


@pytest.mark.parametrize("key", ["applicationId", "environmentId", "configurationProfileId", "deploymentStrategyId"])
def test_the_parser_names_a_missing_key(key: str) -> None:
    entry = build_feature_flags(**ENTRY)
    del entry[key]
    with pytest.raises(ContractError) as caught:
        parse_feature_flags({"featureFlags": {"checkout": entry}}, "checkout")
    assert caught.value.key == f"featureFlags.checkout.{key}"


def test_an_unknown_flag_set_is_named() -> None:
    with pytest.raises(ContractError, match="it has: checkout"):
        parse_feature_flags({"featureFlags": {"checkout": build_feature_flags(**ENTRY)}}, "search")


def test_setting_a_percentage_changes_only_that_flag() -> None:
    doc = flag_doc.parse_document(
        flag_doc.build_document(
            {"a": flag_doc.flag_value(percentage=5, allow=["u1"]), "b": flag_doc.flag_value(percentage=50)}
        )
    )
    new = flag_doc.parse_document(flag_doc.with_percentage(doc, "a", 25))
    assert flag_doc.percentage_of(new, "a") == 25
    assert new["values"]["a"]["allow"] == ["u1"]
    assert new["values"]["b"] == doc["values"]["b"]
    killed = flag_doc.parse_document(flag_doc.with_percentage(new, "a", 0))
    assert killed["values"]["a"]["enabled"] is False
    assert flag_doc.percentage_of(killed, "a") == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "not JSON"),
        (json.dumps({"version": "2", "flags": {}, "values": {}}), "version"),
        (json.dumps({"version": "1", "flags": []}), "objects"),
    ],
)
def test_a_bad_document_is_refused(text: str, problem: str) -> None:
    with pytest.raises(ContractError, match=problem):
        flag_doc.parse_document(text)


def test_unknown_flags_and_bad_percentages_are_refused() -> None:
    doc = flag_doc.parse_document(flag_doc.build_document({"a": flag_doc.flag_value()}))
    with pytest.raises(ContractError, match="no flag 'z'"):
        flag_doc.with_percentage(doc, "z", 5)
    with pytest.raises(ContractError, match="0-100"):
        flag_doc.with_percentage(doc, "a", 101)
    with pytest.raises(ContractError, match="must start with a letter"):
        flag_doc.build_document({"-a": flag_doc.flag_value()})
