"""`zdd-release deploy --analysis-file`: a bad file is refused (exit 2) naming the flag, the path and
the key, before the stack is opened, and never with a traceback."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from zero_downtime.driver.cli import FLAG_OF, ExitCode, Runtime, build_parser, main

from tests.paths import REPO_ROOT


def _never_opened(*_: Any) -> Any:
    raise AssertionError("the stack was opened although the input was bad")


def deploy(tmp_path: Path, *extra: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(
        ["deploy", "--stack", "dev", "--service", "api", "--work-dir", str(tmp_path), "--image", "app:2", *extra],
        runtime=Runtime(open_stack=_never_opened, clients={}),
        stdout=io.StringIO(),
        stderr=err,
    )
    return code, err.getvalue()


def _good() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "examples" / "analysis.yaml").read_text())


@pytest.mark.parametrize(
    ("case", "content", "expect"),
    [
        ("missing", None, "cannot read"),
        ("not-yaml", "checks: [\n  - {name: x\n", "not valid YAML at line"),
        ("not-a-mapping", "- 1\n- 2\n", "the file: must be a mapping"),
        ("unknown-key", {"checks": [], "version": 2}, "version: unknown key"),
        ("bad-threshold", "threshold", "checks[0].threshold.max: must be a number"),
        ("bad-judge", "judge", "judge.min_requests: must be of the type"),
        ("unknown-judge", "judge-unknown", "judge.max_p99: unknown judge setting"),
        ("binary", b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_a_bad_analysis_file_is_refused_naming_flag_path_and_key(
    tmp_path: Path, case: str, content: Any, expect: str
) -> None:
    path = tmp_path / f"{case}.yaml"
    if content == "threshold":
        doc = _good()
        doc["checks"][0]["threshold"]["max"] = "2%"
        path.write_text(yaml.safe_dump(doc))
    elif content == "judge":
        doc = _good()
        doc["judge"]["min_requests"] = "lots"
        path.write_text(yaml.safe_dump(doc))
    elif content == "judge-unknown":
        doc = _good()
        doc["judge"] = {"max_p99": 1}
        path.write_text(yaml.safe_dump(doc))
    elif isinstance(content, dict):
        path.write_text(yaml.safe_dump(content))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    code, err = deploy(tmp_path, "--analysis-file", str(path))
    assert code == ExitCode.REFUSED
    assert f"refused: --analysis-file: {path}" in err
    assert expect in err
    assert "Traceback" not in err
    assert "nothing was changed" in err


def test_a_directory_is_refused_too(tmp_path: Path) -> None:
    code, err = deploy(tmp_path, "--analysis-file", str(tmp_path))
    assert code == ExitCode.REFUSED
    assert "--analysis-file" in err and "cannot read" in err


def test_metric_checks_are_refused_for_fleets(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text((REPO_ROOT / "examples" / "analysis.yaml").read_text())
    err = io.StringIO()
    argv = ["deploy", "--stack", "dev", "--service", "web", "--work-dir", str(tmp_path), "--ami", "ami-123"]
    code = main(
        [*argv, "--analysis-file", str(path)],
        runtime=Runtime(open_stack=_never_opened, clients={}),
        stdout=io.StringIO(),
        stderr=err,
    )
    assert code == ExitCode.REFUSED
    assert "--analysis-file: metric checks apply to service releases only" in err.getvalue()


def test_the_flag_exists_and_is_the_one_errors_name() -> None:
    assert FLAG_OF["analysis_file"] == "--analysis-file"
    args = build_parser().parse_args(["deploy", "--stack", "s", "--service", "x", "--analysis-file", "a.yaml"])
    assert args.analysis_file == Path("a.yaml")
