"""The release store's durability mechanism is really used, not only promised.

A crash test cannot show a missing fsync (the page cache survives a killed process), so these spies
check the mechanism itself: on local files every write fsyncs the file's data before it gets its
name and then fsyncs the directory that holds the name; on S3 a journal record is a create-only
write (`IfNoneMatch="*"`), so a second writer can never overwrite a record that was acknowledged.
Each test fails if the fsync or the condition is removed from `store/`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.core.errors import FencedOut
from zero_downtime.driver.core.status import Record, Status
from zero_downtime.store import local as local_module
from zero_downtime.store.local import LocalBlobs
from zero_downtime.store.s3 import S3Blobs

from tests.driver.clock import FakeClock

RELEASE = "r-20261201T000000.000000-aaaaaa"


def _record(seq: int) -> Record:
    status = Status(release_id=RELEASE, kind="service", stack="dev", target="api", spec={}, state="DEPLOYING")
    return Record(seq=seq, ts=1_700_000_000.0 + seq, event="transition", status=status)


class FsyncSpy:
    """Wraps os.fsync: records what kind of file each fsync'd descriptor is, and its size."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self._real = os.fsync

    def __call__(self, fd: int) -> None:
        info = os.fstat(fd)
        self.calls.append(("dir" if stat.S_ISDIR(info.st_mode) else "file", info.st_size))
        self._real(fd)

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


@pytest.fixture
def fsync_spy(monkeypatch: pytest.MonkeyPatch) -> FsyncSpy:
    spy = FsyncSpy()
    monkeypatch.setattr(local_module.os, "fsync", spy)
    return spy


@pytest.mark.parametrize("write", ["create", "put", "replace"])
def test_every_local_write_fsyncs_the_data_then_the_directory(tmp_path: Path, fsync_spy: FsyncSpy, write: str) -> None:
    blobs = LocalBlobs(tmp_path / "store")
    data = b'{"seq": 1}'
    if write == "replace":
        etag = blobs.create("a/b.json", b"{}")
        fsync_spy.calls.clear()
        blobs.replace("a/b.json", data, etag)
    else:
        getattr(blobs, write)("a/b.json", data)
    # The data is on disk (a file of the full length) before the name points at it, and the name
    # itself is on disk afterwards (the directory): both, in that order.
    assert fsync_spy.calls[0] == ("file", len(data))
    assert fsync_spy.kinds() == ["file", "dir"]
    assert (tmp_path / "store" / "a" / "b.json").read_bytes() == data


def test_each_journal_record_is_fsynced_before_the_next(tmp_path: Path, fsync_spy: FsyncSpy) -> None:
    store = ReleaseStore(LocalBlobs(tmp_path / "store"), "zero-downtime", "dev", "api", FakeClock())
    for seq in range(3):
        store.append(_record(seq))
        assert fsync_spy.kinds() == ["file", "dir"] * (seq + 1), f"record {seq} was not made durable"
    assert [r.seq for r in store.records(RELEASE)] == [0, 1, 2]


class RecordingS3:
    """The two S3 calls a journal append makes, recorded; honours IfNoneMatch like S3 does."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts: list[dict[str, Any]] = []

    def put_object(self, **kwargs: Any) -> dict[str, str]:
        from botocore.exceptions import ClientError

        self.puts.append(kwargs)
        if kwargs.get("IfNoneMatch") == "*" and kwargs["Key"] in self.objects:
            raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "exists"}}, "PutObject")
        self.objects[kwargs["Key"]] = kwargs["Body"]
        return {"ETag": '"etag"'}

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        import io

        from botocore.exceptions import ClientError

        if kwargs["Key"] not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "missing"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[kwargs["Key"]]), "ETag": '"etag"'}


def test_s3_journal_records_are_create_only_writes() -> None:
    client = RecordingS3()
    store = ReleaseStore(S3Blobs(client, "bucket", "team/zdd"), "zero-downtime", "dev", "api", FakeClock())
    store.append(_record(0))
    store.append(_record(1))
    journal_puts = [p for p in client.puts if RELEASE in p["Key"]]
    assert len(journal_puts) == 2
    assert all(p.get("IfNoneMatch") == "*" for p in journal_puts), journal_puts
    # And the condition is what fences a second writer out: the same seq with other content.
    other = Record(seq=1, ts=5.0, event="transition", status=_record(1).status)
    with pytest.raises(FencedOut, match="already written by another driver"):
        store.append(other)
