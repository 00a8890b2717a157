"""One analysis check of a step's bake: the rule every step-by-step strategy shares.

A service release bakes a traffic weight, a flag release a flag's percentage; both judge a step the
same way, so the rule lives here once (the strategies give only their check and their report):

    sleep to the next poll (never past the bake's end) -> abort requested? stop here
    -> check the step so far -> report it
    -> ALARM: roll back
    -> record the check, with the tests it settled (journaled: a resume keeps them)
    -> FAIL: conclusive rolls back at once; otherwise it counts, and `threshold` of them roll back
    -> before the bake's end: keep baking
    -> PASS at or after the end: the step passed (`True`: the caller moves on)
    -> no PASS `extension_factor` bakes later (default 2): roll back, "not enough evidence"

Settled tests (see `analysis.py`): a sequential test that accepted in this step is not run again
in it. The strategy's check names them in `Verdict.accepted`; they are kept in the status's facts
as `settled: {"step": i, "tests": [...]}` and handed back to every later check of step i.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .analysis import AnalysisConfig, Judgement, Verdict
from .machine import Machine
from .plan import Step
from .status import Status

EXTENSION_FACTOR = 2.0
"""Default extra bakes a step without enough evidence gets before it rolls back (docs/analysis.md:
Wald's alpha and beta hold however long the test runs, so waiting costs a good step time, never detection)."""

Check = Callable[[float, float, frozenset[str]], Verdict]
"""(step started at, now, tests settled earlier in the step) -> the verdict of the step so far."""
Report = Callable[[Verdict, int, float], None]
"""(verdict, failed checks so far, seconds left in the bake) -> show it (nothing is recorded)."""


def settled_in(status: Status, index: int) -> frozenset[str]:
    """The tests that already accepted in step `index`, as the journal holds them."""
    settled = status.facts.get("settled")
    if not isinstance(settled, Mapping) or settled.get("step") != index:
        return frozenset()
    tests = settled.get("tests")
    return frozenset(t for t in tests if isinstance(t, str)) if isinstance(tests, list) else frozenset()


def bake_check(
    m: Machine,
    index: int,
    step: Step,
    cfg: AnalysisConfig,
    extension_factor: float,
    check: Check,
    report: Report,
) -> bool:
    """One check of step `index` (module docstring). True when the step passed; on a rollback or
    while it still bakes, False (the machine calls the state's handler again)."""
    started = float(m.status.facts.get("step_started_at", m.now()))
    bake_end = started + step.bake_seconds
    give_up = bake_end + step.bake_seconds * extension_factor
    remaining = bake_end - m.now()
    m.sleep(cfg.poll_seconds if remaining <= 0 else min(cfg.poll_seconds, remaining))
    if m.abort_requested():
        return False  # the loop turns the request into a rollback before the next step
    now = m.now()
    earlier = settled_in(m.status, index)
    verdict = check(started, now, earlier)
    failed = m.status.failed_checks + (verdict.outcome is Judgement.FAIL)
    report(verdict, failed, bake_end - now)
    if verdict.outcome is Judgement.ALARM:
        m.begin_rollback("; ".join(verdict.reasons))
        return False
    settled = earlier | verdict.accepted
    facts = {"settled": {"step": index, "tests": sorted(settled)}} if settled else None
    m.record("check", detail={"verdict": verdict.to_dict()}, failed_checks=failed, facts=facts)
    reasons = "; ".join(verdict.reasons)
    if verdict.outcome is Judgement.FAIL:
        if verdict.conclusive:
            m.begin_rollback("conclusive: " + reasons)
        elif failed >= cfg.threshold:
            m.begin_rollback(f"{failed} failed checks (threshold {cfg.threshold}): " + reasons)
        return False
    if now < bake_end:
        return False
    if verdict.outcome is Judgement.PASS:
        return True
    if now >= give_up:
        m.begin_rollback("not enough evidence to pass the step: " + reasons)
    return False
