"""The CLI end to end: moto for AWS, a fake Stack for Pulumi, a fake clock for time, and a real
HTTP server on 127.0.0.1 for the pre-traffic check."""

from __future__ import annotations

import http.server
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.cli import FLAG_OF, ExitCode, Runtime, build_parser, main
from zero_downtime.driver.core.errors import InputError
from zero_downtime.driver.core.machine import latest_status
from zero_downtime.store.local import LocalBlobs

from tests.driver.aws_world import FakeProgram, build_paired_service, feed_traffic, rule_weights
from tests.driver.clock import FakeClock
from tests.driver.conftest import http_server
from tests.driver.fake_stack import FakeStack


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200
    hosts: list[str | None] = []
    status_of: dict[str, int] = {}
    """Per path, a status other than `status` (e.g. the app's own path failing while /health passes)."""
    paths: list[str] = []

    def do_GET(self) -> None:
        type(self).hosts.append(self.headers.get("Host"))
        type(self).paths.append(self.path)
        body = b'{"status":"ok","version":"2"}'
        self.send_response(type(self).status_of.get(self.path, type(self).status))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def test_listener() -> Iterator[str]:
    """Stands in for the ALB test listener: a local HTTP server on 127.0.0.1."""
    _Health.status = 200
    _Health.hosts = []
    _Health.status_of = {}
    _Health.paths = []
    with http_server(_Health) as url:
        yield url


@dataclass
class Cli:
    aws: dict[str, Any]
    entry: dict[str, Any]
    stack: FakeStack
    clock: FakeClock
    tmp: Path
    opened: list[str]
    program: FakeProgram

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()

        def open_stack(name: str, work_dir: Path) -> FakeStack:
            self.opened.append(name)
            if name != "dev":
                raise InputError("stack", f"stack {name!r} not found in the current backend")
            return self.stack

        rt = Runtime(
            open_stack=open_stack,
            clients=self.aws,
            clock=self.clock,
            stack_backoff_seconds=0.01,
            health_poll_seconds=1.0,
        )
        code = main(list(argv), runtime=rt, stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    def base(self, command: str, stack: str = "dev", service: str = "api") -> list[str]:
        return (
            [
                command,
                "--stack",
                stack,
                "--service",
                service,
                "--work-dir",
                str(self.tmp),
                "--no-percentiles",
            ]
            if command in {"deploy", "promote", "abort", "resume"}
            else [
                command,
                "--stack",
                stack,
                "--service",
                service,
                "--work-dir",
                str(self.tmp),
            ]
        )

    def weights(self) -> dict[str, int]:
        return rule_weights(self.aws["elbv2"], self.entry["productionRuleArn"], self.entry)

    def journal(self) -> ReleaseStore:
        return ReleaseStore(LocalBlobs(self.tmp / "store"), "zero-downtime", "dev", "api", self.clock)

    def release_objects(self) -> list[str]:
        """What the store holds besides leases: journal records, release state, abort requests."""
        return [k for k in LocalBlobs(self.tmp / "store").list("") if "/locks/" not in k]


FAST = [
    "--steps",
    "10,50,100",
    "--interval",
    "30",
    "--poll",
    "15",
    "--min-requests",
    "20",
    "--keep-warm",
    "30",
    "--health-timeout",
    "30",
    # One local server answers both listeners: a latency difference is the machine's load, not a
    # color (tests/driver/release_world.py). Tests of the latency judge set their own effect.
    "--min-detectable-latency-seconds",
    "1",
    "--max-p99",
    "10",
]


@pytest.fixture
def cli(aws: dict[str, Any], tmp_path: Path, test_listener: str) -> Cli:
    entry = build_paired_service(aws)
    entry["testUrl"] = test_listener
    entry["productionUrl"] = test_listener  # the synthetic bake's baseline goes through production
    (tmp_path / "Pulumi.yaml").write_text("name: zero-downtime\nruntime: python\n")
    program = FakeProgram(aws, entry, LocalBlobs(tmp_path / "store"))
    stack = FakeStack({"services": {"api": entry}}, on_up=program)
    stack.config["releaseStore"] = "file://store"  # relative to the project directory
    clock = FakeClock(start=time.time() - 3600)
    feed_traffic(clock, aws, entry)
    return Cli(aws, entry, stack, clock, tmp_path, [], program)


def test_deploy_canary_json_report(cli: Cli) -> None:
    code, out, err = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, "--json")
    assert code == ExitCode.SUCCESS, err
    report = json.loads(out)
    assert report["state"] == "SUCCEEDED" and report["exit_code"] == 0
    states = [d["state"] for d in report["decisions"] if d["event"] == "transition"]
    assert states[-3:] == ["PROMOTING", "KEEPING_WARM", "SUCCEEDED"]
    assert report["kind"] == "service" and report["outcome"] == "SUCCEEDED"
    assert [d["seq"] for d in report["decisions"]] == list(range(len(report["decisions"])))
    checks = next(d for d in report["decisions"] if d["state"] == "SYNTHETIC_BAKE")["detail"]["checks"]
    assert checks[0]["passed"] and checks[0]["name"].endswith("/health")
    assert cli.weights() == {"blue": 0, "green": 100}
    assert "BAKING" in err and "req " in err  # live progress went to stderr
    # steps 10, 50, 100 with the synthetic bake and probes: the bake half, 2 user + 3 probe judgements
    assert "judge sequential, alpha 0.02 per release: synthetic bake 0.01, 5 step judgements 0.002 each" in err


