"""`open_blobs`: the `releaseStore` URL to a backend; bad URLs are a ContractError naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract.errors import ContractError
from zero_downtime.contract.release_state import StoreLocation, parse_store_url
from zero_downtime.store import open_blobs
from zero_downtime.store.local import LocalBlobs
from zero_downtime.store.s3 import S3Blobs

KEY = "proj/dev/state/services/api.json"


def test_a_relative_file_url_resolves_against_base_dir(tmp_path: Path) -> None:
    blobs = open_blobs("file://relative/dir", base_dir=tmp_path)
    assert isinstance(blobs, LocalBlobs)
    assert blobs.root == tmp_path / "relative" / "dir"
    blobs.create(KEY, b"here")
    assert (tmp_path / "relative/dir" / KEY).read_bytes() == b"here"


def test_an_absolute_file_url_ignores_base_dir(tmp_path: Path) -> None:
    target = tmp_path / "absolute"
    blobs = open_blobs(f"file://{target}/", base_dir=tmp_path / "elsewhere")
    assert isinstance(blobs, LocalBlobs)
    assert blobs.root == target
    blobs.put(KEY, b"abs")
    assert (target / KEY).read_bytes() == b"abs"
    assert not (tmp_path / "elsewhere").exists()


def test_an_s3_url_writes_under_its_prefix(s3: Any, bucket: str) -> None:
    blobs = open_blobs(f"s3://{bucket}/prefix", s3_client=s3)
    assert isinstance(blobs, S3Blobs)
    assert blobs.url == f"s3://{bucket}/prefix"
    blobs.create(KEY, b"{}")
    raw = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert raw == [f"prefix/{KEY}"]
    assert all(k.startswith("prefix/") for k in raw)
    assert s3.get_object(Bucket=bucket, Key=f"prefix/{KEY}")["Body"].read() == b"{}"
    assert blobs.list("") == [KEY]  # and the store's own keys stay relative


def test_a_nested_s3_prefix(s3: Any, bucket: str) -> None:
    blobs = open_blobs(f"s3://{bucket}/team/zdd/", s3_client=s3)
    blobs.put(KEY, b"x")
    s3.put_object(Bucket=bucket, Key="team/other/foreign.json", Body=b"not ours")
    s3.put_object(Bucket=bucket, Key="team/zddx/foreign.json", Body=b"not ours either")
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="team/zdd/")["Contents"]] == [
        f"team/zdd/{KEY}"
    ]
    assert blobs.list("") == [KEY]


def test_an_s3_url_without_prefix_writes_at_the_bucket_root(s3: Any, bucket: str) -> None:
    blobs = open_blobs(f"s3://{bucket}", s3_client=s3)
    assert blobs.url == f"s3://{bucket}"
    blobs.create(KEY, b"root")
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [KEY]
    assert blobs.list("proj/") == [KEY]


BAD_URLS = [
    "",
    "   ",
    "http://x",
    "x",
    "/just/a/path",
    "s3://Bad_Bucket/x",
    "s3://ab/x",  # too short for a bucket name
    "s3://bucket..name/x",
    "s3://bucket/a b",
    "s3://bucket/x?versionId=1",
    "s3://bucket/.hidden/x",
    "s3://bucket/pre//fix",
    "file://",
    "file:///",
    "file:relative",  # not the documented file://<path>
    "file:/absolute",
    "file://dir?x=1",  # urlparse used to drop "?x=1" and silently use "dir"
    "file://dir#frag",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_urls_raise_contract_error_naming_release_store(url: str, tmp_path: Path) -> None:
    with pytest.raises(ContractError) as caught:
        open_blobs(url, base_dir=tmp_path)
    assert caught.value.key == "releaseStore"
    assert str(caught.value).startswith("releaseStore: ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [None, 42, b"s3://bucket/x"])
def test_non_strings_are_refused(value: Any) -> None:
    with pytest.raises(ContractError) as caught:
        parse_store_url(value)
    assert caught.value.key == "releaseStore"


def test_the_key_named_can_be_chosen() -> None:
    with pytest.raises(ContractError) as caught:
        parse_store_url("http://x", "stacks.dev.releaseStore")
    assert caught.value.key == "stacks.dev.releaseStore"


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("s3://my-bucket/team/zdd", StoreLocation("s3", "my-bucket", "team/zdd")),
        ("s3://my-bucket/team/zdd/", StoreLocation("s3", "my-bucket", "team/zdd")),
        ("s3://my.bucket-1", StoreLocation("s3", "my.bucket-1", "")),
        ("s3://my-bucket/", StoreLocation("s3", "my-bucket", "")),
        ("file://relative/dir", StoreLocation("file", "", "relative/dir")),
        ("file:///abs/dir/", StoreLocation("file", "", "/abs/dir")),
        ("file://.zdd", StoreLocation("file", "", ".zdd")),
    ],
)
def test_parse_store_url(url: str, location: StoreLocation) -> None:
    assert parse_store_url(url) == location
    assert parse_store_url(location.url) == location  # url is the canonical form
