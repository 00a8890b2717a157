"""The local backend's failure messages (mutants that survived `make mutation` on store/local.py):
each names the file and says what the operating system said, and a failed write leaves no temp
file behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from zero_downtime.store import local as local_module
from zero_downtime.store.blobs import PreconditionFailed, StoreError
from zero_downtime.store.local import LocalBlobs


def test_replace_after_a_change_says_so(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path)
    etag = blobs.create("a/b.json", b"{}")
    blobs.put("a/b.json", b'{"x": 1}')
    with pytest.raises(PreconditionFailed, match=r"a/b\.json changed since it was read$"):
        blobs.replace("a/b.json", b'{"x": 2}', etag)


def test_a_refused_rename_names_the_file_and_the_reason_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = LocalBlobs(tmp_path)
    blobs.put("a/b.json", b"{}")

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(local_module.os, "replace", refuse)
    with pytest.raises(StoreError, match=rf"^cannot write {tmp_path}/a/b\.json: Permission denied$"):
        blobs.put("a/b.json", b'{"x": 1}')
    assert sorted(os.listdir(tmp_path / "a")) == [".tmp-b.json.lck", "b.json"]  # the temp file is gone


def test_a_refused_delete_names_the_file_and_the_reason(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path)
    (tmp_path / "a" / "b.json").mkdir(parents=True)  # a directory where the object should be
    with pytest.raises(StoreError, match=rf"^cannot delete {tmp_path}/a/b\.json: Is a directory$"):
        blobs.delete("a/b.json")


def test_a_refused_rename_is_a_store_error_even_when_the_temp_file_cannot_be_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = LocalBlobs(tmp_path)

    def refuse(*args: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(local_module.os, "replace", refuse)
    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(StoreError, match=r"^cannot write .*: Permission denied$"):  # never a bare OSError
        blobs.put("a/b.json", b"{}")


@pytest.mark.parametrize("key", ["", "/abs.json", "a//b", "a/./b", "a/../b"])
def test_keys_outside_the_store_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(StoreError, match="invalid key"):
        LocalBlobs(tmp_path).get(key)


def test_an_unreadable_object_names_the_file_and_the_reason(tmp_path: Path) -> None:
    (tmp_path / "a" / "b.json").mkdir(parents=True)
    with pytest.raises(StoreError, match=rf"^cannot read {tmp_path}/a/b\.json: Is a directory$"):
        LocalBlobs(tmp_path).get("a/b.json")


def test_create_over_an_existing_object_says_it_exists(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path)
    blobs.create("a/b.json", b"{}")
    with pytest.raises(PreconditionFailed, match=r"a/b\.json already exists$"):
        blobs.create("a/b.json", b"{}")


def test_objects_are_written_rw_r__r__(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        LocalBlobs(tmp_path).create("a/b.json", b"{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a" / "b.json").stat().st_mode & 0o777 == 0o644


def test_listing_a_store_not_created_yet_is_empty_but_a_file_in_the_way_is_named(tmp_path: Path) -> None:
    assert LocalBlobs(tmp_path / "not-yet" / "store").list("") == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match=rf"^cannot list {tmp_path}/file/store: {tmp_path}/file is not a directory$"):
        LocalBlobs(tmp_path / "file" / "store").list("")


def _oserror(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def test_a_temp_file_that_cannot_be_created_names_the_directory_and_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = LocalBlobs(tmp_path)
    real_open = os.open

    def no_space(path: object, *args: object) -> int:
        if Path(str(path)).name.startswith(".tmp-"):
            raise _oserror(errno.ENOSPC)
        return real_open(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(local_module.os, "open", no_space)
    with pytest.raises(StoreError, match=rf"^cannot write under {tmp_path}/a: No space left on device$") as info:
        blobs.create("a/b.json", b"{}")
    assert type(info.value) is StoreError  # not "already exists"
    monkeypatch.undo()
    assert os.listdir(tmp_path / "a") == []  # nothing visible, no temp file
    assert blobs.get("a/b.json") is None


def test_a_refused_link_names_the_file_and_the_reason_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = LocalBlobs(tmp_path)

    def refuse(src: object, dst: object) -> None:
        raise _oserror(errno.EACCES)

    monkeypatch.setattr(local_module.os, "link", refuse)
    with pytest.raises(StoreError, match=rf"^cannot create {tmp_path}/a/b\.json: Permission denied$") as info:
        blobs.create("a/b.json", b"{}")
    assert type(info.value) is StoreError  # not PreconditionFailed: the name does not exist
    assert os.listdir(tmp_path / "a") == []  # the temp file is gone and no object appeared
    assert blobs.get("a/b.json") is None


def test_a_temp_file_that_cannot_be_removed_after_the_link_does_not_fail_the_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = LocalBlobs(tmp_path)

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise _oserror(errno.EACCES)

    monkeypatch.setattr(Path, "unlink", refuse)
    assert blobs.create("a/b.json", b"{}") == local_module.etag_of(b"{}")
    assert blobs.get("a/b.json") == local_module.Blob(b"{}", local_module.etag_of(b"{}"))
    # the temp file stays (readers ignore it) and is not listed
    assert blobs.list("") == ["a/b.json"]
    assert len(os.listdir(tmp_path / "a")) == 2


def test_a_failed_write_whose_temp_file_cannot_be_removed_still_names_the_write_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = LocalBlobs(tmp_path)

    def io_error(fd: int) -> None:
        raise _oserror(errno.EIO)

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise _oserror(errno.EACCES)

    monkeypatch.setattr(local_module.os, "fsync", io_error)
    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(StoreError, match=rf"^cannot write under {tmp_path}/a: Input/output error$"):
        blobs.create("a/b.json", b"{}")
    monkeypatch.undo()
    assert blobs.get("a/b.json") is None


def test_a_failed_directory_fsync_does_not_fail_the_write_and_closes_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stat

    blobs = LocalBlobs(tmp_path)
    real_open, real_close, real_fsync = os.open, os.close, os.fsync
    opened: list[int] = []
    closed: list[int] = []
    refused: list[int] = []

    def tracking_open(*args: object) -> int:
        fd = real_open(*args)  # type: ignore[arg-type]
        opened.append(fd)
        return fd

    def tracking_close(fd: int) -> None:
        closed.append(fd)
        real_close(fd)

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            refused.append(fd)
            raise _oserror(errno.EINVAL)
        real_fsync(fd)

    monkeypatch.setattr(local_module.os, "open", tracking_open)
    monkeypatch.setattr(local_module.os, "close", tracking_close)
    monkeypatch.setattr(local_module.os, "fsync", fsync)
    etag = blobs.create("a/b.json", b"{}")
    assert blobs.put("a/b.json", b'{"x": 1}') == local_module.etag_of(b'{"x": 1}')
    assert blobs.replace("a/b.json", b'{"x": 2}', local_module.etag_of(b'{"x": 1}')) != etag
    monkeypatch.undo()
    assert len(refused) == 3  # each write synced its directory, and each sync failed
    assert sorted(opened) == sorted(closed)  # every descriptor, the directory's too, is closed
    assert blobs.get("a/b.json") == local_module.Blob(b'{"x": 2}', local_module.etag_of(b'{"x": 2}'))


def test_a_directory_that_cannot_be_listed_is_named_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = LocalBlobs(tmp_path)
    blobs.create("a/b.json", b"{}")
    blobs.create("c.json", b"{}")
    real_scandir = os.scandir

    def scandir(path: object) -> object:
        if Path(str(path)) == tmp_path / "a":
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(StoreError, match=rf"^cannot list {tmp_path}: Permission denied$"):
        blobs.list("")
