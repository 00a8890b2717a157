"""Blob backends of the release store: S3 with conditional writes, and local files.

Both give the same small interface (`blobs.Blobs`): read an object with its entity tag, create one
only if it is absent, replace one only if it still has the tag that was read, list by prefix. The
release driver builds its journal, lease lock and release state on it; the stack program only
reads. What the objects hold is defined in `zero_downtime.contract.release_state`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..contract.release_state import StoreLocation, parse_store_url
from .blobs import Blob, Blobs, PreconditionFailed, StoreError


def open_blobs(url: str, *, base_dir: Path | None = None, s3_client: Any = None, region: str | None = None) -> Blobs:
    """The blobs of the store `url` (`s3://bucket/prefix` or `file://path`).

    A relative `file://` path is taken from `base_dir` (the project directory). `s3_client` overrides
    the boto3 client (tests); otherwise one is made for `region` (default: the AWS SDK's).
    """
    location = parse_store_url(url)
    return open_location(location, base_dir=base_dir, s3_client=s3_client, region=region)


def open_location(
    location: StoreLocation, *, base_dir: Path | None = None, s3_client: Any = None, region: str | None = None
) -> Blobs:
    if location.scheme == "file":
        from .local import LocalBlobs

        path = Path(location.prefix)
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        return LocalBlobs(path)
    from .s3 import S3Blobs
    from .s3 import s3_client as make_client

    return S3Blobs(s3_client or make_client(region), location.bucket, location.prefix)


__all__ = ["Blob", "Blobs", "PreconditionFailed", "StoreError", "open_blobs", "open_location"]