def test_the_alpha_flags_are_journaled_with_the_release(cli: Cli) -> None:
    code, _, err = cli.run(
        *cli.base("deploy"), "--image", "repo/api:2", *FAST, "--alpha", "0.02", "--alpha-scope", "judgement"
    )
    assert code == ExitCode.SUCCESS, err
    analysis = latest_status(cli.journal()).spec["analysis"]
    assert (analysis["alpha"], analysis["alpha_scope"]) == (0.02, "judgement")


def test_failed_test_listener_check_rolls_back_exit_3(cli: Cli) -> None:
    _Health.status = 503
    code, out, _ = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST)
    assert code == ExitCode.ROLLED_BACK
    assert "ROLLED_BACK" in out and "status 503, expected 200" in out
    assert cli.weights() == {"blue": 100, "green": 0}


def test_pause_status_promote_history(cli: Cli) -> None:
    code, _, _ = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, "--pause-before-promote")
    assert code == ExitCode.PAUSED
    assert cli.weights() == {"blue": 0, "green": 100}
    code, out, _ = cli.run(*cli.base("status"), "--json")
    status = json.loads(out)
    assert code == 0 and status["state"] == "PAUSED" and status["step"] == 3
    assert status["driver_running"] is False
    code, out, _ = cli.run(*cli.base("promote"), "--json")
    assert code == ExitCode.SUCCESS and json.loads(out)["state"] == "SUCCEEDED"
    code, out, _ = cli.run(*cli.base("history"), "--json")
    rows = json.loads(out)
    assert [r["state"] for r in rows] == ["SUCCEEDED"] and rows[0]["image"] == "repo/api:2"
    code, out, _ = cli.run(*cli.base("history"), "--release", rows[0]["release_id"])
    assert code == 0 and "decision trail" in out and "promote" in out


def test_abort_paused_release(cli: Cli) -> None:
    assert cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, "--pause-at", "50")[0] == 4
    assert cli.weights() == {"blue": 50, "green": 50}
    code, out, _ = cli.run(*cli.base("abort"), "--json", "--reason", "bad smell")
    assert code == ExitCode.ROLLED_BACK
    assert json.loads(out)["reason"] == "bad smell"
    assert cli.weights() == {"blue": 100, "green": 0}
    # Idempotent: a second abort re-applies the rollback and still reports rolled back.
    assert cli.run(*cli.base("abort"))[0] == ExitCode.ROLLED_BACK


