"""The release store in S3, with conditional writes.

`create` is `PutObject` with `IfNoneMatch="*"` and `replace` is `PutObject` with `IfMatch=<etag>`
(S3 has enforced both since 2024; Terraform 1.10's S3 lockfile relies on the first). A lost
condition comes back as 412 PreconditionFailed, or 409 ConditionalRequestConflict while another
conditional write to the same key is in flight; both are `PreconditionFailed` here. So is the
404 NoSuchKey an `IfMatch` write gets when the object was deleted since it was read.

`ensure_bucket` is what `zdd-release init` does: create the bucket if it is missing, then make
sure versioning is on, default encryption is set and public access is blocked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .blobs import Blob, PreconditionFailed, StoreError

_LOST = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def s3_client(region: str | None = None) -> Any:
    """An S3 client with botocore's standard retries; AWS_ENDPOINT_URL points it at an emulator."""
    return boto3.client(
        "s3",
        region_name=region,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30),
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Blobs:
    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: Exception) -> StoreError:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            return StoreError(f"{action} {self.url}/{key}: {error.get('Code', '')}: {error.get('Message', '')}")
        return StoreError(f"{action} {self.url}/{key}: {str(exc).splitlines()[0]}")

    def get(self, key: str) -> Blob | None:
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return Blob(resp["Body"].read(), str(resp["ETag"]))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise self._fail("get", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("get", key, exc) from None

    def _put(self, action: str, key: str, data: bytes, **condition: str) -> str:
        try:
            resp = self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType="application/json", **condition
            )
        except ClientError as exc:
            lost = _LOST | _MISSING if "IfMatch" in condition else _LOST  # IfMatch on a missing key: 404
            if condition and _code(exc) in lost:
                raise PreconditionFailed(f"{self.url}/{key}: {action} lost its condition ({_code(exc)})") from None
            raise self._fail(action, key, exc) from None
        except BotoCoreError as exc:
            raise self._fail(action, key, exc) from None
        return str(resp["ETag"])

    def create(self, key: str, data: bytes) -> str:
        return self._put("create", key, data, IfNoneMatch="*")

    def replace(self, key: str, data: bytes, etag: str) -> str:
        return self._put("replace", key, data, IfMatch=etag)

    def put(self, key: str, data: bytes) -> str:
        return self._put("put", key, data)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("delete", key, exc) from None

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix)
            ):
                keys += [item["Key"][strip:] for item in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail("list", prefix, exc) from None
        return sorted(keys)


# -- zdd-release init -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BucketCheck:
    """One property of the bucket: what it was, and what it is after `ensure_bucket`."""

    setting: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def ok(self) -> bool:
        """The setting is as a release store needs it (after this call)."""
        return self.after not in ("missing", "Disabled", "Suspended", "none", "not blocked")


def ensure_bucket(client: Any, bucket: str, region: str | None, *, create: bool = True) -> list[BucketCheck]:
    """Create `bucket` if missing (when `create`), then turn on versioning, default encryption and
    the public access block. Returns what each setting was and is. With `create=False` nothing is
    changed: the checks report what is missing and StoreError says so."""
    checks: list[BucketCheck] = []
    try:
        exists = _bucket_exists(client, bucket)
        if not exists and not create:
            raise StoreError(f"s3://{bucket} does not exist")
        if not exists:
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if region and region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            client.create_bucket(**kwargs)
        checks.append(BucketCheck("bucket", "present" if exists else "missing", "present"))

        versioning = client.get_bucket_versioning(Bucket=bucket).get("Status") or "Disabled"
        if versioning != "Enabled" and create:
            client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        checks.append(BucketCheck("versioning", versioning, "Enabled" if create else versioning))

        encryption = _encryption(client, bucket)
        if encryption == "none" and create:
            client.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        checks.append(
            BucketCheck("default encryption", encryption, "AES256" if encryption == "none" and create else encryption)
        )

        blocked = _public_access_blocked(client, bucket)
        if not blocked and create:
            client.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration=dict.fromkeys(_PUBLIC_ACCESS_FLAGS, True),
            )
        before = "all four blocked" if blocked else "not blocked"
        checks.append(BucketCheck("public access block", before, "all four blocked" if create else before))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise StoreError(f"s3://{bucket}: {error.get('Code', '')}: {error.get('Message', '')}") from None
    except BotoCoreError as exc:
        raise StoreError(f"s3://{bucket}: {str(exc).splitlines()[0]}") from None
    return checks


def _bucket_exists(client: Any, bucket: str) -> bool:
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if _code(exc) in {"404", "NoSuchBucket", "NotFound"}:
            return False
        raise
    return True


def _encryption(client: Any, bucket: str) -> str:
    try:
        rules = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as exc:
        if _code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
            return "none"
        raise
    algorithms = [r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "") for r in rules]
    return ",".join(a for a in algorithms if a) or "none"


def _public_access_blocked(client: Any, bucket: str) -> bool:
    try:
        config = client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if _code(exc) == "NoSuchPublicAccessBlockConfiguration":
            return False
        raise
    return all(
        config.get(k) for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    )
