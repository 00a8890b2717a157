"""A service's `migrations` section (issue 15): validated naming the key, exported for the driver
(`services.<name>.migrations` and `.migrationTask`), and tagged on the ECS services for the policy.
The whole program under Pulumi's mocks, with `Pulumi.dev.yaml`'s services."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from zero_downtime.contract.outputs import parse_service
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import PROJECT_ROOT, evaluate_program
from zero_downtime.stack_config.convert import ConfigError

MIGRATIONS = {
    "expandCommand": "alembic upgrade 0002",
    "compatCommand": "python -m app.migrate compat --old-schema 1 --new-schema 2 --to 0002",
    "contractCommand": "alembic upgrade 0003",
    "contractDelaySeconds": 600,
    "keepWarmSeconds": 900,
}


def services_with(migrations: Any, stack: str = "dev") -> dict[str, Any]:
    raw = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]["zero-downtime:services"]
    services = copy.deepcopy(raw)
    name = sorted(services)[0]
    services[name]["migrations"] = migrations
    return services


def test_declared_migrations_reach_the_driver_and_the_service_tags() -> None:
    # prod has two services (api, web): the one without migrations must stay untagged.
    services = services_with(MIGRATIONS, "prod")
    name = sorted(services)[0]
    ev = evaluate_program("prod", overrides={"services": services})
    entry = parse_service(ev.outputs, name)
    assert entry.migrations is not None and entry.migration_task is not None
    assert entry.migrations.expand_command == "alembic upgrade 0002"
    assert (entry.migrations.contract_delay_seconds, entry.migrations.keep_warm_seconds) == (600, 900)
    task = entry.migration_task
    assert task.container_name == name and task.subnet_ids and task.security_group_ids
    assert task.log_stream_prefix == entry.idle_color
    assert task.task_definition_arn == entry.color(entry.idle_color).task_definition_arn
    svcs = [r for r in ev.of_type(T.ECS_SERVICE) if r.name.startswith(f"{name}-")]
    assert len(svcs) == 2  # one per color
    assert all(r.inputs["tags"]["zero-downtime:contract-delay-seconds"] == "600" for r in svcs)
    assert all(r.inputs["tags"]["zero-downtime:keep-warm-seconds"] == "900" for r in svcs)
    others = [r for r in ev.of_type(T.ECS_SERVICE) if not r.name.startswith(f"{name}-")]
    assert len(others) == 2, [r.name for r in ev.of_type(T.ECS_SERVICE)]  # the other service's two colors
    for r in others:
        tags = r.inputs.get("tags") or {}
        assert "zero-downtime:keep-warm-seconds" not in tags and "zero-downtime:contract-delay-seconds" not in tags


def test_a_service_without_migrations_exports_none() -> None:
    ev = evaluate_program("dev")
    for name in ev.outputs["services"]:
        entry = parse_service(ev.outputs, name)
        assert entry.migrations is None and entry.migration_task is None


@pytest.mark.parametrize(
    ("migrations", "key"),
    [
        ({"expandCommand": "up"}, "migrations.compatCommand"),
        ({"contractCommand": "c", "compatCommand": "x"}, "migrations.compatCommand"),
        ({"contractCommand": "c", "contractDelaySeconds": -5}, "migrations.contractDelaySeconds"),
        ({"contractCommand": "c", "keepWarmSeconds": "long"}, "migrations.keepWarmSeconds"),
        ({"contractCommand": "'unbalanced"}, "migrations.contractCommand"),
        ({"contractCommand": "c", "dropCommand": "x"}, "migrations.dropCommand"),
        ({}, "migrations"),
    ],
)
def test_bad_migrations_are_refused_naming_the_key(migrations: dict[str, Any], key: str) -> None:
    services = services_with(migrations)
    name = sorted(services)[0]
    with pytest.raises(ConfigError) as info:
        evaluate_program("dev", overrides={"services": services})
    assert str(info.value).startswith(f"services.{name}.{key}"), str(info.value)


@pytest.mark.parametrize(("keep_warm", "violations"), [(900, 0), (300, 2)])
def test_the_offline_check_enforces_keep_warm_over_the_contract_delay(keep_warm: int, violations: int) -> None:
    from zero_downtime.policies.config import parse_pack_config
    from zero_downtime.policies.offline_check import check_resources
    from zero_downtime.policies.pack import all_policies

    services = services_with({**MIGRATIONS, "keepWarmSeconds": keep_warm})
    ev = evaluate_program("dev", overrides={"services": services})
    settings = {p.name: p.settings for p in all_policies()}
    report = check_resources("dev", "zero-downtime", ev.resources, parse_pack_config({}, settings))
    found = [v for v in report.violations if v.policy == "ecs-service-keep-warm-covers-contract-delay"]
    assert len(found) == violations  # one per color's ECS service
    assert all(v.level == "mandatory" and "keepWarmSeconds to at least 600" in v.message for v in found)
