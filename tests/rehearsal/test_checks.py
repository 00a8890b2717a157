"""Pre-traffic checks against real instances: pass for the right version, fail otherwise."""

from __future__ import annotations

from pathlib import Path

from zero_downtime.rehearsal.checks import standard_checks
from zero_downtime.rehearsal.processes import Instance, Supervisor


def test_checks_pass_for_the_released_version_and_fail_for_another(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    try:
        instances = [supervisor.spawn_app(f"green-{i}", {"APP_VERSION": "v2"}) for i in (1, 2)]
        good = {c.name: c.run() for c in standard_checks(lambda: instances, "v2")}
        wrong = {c.name: c.run() for c in standard_checks(lambda: instances, "v3")}
        none: list[Instance] = []
        empty = standard_checks(lambda: none, "v2")[0].run()
    finally:
        supervisor.stop_all()
    assert good and all(r.passed for r in good.values()), good
    assert wrong["ready"].passed and not wrong["version"].passed
    assert "green-1" in wrong["version"].detail and "green-2" in wrong["version"].detail
    assert not empty.passed and "no instances" in empty.detail
