"""The interface every backend of the release store gives, and its two errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class StoreError(RuntimeError):
    """The store could not be read or written (permissions, network, a broken object)."""


class PreconditionFailed(StoreError):
    """A conditional write lost: `create` found the object, or `replace` found another version."""


@dataclass(frozen=True)
class Blob:
    data: bytes
    etag: str
    """Entity tag of this version; `replace` succeeds only while the object still has it."""


@runtime_checkable
class Blobs(Protocol):
    """Objects under one store location. Keys are relative paths such as `proj/dev/locks/api.json`."""

    url: str
    """Where the store is, for messages."""

    def get(self, key: str) -> Blob | None:
        """The object, or None when it does not exist."""
        ...

    def create(self, key: str, data: bytes) -> str:
        """Write `key` only if it does not exist; return its etag. PreconditionFailed if it exists."""
        ...

    def replace(self, key: str, data: bytes, etag: str) -> str:
        """Overwrite `key` only if its etag is still `etag`; return the new etag. PreconditionFailed if not."""
        ...

    def put(self, key: str, data: bytes) -> str:
        """Overwrite `key` whatever it holds; return the new etag."""
        ...

    def delete(self, key: str) -> None:
        """Remove `key` (nothing happens when it does not exist)."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Every key that starts with `prefix`, sorted."""
        ...
