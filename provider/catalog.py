"""Which components the package exposes, under which name and version.

Every `pulumi.ComponentResource` subclass defined in a module of `components/` is exposed, so a
new component is published (and checked by the analyzer test) without editing a list.
"""

import importlib
import inspect
import pkgutil
import tomllib
from importlib import metadata
from pathlib import Path

import pulumi

from .. import components

PACKAGE_NAME = "zero-downtime"
"""Pulumi package name: the first part of every component's type token `zero-downtime:index:<Class>`."""
DISTRIBUTION = "zero-downtime"
REPO_ROOT = Path(__file__).resolve().parent.parent


def component_classes() -> list[type[pulumi.ComponentResource]]:
    """Every ComponentResource subclass defined (not just imported) in a `components.*` module, by name."""
    found: dict[str, type[pulumi.ComponentResource]] = {}
    for module_info in pkgutil.iter_modules(components.__path__):
        module = importlib.import_module(f"{components.__name__}.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, pulumi.ComponentResource) and cls.__module__ == module.__name__:
                found[cls.__name__] = cls
    return [found[name] for name in sorted(found)]


def type_token(cls: type[pulumi.ComponentResource]) -> str:
    return f"{PACKAGE_NAME}:index:{cls.__name__}"


def package_version() -> str:
    """The version in pyproject.toml (a source checkout), else the installed distribution's."""
    pyproject = REPO_ROOT / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        if "version" in project:
            return str(project["version"])
    return metadata.version(DISTRIBUTION)
