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
from ..core.ports import WindowMetrics, nearest_rank_p99
from .aws.clients import AWS_ERRORS

DEFAULT_CONCURRENCY = 4


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
    """Bursts to the test URL (`via="test"`) or the production URL (`via="production"`)."""

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
        shape = Burst(requests=requests, seconds=seconds, concurrency=min(self.concurrency, requests))
        event = {**target.to_event(), "attempts": 1, "burst": shape.to_event()}
        reply = self.run(event)
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
