"""Release state with one durable home, through the real CLI, on both store backends (issue 12).

Each test drives `zdd-release` from fresh checkouts, as CI runners would: one AWS account (moto),
one release store (local files, or S3 on moto), and git's stack files that never change.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract import Weights, parse_service
from zero_downtime.contract.release_state import StoreKeys
from zero_downtime.driver.cli import ExitCode
from zero_downtime.offline.evaluate import evaluate_program

from tests.driver.conftest import StoreSetup
from tests.driver.release_world import FAST, SERVICE, Killed, World, recorded


@pytest.fixture
def world(
    aws: dict[str, Any], store: StoreSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listener: str
) -> World:
    # The stack program evaluated below makes its own S3 client, as on AWS: point it at moto.
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws["url"])
    return World(aws, store, tmp_path, listener=listener)


def _json(out: str) -> dict[str, Any]:
    return json.loads(out)


def test_two_releases_from_fresh_checkouts_start_from_the_true_live_color(world: World) -> None:
    first, second = world.checkout(), world.checkout()
    code, out, err = first.run("deploy", "--image", "repo/web:2", "--steps", "50,100", *FAST, "--json")
    assert code == ExitCode.SUCCESS, err
    assert world.serving() == "green"
    # A second CI runner: git's stack file still says blue is live. The store knows better.
    code, out, err = second.run("deploy", "--image", "repo/web:3", "--steps", "50,100", *FAST, "--json")
    assert code == ExitCode.SUCCESS, err
    assert _json(out)["decisions"][0]["spec"]["stable_color"] == "green"
    assert world.serving() == "blue" and world.entry["blue"]["image"] == "repo/web:3"
    assert world.healthy("blue") >= 2
    # No color with weight above 0 ever had fewer running tasks than it serves with.
    assert world.program.violations == []


def test_the_invariant_check_itself_catches_the_old_outage() -> None:
    """Control: a release written into git's config, applied from a checkout that still says blue,
    gives blue 100% while its tasks start. The check above must see that, or it proves nothing."""
    from tests.driver.aws_world import FakeProgram

    class NoStore:
        url = "none://"

        def get(self, key: str) -> None:
            return None

    entry = {
        "configPath": "services.web",
        "liveColor": "green",
        "productionRuleArn": "arn:rule",
        "blue": {"desiredCount": 0, "weight": 0, "image": "a", "targetGroupArn": "arn:b"},
        "green": {"desiredCount": 2, "weight": 100, "image": "a", "targetGroupArn": "arn:g"},
    }
    program = FakeProgram({"elbv2": _NullElb()}, entry, NoStore())
    git = {"liveColor": "blue", "blue.weight": "100", "green.weight": "0", "blue.desiredCount": "2"}
    program({f"services.web.{k}": v for k, v in git.items()})
    assert program.violations == ["up 1: blue gets 100% with 0 tasks running of 2"]


class _NullElb:
    def modify_rule(self, **kw: Any) -> None:
        return None

    def describe_target_health(self, **kw: Any) -> dict[str, Any]:
        return {"TargetHealthDescriptions": []}

    def register_targets(self, **kw: Any) -> None:
        return None

    def deregister_targets(self, **kw: Any) -> None:
        return None


def test_a_bare_up_after_a_release_applies_what_was_released(world: World) -> None:
    checkout = world.checkout()
    code, _, err = checkout.run("deploy", "--image", "repo/web:2", "--steps", "50,100", *FAST)
    assert code == ExitCode.SUCCESS, err
    state = world.program.state()
    assert state is not None
    # `main.yml`'s `up`: the real stack program, git's unchanged Pulumi.dev.yaml, the same store.
    ev = evaluate_program("dev", release_store=world.store.url)
    web = parse_service(ev.outputs, SERVICE)
    assert (web.live_color, web.weights) == ("green", Weights(0, 100)) == (state.live_color, state.weights)
    assert (web.green.image, web.green.desired_count) == ("repo/web:2", 2)
    assert (web.blue.image, web.blue.desired_count) == (state.blue.image, 0)


def test_status_promote_abort_and_resume_continue_from_another_checkout(world: World) -> None:
    a, b, c = world.checkout(), world.checkout(), world.checkout()
    code, _, err = a.run("deploy", "--image", "repo/web:2", "--steps", "50,100", "--pause-at", "50", *FAST)
    assert code == ExitCode.PAUSED, err
    code, out, _ = b.run("status", "--json")
    assert code == 0 and _json(out)["state"] == "PAUSED" and _json(out)["driver_running"] is False
    code, out, err = b.run("promote", "--json", "--no-percentiles")
    assert code == ExitCode.SUCCESS, err
    assert world.serving() == "green"
    code, _, err = c.run("deploy", "--image", "repo/web:3", "--steps", "50,100", "--pause-at", "50", *FAST)
    assert code == ExitCode.PAUSED, err
    code, out, err = a.run("abort", "--reason", "from the first checkout", "--json", "--no-percentiles")
    assert code == ExitCode.ROLLED_BACK, err
    assert world.serving() == "green" and _json(out)["reason"] == "from the first checkout"
    code, out, _ = b.run("history", "--json")
    assert [row["state"] for row in _json(out)] == ["SUCCEEDED", "ROLLED_BACK"]
    assert world.program.violations == []


def test_a_killed_driver_is_resumed_from_another_checkout_once_its_lease_expires(world: World) -> None:
    a, b = world.checkout(), world.checkout()
    with pytest.raises(Killed):
        a.run("deploy", "--image", "repo/web:2", "--steps", "50,100", *FAST, die_when=recorded("BAKING"))
    code, out, _ = b.run("status", "--json")
    assert code == 0 and _json(out)["state"] == "BAKING" and _json(out)["driver_running"] is True
    code, _, err = b.run("resume", "--no-percentiles")
    assert code == ExitCode.BUSY and "holds its lease until" in err  # the dead holder's lease is still live
    world.expire_leases()
    code, _, err = b.run("resume", "--no-percentiles")
    assert code == ExitCode.SUCCESS, err
    assert world.serving() == "green" and world.program.violations == []


def test_two_drivers_started_at_once_for_one_service_exactly_one_proceeds(world: World) -> None:
    checkouts = [world.checkout(), world.checkout()]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def deploy(i: int) -> None:
        barrier.wait(timeout=30)
        codes.append(checkouts[i].run("deploy", "--image", f"repo/web:{i + 2}", "--steps", "50,100", *FAST)[0])

    threads = [threading.Thread(target=deploy, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(codes) == [ExitCode.SUCCESS, ExitCode.BUSY]
    assert world.program.violations == []


def test_status_polling_never_makes_another_command_fail(world: World) -> None:
    poller, driver = world.checkout(), world.checkout()
    stop = threading.Event()
    polled: list[int] = []

    def poll() -> None:
        for _ in range(2000):  # bounded
            if stop.is_set():
                return
            polled.append(poller.run("status", "--json")[0])

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        runs = [driver.run("deploy", "--image", "repo/web:2", "--steps", "50,100", "--pause-at", "50", *FAST)]
        runs.append(driver.run("promote", "--no-percentiles"))
        runs.append(driver.run("deploy", "--image", "repo/web:3", "--steps", "50,100", *FAST))
    finally:
        stop.set()
        thread.join(timeout=60)
    codes = [run[0] for run in runs]
    assert codes == [ExitCode.PAUSED, ExitCode.SUCCESS, ExitCode.SUCCESS], [run[2][-600:] for run in runs]
    assert len(polled) > 3 and set(polled) <= {ExitCode.SUCCESS, ExitCode.REFUSED}  # refused: no release yet


def test_a_journal_from_another_stack_is_refused_naming_both(world: World) -> None:
    checkout = world.checkout()
    code, _, err = checkout.run("deploy", "--image", "repo/web:2", "--steps", "50,100", "--pause-at", "50", *FAST)
    assert code == ExitCode.PAUSED, err
    blobs = world.store.blobs()
    dev, staging = StoreKeys("zero-downtime", "dev"), StoreKeys("zero-downtime", "staging")
    # Move the release into staging's journal and back as if a staging record had landed in dev's:
    # a staging record (stable green, BAKING) copied over the dev journal of the same service.
    for key in blobs.list(dev.journal(SERVICE)):
        data = json.loads(blobs.get(key).data)  # type: ignore[union-attr]
        data["stack"] = "staging"
        blobs.put(key, json.dumps(data).encode())
    assert staging.journal(SERVICE) != dev.journal(SERVICE)
    before = world.weights()
    code, _, err = checkout.run("abort", "--no-percentiles")
    assert code == ExitCode.REFUSED
    assert "journal of dev/web is bound to stack 'staging', not stack 'dev'" in err
    assert world.weights() == before


def test_abort_never_routes_traffic_to_a_color_without_healthy_targets(world: World) -> None:
    a, b = world.checkout(), world.checkout()
    code, _, err = a.run("deploy", "--image", "repo/web:2", "--steps", "50,100", "--pause-at", "50", *FAST)
    assert code == ExitCode.PAUSED, err
    world.program._register("blue", 0)  # blue's tasks died (e.g. the AZ went away)
    code, out, err = b.run("abort", "--json", "--no-percentiles")
    assert code == ExitCode.ERROR, err
    reason = _json(out)["reason"]
    assert "interlock: blue has 0 healthy targets of 2 needed; traffic stays at {'blue': 50, 'green': 50}" in reason
    assert world.weights() == {"blue": 50, "green": 50}
    world.program._register("blue", 2)
    code, _, err = b.run("resume", "--no-percentiles")
    assert code == ExitCode.ROLLED_BACK, err
    assert world.serving() == "blue"


def test_the_drivers_up_runs_with_the_projects_policy_pack(world: World) -> None:
    checkout = world.checkout()
    pack = checkout.path / "policies"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    code, _, err = checkout.run("deploy", "--image", "repo/web:2", "--steps", "100", *FAST)
    assert code == ExitCode.SUCCESS, err
    assert checkout.stack.up_kwargs and all(kw["policy_packs"] == [str(pack)] for kw in checkout.stack.up_kwargs)


def test_init_and_wait_idle(world: World) -> None:
    checkout = world.checkout()
    code, out, err = checkout.run("init", "--json")
    assert code == 0, err
    assert _json(out)["ready"] is True
    code, _, err = checkout.run("wait-idle", "--timeout", "0")
    assert code == ExitCode.SUCCESS and "idle" in err
    with pytest.raises(Killed):  # a driver dies holding the lease
        checkout.run("deploy", "--image", "repo/web:2", *FAST, die_when=recorded("DEPLOYING_IDLE"))
    code, _, err = checkout.run("wait-idle", "--timeout", "0")
    assert code == ExitCode.BUSY and f"busy: {SERVICE} is held by" in err
    world.expire_leases()
    assert checkout.run("wait-idle", "--timeout", "0")[0] == ExitCode.SUCCESS


def test_deploy_without_a_release_store_is_refused_naming_the_key(world: World) -> None:
    checkout = world.checkout()
    checkout.stack.config["releaseStore"] = ""
    code, _, err = checkout.run("deploy", "--image", "repo/web:2", *FAST)
    assert code == ExitCode.REFUSED and "releaseStore: not set for stack dev" in err and "pass --store" in err
    assert world.weights() == {"blue": 100, "green": 0}
