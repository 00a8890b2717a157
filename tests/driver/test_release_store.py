"""The release store adapter on both backends (local files; S3 on the moto server): the immutable
journal with its fencing sequence numbers, the lease lock, and the release state."""

from __future__ import annotations

import json
import threading

import pytest
from zero_downtime.contract import Weights
from zero_downtime.contract.release_state import ColorState, FleetState, ServiceState
from zero_downtime.driver.adapters.release_store import ReleaseStore, live_leases
from zero_downtime.driver.core.errors import BusyError, FencedOut, InputError
from zero_downtime.driver.core.status import Record, Status

from tests.driver.clock import FakeClock
from tests.driver.conftest import StoreSetup


def _store(setup: StoreSetup, clock: FakeClock, service: str = "api", **kw: object) -> ReleaseStore:
    return ReleaseStore(setup.blobs(), "zero-downtime", "dev", service, clock, **kw)  # type: ignore[arg-type]


def rec(release_id: str, state: str, seq: int, *, stack: str = "dev", target: str = "api") -> Record:
    status = Status(release_id=release_id, kind="service", stack=stack, target=target, spec={}, state=state)
    return Record(seq=seq, ts=1_700_000_000.0 + seq, event="transition", status=status)


# -- journal ---------------------------------------------------------------------------------------------
def test_records_read_back_whole_in_order(store: StoreSetup) -> None:
    s = _store(store, FakeClock())
    status = Status(
        release_id="r-20261201T000000.000000-aaaaaa",
        kind="service",
        stack="dev",
        target="api",
        spec={"image": "repo/api:2"},
        state="BAKING",
        step=1,
        failed_checks=1,
        reason="why",
        facts={"step_started_at": 5.5},
        project="zero-downtime",
        resource="arn:rule",
    )
    first = Record(seq=0, ts=1.0, event="start", status=status)
    second = Record(seq=1, ts=2.0, event="check", status=status, detail={"verdict": {"outcome": "pass"}})
    s.append(first)
    s.append(second)
    assert s.records(status.release_id) == [first, second]
    assert s.last() == second and s.next_seq(status.release_id) == 2


def test_record_n_can_be_written_once_the_loser_is_fenced_out(store: StoreSetup) -> None:
    a, b = _store(store, FakeClock()), _store(store, FakeClock())
    a.append(rec("r-1-x", "PENDING", 0))
    with pytest.raises(FencedOut, match="record 0 of release r-1-x was already written by another driver"):
        b.append(rec("r-1-x", "DEPLOYING_IDLE", 0))
    assert [r.state for r in a.records("r-1-x")] == ["PENDING"]


