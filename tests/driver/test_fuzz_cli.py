"""Mutated driver input, by Hypothesis: every command with hostile flag values, and journal records
of every wrong shape. Each must end with an exit code and a clear line, never a traceback: a
refusal (exit 2) names the flag or the key at fault; anything that passes validation stops at the
first AWS call, which this test's clients refuse (exit 1). The counts reach the test log."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zero_downtime.contract.release_state import StoreKeys
from zero_downtime.driver.cli import FLAG_OF, Runtime, build_parser, main
from zero_downtime.store.local import LocalBlobs

from tests.driver.clock import FakeClock
from tests.driver.fake_stack import FakeStack
from tests.driver.flag_world import FLAG, FLAG_SET, flag_entry
from tests.driver.outputs_fixtures import service_entry

HOSTILE = [
    "", " ", "abc", "-1", "0", "1", "2", "1.5", "nan", "inf", "-inf", "1e309", "10,50,100", "5,,10", "50,10,100",
    "ünïcødé", "x" * 300, "[a-z]+", "[bold]x[/bold]", "$(rm -rf /)", "a b", "-", "--", "9" * 40, "(", "ami-0abc1234",
    "repo/api:2", "blue-green", "canary", "linear", "all-at-once", "file:///nonexistent/dir", "s3://Bad_Bucket/x",
    "/health", "health", "999", "200", "echo ok", "'unbalanced", "r-1-x",
]  # fmt: skip
VALUED = {
    "deploy": [
        "--image", "--ami", "--refresh-timeout", "--strategy", "--steps", "--interval", "--intervals",
        "--step-percent", "--bake", "--pause-at", "--desired-count", "--keep-warm", "--health-timeout",
        "--max-error-rate", "--max-p99", "--min-apdex", "--min-requests", "--threshold", "--poll", "--alpha",
        "--alpha-scope", "--check-path",
        "--check-status", "--check-body", "--hook", "--store", "--policy-pack", "--region",
    ],
    "status": ["--store"],
    "history": ["--store", "--release", "--limit"],
    "promote": ["--store", "--region", "--policy-pack"],
    "abort": ["--store", "--region", "--reason", "--wait"],
    "resume": ["--store", "--region"],
    "init": ["--store", "--region"],
    "wait-idle": ["--store", "--timeout"],
    "kill-flag": ["--store", "--region", "--reason", "--wait", "--deploy-timeout", "--deploy-poll"],
}  # fmt: skip
SWITCHES = {
    "deploy": ["--pause-before-promote", "--no-test-check", "--no-percentiles", "--notify", "--json", "--adopt-live"],
    "init": ["--check", "--json"],
}


class Unreachable:
    """Every AWS client: any call fails as a network error would."""

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="https://unreachable.invalid")

        return call


def _run(argv: list[str], tmp: Path, *, stack_config: dict[str, str] | None = None) -> tuple[int, str]:
    stack = FakeStack({"services": {"api": service_entry("api")}, "featureFlags": {FLAG_SET: flag_entry()}})
    stack.config.update(stack_config or {"releaseStore": "file://store"})
    runtime = Runtime(
        open_stack=lambda name, work_dir: stack,
        clients={
            name: Unreachable() for name in ("elbv2", "cloudwatch", "sns", "autoscaling", "ssm", "s3", "appconfig")
        },
        clock=FakeClock(),
        stack_backoff_seconds=0.0,
    )
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, runtime=runtime, stdout=out, stderr=err)
    return code, err.getvalue()


def _known_names() -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices  # type: ignore[union-attr]
    flags = {o for p in sub.values() for a in p._actions for o in a.option_strings}
    # A refusal about the release's state (no release, not paused...) names the command instead.
    return flags | set(FLAG_OF) | set(sub) | {"releaseStore", "work_dir", "service", "stack", "zdd-release"}


@st.composite
def argv(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(sorted(VALUED)))
    args = [command, "--stack", draw(st.sampled_from(["dev", "dev", "org/proj/dev", "../x", ""]))]
    if command == "kill-flag":
        args += ["--flag-set", draw(st.sampled_from([FLAG_SET, FLAG_SET, "nosuch", "a/b", ""]))]
        args += ["--flag", draw(st.sampled_from([FLAG, FLAG, "nosuch", "9bad", "a b", "x" * 80]))]
    elif command not in ("init", "wait-idle") or draw(st.booleans()):
        args += ["--service", draw(st.sampled_from(["api", "api", "nosuch", "a b", "x" * 200]))]
    for flag in draw(st.lists(st.sampled_from(VALUED[command]), max_size=5, unique=True)):
        args += [flag, draw(st.sampled_from(HOSTILE))]
    for switch in draw(st.lists(st.sampled_from(SWITCHES.get(command, ["--json"])), max_size=2, unique=True)):
        args.append(switch)
    return args


def test_hostile_flags_end_in_a_clear_line_never_a_traceback(tmp_path: Path, record_property: Any) -> None:
    names = _known_names()
    seen = {"tried": 0, "refused": 0, "ran": 0}

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(argv())
    def check(args: list[str]) -> None:
        work = tmp_path / f"w{seen['tried']}"
        work.mkdir()
        (work / "Pulumi.yaml").write_text("name: zero-downtime\n")
        seen["tried"] += 1
        code, err = _run([*args, "--work-dir", str(work)], work)
        assert "Traceback" not in err, err
        assert code in (0, 1, 2, 3, 4, 5), (args, code, err)
        if code == 2:
            first = err.splitlines()[0]
            assert first.startswith("refused: "), (args, err)
            named = first.removeprefix("refused: ").split(":", 1)[0].split()[0]
            assert named in names, f"{args}: refusal names {named!r}, not a flag or key: {first}"
            seen["refused"] += 1
        else:
            seen["ran"] += 1

    check()
    record_property("fuzz", {"area": "driver flags", **seen})
    assert seen["refused"] > 50 and seen["ran"] > 5  # the search really reached both sides


def _valid_record(seq: int = 0) -> dict[str, Any]:
    return {
        "format": 1,
        "seq": seq,
        "ts": 1_700_000_000.0,
        "event": "transition",
        "detail": {},
        "release_id": "r-20261201T000000.000000-aaaaaa",
        "kind": "service",
        "stack": "dev",
        "target": "api",
        "state": "PAUSED",
        "step": 0,
        "failed_checks": 0,
        "reason": "",
        "spec": {},
        "facts": {},
        "project": "zero-downtime",
        "resource": "",
    }


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def broken_record(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["mutate", "drop", "garbage", "not-object"]))
    if kind == "garbage":
        return draw(st.binary(max_size=64))
    if kind == "not-object":
        return json.dumps(draw(st.lists(JSONISH, max_size=3))).encode()
    record = _valid_record()
    key = draw(st.sampled_from(sorted(record)))
    if kind == "drop":
        del record[key]
    else:
        record[key] = draw(JSONISH)
    return json.dumps(record, allow_nan=True).encode()


def test_journal_records_of_every_wrong_shape_never_crash_a_command(tmp_path: Path, record_property: Any) -> None:
    seen = {"tried": 0, "refused": 0, "ran": 0}

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(broken_record(), st.sampled_from(["status", "history", "abort", "resume", "promote"]), st.booleans())
    def check(data: bytes, command: str, after_a_good_one: bool) -> None:
        work = tmp_path / f"j{seen['tried']}"
        work.mkdir()
        (work / "Pulumi.yaml").write_text("name: zero-downtime\n")
        seen["tried"] += 1
        blobs = LocalBlobs(work / "store")
        keys = StoreKeys("zero-downtime", "dev")
        rid = "r-20261201T000000.000000-aaaaaa"
        if after_a_good_one:
            blobs.create(keys.record("api", rid, 0), json.dumps(_valid_record()).encode())
        blobs.create(keys.record("api", rid, 1 if after_a_good_one else 0), data)
        code, err = _run([command, "--stack", "dev", "--service", "api", "--work-dir", str(work)], work)
        assert "Traceback" not in err, err
        assert code in (0, 1, 2, 3, 4, 5), (command, data, code, err)
        seen["refused" if code == 2 else "ran"] += 1

    check()
    record_property("fuzz", {"area": "journal records", **seen})
    assert seen["tried"] >= 100


@pytest.mark.parametrize("value", ["[a-z]+", "[bold]boom[/bold]", "[/]"])
def test_messages_print_literally(tmp_path: Path, value: str) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: zero-downtime\n")
    code, err = _run(
        [
            "deploy",
            "--stack",
            "dev",
            "--service",
            "api",
            "--work-dir",
            str(tmp_path),
            "--image",
            "a:1",
            "--check-body",
            f"({value}",
        ],
        tmp_path,
    )
    assert code == 2 and f"({value}" in err  # rich markup must not eat brackets in an error message


@pytest.mark.parametrize("command", ["status", "history", "deploy"])
def test_an_unusable_store_path_is_a_clear_line_naming_the_path(tmp_path: Path, command: str) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: zero-downtime\n")
    (tmp_path / "a-file").write_text("not a directory\n")
    store = tmp_path / "a-file" / "store"
    argv = [command, "--stack", "dev", "--service", "api", "--work-dir", str(tmp_path), "--store", f"file://{store}"]
    if command == "deploy":
        argv += ["--image", "a:1"]
    code, err = _run(argv, tmp_path)
    assert "Traceback" not in err and "OSError" not in err, err
    assert code in (1, 2), err
    assert str(tmp_path / "a-file") in err, "the message names the path it could not use"


def test_an_unreadable_record_is_reported_with_its_path(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: zero-downtime\n")
    blobs = LocalBlobs(tmp_path / "store")
    keys = StoreKeys("zero-downtime", "dev")
    rid = "r-20261201T000000.000000-aaaaaa"
    blobs.create(keys.record("api", rid, 0), json.dumps(_valid_record()).encode())
    blobs.create(keys.record("api", rid, 1), b"\xff\xfe\x00 binary")
    code, err = _run(["status", "--stack", "dev", "--service", "api", "--work-dir", str(tmp_path)], tmp_path)
    assert "Traceback" not in err, err
    assert code == 0, err
    [warning] = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert str(tmp_path / "store") in warning and warning.split(":")[-2].endswith("00000001.json"), warning
