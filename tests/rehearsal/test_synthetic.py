"""`LocalSyntheticTraffic` against a real HAProxy and real app processes on 127.0.0.1."""

from __future__ import annotations

from collections import Counter

import pytest
from zero_downtime.contract import Color, Weights
from zero_downtime.driver.core.errors import PortError
from zero_downtime.driver.core.ports import SyntheticTraffic
from zero_downtime.rehearsal.synthetic import LocalSyntheticTraffic

from .conftest import LocalStack

pytestmark = pytest.mark.timeout(120)


def _deploy(stack: LocalStack, color: Color, image: str, count: int = 1) -> None:
    stack.deployer.deploy_idle(color, image, count)
    assert stack.deployer.wait_healthy(color, 20)


@pytest.fixture
def traffic(local_stack: LocalStack):  # type: ignore[no-untyped-def]
    sender = LocalSyntheticTraffic(local_stack.haproxy.url, local_stack.haproxy.test_url)
    try:
        yield sender
    finally:
        sender.close()


def test_counts_errors_and_latencies_per_listener(local_stack: LocalStack, traffic: LocalSyntheticTraffic) -> None:
    _deploy(local_stack, "blue", "v1")
    _deploy(local_stack, "green", "broken")  # answers 500 to every request
    local_stack.router.set_weights(Weights.all_to("blue"))
    assert isinstance(traffic, SyntheticTraffic)

    stable = traffic.send("production", 40, 30)
    new = traffic.send("test", 25, 30)
    assert (stable.requests, stable.errors_5xx) == (40, 0)
    assert (new.requests, new.errors_5xx) == (25, 25)
    assert len(stable.latencies) == 40 and len(new.latencies) == 25
    assert all(0 <= s < 5 for s in stable.latencies + new.latencies)
    assert stable.p99_seconds is not None and stable.p99_seconds == max(stable.latencies)  # nearest rank, n < 100
    # Every probe is kept with who served it: the production listener never reached the new color.
    served = Counter((p.via, p.version) for p in traffic.probes)
    assert served == Counter({("production", "v1"): 40, ("test", "broken"): 25})
    assert {p.fault for p in traffic.probes if p.via == "test"} == {"injected"}


def test_a_call_is_bounded_by_its_seconds(local_stack: LocalStack, traffic: LocalSyntheticTraffic) -> None:
    _deploy(local_stack, "blue", "v1")
    local_stack.router.set_weights(Weights.all_to("blue"))
    # Far more requests than 0 seconds allow: none is started.
    assert traffic.send("production", 10_000, 0).requests == 0
    # No idle color attached: the test listener answers 503, which is an error, not a hang.
    failed = traffic.send("test", 5, 10)
    assert (failed.requests, failed.errors_5xx) == (5, 5)


def test_bad_calls_and_calls_after_close_are_port_errors(
    local_stack: LocalStack, traffic: LocalSyntheticTraffic
) -> None:
    with pytest.raises(PortError, match="via"):
        traffic.send("sideways", 1, 1)  # type: ignore[arg-type]
    with pytest.raises(PortError, match="requests"):
        traffic.send("test", -1, 1)
    traffic.close()
    with pytest.raises(PortError, match="stopped"):
        traffic.send("test", 1, 1)
