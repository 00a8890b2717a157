"""Evaluate the stack program for one `Pulumi.<stack>.yaml` under mocks: no CLI, no cloud.

Config reaches the program the way the CLI would hand it over: stack values, then the
defaults declared in `Pulumi.yaml`, keys namespaced `project:key`, objects JSON-encoded.
Secure values cannot be decrypted offline, so they become a placeholder marked secret.
"""

from __future__ import annotations

import asyncio
import json
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from .mocks import RecordedResource, RecordingMocks, RecordingMonitor

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_PLACEHOLDER = "[secret]"


class StackFileError(ValueError):
    """The stack file is missing or malformed."""


@dataclass
class StackConfig:
    project: str
    values: dict[str, str]
    secret_keys: list[str]


@dataclass
class Evaluation:
    """What one evaluation of the program registered and exported."""

    stack: str
    mocks: RecordingMocks
    outputs: dict[str, Any]

    @property
    def resources(self) -> list[RecordedResource]:
        return self.mocks.resources

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return self.mocks.of_type(type_token)


class _StrictLoader(yaml.SafeLoader):
    """Rejects duplicate keys, as the Pulumi CLI does; PyYAML would silently keep the last one.

    Timestamps and binary stay text: config values reach the program as strings.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise StackFileError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))
_StrictLoader.add_constructor("tag:yaml.org,2002:binary", lambda loader, node: loader.construct_scalar(node))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(), Loader=_StrictLoader) or {}
    except FileNotFoundError as err:
        raise StackFileError(f"{path.name} not found in {path.parent}") from err
    except yaml.YAMLError as err:
        raise StackFileError(f"{path.name} is not valid YAML: {err}") from err
    except StackFileError as err:
        raise StackFileError(f"{path.name}: {err}") from err
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name} must be a mapping")
    return data


def stack_names(project_dir: Path = PROJECT_ROOT) -> list[str]:
    """Every stack that has a `Pulumi.<stack>.yaml` next to the project file."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def _encode(value: Any, key: str = "") -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as err:
        raise StackFileError(f"config: {key}: cannot be passed to the program: {err}") from err


def _config_section(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The `config:` mapping of a project or stack file, keys checked the way the CLI reads them."""
    section = data.get("config")
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise StackFileError(f"{name}: config: must be a mapping of key: value, got {type(section).__name__}")
    for key in section:
        if not isinstance(key, str) or not key.strip():
            raise StackFileError(f"{name}: config: keys must be names like <project>:<key>, got {key!r}")
    return section


def _qualify(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def load_stack_config(
    stack: str,
    project_dir: Path = PROJECT_ROOT,
    overrides: Mapping[str, Any] | None = None,
) -> StackConfig:
    """Stack file values over project defaults, then `overrides` (tests) over both."""
    project_file = _read_yaml(project_dir / "Pulumi.yaml")
    project = project_file.get("name")
    if not isinstance(project, str) or not project:
        raise StackFileError(f"Pulumi.yaml in {project_dir} has no project name")
    values: dict[str, str] = {}
    for key, decl in _config_section(project_file, "Pulumi.yaml").items():
        default = decl.get("default") if isinstance(decl, dict) else decl
        if default is not None:
            values[_qualify(project, key)] = _encode(default, key)

    stack_file = _read_yaml(project_dir / f"Pulumi.{stack}.yaml")
    secret_keys: list[str] = []
    for key, value in _config_section(stack_file, f"Pulumi.{stack}.yaml").items():
        full_key = _qualify(project, key)
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full_key] = SECRET_PLACEHOLDER
            secret_keys.append(full_key)
        else:
            values[full_key] = _encode(value, key)
    for key, value in (overrides or {}).items():
        values[_qualify(project, key)] = _encode(value, key)
    return StackConfig(project, values, secret_keys)


def _ensure_event_loop() -> None:
    """Pulumi's runtime runs on the current loop; callers outside a test may have none (or a closed one)."""
    try:
        loop = asyncio.get_event_loop()
        if not loop.is_closed():
            return
    except RuntimeError:
        pass
    asyncio.set_event_loop(asyncio.new_event_loop())


def _reset_runtime() -> None:
    """Forget the previous run: its root, and any RPC or output a failed run left pending on its
    (now closed) event loop, which the next run would otherwise wait for."""
    runtime_settings.ROOT.set(None)
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.SETTINGS.outputs.clear()


def evaluate_program(
    stack: str,
    *,
    overrides: Mapping[str, Any] | None = None,
    project_dir: Path = PROJECT_ROOT,
    mocks: RecordingMocks | None = None,
    release_store: str = "",
) -> Evaluation:
    """Run `<project_dir>/__main__.py` with the config of `Pulumi.<stack>.yaml` and resolve its exports.

    Offline there are no credentials, so the release store is not read unless `release_store`
    names one (a `file://` store, or S3 with AWS_ENDPOINT_URL pointing at an emulator): the
    program then applies git's values, as for a stack never released.

    Raises whatever the program raises (a `ValueError` for bad config), after the runtime
    has drained, so a failed evaluation never leaks into the next one. Pass `mocks` to inspect
    what was registered before a failure.
    """
    config = load_stack_config(stack, project_dir, {"releaseStore": release_store, **(overrides or {})})
    if not (project_dir / "__main__.py").is_file():
        raise StackFileError(f"__main__.py not found in {project_dir}")

    def program() -> None:
        # Run the directory, as `python <dir>` does: its __main__.py, with the directory first on
        # sys.path for the run only, so the program can import modules beside it.
        runpy.run_path(str(project_dir), run_name="__pulumi_program__")

    return run_under_mocks(
        program, stack=stack, project=config.project, config=config.values, secret_keys=config.secret_keys, mocks=mocks
    )


def run_under_mocks(
    program: Callable[[], None],
    *,
    stack: str = "test",
    project: str = "zero-downtime",
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
    mocks: RecordingMocks | None = None,
) -> Evaluation:
    """Run any program callable under RecordingMocks, wait for every registration, resolve exports."""
    mocks = mocks if mocks is not None else RecordingMocks()
    _ensure_event_loop()
    _reset_runtime()
    pulumi.runtime.set_all_config(dict(config or {}), secret_keys or [])
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=RecordingMonitor(mocks))

    resolved: dict[str, Any] = {}

    def run() -> None:
        program()
        root = runtime_settings.get_root_resource()
        exports = dict(getattr(root, "outputs", {}) or {})
        resolved.update(_sync_await(pulumi.Output.from_input(exports).future()) or {})

    try:
        _sync_await(run_pulumi_func(run))
    finally:
        _reset_runtime()
    return Evaluation(stack, mocks, resolved)