def test_promote_refused_when_not_paused(cli: Cli) -> None:
    assert cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST)[0] == 0
    code, _, err = cli.run(*cli.base("promote"))
    assert code == ExitCode.REFUSED and "promote needs a PAUSED release" in err


def test_resume_after_kill(cli: Cli) -> None:
    class Killed(BaseException):
        pass

    def kill(now: float) -> None:
        if cli.weights() == {"blue": 50, "green": 50}:
            raise Killed

    cli.clock.on_sleep(kill)
    with pytest.raises(Killed):
        cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST)
    cli.clock._hooks.remove(kill)
    assert cli.run(*cli.base("status"), "--json")[1].count("BAKING") == 1
    code, out, _ = cli.run(*cli.base("resume"), "--json")
    assert code == ExitCode.SUCCESS
    assert any(d["event"] == "resume" for d in json.loads(out)["decisions"])
    assert cli.weights() == {"blue": 0, "green": 100}


def test_second_driver_is_refused_as_busy(cli: Cli) -> None:
    with cli.journal().hold():
        code, _, err = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST)
    assert code == ExitCode.BUSY and "another driver" in err
    assert cli.stack.writes == []


def test_deploy_refused_while_a_release_is_paused(cli: Cli) -> None:
    assert cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, "--pause-at", "10")[0] == 4
    writes = len(cli.stack.writes)
    code, _, err = cli.run(*cli.base("deploy"), "--image", "repo/api:3", *FAST)
    assert code == ExitCode.REFUSED and "promote, abort or resume" in err
    assert len(cli.stack.writes) == writes


BAD_INPUTS = [
    ("empty-image", ["--image", ""], "--image"),
    ("blank-image", ["--image", "   "], "--image"),
    ("step-over-100", ["--image", "a:1", "--steps", "10,200"], "--steps"),
    ("steps-not-increasing", ["--image", "a:1", "--steps", "50,10,100"], "--steps"),
    ("steps-not-ending-100", ["--image", "a:1", "--steps", "10,50"], "--steps"),
    ("steps-garbage", ["--image", "a:1", "--steps", "ten"], "--steps"),
    ("interval-zero", ["--image", "a:1", "--interval", "0"], "--interval"),
    ("interval-negative", ["--image", "a:1", "--interval", "-5"], "--interval"),
    ("intervals-count", ["--image", "a:1", "--steps", "10,100", "--intervals", "5"], "--intervals"),
    ("bake-zero", ["--image", "a:1", "--strategy", "blue-green", "--bake", "0"], "--bake"),
    ("strategy", ["--image", "a:1", "--strategy", "yolo"], "--strategy"),
    ("step-percent", ["--image", "a:1", "--strategy", "linear", "--step-percent", "0"], "--step-percent"),
    ("desired-count", ["--image", "a:1", "--desired-count", "0"], "--desired-count"),
    ("error-rate", ["--image", "a:1", "--max-error-rate", "2"], "--max-error-rate"),
    ("threshold", ["--image", "a:1", "--threshold", "0"], "--threshold"),
    ("alpha", ["--image", "a:1", "--alpha", "0.5"], "--alpha"),
    ("alpha-scope", ["--image", "a:1", "--alpha-scope", "step"], "--alpha-scope"),
    ("poll", ["--image", "a:1", "--poll", "0"], "--poll"),
    ("keep-warm", ["--image", "a:1", "--keep-warm", "-1"], "--keep-warm"),
    ("check-status", ["--image", "a:1", "--check-status", "999"], "--check-status"),
    ("check-body", ["--image", "a:1", "--check-body", "("], "--check-body"),
    ("hook", ["--image", "a:1", "--hook", ""], "--hook"),
    ("missing-image", [], "--image"),
    ("interval-not-number", ["--image", "a:1", "--interval", "soon"], "--interval"),
]


