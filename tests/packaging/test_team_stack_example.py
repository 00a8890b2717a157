"""examples/team-stack from this repo's suite: its own mocks test, and its contract with our stack.

The example's test runs in a separate interpreter, as the team would run it, with this checkout
(installed in editable mode in the project's venv) in place of the `zero-downtime` wheel.
"""

import importlib.util
import re
import subprocess
import sys
from types import ModuleType

from zero_downtime.offline.evaluate import evaluate_program

from tests.paths import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "team-stack"


def _checkout_stack() -> ModuleType:
    spec = importlib.util.spec_from_file_location("team_stack_checkout", EXAMPLE / "checkout_stack.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_is_a_separate_pulumi_project() -> None:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py", "requirements.txt", "test_checkout_stack.py"):
        assert (EXAMPLE / name).is_file(), name
    requirements = [
        line for line in (EXAMPLE / "requirements.txt").read_text().splitlines() if not line.startswith("#")
    ]
    [components] = [line for line in requirements if line.startswith(("zero-downtime ", "zero-downtime["))]
    # A team stack needs the components, and boto3 to read its release store: not the driver's packages.
    assert components.startswith("zero-downtime[store] ") and "driver" not in components


def test_example_mocks_test_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider", "test_checkout_stack.py"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=240,
    )
    summary = re.search(r"(\d+) passed", result.stdout)
    assert result.returncode == 0 and summary and int(summary.group(1)) > 0, result.stdout[-3000:] + result.stderr
    assert "failed" not in result.stdout.splitlines()[-1]


def test_platform_stack_exports_what_team_stacks_read() -> None:
    wanted = set(_checkout_stack().SHARED_OUTPUTS.values())
    exported = set(evaluate_program("dev").outputs)
    assert wanted <= exported, f"add to __main__.py exports: {sorted(wanted - exported)}"
