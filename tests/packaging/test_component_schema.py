"""Pulumi's component analyzer, run offline over every component, as `pulumi package add` would run it.

An arg type the analyzer cannot map to a schema (a union, a `Literal`, a string annotation left by
`from __future__ import annotations`...) fails here, not in the consuming team's `pulumi package add`.
"""

import ast
import inspect
import json
import textwrap
import typing
from typing import NotRequired, TypedDict

import pulumi
import pytest
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.provider.experimental.component import ComponentProvider
from zero_downtime.provider.catalog import PACKAGE_NAME, component_classes, package_version, type_token

COMPONENTS = component_classes()
# The components the package had when it was first published; new ones are picked up automatically.
FIRST_RELEASE = {"Network", "SharedEdge", "BlueGreenService", "ReleaseAlarms"}


def _typeddicts(annotation: typing.Any) -> list[type]:
    """TypedDicts named inside a (real) annotation, e.g. NotRequired[pulumi.Input[ColorArgs]]."""
    found = [annotation] if isinstance(annotation, type) and typing.is_typeddict(annotation) else []
    for arg in typing.get_args(annotation):
        found += _typeddicts(arg)
    return found


def _unevaluated_annotations(cls: type) -> list[str]:
    """Annotations the analyzer would see as strings or forward references instead of types,
    in the component, its args TypedDict and every TypedDict nested in them."""
    args_type = inspect.get_annotations(cls.__init__).get("args")
    if isinstance(args_type, str):
        return [f"{cls.__name__}.__init__ args: {args_type!r} ({cls.__module__})"]
    found: list[str] = []
    owners, seen = [cls, *_typeddicts(args_type)], set()
    while owners:
        owner = owners.pop()
        if owner in seen:
            continue
        seen.add(owner)
        for key, value in inspect.get_annotations(owner).items():
            if isinstance(value, str | typing.ForwardRef):
                found.append(f"{owner.__name__}.{key}: {value!r} ({owner.__module__})")
            else:
                owners += _typeddicts(value)
    return found


def _analyze(classes: list[type[pulumi.ComponentResource]]) -> dict[str, typing.Any]:
    try:
        return dict(Analyzer(PACKAGE_NAME).analyze(classes))
    except Exception as err:  # the analyzer raises bare Exception/ValueError/TypeError
        hint = _unevaluated_annotations(classes[0]) if len(classes) == 1 else []
        extra = (
            " Annotations are strings here (drop `from __future__ import annotations` from the module): "
            + "; ".join(hint[:3])
            if hint
            else ""
        )
        pytest.fail(f"component analyzer rejected {[c.__name__ for c in classes]}: {err}.{extra}")


def test_discovery_finds_every_published_component() -> None:
    names = {c.__name__ for c in COMPONENTS}
    assert names >= FIRST_RELEASE, f"missing from the package: {sorted(FIRST_RELEASE - names)}"
    assert all(issubclass(c, pulumi.ComponentResource) for c in COMPONENTS)


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_analyzer_accepts_component(component: type[pulumi.ComponentResource]) -> None:
    result = _analyze([component])
    definition = result["component_definitions"][component.__name__]
    assert definition.inputs, f"{component.__name__}: no inputs inferred from its args TypedDict"
    assert definition.outputs, f"{component.__name__}: no outputs; declare them as annotated class attributes"
    # Consumers in other languages see only the schema: every arg and output needs its docstring.
    undocumented = [f"input {k}" for k, p in definition.inputs.items() if not p.description]
    undocumented += [f"output {k}" for k, p in definition.outputs.items() if not p.description]
    assert not undocumented, f"{component.__name__}: add a one-line docstring under {undocumented}"


def _registered_type(component: type[pulumi.ComponentResource]) -> str | None:
    """The type token literal the constructor passes to `super().__init__`."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(component.__init__)))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "__init__"
            and isinstance(node.func.value, ast.Call)
            and getattr(node.func.value.func, "id", None) == "super"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            return str(node.args[0].value)
    return None


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_component_registers_the_package_type_token(component: type[pulumi.ComponentResource]) -> None:
    # The provider constructs `<package>:index:<Class>`; any other token breaks construct() for consumers.
    assert _registered_type(component) == type_token(component)


def test_package_schema_covers_every_component_and_resolves_its_types() -> None:
    provider = ComponentProvider(COMPONENTS, PACKAGE_NAME, version=package_version())
    schema = json.loads(provider.schema or "{}")
    assert schema["name"] == PACKAGE_NAME
    assert schema["version"] == package_version()
    assert set(schema["resources"]) == {type_token(c) for c in COMPONENTS}
    refs: set[str] = set()

    def collect(node: typing.Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/types/"):
                refs.add(ref.removeprefix("#/types/"))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(schema)
    assert refs, "expected nested arg types (e.g. ColorArgs) in the schema"
    assert refs <= set(schema["types"]), f"dangling type references: {sorted(refs - set(schema['types']))}"
    for token, resource in schema["resources"].items():
        assert resource["isComponent"] is True, token


class _UnionArgs(TypedDict):
    """Args with a field type the Pulumi schema cannot express."""

    port: NotRequired[pulumi.Input[int | str]]
    """Either a number or a name."""


class _UnionComponent(pulumi.ComponentResource):
    """Exists only to prove the analyzer check fails on an unsupported type."""

    port: pulumi.Output[int]
    """Port."""

    def __init__(self, name: str, args: _UnionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{PACKAGE_NAME}:index:_UnionComponent", name, None, opts)


def test_analyzer_check_catches_an_unsupported_arg_type() -> None:
    with pytest.raises(Exception, match="Union types are not supported"):
        Analyzer(PACKAGE_NAME).analyze([_UnionComponent])
