"""The driver reads what the real stack program exports (offline, under mocks)."""

from __future__ import annotations

import pytest

from driver.outputs import parse_service, service_names
from driver.ports import Weights


@pytest.mark.parametrize("stack", ["dev", "local"])
def test_driver_parses_the_programs_services_output(stack: str) -> None:
    from offline.evaluate import evaluate_program

    outputs = evaluate_program(stack).outputs
    names = service_names(outputs)
    assert names, f"stack {stack} exports no services"
    for name in names:
        svc = parse_service(outputs, name)
        assert svc.config_path == f"services.{name}"
        assert svc.weights == Weights.all_to(svc.live_color)
        for color in ("blue", "green"):
            c = svc.colors[color]
            assert c.target_group_arn.startswith("arn:aws:elasticloadbalancing:")
            assert c.target_group_arn_suffix.startswith("targetgroup/")
            assert c.alarm_names, f"{name}/{color} exports no alarms for the analysis"
