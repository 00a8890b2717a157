"""`SyntheticTraffic` port: bursts of the pre-traffic probe's GET (`contract/probe.py`), sent from
where the driver runs or by the stack's probe function inside the VPC, each answer timed by the
sender. That is evidence with no metrics lag: what the requests got, as they complete.

A burst that cannot be sent at all (the function cannot be invoked, throttling) is no evidence
either way: `send` raises `SyntheticUnavailable`, which the release treats as an inconclusive
check, never as a verdict on the new version. Requests that reach nothing count as errors
(status 0): a new color that refuses connections is a failing new color.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

from ...contract.probe import Burst, BurstAnswer, ProbeInputError, ProbeRequest, handler
from ..core.errors import PortError
from ..core.plan import DEFAULT_SYNTHETIC_CONCURRENCY
from ..core.ports import WindowMetrics, nearest_rank_p99
from .aws.clients import AWS_ERRORS

DEFAULT_CONCURRENCY = DEFAULT_SYNTHETIC_CONCURRENCY
EARLIER_MAX_CONCURRENCY = 16
"""What a probe function deployed before `contract/probe.py` took up to 64 accepts. A burst it
refuses for its concurrency is sent again at this many, until `up` deploys the current function."""


class SyntheticUnavailable(PortError):
    """The burst could not be sent; nothing was learnt about the new version."""


def run_here(event: dict[str, Any]) -> dict[str, Any]:
    """Run the burst in this process (the test listener is reachable from here)."""
    return handler(event)


def run_in_function(lambda_client: Any, function_arn: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Run the burst in the stack's probe function, inside the VPC."""

    def run(event: dict[str, Any]) -> dict[str, Any]:
        where = f"probe function {function_arn}"
        try:
            reply = lambda_client.invoke(
                FunctionName=function_arn, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
            )
            payload = reply["Payload"].read()
        except AWS_ERRORS as exc:
            raise SyntheticUnavailable(f"cannot invoke the {where}: {exc}") from exc
        try:
            data = json.loads(payload or b"null")
        except ValueError:
            raise SyntheticUnavailable(f"the {where} answered something other than JSON: {payload[:200]!r}") from None
        if reply.get("FunctionError"):
            message = data.get("errorMessage", data) if isinstance(data, dict) else data
            raise SyntheticUnavailable(f"the {where} failed ({reply['FunctionError']}): {message}")
        return data if isinstance(data, dict) else {"answer": data}

    return run


class ProbeSyntheticTraffic:
    """Bursts to the test URL (`via="test"`) or the production URL (`via="production"`), each with
    `concurrency` requests in flight at a time (the plan's `SyntheticBake.concurrency`)."""

    def __init__(
        self,
        targets: Mapping[str, ProbeRequest],
        run: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self.targets = dict(targets)
        self.run = run
        self.concurrency = concurrency

    def send(self, via: Literal["test", "production"], requests: int, seconds: float) -> WindowMetrics:
        target = self.targets[via]
        concurrency = min(self.concurrency, requests)
        reply = self._burst(target, requests, seconds, concurrency)
        if concurrency > EARLIER_MAX_CONCURRENCY and _refused_concurrency(reply):
            self.concurrency = EARLIER_MAX_CONCURRENCY  # for the rest of the release: one refusal is enough
            reply = self._burst(target, requests, seconds, EARLIER_MAX_CONCURRENCY)
        try:
            answer = BurstAnswer.from_dict(reply)
        except ProbeInputError:
            detail = reply.get("detail") if isinstance(reply, dict) else None
            raise SyntheticUnavailable(
                f"burst to {target.describe()} got no answer: {detail or reply!r}"[:300]
            ) from None
        errors = sum(1 for s in answer.statuses if s == 0 or s >= 500)
        return WindowMetrics(
            requests=len(answer.statuses),
            errors_5xx=errors,
            p99_seconds=nearest_rank_p99(answer.latencies),
            latencies=answer.latencies,
        )

    def _burst(self, target: ProbeRequest, requests: int, seconds: float, concurrency: int) -> dict[str, Any]:
        shape = Burst(requests=requests, seconds=seconds, concurrency=concurrency)
        return self.run({**target.to_event(), "attempts": 1, "burst": shape.to_event()})


def _refused_concurrency(reply: Any) -> bool:
    """The probe function's answer to a burst whose concurrency is above what it accepts."""
    detail = reply.get("detail") if isinstance(reply, dict) else None
    return isinstance(detail, str) and detail.startswith("bad probe event: burst.concurrency:")
