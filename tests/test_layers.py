"""The layers, read from the code's own imports: which folder may import which, and nothing by its
folder name.

Every folder of the checkout installs as `zero_downtime.<folder>` and imports its siblings
relatively. An absolute `import driver` would load a second copy of the module beside the installed
one, so it fails here. The table below is the architecture picture of docs/architecture.md in code.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

NAMESPACE = "zero_downtime"

# folder -> the folders of this project it may import (directly, relatively or by namespace).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "contract": frozenset(),
    "components": frozenset({"contract"}),
    "store": frozenset({"contract"}),
    "stack_config": frozenset({"components", "contract", "store"}),
    "offline": frozenset({"contract"}),
    "provider": frozenset({"components"}),
    "policies": frozenset({"components", "contract", "offline", "stack_config"}),
    "driver": frozenset({"contract", "store"}),
    "app": frozenset(),
    "rehearsal": frozenset({"driver", "contract", "app", "store"}),
}
FOLDERS = frozenset(MAY_IMPORT)


def _python_files(folder: str) -> list[Path]:
    return sorted(p for p in (REPO_ROOT / folder).rglob("*.py") if ".venv" not in p.parts)


def _project_imports(path: Path, folder: str) -> set[str]:
    """The project folders `path` (inside `folder`) imports, resolving relative imports."""
    depth = len(path.relative_to(REPO_ROOT / folder).parts)  # 1 for a module directly in the folder
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            if node.level <= depth:
                continue  # stays inside the folder
            parts = (node.module or "").split(".")
            target = parts[0] if parts[0] else None
            if target is None:  # `from .. import components`
                found.update(alias.name for alias in node.names if alias.name in FOLDERS)
            else:
                found.add(target)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(f"{NAMESPACE}."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(f"{NAMESPACE}."):
                    found.add(alias.name.split(".")[1])
    return found - {folder}


def _absolute_folder_imports(path: Path) -> list[str]:
    bad: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        bad += [f"{path.relative_to(REPO_ROOT)}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in FOLDERS]
    return bad


@pytest.mark.parametrize("folder", sorted(f for f in MAY_IMPORT if (REPO_ROOT / f).is_dir()))
def test_each_folder_imports_only_the_layers_below_it(folder: str) -> None:
    offending = {
        str(path.relative_to(REPO_ROOT)): sorted(imports - MAY_IMPORT[folder])
        for path in _python_files(folder)
        if (imports := _project_imports(path, folder)) - MAY_IMPORT[folder]
    }
    assert not offending, f"{folder}/ may import only {sorted(MAY_IMPORT[folder])}: {offending}"


def test_nothing_imports_a_folder_by_its_bare_name() -> None:
    roots = [*FOLDERS, "tests", "bench", "examples"]
    files = [p for r in roots if (REPO_ROOT / r).is_dir() for p in _python_files(r)]
    files.append(REPO_ROOT / "__main__.py")
    bad = [line for path in files for line in _absolute_folder_imports(path)]
    assert not bad, "import zero_downtime.<folder> (or relatively): " + "; ".join(bad)


def test_the_table_names_every_folder_that_holds_a_package() -> None:
    packages = {p.parent.relative_to(REPO_ROOT).parts[0] for p in REPO_ROOT.glob("*/__init__.py")}
    assert packages - {"tests"} <= FOLDERS


# -- the driver's pure core ------------------------------------------------------------------------------
CORE = REPO_ROOT / "driver" / "core"
NAMED_OFFENDERS = {"boto3", "botocore", "pulumi", "httpx", "subprocess", "socket", "urllib", "rich"}
PURE_MATH = {"scipy", "numpy"}
"""Libraries the core may use: computation only, no I/O (the analysis's statistical tests)."""


def _module_file(package_dir: Path, dotted: str) -> Path | None:
    """The file of `dotted` relative to `package_dir` (a module or a package's __init__)."""
    base = package_dir.joinpath(*dotted.split(".")) if dotted else package_dir
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports_reached_from(start: list[Path]) -> tuple[dict[str, set[str]], set[Path]]:
    """Absolute module -> importing files, over every file reached through relative imports."""
    seen: set[Path] = set()
    absolute: dict[str, set[str]] = {}
    todo = list(start)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    absolute.setdefault(alias.name, set()).add(str(path.relative_to(REPO_ROOT)))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                absolute.setdefault(node.module, set()).add(str(path.relative_to(REPO_ROOT)))
            elif isinstance(node, ast.ImportFrom):
                package_dir = path.parent
                for _ in range(node.level - 1):
                    package_dir = package_dir.parent
                targets = [node.module or ""]
                if not node.module:
                    targets = [alias.name for alias in node.names]
                else:
                    targets += [f"{node.module}.{alias.name}" for alias in node.names]
                for dotted in targets:
                    found = _module_file(package_dir, dotted)
                    if found is not None:
                        todo.append(found)
    return absolute, seen


def test_the_driver_core_imports_only_the_standard_library_pure_math_and_the_contract() -> None:
    absolute, reached = _imports_reached_from(sorted(CORE.glob("*.py")))
    outside = {
        module: sorted(files)
        for module, files in absolute.items()
        if (module.split(".")[0] not in sys.stdlib_module_names and module.split(".")[0] not in PURE_MATH)
        or module.split(".")[0] in NAMED_OFFENDERS
    }
    assert not outside, f"the pure core reaches beyond the standard library: {outside}"
    files = sorted(str(p.relative_to(REPO_ROOT)) for p in reached)
    escaped = [f for f in files if not f.startswith(("driver/core/", "contract/"))]
    assert not escaped, f"the core imports project modules outside driver/core and contract: {escaped}"
    assert any(f.startswith("contract/") for f in files), "the walk did not follow the core into the contract"


def test_the_core_walk_sees_an_offending_import(tmp_path: Path) -> None:
    # The walk must follow relative imports into other files, or the test above proves nothing.
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("from .b import x\n")
    (tmp_path / "pkg" / "b.py").write_text("import boto3\nx = 1\n")
    global REPO_ROOT
    saved, REPO_ROOT = REPO_ROOT, tmp_path
    try:
        absolute, _ = _imports_reached_from([tmp_path / "pkg" / "a.py"])
    finally:
        REPO_ROOT = saved
    assert "boto3" in absolute
