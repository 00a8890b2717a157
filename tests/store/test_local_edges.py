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
