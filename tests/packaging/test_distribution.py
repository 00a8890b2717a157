"""The `zero-downtime` distribution: one namespace, declared dependencies, and a wheel that works
outside the checkout.

Imports are read from the source (not executed) for the dependency checks, so a component that
starts importing boto3, or a driver module that needs a package missing from its extra, fails here.
The wheel itself is built and installed into a fresh virtual environment outside the repository,
where the components are imported and every console entry point answers `--help`.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
NAMESPACE = "zero_downtime"

# Which extra each folder's third-party imports must be covered by (the core dependencies always are).
EXTRA_OF = {
    "contract": None,
    "components": None,
    "provider": None,
    "stack_config": "store",
    "store": "store",
    "offline": "policy",
    "policies": "policy",
    "driver": "driver",
    "rehearsal": "rehearsal",
    "app": "rehearsal",
}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower().replace("_", "-") for r in requirements}


def _package_dirs() -> dict[str, Path]:
    """Installed package name -> folder of the checkout, from pyproject's package-dir."""
    mapping = SETUPTOOLS["package-dir"]
    found: dict[str, Path] = {}
    for package, folder in mapping.items():
        root = REPO_ROOT / folder
        for init in sorted(root.rglob("__init__.py")):
            rel = init.parent.relative_to(root)
            found[".".join((package, *rel.parts))] = init.parent
    return found


def _absolute_imports(folder: str) -> dict[str, set[str]]:
    """Top-level module -> files importing it, for every module under `folder` (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO_ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(REPO_ROOT)))
    return found


def _third_party_distributions(folder: str) -> dict[str, set[str]]:
    """Distribution name -> importing files, for imports outside the stdlib and the namespace."""
    owners = metadata.packages_distributions()
    result: dict[str, set[str]] = {}
    for module, files in _absolute_imports(folder).items():
        if module in sys.stdlib_module_names or module in ("__future__", NAMESPACE):
            continue
        dists = owners.get(module)
        name = dists[0].lower().replace("_", "-") if dists else f"<not installed: {module}>"
        result.setdefault(name, set()).update(files)
    return result


def test_every_package_folder_is_listed_under_the_namespace() -> None:
    listed = set(SETUPTOOLS["packages"])
    on_disk = set(_package_dirs())
    assert listed == on_disk, (
        f"pyproject packages differ from the folders: missing {on_disk - listed}, extra {listed - on_disk}"
    )
    assert listed and all(p.startswith(f"{NAMESPACE}.") for p in listed)
    assert set(SETUPTOOLS["package-dir"]) == {f"{NAMESPACE}.{folder}" for folder in EXTRA_OF}


def _touches_sys_path(source: str) -> bool:
    return any(
        isinstance(node, ast.Attribute)
        and node.attr == "path"
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
        for node in ast.walk(ast.parse(source))
    )


def test_no_module_rewrites_sys_path() -> None:
    assert _touches_sys_path("import sys\nsys.path.insert(0, 'x')\n")  # the check itself can fail
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for folder in [*EXTRA_OF, "bench", "examples"]
        for path in (REPO_ROOT / folder).rglob("*.py")
        if _touches_sys_path(path.read_text())
    ]
    assert not offenders


def test_components_need_only_the_core_dependencies() -> None:
    core = _requirement_names(PROJECT["dependencies"])
    used = _third_party_distributions("components")
    missing = {dist: sorted(files) for dist, files in used.items() if dist not in core}
    assert not missing, f"components import packages that are not core dependencies: {missing}"
    assert {"pulumi", "pulumi-aws", "pulumi-kubernetes"} <= core


def test_core_dependencies_leave_out_driver_and_test_packages() -> None:
    core = _requirement_names(PROJECT["dependencies"])
    driver_extra = _requirement_names(PROJECT["optional-dependencies"]["driver"])
    assert not core & (driver_extra | {"pytest", "moto", "ruff", "boto3", "rich", "uvicorn"})


@pytest.mark.parametrize("folder", sorted(EXTRA_OF))
def test_each_folder_imports_only_what_its_extra_declares(folder: str) -> None:
    declared = _requirement_names(PROJECT["dependencies"])
    if EXTRA_OF[folder]:
        declared |= _requirement_names(PROJECT["optional-dependencies"][EXTRA_OF[folder]])
    used = _third_party_distributions(folder)
    missing = {dist: sorted(files) for dist, files in used.items() if dist not in declared}
    assert not missing, f"declare these for {folder}/ in pyproject.toml: {missing}"


@pytest.mark.parametrize("script", sorted(PROJECT["scripts"]))
def test_console_script_target_exists(script: str) -> None:
    module, _, func = PROJECT["scripts"][script].partition(":")
    package, _, leaf = module.rpartition(".")
    path = _package_dirs()[package] / f"{leaf}.py"
    assert path.is_file(), f"{script} points at {module}, but {path} does not exist"
    defined = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
    assert func in defined, f"{module} has no top-level function {func}()"


# -- the built wheel, installed outside the checkout --------------------------------------------------
@dataclass(frozen=True)
class Installed:
    python: Path
    bin: Path
    cwd: Path

    def run(self, *argv: str | Path) -> subprocess.CompletedProcess[str]:
        # No PYTHONPATH and a cwd outside the repo: only what the wheel installed can be imported.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return subprocess.run(
            [str(a) for a in argv], cwd=self.cwd, env=env, capture_output=True, text=True, timeout=120, check=False
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """Build the wheel and install it, without its dependencies, into a fresh venv outside the repo.

    The venv reaches this environment's third-party packages through a path line in a .pth file;
    Python runs no .pth file found that way, so the checkout's editable finder stays out, and
    `zero_downtime` can only come from the wheel. Dependencies are checked from the metadata above.
    """
    tmp = tmp_path_factory.mktemp("wheel")
    # Build from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp / "source"
    source.mkdir()
    shutil.copy(REPO_ROOT / "pyproject.toml", source)
    for folder in SETUPTOOLS["package-dir"].values():
        shutil.copytree(REPO_ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, source],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    [wheel] = dist.glob("zero_downtime-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    yield Installed(python=python, bin=venv / "bin", cwd=tmp)


def test_the_wheel_holds_every_package_under_one_namespace(installed: Installed) -> None:
    probe = installed.run(
        installed.python,
        "-c",
        "import importlib, json, sys; "
        f"names = {sorted(SETUPTOOLS['packages'])!r}; "
        "mods = [importlib.import_module(n) for n in names if not n.endswith(('.app', '.rehearsal'))]; "
        "print(json.dumps({m.__name__: m.__file__ for m in mods}))",
    )
    assert probe.returncode == 0, probe.stderr
    files = __import__("json").loads(probe.stdout)
    assert files, "nothing imported"
    for name, file in files.items():
        assert Path(file).is_relative_to(installed.python.parent.parent), f"{name} came from {file}, not the wheel"


def test_components_import_from_the_installed_wheel(installed: Installed) -> None:
    probe = installed.run(
        installed.python,
        "-c",
        "from zero_downtime.provider.catalog import component_classes; "
        "print(' '.join(sorted(c.__name__ for c in component_classes())))",
    )
    assert probe.returncode == 0, probe.stderr
    assert {"BlueGreenService", "RollingAutoScalingGroup", "RollingDeployment"} <= set(probe.stdout.split())


@pytest.mark.parametrize("script", sorted(PROJECT["scripts"]))
def test_every_console_entry_point_answers_help(installed: Installed, script: str) -> None:
    result = installed.run(installed.bin / script, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
