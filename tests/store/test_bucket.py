"""`ensure_bucket` (what `zdd-release init` does) against moto's S3."""

from __future__ import annotations

from typing import Any

import pytest
from zero_downtime.store import StoreError
from zero_downtime.store.s3 import BucketCheck, S3Blobs, ensure_bucket

NAME = "zdd-release-store"
SETTINGS = ["bucket", "versioning", "default encryption", "public access block"]
ALL_FOUR = {"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"}


def _bucket_names(s3: Any) -> list[str]:
    return [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_creates_a_missing_bucket_and_reports_every_check(s3: Any) -> None:
    assert NAME not in _bucket_names(s3)
    checks = ensure_bucket(s3, NAME, "us-east-1")
    assert [c.setting for c in checks] == SETTINGS
    assert checks == [
        BucketCheck("bucket", "missing", "present"),
        BucketCheck("versioning", "Disabled", "Enabled"),
        BucketCheck("default encryption", "none", "AES256"),  # moto does not default-encrypt new buckets
        BucketCheck("public access block", "not blocked", "all four blocked"),
    ]
    assert all(c.changed for c in checks)

    assert NAME in _bucket_names(s3)
    assert s3.get_bucket_versioning(Bucket=NAME)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=NAME)["ServerSideEncryptionConfiguration"]["Rules"]
    assert [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] == ["AES256"]
    block = s3.get_public_access_block(Bucket=NAME)["PublicAccessBlockConfiguration"]
    assert {k for k, v in block.items() if v is True} == ALL_FOUR


def test_a_second_call_changes_nothing(s3: Any) -> None:
    ensure_bucket(s3, NAME, "us-east-1")
    again = ensure_bucket(s3, NAME, "us-east-1")
    assert [c.setting for c in again] == SETTINGS
    assert [c.changed for c in again] == [False] * 4
    assert again == [
        BucketCheck("bucket", "present", "present"),
        BucketCheck("versioning", "Enabled", "Enabled"),
        BucketCheck("default encryption", "AES256", "AES256"),
        BucketCheck("public access block", "all four blocked", "all four blocked"),
    ]


def test_check_only_on_a_missing_bucket_raises_and_creates_nothing(s3: Any) -> None:
    with pytest.raises(StoreError, match=f"s3://{NAME} does not exist"):
        ensure_bucket(s3, NAME, "us-east-1", create=False)
    assert _bucket_names(s3) == []


def test_check_only_reports_an_existing_bucket_without_changing_it(s3: Any) -> None:
    s3.create_bucket(Bucket=NAME)
    checks = ensure_bucket(s3, NAME, "us-east-1", create=False)
    assert checks == [
        BucketCheck("bucket", "present", "present"),
        BucketCheck("versioning", "Disabled", "Disabled"),
        BucketCheck("default encryption", "none", "none"),
        BucketCheck("public access block", "not blocked", "not blocked"),
    ]
    assert "Status" not in s3.get_bucket_versioning(Bucket=NAME)
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        s3.get_public_access_block(Bucket=NAME)


def test_an_existing_bucket_is_completed(s3: Any) -> None:
    s3.create_bucket(Bucket=NAME)
    s3.put_bucket_versioning(Bucket=NAME, VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_encryption(
        Bucket=NAME,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=NAME,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    checks = ensure_bucket(s3, NAME, "us-east-1")
    assert checks == [
        BucketCheck("bucket", "present", "present"),
        BucketCheck("versioning", "Suspended", "Enabled"),
        BucketCheck("default encryption", "aws:kms", "aws:kms"),  # an existing choice is kept
        BucketCheck("public access block", "not blocked", "all four blocked"),
    ]
    assert s3.get_bucket_versioning(Bucket=NAME)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=NAME)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=NAME)["PublicAccessBlockConfiguration"]
    assert {k for k, v in block.items() if v is True} == ALL_FOUR


def test_a_bucket_outside_us_east_1_gets_its_location(s3_factory: Any) -> None:
    client = s3_factory("eu-west-1")
    checks = ensure_bucket(client, NAME, "eu-west-1")
    assert checks[0] == BucketCheck("bucket", "missing", "present")
    assert client.get_bucket_location(Bucket=NAME)["LocationConstraint"] == "eu-west-1"


def test_the_ensured_bucket_takes_conditional_writes(s3: Any) -> None:
    ensure_bucket(s3, NAME, "us-east-1")
    blobs = S3Blobs(s3, NAME, "proj")
    etag = blobs.create("a.json", b"1")
    blobs.replace("a.json", b"2", etag)
    versions = s3.list_object_versions(Bucket=NAME, Prefix="proj/a.json")["Versions"]
    assert len(versions) == 2  # versioning keeps the replaced release state


def test_errors_of_the_service_are_store_errors(s3: Any) -> None:
    with pytest.raises(StoreError, match="s3://ab: InvalidBucketName"):
        ensure_bucket(s3, "ab", "us-east-1")  # too short: S3 (and moto) refuse to create it
    assert _bucket_names(s3) == []
