"""The `zero-downtime-components` distribution installs the components with only the Pulumi SDKs.

Imports are read from the source (not executed), so a component that starts importing boto3, or
a driver module that needs a package missing from the `driver` extra, fails here.
"""

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from provider.catalog import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
# Project-internal top-level packages a component must never import (house rule: no driver/policies).
NOT_FOR_COMPONENTS = {"driver", "policies", "stack_config", "offline", "rehearsal", "app", "tests", "provider"}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower().replace("_", "-") for r in requirements}


def _top_level_imports(package: str) -> dict[str, set[str]]:
    """Top-level module -> files importing it, for every module of `package` (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(REPO_ROOT)))
    return found


def _third_party_distributions(package: str) -> dict[str, set[str]]:
    """Distribution name -> importing files, for imports outside the stdlib and the package itself."""
    owners = metadata.packages_distributions()
    result: dict[str, set[str]] = {}
    for module, files in _top_level_imports(package).items():
        if module in sys.stdlib_module_names or module == "__future__" or module == package:
            continue
        dists = owners.get(module)
        if not dists:
            # A project-internal package (e.g. `driver` importing `components`) or a missing install.
            result.setdefault(f"<not installed: {module}>", set()).update(files)
            continue
        result.setdefault(dists[0].lower().replace("_", "-"), set()).update(files)
    return result


def test_build_backend_and_packages_are_declared() -> None:
    assert PYPROJECT["build-system"]["build-backend"]
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert "components" in include and "components.*" in include
    # Tests, policies and the stack program stay out of the wheel.
    assert not {"tests", "policies", "stack_config", "offline"} & {p.split(".")[0] for p in include}


def test_components_need_only_the_core_dependencies() -> None:
    core = _requirement_names(PROJECT["dependencies"])
    used = _third_party_distributions("components")
    missing = {dist: sorted(files) for dist, files in used.items() if dist not in core}
    assert not missing, f"components import packages that are not core dependencies: {missing}"
    assert {"pulumi", "pulumi-aws", "pulumi-kubernetes"} <= core


def test_core_dependencies_leave_out_driver_and_test_packages() -> None:
    core = _requirement_names(PROJECT["dependencies"])
    driver_extra = _requirement_names(PROJECT["optional-dependencies"]["driver"])
    assert not core & (driver_extra | {"pytest", "moto", "ruff", "boto3", "rich"})


def test_components_never_import_project_internals() -> None:
    imports = _top_level_imports("components")
    offending = {m: sorted(f) for m, f in imports.items() if m in NOT_FOR_COMPONENTS}
    assert not offending, f"components must stand alone in the wheel: {offending}"


def test_driver_extra_covers_what_the_driver_imports() -> None:
    if not (REPO_ROOT / "driver").is_dir():
        pytest.skip("driver/ not present")
    declared = _requirement_names(PROJECT["dependencies"]) | _requirement_names(
        PROJECT["optional-dependencies"]["driver"]
    )
    used = _third_party_distributions("driver")
    # The driver may import the components (same wheel); anything else must be declared.
    used.pop("<not installed: components>", None)
    missing = {dist: sorted(files) for dist, files in used.items() if dist not in declared}
    assert not missing, f"add these to the `driver` extra in pyproject.toml: {missing}"


def test_console_script_target_exists() -> None:
    target = PROJECT["scripts"]["zdd-release"]
    module, _, func = target.partition(":")
    path = REPO_ROOT / Path(*module.split(".")).with_suffix(".py")
    assert path.is_file(), f"zdd-release points at {target} but {path.relative_to(REPO_ROOT)} does not exist"
    defined = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
    assert func in defined, f"{module} has no top-level function {func}()"