@pytest.mark.parametrize(("case", "extra", "flag"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_refused_and_changes_nothing(cli: Cli, case: str, extra: list[str], flag: str) -> None:
    code, _, err = cli.run(*cli.base("deploy"), *extra)
    assert code == ExitCode.REFUSED
    assert flag in err
    assert cli.stack.writes == []
    assert cli.release_objects() == []
    assert cli.weights() == {"blue": 100, "green": 0}


@pytest.mark.parametrize(
    ("stack", "service", "flag"),
    [("prod", "api", "--stack"), ("dev", "billing", "--service"), ("dev", "../x", "--service")],
    ids=["unknown-stack", "unknown-service", "unsafe-service-name"],
)
def test_unknown_stack_or_service_is_refused(cli: Cli, stack: str, service: str, flag: str) -> None:
    code, _, err = cli.run(*cli.base("deploy", stack, service), "--image", "a:1")
    assert code == ExitCode.REFUSED
    assert flag in err and "nothing was changed" in err
    assert cli.stack.writes == []
    assert cli.release_objects() == []
    assert cli.weights() == {"blue": 100, "green": 0}


def _set_rule(cli: Cli, blue: int, green: int) -> None:
    cli.aws["elbv2"].modify_rule(
        RuleArn=cli.entry["productionRuleArn"],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": cli.entry["blue"]["targetGroupArn"], "Weight": blue},
                        {"TargetGroupArn": cli.entry["green"]["targetGroupArn"], "Weight": green},
                    ]
                },
            }
        ],
    )


def test_split_traffic_is_refused(cli: Cli) -> None:
    cli.entry["weights"] = {"blue": 90, "green": 10}
    _set_rule(cli, 90, 10)  # the stack and the load balancer agree: a release never finished
    code, _, err = cli.run(*cli.base("deploy"), "--image", "a:1")
    assert code == ExitCode.REFUSED and "is split" in err
    assert cli.stack.writes == [] and cli.release_objects() == []


def test_split_traffic_is_refused_even_with_adopt_live(cli: Cli) -> None:
    _set_rule(cli, 90, 10)
    code, _, err = cli.run(*cli.base("deploy"), "--image", "a:1", "--adopt-live")
    assert code == ExitCode.REFUSED and "traffic is split: abort or finish that release first" in err
    assert cli.release_objects() == [] and cli.weights() == {"blue": 90, "green": 10}


def test_adopt_live_takes_the_load_balancers_color_and_records_it(cli: Cli) -> None:
    _set_rule(cli, 0, 100)  # green serves, though the stack (git's bootstrap) says blue
    code, _, err = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST)
    assert code == ExitCode.REFUSED and "drift: the load balancer routes {'blue': 0, 'green': 100}" in err
    assert "release store says {'blue': 100, 'green': 0}" in err and cli.release_objects() == []
    code, out, err = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, "--adopt-live", "--json")
    assert code == ExitCode.SUCCESS, err
    assert json.loads(out)["decisions"][0]["spec"]["stable_color"] == "green"  # released to blue
    assert cli.weights() == {"blue": 100, "green": 0}


def test_drift_on_the_load_balancer_is_refused(cli: Cli) -> None:
    _set_rule(cli, 80, 20)
    code, _, err = cli.run(*cli.base("deploy"), "--image", "a:1")
    assert code == ExitCode.REFUSED
    assert "drift: the load balancer routes {'blue': 80, 'green': 20} but the release store says" in err
    assert cli.stack.writes == [] and cli.release_objects() == []
    assert cli.weights() == {"blue": 80, "green": 20}  # nothing was moved


def test_status_without_releases_is_refused(cli: Cli) -> None:
    code, _, err = cli.run(*cli.base("status"))
    assert code == ExitCode.REFUSED and "no release recorded" in err


