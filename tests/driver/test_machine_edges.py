"""The release machine's smaller promises (mutants that survived `make mutation` on machine.py):
what `continue_` keeps, what `resume` and `abort` record, the rollback's facts, the strategy's
error hook, and the messages that name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.core.errors import PortError, StateError
from zero_downtime.driver.core.machine import STUCK_LIMIT, Machine, Progress, StrategyBase, latest_status
from zero_downtime.driver.core.status import PENDING, ROLLED_BACK, ROLLING_BACK, SUCCEEDED, Status
from zero_downtime.store.local import LocalBlobs

from tests.driver.clock import FakeClock
from tests.driver.fakes import Killed, RecordingPublisher
from tests.driver.test_machine import SERVING, WARMING, Toy


def _journal(tmp_path: Path, clock: FakeClock) -> ReleaseStore:
    return ReleaseStore(LocalBlobs(tmp_path), "proj", "dev", "toy-svc", clock)


def test_a_strategy_without_its_own_start_message_announces_release_started(tmp_path: Path) -> None:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    publisher = RecordingPublisher()
    Machine.start(Toy(journal), journal, clock, publisher=publisher)
    assert [e.message for e in publisher.events] == ["release started"]


def test_latest_status_says_what_is_missing(tmp_path: Path) -> None:
    journal = _journal(tmp_path, FakeClock())
    with pytest.raises(StateError, match=r"^no release recorded for dev/toy-svc$"):
        latest_status(journal)
    with pytest.raises(StateError, match=r"^no release t-1 recorded for dev/toy-svc$"):
        latest_status(journal, "t-1")


def test_a_record_bound_elsewhere_is_refused_naming_both_sides(tmp_path: Path) -> None:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    Machine.start(Toy(journal), journal, clock).run()
    with pytest.raises(StateError) as refused:
        latest_status(journal, project="other", resource="arn:rule/2")
    assert "is bound to project '', resource '', not project 'other', resource 'arn:rule/2'; refusing" in str(
        refused.value
    )


def _killed_in_warming(tmp_path: Path) -> tuple[FakeClock, ReleaseStore, str]:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)

    def die(progress: Progress) -> None:
        if progress.state == WARMING:
            raise Killed(WARMING)

    machine = Machine.start(Toy(journal), journal, clock, on_progress=die)
    with pytest.raises(Killed):
        machine.run()
    return clock, journal, machine.status.release_id


def test_a_continued_machine_keeps_its_publisher_and_progress_and_notes_the_resume(tmp_path: Path) -> None:
    clock, journal, release_id = _killed_in_warming(tmp_path)
    publisher, progress = RecordingPublisher(), []
    status = latest_status(journal)
    machine = Machine.continue_(Toy(journal), journal, clock, status, publisher=publisher, on_progress=progress.append)
    assert machine.resume().state == SUCCEEDED
    assert [e.state for e in publisher.events] == [SUCCEEDED]  # Toy publishes SUCCEEDED only
    assert [p.state for p in progress][-1] == SUCCEEDED
    resumed = [r for r in journal.records(release_id) if r.event == "resume"]
    assert [r.detail.get("note") for r in resumed] == [f"resumed in {WARMING}"]


def test_abort_records_its_reason_where_it_came_from_and_when(tmp_path: Path) -> None:
    clock, journal, release_id = _killed_in_warming(tmp_path)
    clock.sleep(30)
    machine = Machine.continue_(Toy(journal), journal, clock, latest_status(journal))
    result = machine.abort("operator: wrong image")
    assert result.state == ROLLED_BACK and result.reason == "operator: wrong image"
    [rolling] = [r for r in journal.records(release_id) if r.state == ROLLING_BACK and r.event == "transition"]
    assert rolling.status.reason == "operator: wrong image"
    assert rolling.detail["from_state"] == WARMING
    assert rolling.status.facts["detected_at"] == rolling.status.facts["rollback_started_at"] == clock.now()


def test_detection_time_is_kept_from_the_first_failure_and_measured_afresh_after_a_finished_rollback(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    toy = Toy(journal, fail_in=WARMING)
    machine = Machine.start(toy, journal, clock)
    first_failure = clock.now()
    assert machine.run().state == ROLLED_BACK
    assert machine.status.facts["detected_at"] == first_failure
    # An abort of the finished rollback re-applies it, and measures its own detection time.
    clock.sleep(100)
    again = machine.abort("again")
    assert again.state == ROLLED_BACK
    assert machine.status.facts["detected_at"] == machine.status.facts["rollback_started_at"] == clock.now()
    assert machine.status.facts["detected_at"] != first_failure


class Handles(Toy):
    """A strategy that handles its own port errors: records what the machine passed it."""

    def __init__(self, journal: ReleaseStore) -> None:
        super().__init__(journal, fail_in=WARMING)
        self.handled: list[tuple[Machine, str]] = []

    def on_error(self, m: Machine, exc: PortError) -> bool:
        self.handled.append((m, str(exc)))
        m.enter(SUCCEEDED, reason="handled by the strategy")
        return True


def test_the_strategy_gets_the_machine_and_the_error_and_may_handle_it(tmp_path: Path) -> None:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    strategy = Handles(journal)
    machine = Machine.start(strategy, journal, clock)
    result = machine.run()
    assert strategy.handled == [(machine, "WARMING broke")]
    assert result.state == SUCCEEDED and result.reason == "handled by the strategy"
    assert not [r for r in journal.records(result.release_id) if r.state == ROLLING_BACK]


def test_abort_without_a_reason_says_the_operator_aborted(tmp_path: Path) -> None:
    clock, journal, _ = _killed_in_warming(tmp_path)
    result = Machine.continue_(Toy(journal), journal, clock, latest_status(journal)).abort()
    assert result.state == ROLLED_BACK and result.reason == "aborted by operator"


def test_a_transition_notes_its_reason_and_only_then(tmp_path: Path) -> None:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    machine = Machine.start(Toy(journal), journal, clock)
    machine.run()
    transitions = [r for r in journal.records(machine.status.release_id) if r.event == "transition"]
    assert [r.detail.get("note") for r in transitions] == [None, None, "served"]  # WARMING, SERVING, SUCCEEDED
    checks = [r for r in journal.records(machine.status.release_id) if r.event == "check"]
    assert checks and all("note" not in r.detail for r in checks)


def test_a_failed_rollback_aborted_later_keeps_the_first_detection_time(tmp_path: Path) -> None:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    machine = Machine.start(Toy(journal, fail_in=WARMING, fail_rollback=True), journal, clock)
    detected = clock.now()
    assert machine.run().state == "FAILED"
    clock.sleep(60)
    retry = Machine.continue_(Toy(journal), journal, clock, latest_status(journal))
    assert retry.abort("retry the rollback").state == ROLLED_BACK
    assert retry.status.facts["detected_at"] == detected  # from the first failure, a minute earlier
    assert retry.status.facts["rollback_started_at"] == clock.now()


class Poller(Toy):
    """WARMING polls: sleeps, then checks for an abort request itself before moving on."""

    def __init__(self, journal: ReleaseStore) -> None:
        super().__init__(journal)
        self.saw_request = False
        self.handlers = {**self.handlers, WARMING: self._poll}

    def _poll(self, m: Machine) -> None:
        m.sleep(1)
        if m.abort_requested():
            self.saw_request = True
            return
        m.enter("SERVING", step=0)


def test_a_handler_sees_an_abort_requested_for_its_release_mid_poll(tmp_path: Path) -> None:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    poller = Poller(journal)
    machine = Machine.start(poller, journal, clock)
    release_id = machine.status.release_id
    clock.on_sleep(lambda now: journal.request_abort(release_id, "stop it") if not poller.saw_request else None)
    result = machine.run()
    assert poller.saw_request
    assert result.state == ROLLED_BACK and "stop it" in result.reason


class Stuck(Toy):
    """A buggy WARMING: it moves time at most once, then neither moves time nor changes the status."""

    def __init__(self, journal: ReleaseStore, *, moves_first: bool) -> None:
        super().__init__(journal)
        self.calls = 0
        self.moves_first = moves_first
        self.handlers = {**self.handlers, WARMING: self._nothing}

    def _nothing(self, m: Machine) -> None:
        self.calls += 1
        if self.calls == 1 and self.moves_first:
            m.sleep(1)  # progress: time moved
        if self.calls > 3 * STUCK_LIMIT:
            raise AssertionError("the machine never noticed a handler that makes no progress")


@pytest.mark.parametrize("moves_first", [False, True])
def test_a_handler_that_makes_no_progress_fails_the_release_after_the_limit(tmp_path: Path, moves_first: bool) -> None:
    # Continued from the journal, so the first round is already the stuck state's (no PENDING before it).
    clock, journal, _ = _killed_in_warming(tmp_path)
    stuck = Stuck(journal, moves_first=moves_first)
    result = Machine.continue_(stuck, journal, clock, latest_status(journal)).run()
    assert result.state == "FAILED"
    assert result.reason == f"{WARMING} made no progress in {STUCK_LIMIT} rounds"
    assert stuck.calls == STUCK_LIMIT + moves_first  # a round that moved time does not count


def test_a_handler_that_only_lets_time_pass_is_not_stuck(tmp_path: Path) -> None:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    polls = []

    class Waits(Toy):
        def __init__(self, journal: ReleaseStore) -> None:
            super().__init__(journal)
            self.handlers = {**self.handlers, WARMING: self._wait}

        def _wait(self, m: Machine) -> None:
            polls.append(m.now())
            m.sleep(0.001)  # the status is unchanged, but time moves: a poll, not a bug
            if len(polls) > STUCK_LIMIT + 5:
                m.enter("SERVING", step=0)

    assert Machine.start(Waits(journal), journal, clock).run().state == SUCCEEDED


def test_release_ids_sort_by_their_start_to_the_microsecond() -> None:
    from zero_downtime.driver.core.machine import new_release_id

    rid = new_release_id("t", 1_700_000_000.123456)
    prefix, stamp, suffix = rid.split("-")
    assert (prefix, stamp) == ("t", "20231114T221320.123456")
    assert len(suffix) == 6 and int(suffix, 16) >= 0
    assert new_release_id("t", 1_700_000_001.25).split("-")[1] == "20231114T221321.250000"  # an odd second
    assert new_release_id("t", 1_700_000_000.5) < new_release_id("t", 1_700_000_001.25)


class Announced(Toy):
    """Publishes WARMING (no reason) and SUCCEEDED (a reason); reports weights and a step count."""

    published = frozenset({WARMING, SUCCEEDED})
    steps = 3

    def weights_in(self, status: object) -> object:
        return "weights-of-" + getattr(status, "state", "")


def test_progress_and_events_carry_the_transition(tmp_path: Path) -> None:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    publisher, progress = RecordingPublisher(), []
    machine = Machine.start(Announced(journal), journal, clock, publisher=publisher, on_progress=progress.append)
    machine.run()
    serving = next(p for p in progress if p.state == "SERVING")
    assert (serving.step, serving.steps, serving.failed_checks, serving.message) == (0, 3, 0, "")
    assert serving.weights == "weights-of-SERVING"
    done = progress[-1]
    assert (done.state, done.message, done.weights) == (SUCCEEDED, "served", "weights-of-SUCCEEDED")
    started, warming, succeeded = publisher.events
    assert warming.message == WARMING  # no reason: the state names itself
    assert (succeeded.stack, succeeded.service, succeeded.release_id) == ("dev", "toy-svc", machine.status.release_id)
    assert succeeded.message == "served" and succeeded.data == {"step": 0, "failed_checks": 0}
    assert started.message == "release started"


def test_a_publisher_that_fails_is_logged_and_changes_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def publish(self, event: object) -> None:
            raise RuntimeError("topic gone")

    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    with caplog.at_level("WARNING"):
        result = Machine.start(Toy(journal), journal, clock, publisher=Broken()).run()
    assert result.state == SUCCEEDED
    assert {r.getMessage() for r in caplog.records} == {"could not publish release event: topic gone"}


def test_every_record_is_bound_to_the_strategys_project_and_resource(tmp_path: Path) -> None:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    toy = Toy(journal)
    toy.project, toy.resource = "proj", "arn:rule/1"
    machine = Machine.start(toy, journal, clock)
    machine.run()
    records = journal.records(machine.status.release_id)
    assert records and {(r.status.project, r.status.resource) for r in records} == {("proj", "arn:rule/1")}
    assert latest_status(journal, project="proj", resource="arn:rule/1").release_id == machine.status.release_id


def test_latest_status_of_a_named_release_is_that_release_not_the_newest(tmp_path: Path) -> None:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    first = Machine.start(Toy(journal), journal, clock)  # left in PENDING
    clock.sleep(1)  # release ids sort by their start time; within one instant, by a random suffix
    second = Machine.start(Toy(journal), journal, clock)
    assert second.run().state == SUCCEEDED
    named = latest_status(journal, first.status.release_id)
    assert (named.release_id, named.state) == (first.status.release_id, PENDING)
    newest = latest_status(journal)
    assert (newest.release_id, newest.state) == (second.status.release_id, SUCCEEDED)


class _DefaultAbort(Toy):
    """Toy with StrategyBase's own rule for honouring an abort (Toy refuses it in SERVING)."""

    abortable = StrategyBase.abortable


@pytest.mark.parametrize(("asked_in", "found_in"), [(PENDING, WARMING), (WARMING, SERVING)])
def test_by_default_an_abort_is_honoured_in_every_state_but_rolling_back(
    tmp_path: Path, asked_in: str, found_in: str
) -> None:
    clock = FakeClock()
    journal = _journal(tmp_path, clock)
    strategy = _DefaultAbort(journal)
    assert strategy.abortable(Status("t-1", "toy", "dev", "toy-svc", {}, state=ROLLING_BACK)) is False
    original = strategy.handlers[asked_in]

    def ask_then_go_on(m: Machine) -> None:
        journal.request_abort(m.status.release_id, "stop")
        original(m)  # enters `found_in`, where the machine reads the request

    strategy.handlers[asked_in] = ask_then_go_on
    result = Machine.start(strategy, journal, clock).run()
    assert (result.state, result.reason) == (ROLLED_BACK, "aborted: stop")
    rolled_back_from = [r.status.state for r in journal.records(result.release_id)]
    assert rolled_back_from[rolled_back_from.index(ROLLING_BACK) - 1] == found_in
