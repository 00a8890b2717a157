"""One AWS account (moto), one release store, and as many fresh checkouts of the project as a test
wants, each driving the real CLI: how CI runners see a release (issue 12).

Every checkout has its own working directory and its own copy of git's stack config; they share
what is shared in reality: the Pulumi stack's outputs and its program (`FakeProgram`, which applies
the release store's state on `up`), the load balancer, and the release store. A checkout's driver
can be killed right after it records a state: from then on nothing it would do reaches the store
(no lease release, no cleanup), as with `kill -9`.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zero_downtime.driver.cli import Runtime, main
from zero_downtime.store import Blob, Blobs, open_blobs

from tests.driver.aws_world import FakeProgram, build_paired_service, feed_traffic, rule_weights
from tests.driver.clock import FakeClock
from tests.driver.conftest import StoreSetup
from tests.driver.fake_stack import FakeStack
from tests.driver.fakes import Killed

SERVICE = "web"
LEASE_SECONDS = 120.0
FAST = ["--interval", "15", "--poll", "15", "--min-requests", "20", "--keep-warm", "15", "--health-timeout", "30"]
FAST += ["--no-percentiles", "--no-test-check"]
# Both colors are one local server here, so any latency difference between the probes and the
# stable baseline is the machine's load between two moments: on a busy CI runner, 70 ms was enough
# to fail the default effect (+0.1 s, judged at half). These tests are about state; the latency
# judge has its own (test_analysis*.py, the rehearsal).
# The same for the absolute p99 guard: the synthetic bake's 20 sender threads share this process
# (and its GIL) with the driver and, in some tests, a status poller; on a loaded runner a healthy
# answer measured over 2 s.
FAST += ["--min-detectable-latency-seconds", "1", "--max-p99", "10"]


class Dying:
    """Blobs that die with their driver: after `kill_when(key, data)` holds for a write, that write
    lands and every later call raises Killed, so the dead driver releases nothing."""

    def __init__(self, inner: Blobs, kill_when: Callable[[str, bytes], bool]) -> None:
        self.inner = inner
        self.url = inner.url
        self.kill_when = kill_when
        self.dead = False

    def _alive(self) -> None:
        if self.dead:
            raise Killed

    def get(self, key: str) -> Blob | None:
        self._alive()
        return self.inner.get(key)

    def create(self, key: str, data: bytes) -> str:
        self._alive()
        etag = self.inner.create(key, data)
        if self.kill_when(key, data):
            self.dead = True
            raise Killed
        return etag

    def replace(self, key: str, data: bytes, etag: str) -> str:
        self._alive()
        return self.inner.replace(key, data, etag)

    def put(self, key: str, data: bytes) -> str:
        self._alive()
        return self.inner.put(key, data)

    def delete(self, key: str) -> None:
        self._alive()
        self.inner.delete(key)

    def list(self, prefix: str) -> list[str]:
        self._alive()
        return self.inner.list(prefix)


def recorded(state: str, events: tuple[str, ...] = ("start", "transition")) -> Callable[[str, bytes], bool]:
    """Kill right after the journal record that enters `state`."""

    def when(key: str, data: bytes) -> bool:
        if "/journal/" not in key:
            return False
        record = json.loads(data)
        return record["state"] == state and record["event"] in events

    return when


@dataclass
class Checkout:
    """One fresh working directory of the project, with git's stack config."""

    world: World
    path: Path
    stack: FakeStack

    def run(self, *argv: str, die_when: Callable[[str, bytes], bool] | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        w = self.world

        def blobs(url: str, **kw: Any) -> Blobs:
            inner = open_blobs(url, base_dir=self.path, s3_client=w.store.s3)
            return Dying(inner, die_when) if die_when else inner

        rt = Runtime(
            open_stack=lambda name, work_dir: self.stack,
            clients=w.aws,
            clock=w.clock,
            stack_backoff_seconds=0.01,
            health_poll_seconds=1.0,
            lease_seconds=LEASE_SECONDS,
            open_blobs=blobs,
        )
        command, *rest = argv
        service = [] if command == "init" else ["--service", SERVICE]
        code = main(
            [command, "--stack", "dev", *service, "--work-dir", str(self.path), *rest],
            runtime=rt,
            stdout=out,
            stderr=err,
        )
        return code, out.getvalue(), err.getvalue()


@dataclass
class World:
    aws: dict[str, Any]
    store: StoreSetup
    tmp: Path
    clock: FakeClock = field(default_factory=lambda: FakeClock(start=time.time() - 3600))
    entry: dict[str, Any] = field(init=False)
    program: FakeProgram = field(init=False)
    checkouts: int = 0
    listener: str = ""
    """URL of a local server answering for the test and production listeners (the synthetic bake)."""

    def __post_init__(self) -> None:
        self.entry = build_paired_service(self.aws, SERVICE)
        if self.listener:
            self.entry["testUrl"] = self.entry["productionUrl"] = self.listener
        self.program = FakeProgram(self.aws, self.entry, self.store.blobs())
        feed_traffic(self.clock, self.aws, self.entry)

    def checkout(self) -> Checkout:
        """A fresh CI runner: a new directory, git's Pulumi.yaml and stack config, nothing else."""
        self.checkouts += 1
        path = self.tmp / f"checkout-{self.checkouts}"
        path.mkdir()
        (path / "Pulumi.yaml").write_text("name: zero-downtime\nruntime: python\n")
        stack = FakeStack({"services": {SERVICE: self.entry}}, on_up=self.program)
        stack.config["releaseStore"] = self.store.url
        # git's stack file: blue live, and it never changes (a CI runner never commits it back).
        stack.config.update({"services.web.liveColor": "blue", "services.web.blue.weight": "100"})
        return Checkout(self, path, stack)

    def weights(self) -> dict[str, int]:
        return rule_weights(self.aws["elbv2"], self.entry["productionRuleArn"], self.entry)

    def healthy(self, color: str) -> int:
        arn = self.entry[color]["targetGroupArn"]
        health = self.aws["elbv2"].describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        return sum(1 for d in health if d["TargetHealth"]["State"] == "healthy")

    def serving(self) -> str:
        """The color with all the traffic; it must have healthy targets."""
        weights = self.weights()
        (live,) = [c for c, w in weights.items() if w == 100]
        return live

    def expire_leases(self) -> None:
        """Time passes beyond any lease a dead driver left."""
        self.clock.sleep(LEASE_SECONDS + 1)
