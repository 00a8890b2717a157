"""Concurrent writers on both backends: a conditional write has exactly one winner.

Every thread waits on a barrier (with a timeout) so the writes really overlap; every thread is
joined with a timeout and the test fails if one is still running.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from zero_downtime.store import PreconditionFailed

WRITERS = 8
KEY = "proj/dev/locks/api.json"


def _run(threads: int, work: Callable[[int], Any]) -> tuple[dict[int, Any], dict[int, BaseException]]:
    """Run `work(i)` in `threads` threads; return what each returned or raised."""
    results: dict[int, Any] = {}
    errors: dict[int, BaseException] = {}
    lock = threading.Lock()

    def body(i: int) -> None:
        try:
            value = work(i)
        except BaseException as exc:
            with lock:
                errors[i] = exc
        else:
            with lock:
                results[i] = value

    pool = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in pool), "a writer did not finish"
    return results, errors


def _only_lost_conditions(errors: dict[int, BaseException]) -> None:
    unexpected = {i: e for i, e in errors.items() if not isinstance(e, PreconditionFailed)}
    assert not unexpected, f"writers failed otherwise than by losing the condition: {unexpected!r}"


def test_concurrent_creates_have_exactly_one_winner(blobs: Any) -> None:
    barrier = threading.Barrier(WRITERS, timeout=30)

    def create(i: int) -> str:
        barrier.wait()
        return blobs.create(KEY, f"writer {i}".encode())

    won, lost = _run(WRITERS, create)
    _only_lost_conditions(lost)
    assert len(won) == 1, f"winners: {sorted(won)}"
    assert len(lost) == WRITERS - 1
    ((winner, etag),) = won.items()
    blob = blobs.get(KEY)
    assert blob is not None
    assert blob.data == f"writer {winner}".encode()
    assert blob.etag == etag
    assert blobs.list("") == [KEY]


def test_concurrent_replaces_of_the_same_version_have_exactly_one_winner(blobs: Any) -> None:
    blobs.create(KEY, b"initial")
    barrier = threading.Barrier(WRITERS, timeout=30)
    read: dict[int, str] = {}

    def read_then_replace(i: int) -> str:
        blob = blobs.get(KEY)
        assert blob is not None
        read[i] = blob.etag
        barrier.wait()  # everyone has read the same version before anyone writes
        return blobs.replace(KEY, f"writer {i}".encode(), blob.etag)

    won, lost = _run(WRITERS, read_then_replace)
    _only_lost_conditions(lost)
    assert len(set(read.values())) == 1
    assert len(won) == 1, f"winners: {sorted(won)}"
    ((winner, etag),) = won.items()
    blob = blobs.get(KEY)
    assert blob is not None
    assert blob.data == f"writer {winner}".encode()
    assert blob.etag == etag


def test_compare_and_swap_loses_no_update(blobs: Any) -> None:
    """Each writer increments a counter by read-modify-replace, retrying when it loses: none is lost.

    A writer loses only when another won since its read, so with 8 writers it loses at most 7 times.
    """
    blobs.create(KEY, json.dumps({"count": 0, "by": []}).encode())
    barrier = threading.Barrier(WRITERS, timeout=30)
    max_attempts = WRITERS + 2

    def increment(i: int) -> int:
        barrier.wait()
        for attempt in range(1, max_attempts + 1):
            blob = blobs.get(KEY)
            assert blob is not None
            doc = json.loads(blob.data)
            doc = {"count": doc["count"] + 1, "by": [*doc["by"], i]}
            try:
                blobs.replace(KEY, json.dumps(doc).encode(), blob.etag)
            except PreconditionFailed:
                continue
            return attempt
        raise AssertionError(f"writer {i} lost {max_attempts} times")

    done, failed = _run(WRITERS, increment)
    assert not failed, failed
    assert len(done) == WRITERS
    blob = blobs.get(KEY)
    assert blob is not None
    doc = json.loads(blob.data)
    assert doc["count"] == WRITERS
    assert sorted(doc["by"]) == list(range(WRITERS))


def test_create_races_on_many_keys_each_have_one_winner(blobs: Any) -> None:
    """Journal-style: writers race for record N, then N+1 ...; every record has one writer."""
    rounds = 3
    barrier = threading.Barrier(WRITERS, timeout=30)

    def race(i: int) -> list[int]:
        mine = []
        for seq in range(rounds):
            barrier.wait()
            try:
                blobs.create(f"proj/dev/journal/api/r1/{seq:08d}.json", f"{i}".encode())
            except PreconditionFailed:
                continue
            mine.append(seq)
        return mine

    won, failed = _run(WRITERS, race)
    assert not failed, failed
    owners = sorted(seq for seqs in won.values() for seq in seqs)
    assert owners == list(range(rounds))
    for seq in range(rounds):
        blob = blobs.get(f"proj/dev/journal/api/r1/{seq:08d}.json")
        assert blob is not None
        assert seq in won[int(blob.data)]