def test_stack_busy_mid_release_rolls_traffic_back_then_resume_finishes(cli: Cli) -> None:
    from tests.driver.fake_stack import concurrent_update

    def busy_from_second_shift(config: dict[str, str]) -> None:
        state = cli.program.state()
        if state is not None and state.weights.green == 50:
            cli.stack.raise_on["up"] = [concurrent_update() for _ in range(50)]

    apply = cli.stack.on_up
    cli.stack.on_up = lambda cfg: (apply(cfg), busy_from_second_shift(cfg))  # type: ignore[misc]
    code, out, err = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, "--json")
    # The rule was set at 50/50, `up` stayed busy: the fast path restored traffic, but the stack
    # could not be reconciled, so the release is FAILED (exit 1) with traffic safe on blue.
    assert code == ExitCode.ERROR, err
    report = json.loads(out)
    assert report["state"] == "FAILED" and "another update is running" in report["reason"]
    assert cli.weights() == {"blue": 100, "green": 0}
    cli.stack.raise_on["up"] = []
    code, out, _ = cli.run(*cli.base("resume"), "--json")
    assert code == ExitCode.ROLLED_BACK
    state = cli.program.state()
    assert state is not None and state.live_color == "blue" and state.green.desired_count == 0
    assert cli.entry["liveColor"] == "blue" and cli.entry["green"]["desiredCount"] == 0


def test_abort_asks_a_running_driver_and_waits_for_its_rollback(cli: Cli) -> None:
    journal = cli.journal()
    baking = threading.Event()

    def hold_until_abort(now: float) -> None:
        last = journal.last()
        if last and last.state == "BAKING":
            baking.set()
            for _ in range(200):  # bounded: at most 20 s
                if journal.abort_requested(last.status.release_id):
                    return
                time.sleep(0.1)

    cli.clock.on_sleep(hold_until_abort)
    results: dict[str, int] = {}
    driver = threading.Thread(
        target=lambda: results.setdefault("deploy", cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST)[0])
    )
    driver.start()
    try:
        assert baking.wait(30)
        code, out, err = cli.run(*cli.base("abort"), "--wait", "30", "--json")
    finally:
        driver.join(timeout=60)
    assert code == ExitCode.ROLLED_BACK, err
    assert "abort requested from the running driver" in err
    assert json.loads(out)["reason"].startswith("aborted: aborted by operator")
    assert results["deploy"] == ExitCode.ROLLED_BACK
    assert cli.weights() == {"blue": 100, "green": 0}


