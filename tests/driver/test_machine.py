"""The release machine on its own, driven by a toy strategy: what every strategy gets for free.

The toy strategy has two states of its own. That it runs, records, rolls back, aborts and resumes
without a line of the loop knowing about it is what lets later strategies (migrations, flags) fit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.core.errors import JournalError, PortError, StateError
from zero_downtime.driver.core.machine import Machine, StrategyBase, latest_status
from zero_downtime.driver.core.status import (
    FAILED,
    PENDING,
    ROLLED_BACK,
    ROLLING_BACK,
    SUCCEEDED,
    Outcome,
    Record,
    Status,
)
from zero_downtime.store.local import LocalBlobs

from tests.driver.clock import FakeClock

WARMING, SERVING = "WARMING", "SERVING"


class Toy(StrategyBase):
    """PENDING -> WARMING -> SERVING -> SUCCEEDED; effects are appended to `effects`."""

    kind = "toy"
    id_prefix = "t"
    published = frozenset({SUCCEEDED})

    def __init__(self, journal: ReleaseStore, *, fail_in: str = "", fail_rollback: bool = False) -> None:
        self.stack, self.target = journal.stack, journal.service
        self.journal = journal
        self.effects: list[tuple[str, int]] = []
        self.fail_in = fail_in
        self.fail_rollback = fail_rollback
        self.handlers = {
            PENDING: lambda m: m.enter(WARMING),
            WARMING: self._warm,
            SERVING: self._serve,
            ROLLING_BACK: self._rollback,
        }

    def spec_dict(self) -> dict[str, Any]:
        return {"size": 2}

    def abortable(self, status: Status) -> bool:
        return status.state != SERVING

    def _effect(self, m: Machine) -> None:
        # What the journal held when the effect happened: the state must already be recorded.
        last = self.journal.last(m.status.release_id)
        assert last is not None
        self.effects.append((m.status.state, last.seq))
        if self.fail_in == m.status.state:
            raise PortError(f"{m.status.state} broke")

    def _warm(self, m: Machine) -> None:
        self._effect(m)
        m.sleep(5)
        m.enter(SERVING, step=0, facts={"warmed_at": m.now()})

    def _serve(self, m: Machine) -> None:
        self._effect(m)
        m.record("check", detail={"verdict": "pass"}, failed_checks=m.status.failed_checks)
        m.enter(SUCCEEDED, reason="served")

    def _rollback(self, m: Machine) -> None:
        self.effects.append((ROLLING_BACK, -1))
        if self.fail_rollback:
            raise PortError("rollback broke")
        m.enter(ROLLED_BACK)


def _machine(tmp_path: Path, **kw: Any) -> tuple[Machine, Toy, ReleaseStore]:
    clock = FakeClock()
    journal = ReleaseStore(LocalBlobs(tmp_path), "proj", "dev", "toy-svc", clock)
    toy = Toy(journal, **kw)
    return Machine.start(toy, journal, clock), toy, journal


def test_a_strategy_supplies_only_states_and_the_loop_runs_it(tmp_path: Path) -> None:
    machine, _toy, journal = _machine(tmp_path)
    result = machine.run()
    assert result.outcome is Outcome.SUCCEEDED and result.reason == "served"
    records = journal.records(result.release_id)
    assert [(r.event, r.state) for r in records] == [
        ("start", PENDING),
        ("transition", WARMING),
        ("transition", SERVING),
        ("check", SERVING),
        ("transition", SUCCEEDED),
    ]
    assert [r.seq for r in records] == [0, 1, 2, 3, 4]
    assert result.release_id.startswith("t-")


def test_each_effect_runs_after_its_state_is_recorded(tmp_path: Path) -> None:
    machine, toy, _journal = _machine(tmp_path)
    machine.run()
    # WARMING was record 1 and SERVING record 2 when their handlers acted.
    assert toy.effects == [(WARMING, 1), (SERVING, 2)]


def test_every_record_holds_the_whole_status(tmp_path: Path) -> None:
    machine, _, journal = _machine(tmp_path)
    machine.run()
    serving = [r for r in journal.records(machine.status.release_id) if r.state == SERVING]
    assert serving
    assert all(r.status.facts["warmed_at"] == pytest.approx(1_700_000_005.0) for r in serving)
    assert all(r.status.spec == {"size": 2} and r.status.kind == "toy" for r in serving)


def test_a_journal_that_cannot_write_stops_before_the_effect(tmp_path: Path) -> None:
    machine, toy, journal = _machine(tmp_path)

    def refuse(record: Record) -> None:
        raise JournalError("disk full")

    journal.append = refuse  # type: ignore[method-assign]
    with pytest.raises(JournalError):
        machine.run()
    assert toy.effects == []  # WARMING was never recorded, so its handler never ran
    assert machine.status.state == PENDING


def test_a_port_error_rolls_back_and_a_failed_rollback_stops_in_failed(tmp_path: Path) -> None:
    machine, _, _ = _machine(tmp_path, fail_in=WARMING)
    result = machine.run()
    assert result.state == ROLLED_BACK and result.reason == "WARMING failed: WARMING broke"
    assert result.status.facts["detected_at"] == pytest.approx(1_700_000_000.0)

    machine, _toy, _ = _machine(tmp_path / "again", fail_in=WARMING, fail_rollback=True)
    result = machine.run()
    assert result.outcome is Outcome.FAILED and result.reason == "rollback failed: rollback broke"
    assert result.status.facts["failed_in"] == ROLLING_BACK


def test_an_abort_request_is_honoured_only_where_the_strategy_allows(tmp_path: Path) -> None:
    machine, toy, journal = _machine(tmp_path)
    journal.request_abort(machine.status.release_id, "stop")
    result = machine.run()
    assert result.state == ROLLED_BACK and result.reason == "aborted: stop"
    assert toy.effects == [(ROLLING_BACK, -1)]
    assert journal.abort_requested(machine.status.release_id) is None  # consumed

    machine, toy, journal = _machine(tmp_path / "serving")
    original = toy.handlers[SERVING]

    def ask_then_serve(m: Machine) -> None:
        journal.request_abort(m.status.release_id, "too late")
        original(m)

    toy.handlers[SERVING] = ask_then_serve
    assert machine.run().state == SUCCEEDED  # SERVING is not abortable in this strategy


def test_continue_rebuilds_the_same_status_from_the_last_record(tmp_path: Path) -> None:
    machine, _, journal = _machine(tmp_path)
    machine.enter(WARMING, facts={"a": 1})
    status = latest_status(journal)
    assert status == machine.status
    again = Machine.continue_(Toy(journal), journal, FakeClock(), status)
    result = again.resume()
    assert result.state == SUCCEEDED
    records = journal.records(status.release_id)
    assert [r.seq for r in records] == list(range(len(records)))  # numbering continues, no gap, no reuse
    assert any(r.event == "resume" for r in records)


def test_a_record_of_another_stack_or_service_is_refused_naming_both(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path)
    staging = ReleaseStore(blobs, "proj", "staging", "api", FakeClock())
    machine = Machine.start(Toy(staging), staging, FakeClock())
    dev = ReleaseStore(blobs, "proj", "dev", "api", FakeClock())
    # A record copied from another stack's journal into this one.
    record = staging.records(machine.status.release_id)[0]
    blobs.create(
        dev.keys.record("api", record.status.release_id, 0),
        (tmp_path / staging.keys.record("api", record.status.release_id, 0)).read_bytes(),
    )
    with pytest.raises(StateError, match="journal of dev/api is bound to stack 'staging', not stack 'dev'"):
        latest_status(dev)


def test_a_record_bound_to_another_rule_or_project_is_refused(tmp_path: Path) -> None:
    machine, toy, journal = _machine(tmp_path)
    toy.resource = "arn:rule/1"
    again = Machine.start(toy, journal, FakeClock())
    assert latest_status(journal, again.status.release_id, project="", resource="arn:rule/1").resource == "arn:rule/1"
    with pytest.raises(StateError, match="bound to resource 'arn:rule/1', not resource 'arn:rule/2'"):
        latest_status(journal, again.status.release_id, resource="arn:rule/2")
    with pytest.raises(StateError, match="bound to project '', not project 'other'"):
        latest_status(journal, machine.status.release_id, project="other")


def test_a_strategy_of_another_kind_cannot_continue_a_release(tmp_path: Path) -> None:
    machine, _, journal = _machine(tmp_path)

    class Other(Toy):
        kind = "other"

    with pytest.raises(StateError, match="is a toy release, not other"):
        Machine.continue_(Other(journal), journal, FakeClock(), machine.status)


def test_a_state_without_a_handler_fails_the_release(tmp_path: Path) -> None:
    machine, toy, _ = _machine(tmp_path)
    del toy.handlers[SERVING]
    result = machine.run()
    assert result.outcome is Outcome.FAILED and "has no state SERVING" in result.reason


def test_abort_after_success_is_refused_and_a_finished_rollback_can_be_repeated(tmp_path: Path) -> None:
    machine, _, _ = _machine(tmp_path)
    machine.run()
    with pytest.raises(StateError, match="already succeeded"):
        machine.abort("late")
    machine, toy, _ = _machine(tmp_path / "b", fail_in=WARMING)
    first = machine.run()
    again = machine.abort("again")
    assert again.state == ROLLED_BACK and toy.effects.count((ROLLING_BACK, -1)) == 2
    # A repeated rollback measures from its own detection, not the first one.
    assert again.status.facts["detected_at"] >= first.status.facts["detected_at"]


def test_promote_needs_a_paused_release_and_a_gate(tmp_path: Path) -> None:
    machine, _, _ = _machine(tmp_path)
    with pytest.raises(StateError, match="promote needs a PAUSED release"):
        machine.promote()
    machine.status = machine.status.evolve(state="PAUSED")
    with pytest.raises(StateError, match="no manual gate"):
        machine.promote()


def test_status_is_frozen(tmp_path: Path) -> None:
    machine, _, _ = _machine(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        machine.status.state = "X"  # type: ignore[misc]
    facts: Mapping[str, Any] = machine.status.facts
    with pytest.raises(TypeError):
        facts["x"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        (SUCCEEDED, Outcome.SUCCEEDED),
        (ROLLED_BACK, Outcome.ROLLED_BACK),
        (FAILED, Outcome.FAILED),
        ("PAUSED", Outcome.PAUSED),
        ("BAKING", Outcome.RUNNING),
    ],
)
def test_every_state_maps_to_one_outcome(state: str, outcome: Outcome) -> None:
    assert Outcome.of(state) is outcome
