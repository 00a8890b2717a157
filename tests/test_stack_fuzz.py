"""Mutated stack files, by Hypothesis: every shipped Pulumi.<stack>.yaml with values of the wrong type,
out-of-range and non-finite numbers, unknown keys at every level, long and unicode names, and keys
removed. Each mutant goes through the offline preview CLI (in-process, on a copy of the project): it
either evaluates (exit 0, with resources unless it says `allowEmpty`) or is refused with exit 2 and a
message naming a key of the section it broke. A traceback, another exit code, a refusal that names
nothing, or a silently empty stack fails the test. The counts reach the test log."""

from __future__ import annotations

import copy
import io
import math
import re
import shutil
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from zero_downtime.offline.evaluate import PROJECT_ROOT, stack_names
from zero_downtime.offline.preview import main as preview_main

NS = "zero-downtime"
STACKS = stack_names()
ORIGINALS = {s: yaml.safe_load((PROJECT_ROOT / f"Pulumi.{s}.yaml").read_text()) for s in STACKS}
Path_ = tuple[Any, ...]

SWAPS: list[Any] = [
    "abc", "maybe", "", " ", "10.0.0.0/8", "0", "-1", 12, -1, 0, 1.5, True, False, None, [], ["x"], [1, 2], {},
    {"k": "v"}, {"secure": "v1:AAAAB3NzaC1yc2E="}, math.inf, -math.inf, math.nan, "[a-z]+", "$(reboot)", "x" * 300,
]  # fmt: skip
NUMBERS: list[Any] = [-1, 0, 1, 7, 65536, 10**9, 2**63, 1.5, -0.5, math.inf, -math.inf, math.nan, "12", "1e3"]
NAMES = ["a" * 16, "a" * 40, "ünïcødé", "Web", "x y", "web_2", "1web", "-web", "web-", "a", "[bold]x", "ok-name"]
UNKNOWN_KEYS = ["servics", "imagee", "desiredcount", "Services", "bogus", f"{NS}:servics", "x" * 70, "ünï"]
PREVIEW_LINE = re.compile(r"\((\d+) resources, offline\)")
REFUSED = "config error in Pulumi.t.yaml: "


def _walk(node: Any, prefix: Path_ = ()) -> list[Path_]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _walk(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _walk(value, (*prefix, i))
    return found


PATHS = {s: _walk(ORIGINALS[s]["config"]) for s in STACKS}


def _parent(root: Any, path: Path_) -> Any:
    for step in path[:-1]:
        root = root[step]
    return root


def _get(root: Any, path: Path_) -> Any:
    return _parent(root, path)[path[-1]] if path else root


def config_path(path: Path_) -> str:
    """The key path as the program's messages name it: `services.web.blue.weight`, `metrics[0]`."""
    if not path:
        return "config"
    head = str(path[0])
    text = head.split(":", 1)[1] if head.startswith(f"{NS}:") else head
    for step in path[1:]:
        text += f"[{step}]" if isinstance(step, int) else f".{step}"
    return text


@st.composite
def mutant(draw: st.DrawFn) -> tuple[str, str, dict[str, Any], str]:
    """(stack, kind, mutated stack file, the key path the mutation touched)."""
    stack = draw(st.sampled_from(STACKS))
    data = copy.deepcopy(ORIGINALS[stack])
    config = data["config"]
    kind = draw(st.sampled_from(["swap", "number", "unknown", "rename", "remove", "swap", "unknown", "shape"]))
    paths = PATHS[stack]
    if kind == "shape":
        data["config"] = draw(st.sampled_from([[f"{NS}:services"], "services", None, 5]))
        return stack, kind, data, "config"
    if kind == "number":
        numeric = [
            p for p in paths if isinstance(_get(config, p), int | float) and not isinstance(_get(config, p), bool)
        ]
        path = draw(st.sampled_from(numeric))
        _parent(config, path)[path[-1]] = draw(st.sampled_from(NUMBERS))
        return stack, kind, data, config_path(path)
    if kind == "unknown":
        containers = [(), *[p for p in paths if isinstance(_get(config, p), dict)]]
        path = draw(st.sampled_from(containers))
        key = draw(st.sampled_from(UNKNOWN_KEYS))
        if path and key.startswith(f"{NS}:"):
            key = key.split(":", 1)[1]
        _get(config, path)[key] = draw(st.sampled_from(SWAPS))
        return stack, kind, data, config_path((*path, key))
    keyed = [p for p in paths if not isinstance(p[-1], int)]
    path = draw(st.sampled_from(keyed if kind == "rename" else paths))
    parent = _parent(config, path)
    if kind == "swap":
        parent[path[-1]] = draw(st.sampled_from(SWAPS))
    elif kind == "remove":
        del parent[path[-1]]
    else:  # rename: keeps the value under a long, unicode or invalid name
        name = draw(st.sampled_from(NAMES))
        parent[name] = parent.pop(path[-1])
        path = (*path[:-1], name)
    return stack, kind, data, config_path(path)


def _top(key: str) -> str:
    return re.split(r"[.\[]", key, maxsplit=1)[0]


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _mentions(line: str, touched: str) -> bool:
    """A cross-key refusal (`natGatewayCount: must be <= availability_zone_count`) names the key touched."""
    leaf = re.split(r"[.\[]", touched)[-1]
    return bool(leaf) and (leaf in line or _snake(leaf) in line)


def _named_key(message: str) -> str:
    """The key a refusal names: what precedes its first `: ` (after the stack file's own name)."""
    message = message.removeprefix("Pulumi.t.yaml: ")
    return message.split(": ", 1)[0]


def _allows_empty(data: dict[str, Any]) -> bool:
    config = data.get("config")
    return isinstance(config, dict) and config.get(f"{NS}:allowEmpty") in (True, "true", "True")


def test_mutated_stack_files_evaluate_or_are_refused_naming_the_key(tmp_path: Path, record_property: Any) -> None:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    seen = {"tried": 0, "refused": 0, "ran": 0}

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(mutant())
    def check(case: tuple[str, str, dict[str, Any], str]) -> None:
        stack, kind, data, touched = case
        (tmp_path / "Pulumi.t.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        out = io.StringIO()
        code = preview_main(["t", "--project-dir", str(tmp_path)], console=Console(file=out, width=10_000))
        text = out.getvalue()
        seen["tried"] += 1
        where = f"{stack}/{kind} at {touched}: {text[-600:]}"
        assert "Traceback" not in text, where
        assert code in (0, 2), where
        if code == 0:
            seen["ran"] += 1
            match = PREVIEW_LINE.search(text)
            assert match, where
            assert int(match.group(1)) > 0 or _allows_empty(data), f"silently empty stack: {where}"
            return
        seen["refused"] += 1
        line = next((line for line in text.splitlines() if line.startswith(REFUSED)), None)
        assert line is not None, f"refused without naming a key: {where}"
        named = _named_key(line.removeprefix(REFUSED))
        empty = "declares no service" in line and _top(touched) in ("services", "fleets", "kubernetes", "config")
        related = _top(named) == _top(touched) or _mentions(line, touched)
        assert related or empty, f"names {named!r}, not {touched!r}: {where}"

    check()
    record_property("fuzz", {"area": "stack files", **seen})
    assert seen["refused"] > 30 and seen["ran"] > 10  # the search really reached both sides
