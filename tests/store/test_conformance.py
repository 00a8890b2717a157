"""The `Blobs` contract, run against both backends: local files and S3 (moto, with conditional writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from zero_downtime.store import Blob, Blobs, PreconditionFailed, StoreError
from zero_downtime.store.local import LocalBlobs

KEY = "proj/dev/state/services/api.json"


def test_satisfies_the_protocol(blobs: Any) -> None:
    assert isinstance(blobs, Blobs)
    assert blobs.url.startswith(("file://", "s3://"))


def test_get_of_a_missing_key_is_none(blobs: Any) -> None:
    assert blobs.get(KEY) is None
    assert blobs.get("never/written.json") is None


def test_create_then_get_returns_the_bytes_and_the_etag(blobs: Any) -> None:
    etag = blobs.create(KEY, b'{"v": 1}\n')
    assert isinstance(etag, str) and etag
    blob = blobs.get(KEY)
    assert blob == Blob(b'{"v": 1}\n', etag)


def test_create_of_an_existing_key_fails_and_keeps_the_first_content(blobs: Any) -> None:
    first = blobs.create(KEY, b"first")
    with pytest.raises(PreconditionFailed):
        blobs.create(KEY, b"second")
    assert blobs.get(KEY) == Blob(b"first", first)


def test_precondition_failed_is_a_store_error() -> None:
    assert issubclass(PreconditionFailed, StoreError)


def test_replace_with_the_current_etag_succeeds_with_a_new_etag(blobs: Any) -> None:
    old = blobs.create(KEY, b"v1")
    new = blobs.replace(KEY, b"v2", old)
    assert new != old
    assert blobs.get(KEY) == Blob(b"v2", new)
    newer = blobs.replace(KEY, b"v3", new)
    assert blobs.get(KEY) == Blob(b"v3", newer)


def test_replace_with_a_stale_etag_fails_and_keeps_the_content(blobs: Any) -> None:
    stale = blobs.create(KEY, b"v1")
    current = blobs.replace(KEY, b"v2", stale)
    with pytest.raises(PreconditionFailed):
        blobs.replace(KEY, b"v3", stale)
    assert blobs.get(KEY) == Blob(b"v2", current)


def test_replace_does_not_resurrect_a_deleted_key(blobs: Any) -> None:
    etag = blobs.create(KEY, b"v1")
    blobs.delete(KEY)
    with pytest.raises(PreconditionFailed):
        blobs.replace(KEY, b"v2", etag)
    assert blobs.get(KEY) is None


def test_replace_of_a_missing_key_fails(blobs: Any) -> None:
    etag = blobs.create("other.json", b"x")  # a well-formed etag, of another object
    with pytest.raises(PreconditionFailed):
        blobs.replace(KEY, b"v1", etag)
    assert blobs.get(KEY) is None


def test_put_overwrites_unconditionally(blobs: Any) -> None:
    created = blobs.put(KEY, b"one")  # also creates
    assert blobs.get(KEY) == Blob(b"one", created)
    overwritten = blobs.put(KEY, b"two")
    assert blobs.get(KEY) == Blob(b"two", overwritten)
    # after a put, the etag read before it is stale
    with pytest.raises(PreconditionFailed):
        blobs.replace(KEY, b"three", created)
    assert blobs.get(KEY) == Blob(b"two", overwritten)


def test_delete_is_idempotent(blobs: Any) -> None:
    blobs.delete(KEY)  # missing: nothing happens
    blobs.create(KEY, b"x")
    blobs.create("proj/dev/state/services/web.json", b"y")
    blobs.delete(KEY)
    assert blobs.get(KEY) is None
    blobs.delete(KEY)
    assert blobs.get(KEY) is None
    assert blobs.list("") == ["proj/dev/state/services/web.json"]
    blobs.create(KEY, b"again")  # a deleted key can be created again
    assert blobs.get(KEY).data == b"again"


JOURNAL = [
    "proj/dev/journal/api/r1/00000000.json",
    "proj/dev/journal/api/r1/00000001.json",
    "proj/dev/journal/api/r1/00000002.json",
    "proj/dev/journal/api/r10/00000000.json",
    "proj/dev/journal/api/r2/00000000.json",
]
OTHERS = [
    "proj/dev/journal/web/r1/00000000.json",
    "proj/dev/locks/api.json",
    "proj/dev/state/services/api.json",
    "proj/prod/journal/api/r1/00000000.json",
]


@pytest.fixture
def filled(blobs: Any) -> Any:
    for key in reversed(JOURNAL + OTHERS):  # written out of order on purpose
        blobs.create(key, key.encode())
    etag = blobs.get("proj/dev/locks/api.json").etag
    blobs.replace("proj/dev/locks/api.json", b"renewed", etag)  # the local backend leaves a lock file
    return blobs


def test_list_returns_exactly_the_keys_under_the_prefix_sorted_and_relative(filled: Any) -> None:
    assert filled.list("proj/dev/journal/api/") == sorted(JOURNAL)
    assert filled.list("proj/dev/journal/api/r1/") == JOURNAL[:3]
    assert filled.list("proj/dev/locks/") == ["proj/dev/locks/api.json"]
    assert filled.list("proj/staging/") == []
    assert filled.list("nothing") == []


def test_list_is_a_plain_string_prefix(filled: Any) -> None:
    # "r1" without a slash also matches r10, on both backends alike
    assert filled.list("proj/dev/journal/api/r1") == [*JOURNAL[:3], "proj/dev/journal/api/r10/00000000.json"]


def test_list_of_the_empty_prefix_is_every_key(filled: Any) -> None:
    assert filled.list("") == sorted(JOURNAL + OTHERS)


def test_list_of_an_empty_store_is_empty(blobs: Any) -> None:
    assert blobs.list("") == []
    assert blobs.list("proj/") == []


def test_local_list_never_shows_temp_or_lock_files(tmp_path: Path) -> None:
    store = LocalBlobs(tmp_path / "store")
    etag = store.create("proj/dev/locks/api.json", b"a")
    store.replace("proj/dev/locks/api.json", b"b", etag)
    store.put("proj/dev/locks/api.json", b"c")
    (tmp_path / "store/proj/dev/locks/.tmp-left-by-a-crash").write_bytes(b"partial")
    on_disk = sorted(p.name for p in (tmp_path / "store/proj/dev/locks").iterdir())
    assert any(name.startswith(".tmp-") for name in on_disk)  # the lock file and the crash leftover
    assert store.list("") == ["proj/dev/locks/api.json"]
    assert store.list("proj/dev/locks/") == ["proj/dev/locks/api.json"]


def test_local_list_of_a_missing_root_is_empty(tmp_path: Path) -> None:
    assert LocalBlobs(tmp_path / "not-there").list("") == []


BAD_KEYS = ["", "/abs/key.json", "../escape.json", "proj/../../escape.json", "proj//x.json", "proj/x/", "./x.json"]


@pytest.mark.parametrize("key", BAD_KEYS)
@pytest.mark.parametrize("operation", ["get", "create", "replace", "put", "delete"])
def test_local_refuses_keys_that_are_not_plain_relative_paths(tmp_path: Path, key: str, operation: str) -> None:
    store = LocalBlobs(tmp_path / "store")
    calls = {
        "get": lambda: store.get(key),
        "create": lambda: store.create(key, b"x"),
        "replace": lambda: store.replace(key, b"x", "etag"),
        "put": lambda: store.put(key, b"x"),
        "delete": lambda: store.delete(key),
    }
    with pytest.raises(StoreError, match="invalid key") as caught:
        calls[operation]()
    assert not isinstance(caught.value, PreconditionFailed)
    assert not (tmp_path / "escape.json").exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == []  # nothing written anywhere


def test_local_etag_is_the_content_hash(tmp_path: Path) -> None:
    a, b = LocalBlobs(tmp_path / "a"), LocalBlobs(tmp_path / "b")
    assert a.create(KEY, b"same") == b.create(KEY, b"same")
    assert a.put(KEY, b"other") != b.get(KEY).etag
