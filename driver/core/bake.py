"""One analysis check of a step's bake: the rule every step-by-step strategy shares.

A service release bakes a traffic weight, a flag release a flag's percentage; both judge a step the
same way, so the rule lives here once (the strategies give only their check and their report):

    sleep to the next poll (never past the bake's end) -> abort requested? stop here
    -> check the step so far -> report it
    -> ALARM: roll back
    -> record the check, with the tests it settled (journaled: a resume keeps them)
    -> FAIL: conclusive rolls back at once; otherwise it counts, and `threshold` of them roll back
       (a failure on the error guard's point estimate counts only when the new color has more
       errors than at the last one counted: the window is cumulative, so the same errors would
       otherwise be counted at every check that re-reads them)
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


def counted_errors(status: Status, window_started_at: float) -> int | None:
    """The new color's errors at the last counted point-estimate error failure of the window that
    started at `window_started_at` (a new step, or a resumed bake, starts a new window: none)."""
    counted = status.facts.get("counted_errors")
    if not isinstance(counted, Mapping) or counted.get("window_started_at") != window_started_at:
        return None
    errors = counted.get("errors")
    return errors if isinstance(errors, int) and not isinstance(errors, bool) else None


def is_repeat(verdict: Verdict, status: Status, window_started_at: float) -> bool:
    """A non-conclusive FAIL on the error guard's point estimate that sees no error the last counted
    one did not (`Verdict.failed_on_errors`): not counted again."""
    if verdict.outcome is not Judgement.FAIL or verdict.failed_on_errors is None:
        return False
    last = counted_errors(status, window_started_at)
    return last is not None and verdict.failed_on_errors <= last


def counted_fact(verdict: Verdict, repeat: bool, window_started_at: float) -> dict[str, object]:
    """The fact to journal with a counted point-estimate error failure (else nothing): what
    `is_repeat` compares the next failures of the same window with."""
    if verdict.failed_on_errors is None or repeat:
        return {}
    return {"counted_errors": {"window_started_at": window_started_at, "errors": verdict.failed_on_errors}}


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
    repeat = is_repeat(verdict, m.status, started)
    failed = m.status.failed_checks + (verdict.outcome is Judgement.FAIL and not repeat)
    report(verdict, failed, bake_end - now)
    if verdict.outcome is Judgement.ALARM:
        m.begin_rollback("; ".join(verdict.reasons))
        return False
    settled = earlier | verdict.accepted
    facts = counted_fact(verdict, repeat, started)
    if settled:
        facts["settled"] = {"step": index, "tests": sorted(settled)}
    detail = {"verdict": verdict.to_dict(), **({"repeat_of_counted_failure": True} if repeat else {})}
    m.record("check", detail=detail, failed_checks=failed, facts=facts or None)
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
