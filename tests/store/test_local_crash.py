"""Crash safety of the local backend: a torn write is never visible under its name.

The writer writes a temp file (`.tmp-*`), fsyncs it, then links (create) or renames (replace, put)
it into place. These tests break it at each step: by hand, by failing system calls, and by killing
a real process in the middle of a write.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.store import Blob, PreconditionFailed, StoreError
from zero_downtime.store import local as local_module
from zero_downtime.store.local import LocalBlobs, etag_of

KEY = "proj/dev/journal/api/r1/00000000.json"
DATA = b'{"record": "' + b"x" * 4096 + b'"}\n'


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobs:
    return LocalBlobs(tmp_path / "store")


def _temps(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob(".tmp-*") if not p.name.endswith(".lck"))


def test_a_leftover_temp_file_is_not_listed_and_does_not_block_writes(store: LocalBlobs) -> None:
    directory = store.root / "proj/dev/journal/api/r1"
    directory.mkdir(parents=True)
    (directory / ".tmp-xyz").write_bytes(DATA[:100])  # what a crash mid-write leaves
    assert store.list("") == []
    assert store.get(KEY) is None

    etag = store.create(KEY, DATA)
    assert store.get(KEY) == Blob(DATA, etag)
    new = store.replace(KEY, b"second", etag)
    assert store.get(KEY) == Blob(b"second", new)
    store.put(KEY, b"third")
    assert store.list("") == [KEY]
    assert (directory / ".tmp-xyz").read_bytes() == DATA[:100]  # the store leaves foreign files alone


def test_a_leftover_lock_file_does_not_block_replace(store: LocalBlobs) -> None:
    etag = store.replace(KEY, b"two", store.create(KEY, b"one"))
    lock = store.root / "proj/dev/journal/api/r1/.tmp-00000000.json.lck"
    assert lock.exists()  # replace's lock file, kept on purpose
    lock.write_bytes(b"garbage from a crashed writer")  # flock does not care what it holds
    assert store.list("") == [KEY]
    new = store.replace(KEY, b"three", etag)
    assert store.get(KEY) == Blob(b"three", new)
    assert store.put(KEY, b"four") == store.get(KEY).etag


def test_a_write_failing_midway_never_exposes_a_partial_object(
    store: LocalBlobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = []

    def half_then_fail(fd: int, data: Any) -> int:
        calls.append(len(data))
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local_module.os, "write", half_then_fail)
    with pytest.raises(StoreError) as caught:
        store.create(KEY, DATA)
    monkeypatch.undo()
    assert calls, "the fault was not injected"
    assert not isinstance(caught.value, PreconditionFailed)
    assert "No space left" in str(caught.value)
    assert store.get(KEY) is None
    assert not (store.root / KEY).exists()
    assert store.list("") == []
    assert _temps(store.root) == []  # and the failed writer cleaned up after itself

    etag = store.create(KEY, DATA)
    assert store.get(KEY) == Blob(DATA, etag)


def test_a_replace_failing_midway_keeps_the_previous_version(
    store: LocalBlobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    etag = store.create(KEY, b"previous")
    real_write = os.write

    def half_then_fail(fd: int, data: Any) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(local_module.os, "write", half_then_fail)
    with pytest.raises(StoreError, match="Input/output error"):
        store.replace(KEY, DATA, etag)
    with pytest.raises(StoreError, match="Input/output error"):
        store.put(KEY, DATA)
    monkeypatch.undo()
    assert store.get(KEY) == Blob(b"previous", etag)
    assert _temps(store.root) == []
    new = store.replace(KEY, DATA, etag)
    assert store.get(KEY) == Blob(DATA, new)


def test_short_writes_still_store_the_whole_object(store: LocalBlobs, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.write may write fewer bytes than asked; the store must not keep a truncated object."""
    real_write = os.write

    def at_most_1000(fd: int, data: Any) -> int:
        return real_write(fd, bytes(data[:1000]))

    monkeypatch.setattr(local_module.os, "write", at_most_1000)
    etag = store.create(KEY, DATA)
    new = store.replace(KEY, DATA * 2, etag)
    monkeypatch.undo()
    assert len(DATA) > 1000
    assert store.get(KEY) == Blob(DATA * 2, new)
    assert new == etag_of(DATA * 2)


def test_a_link_failing_leaves_nothing_under_the_name(store: LocalBlobs, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_link(src: Any, dst: Any, **_: Any) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(local_module.os, "link", no_link)
    with pytest.raises(StoreError, match="Operation not permitted") as caught:
        store.create(KEY, DATA)
    monkeypatch.undo()
    assert not isinstance(caught.value, PreconditionFailed)
    assert store.get(KEY) is None
    assert _temps(store.root) == []
    assert store.create(KEY, DATA) == etag_of(DATA)


def test_an_interrupted_create_leaves_no_object(store: LocalBlobs, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception that is not an OSError (KeyboardInterrupt) between the fsync and the link."""

    def interrupted(src: Any, dst: Any, **_: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(local_module.os, "link", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.create(KEY, DATA)
    monkeypatch.undo()
    assert store.get(KEY) is None
    assert store.list("") == []
    assert store.create(KEY, DATA) == etag_of(DATA)


CRASHING_WRITER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from zero_downtime.store import local

    real_write = os.write

    def write_half_then_die(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        os._exit(9)  # the process dies here: no finally, no cleanup

    local.os.write = write_half_then_die
    local.LocalBlobs(Path(sys.argv[1])).create(sys.argv[2], b"x" * int(sys.argv[3]))
    os._exit(0)
    """
)


def test_a_writer_killed_mid_write_leaves_only_a_temp_file(store: LocalBlobs) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(store.root), KEY, "10000"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 9, proc.stderr.decode()
    leftovers = _temps(store.root)
    assert len(leftovers) == 1
    assert leftovers[0].read_bytes() == b"x" * 5000  # the torn write exists, but only as a temp file
    assert store.get(KEY) is None
    assert store.list("") == []

    etag = store.create(KEY, b"written after the crash")
    assert store.get(KEY) == Blob(b"written after the crash", etag)
    assert store.list("") == [KEY]


def test_list_reports_an_unreadable_directory(store: LocalBlobs, monkeypatch: pytest.MonkeyPatch) -> None:
    """A listing that silently skipped a directory would hide journal records."""
    store.create("proj/dev/journal/api/r1/00000000.json", b"a")
    store.create("proj/dev/journal/api/r2/00000000.json", b"b")
    hidden = store.root / "proj/dev/journal/api/r2"
    real_scandir = os.scandir

    def failing_scandir(path: Any = ".") -> Any:
        if Path(path) == hidden:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(local_module.os, "scandir", failing_scandir)
    with pytest.raises(StoreError, match="Permission denied"):
        store.list("proj/dev/journal/api/")