def test_every_flag_an_error_can_name_exists() -> None:
    """A refusal never names a flag the CLI does not have."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices  # type: ignore[union-attr]
    flags = {opt for sub in subparsers.values() for action in sub._actions for opt in action.option_strings}
    assert set(FLAG_OF.values()) <= flags, set(FLAG_OF.values()) - flags


def test_a_setting_without_a_flag_is_named_by_its_key(cli: Cli) -> None:
    # analysis.max_error_rate_increase has no flag: the message names the key, not an invented flag.
    from zero_downtime.driver.cli import message
    from zero_downtime.driver.core.analysis import AnalysisConfig

    with pytest.raises(InputError) as err:
        AnalysisConfig(max_error_rate_increase=2)
    assert message(err.value) == "analysis.max_error_rate_increase: in [0, 1)"
    with pytest.raises(InputError) as err:
        AnalysisConfig(threshold=0)
    assert message(err.value) == "--threshold: must be >= 1"


# -- pre-traffic checks through the stack's probe function ------------------------------------------
PROBE_ARN = "arn:aws:lambda:us-east-1:123456789012:function:probe-fn-1a2b3c4"


class ProbeLambda:
    """A Lambda client whose `invoke` runs the probe module in-process, as the Lambda runtime would.

    Each call's parameters are validated against botocore's model of `Invoke` first.
    """

    def __init__(self, *, fail_with: str | None = None) -> None:
        import botocore.session

        self.model = botocore.session.get_session().get_service_model("lambda").operation_model("Invoke")
        self.events: list[dict[str, Any]] = []
        self.fail_with = fail_with

    def invoke(self, **params: Any) -> dict[str, Any]:
        from botocore.response import StreamingBody
        from botocore.validate import validate_parameters
        from zero_downtime.contract.probe import handler

        validate_parameters(params, self.model.input_shape)
        assert params["FunctionName"] == PROBE_ARN and params["InvocationType"] == "RequestResponse"
        event = json.loads(params["Payload"])
        self.events.append(event)
        if self.fail_with:
            body = json.dumps({"errorMessage": self.fail_with, "errorType": "Runtime.ExitError"}).encode()
            extra = {"FunctionError": "Unhandled"}
        else:
            body, extra = json.dumps(handler(event)).encode(), {}
        return {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body)), **extra}


def _with_probe(cli: Cli, lam: ProbeLambda, host_name: str | None = "shop.example.test") -> None:
    cli.entry["probeFunctionArn"] = PROBE_ARN
    cli.entry["testHostName"] = host_name
    cli.aws["lambda"] = lam


def test_the_check_runs_in_the_probe_function_with_the_service_host_name(cli: Cli) -> None:
    lam = ProbeLambda()
    _with_probe(cli, lam)
    code, out, err = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, "--json")
    assert code == ExitCode.SUCCESS, err
    event, *bursts = lam.events
    assert event["url"] == cli.entry["testUrl"].rstrip("/") + "/health" and "burst" not in event
    assert event["hostName"] == "shop.example.test"
    # The synthetic bake and the probes are sent by the function too, with the same host name.
    assert bursts and all(b["burst"]["requests"] >= 1 and b["hostName"] == "shop.example.test" for b in bursts)
    port = cli.entry["testUrl"].rsplit(":", 1)[1].strip("/")
    assert set(_Health.hosts) == {f"shop.example.test:{port}"}
    checks = next(d for d in json.loads(out)["decisions"] if d["state"] == "SYNTHETIC_BAKE")["detail"]["checks"]
    assert "probe function" in checks[0]["name"] and checks[0]["passed"]


def test_a_failing_probe_function_rolls_back_before_traffic_saying_why(cli: Cli) -> None:
    _with_probe(cli, ProbeLambda(fail_with="Task timed out after 90.00 seconds"))
    code, out, _ = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST)
    assert code == ExitCode.ROLLED_BACK
    assert "failed (Unhandled): Task timed out after 90.00 seconds" in " ".join(out.split())
    assert cli.weights() == {"blue": 100, "green": 0}
    assert _Health.hosts == []


def test_check_from_driver_skips_the_probe_function(cli: Cli) -> None:
    lam = ProbeLambda()
    _with_probe(cli, lam, host_name=None)
    code, _, err = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, "--check-from", "driver")
    assert code == ExitCode.SUCCESS, err
    assert lam.events == []
    assert _Health.paths.count("/health") == 1 and all(h and h.startswith("127.0.0.1:") for h in _Health.hosts)


@pytest.mark.parametrize("value", ["probe", "lambda"])
def test_check_from_a_probe_the_stack_lacks_is_refused_before_anything_moves(cli: Cli, value: str) -> None:
    code, _, err = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, "--check-from", value)
    assert code == ExitCode.REFUSED
    assert "--check-from" in err
    assert cli.weights() == {"blue": 100, "green": 0}
    assert cli.release_objects() == []


# -- the synthetic bake (issue 14) --------------------------------------------------------------------------
def test_a_gross_fault_is_rolled_back_by_the_synthetic_bake_before_any_user_request(cli: Cli) -> None:
    _Health.status_of = {"/": 503}  # /health passes, the app itself fails
    code, out, err = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, "--json")
    assert code == ExitCode.ROLLED_BACK, err
    report = json.loads(out)
    assert "synthetic bake, before any user request" in report["reason"]
    states = [d["state"] for d in report["decisions"] if d["event"] == "transition"]
    assert "SHIFTING" not in states
    assert cli.weights() == {"blue": 100, "green": 0}
    # 503s are conclusive at the bake's first look: its first part, 50 of the 800 to each listener.
    assert _Health.paths.count("/") == 2 * 50, "the bake stops at its first look"


def test_no_synthetic_bake_when_told(cli: Cli) -> None:
    code, out, err = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, "--synthetic-requests", "0", "--json")
    assert code == ExitCode.SUCCESS, err
    assert "/" not in _Health.paths
    assert "SYNTHETIC_BAKE" not in {d["state"] for d in json.loads(out)["decisions"]}


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--synthetic-seconds", "61"], "--synthetic-seconds"),
        (["--synthetic-seconds", "0"], "--synthetic-seconds"),
        (["--synthetic-requests", "-1"], "--synthetic-requests"),
        (["--probe-requests", "-5"], "--probe-requests"),
        (["--synthetic-path", "no-slash"], "--synthetic-path"),
        (["--synthetic-concurrency", "0"], "--synthetic-concurrency"),
        (["--synthetic-concurrency", "65"], "--synthetic-concurrency"),
    ],
)
def test_bad_synthetic_flags_are_refused_before_anything_moves(cli: Cli, flags: list[str], named: str) -> None:
    code, _, err = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, *flags)
    assert code == ExitCode.REFUSED, err
    assert err.startswith(f"refused: {named}:"), err
    assert cli.weights() == {"blue": 100, "green": 0}
    assert cli.release_objects() == []


@pytest.mark.parametrize(("flags", "concurrency"), [([], 20), (["--synthetic-concurrency", "7"], 7)])
def test_the_probe_function_sends_each_burst_at_the_synthetic_concurrency(
    cli: Cli, flags: list[str], concurrency: int
) -> None:
    lam = ProbeLambda()
    _with_probe(cli, lam)
    code, _, err = cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST, *flags)
    assert code == ExitCode.SUCCESS, err
    bursts = [e["burst"] for e in lam.events if "burst" in e]
    assert len(bursts) > 10  # the bake's parts on both listeners, then the probes at every check
    assert all(b["concurrency"] == min(concurrency, b["requests"]) for b in bursts), bursts


def test_a_release_journaled_before_the_concurrency_setting_resumes_at_four(cli: Cli) -> None:
    class Killed(BaseException):
        pass

    def kill(now: float) -> None:
        if cli.weights() == {"blue": 50, "green": 50}:
            raise Killed

    lam = ProbeLambda()
    _with_probe(cli, lam)
    cli.clock.on_sleep(kill)
    with pytest.raises(Killed):
        cli.run(*cli.base("deploy"), "--image", "repo/api:2", *FAST)
    cli.clock._hooks.remove(kill)
    assert {e["burst"]["concurrency"] for e in lam.events if "burst" in e} == {20}

    def forget(node: Any) -> int:  # the spec's synthetic bake as an older driver journaled it
        if isinstance(node, dict):
            dropped = int(node.keys() >= {"probe_requests", "run_from", "concurrency"})
            if dropped:
                del node["concurrency"]
            return dropped + sum(forget(v) for v in node.values())
        return sum(forget(v) for v in node) if isinstance(node, list) else 0

    rewritten = 0
    for path in (cli.tmp / "store").rglob("*"):
        if path.is_file() and b'"run_from"' in path.read_bytes():
            doc = json.loads(path.read_bytes())
            rewritten += forget(doc)
            path.write_text(json.dumps(doc, sort_keys=True))
    assert rewritten
    sent = len(lam.events)
    code, _, err = cli.run(*cli.base("resume"))
    assert code == ExitCode.SUCCESS, err
    assert cli.weights() == {"blue": 0, "green": 100}
    after = [e["burst"] for e in lam.events[sent:] if "burst" in e]
    assert after and all(b["concurrency"] == min(4, b["requests"]) for b in after), after