def test_two_writers_race_for_the_same_record_and_exactly_one_wins(store: StoreSetup) -> None:
    stores = [_store(store, FakeClock()) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def write(i: int) -> None:
        barrier.wait(timeout=10)
        try:
            stores[i].append(rec("r-1-x", f"S{i}", 0))
            outcomes.append("won")
        except FencedOut:
            outcomes.append("fenced")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["fenced"] * 5 + ["won"]
    assert len(stores[0].records("r-1-x")) == 1


@pytest.mark.parametrize(
    "garbage",
    [b'{"seq": 2, "ts": 1, "ev', b"\xff\xfe binary", b'{"seq": 2, "ts": 1, "event": "x"}', b"[1, 2]"],
    ids=["torn", "binary", "no-status", "not-an-object"],
)
def test_an_unreadable_record_never_blocks_a_later_command(store: StoreSetup, garbage: bytes) -> None:
    s = _store(store, FakeClock())
    s.append(rec("r-1-x", "PENDING", 0))
    s.append(rec("r-1-x", "BAKING", 1))
    store.blobs().create(s.keys.record("api", "r-1-x", 2), garbage)  # e.g. a partial write
    last = s.last()
    assert last is not None and last.state == "BAKING"  # the last readable record
    assert s.next_seq("r-1-x") == 3  # the next writer skips the bad number, it does not collide
    s.append(rec("r-1-x", "ROLLING_BACK", 3))
    assert [r.state for r in s.records("r-1-x")] == ["PENDING", "BAKING", "ROLLING_BACK"]
    assert any("00000002.json" in line and "skipped" in line for line in s.skipped)


def test_a_record_whose_content_names_another_number_is_skipped(store: StoreSetup) -> None:
    s = _store(store, FakeClock())
    s.append(rec("r-1-x", "PENDING", 0))
    store.blobs().create(s.keys.record("api", "r-1-x", 1), json.dumps(rec("r-1-x", "X", 7).to_dict()).encode())
    assert [r.state for r in s.records("r-1-x")] == ["PENDING"]
    assert any("holds seq 7, its name says 1" in line for line in s.skipped)


def test_releases_are_listed_in_start_order_and_services_are_apart(store: StoreSetup) -> None:
    s, other = _store(store, FakeClock()), _store(store, FakeClock(), "billing")
    for rid in (
        "r-20261201T100000.000000-bbbbbb",
        "r-20261130T235959.999999-cccccc",
        "f-20261201T100000.000001-aaaaaa",
    ):
        s.append(rec(rid, "PENDING", 0))
    other.append(rec("r-20261201T110000.000000-dddddd", "PENDING", 0, target="billing"))
    assert s.release_ids() == [
        "r-20261130T235959.999999-cccccc",
        "r-20261201T100000.000000-bbbbbb",
        "f-20261201T100000.000001-aaaaaa",
    ]
    last = s.last()
    assert last is not None and last.status.release_id == "f-20261201T100000.000001-aaaaaa"


def test_abort_requests_are_scoped_to_a_release(store: StoreSetup) -> None:
    s = _store(store, FakeClock())
    s.request_abort("r1", "stop")
    assert s.abort_requested("r1") == "stop"
    assert s.abort_requested("r2") is None
    s.clear_abort()
    assert s.abort_requested("r1") is None
    s.clear_abort()  # idempotent


@pytest.mark.parametrize("name", ["", "../etc", "a b", "x" * 200])
def test_unsafe_service_names_are_refused(store: StoreSetup, name: str) -> None:
    with pytest.raises(InputError) as err:
        _store(store, FakeClock(), name)
    assert err.value.key == "service"


# -- lease ----------------------------------------------------------------------------------------------
def test_one_lease_per_service_and_reading_never_takes_it(store: StoreSetup) -> None:
    clock = FakeClock()
    a, b = _store(store, clock, holder="a"), _store(store, clock, holder="b")
    other = _store(store, clock, "billing", holder="c")
    with a.hold():
        assert b.held() and b.lease() is not None and b.lease().holder == "a"  # type: ignore[union-attr]
        with pytest.raises(BusyError, match="a holds its lease until"), b.hold():
            pass
        with other.hold():  # another service is independent
            pass
        assert set(live_leases(store.blobs(), a.keys, clock.now())) == {"api"}
    assert not b.held()
    with b.hold():
        assert a.held()


def test_a_dead_holder_is_taken_over_only_after_its_lease_expires(store: StoreSetup) -> None:
    clock = FakeClock()
    dead = _store(store, clock, holder="dead", lease_seconds=60)
    dead._acquire()  # and then the process dies: nobody releases it
    alive = _store(store, clock, holder="alive", lease_seconds=60)
    clock.sleep(59)
    with pytest.raises(BusyError, match="dead holds its lease"), alive.hold():
        pass
    clock.sleep(2)
    with alive.hold():
        lease = alive.lease()
        assert lease is not None and lease.holder == "alive"


def test_renewal_keeps_the_lease_and_a_taken_lease_fences_the_old_holder(store: StoreSetup) -> None:
    clock = FakeClock()
    a = _store(store, clock, holder="a", lease_seconds=60)
    with a.hold():
        for _ in range(10):  # 5 minutes of work, renewing as it goes
            clock.sleep(30)
            a.keep_alive()
        assert a.held()
        b = _store(store, clock, holder="b", lease_seconds=60)
        with pytest.raises(BusyError):
            b._acquire()
        clock.sleep(61)  # a stalls past its lease (e.g. a long GC or a frozen VM): b takes over
        b._acquire()
        with pytest.raises(FencedOut, match="taken over by b"):
            a.keep_alive()


def test_two_drivers_start_at_once_and_exactly_one_proceeds(store: StoreSetup) -> None:
    clock = FakeClock()
    drivers = [_store(store, clock, holder=f"d{i}") for i in range(6)]
    barrier = threading.Barrier(len(drivers))
    won: list[str] = []
    busy: list[str] = []

    def start(d: ReleaseStore) -> None:
        barrier.wait(timeout=10)
        try:
            d._acquire()
            won.append(d.holder)
        except BusyError:
            busy.append(d.holder)

    threads = [threading.Thread(target=start, args=(d,)) for d in drivers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(won) == 1 and len(busy) == 5


# -- release state ---------------------------------------------------------------------------------------
def _state(green_image: str = "repo/api:1") -> ServiceState:
    return ServiceState(
        live_color="blue",
        weights=Weights(100, 0),
        blue=ColorState("repo/api:1", 2),
        green=ColorState(green_image, 0),
    )


def test_release_state_is_replaced_only_from_the_version_read(store: StoreSetup) -> None:
    a, b = _store(store, FakeClock()), _store(store, FakeClock())
    assert a.service_state() is None
    a.write_service_state(_state())
    assert b.service_state() == _state()
    a.write_service_state(_state("repo/api:2"))  # a wrote last: it may write again
    with pytest.raises(FencedOut, match="changed under this driver"):
        b.write_service_state(_state("repo/api:3"))  # b read the older version
    assert a.service_state() == _state("repo/api:2")


def test_fleet_state_round_trip(store: StoreSetup) -> None:
    s = _store(store, FakeClock(), "batch")
    assert s.fleet_state() is None
    s.write_fleet_state(FleetState(released_version=3, ami_id="ami-0old0000", release_id="f-1-x"))
    again = _store(store, FakeClock(), "batch").fleet_state()
    assert again == FleetState(released_version=3, ami_id="ami-0old0000", release_id="f-1-x")


class LostAnswer:
    """Blobs whose `create` succeeds but whose answer is lost, so the client retries it once (as
    botocore's standard retries do): the retry finds the object and reports the condition lost."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.url = inner.url  # type: ignore[attr-defined]

    def create(self, key: str, data: bytes) -> str:
        self.inner.create(key, data)  # type: ignore[attr-defined]
        return self.inner.create(key, data)  # type: ignore[attr-defined]  # raises PreconditionFailed

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_retried_write_whose_first_answer_was_lost_is_still_ours(store: StoreSetup) -> None:
    clock = FakeClock()
    s = ReleaseStore(LostAnswer(store.blobs()), "zero-downtime", "dev", "api", clock, holder="me")  # type: ignore[arg-type]
    s.append(rec("r-1-x", "PENDING", 0))  # no FencedOut: the record there is the one we wrote
    with s.hold():
        lease = s.lease()
        assert lease is not None and lease.holder == "me"
    other = _store(store, clock)
    with pytest.raises(FencedOut):  # a different record in that place is still a lost race
        other.append(rec("r-1-x", "DEPLOYING_IDLE", 0))


def test_the_heartbeat_keeps_the_lease_through_a_long_step(store: StoreSetup) -> None:
    """A single step longer than the lease (a slow `up`, a health wait) must not lose it."""
    from zero_downtime.driver.core.ports import SystemClock

    holder = ReleaseStore(store.blobs(), "zero-downtime", "dev", "api", SystemClock(), holder="a", lease_seconds=0.6)
    other = ReleaseStore(store.blobs(), "zero-downtime", "dev", "api", SystemClock(), holder="b", lease_seconds=0.6)
    with holder.hold():
        import time

        time.sleep(1.5)  # no keep_alive call from the loop: only the heartbeat renews
        with pytest.raises(BusyError, match="a holds its lease"):
            other._acquire()
        holder.keep_alive()  # still ours, nothing fenced
    with other.hold():  # released at the end of the block
        pass
