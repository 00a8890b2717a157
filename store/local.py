"""The release store as local files: write a temp file, fsync, then link or rename it into place.

`create` links the temp file to its name, which fails if the name exists, so two writers can never
both create a record. `replace` compares the etag (the SHA-256 of the content) and renames under an
flock, so it is a compare-and-swap between processes on this machine. A crash leaves at most a temp
file (`.tmp-*`), which readers ignore: a torn object is never visible under its name.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from .blobs import Blob, PreconditionFailed, StoreError

_TMP = ".tmp-"


def _raise(exc: OSError) -> None:
    raise exc


def etag_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalBlobs:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = f"file://{self.root}"

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise StoreError(f"{self.url}: invalid key {key!r}")
        return self.root.joinpath(*parts)

    def get(self, key: str) -> Blob | None:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
        return Blob(data, etag_of(data))

    def _temp(self, path: Path, data: bytes) -> Path:
        """A new temp file beside `path` holding all of `data`, fsynced; removed again if that fails."""
        tmp = path.parent / f"{_TMP}{uuid.uuid4().hex}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot write under {path.parent}: {exc.strerror or exc}") from None
        try:
            try:
                view = memoryview(data)
                while view:  # os.write may write less than asked; each pass writes at least one byte
                    written = os.write(fd, view)
                    if written <= 0:
                        raise OSError(f"wrote nothing of the last {len(view)} bytes")
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if isinstance(exc, OSError):
                raise StoreError(f"cannot write under {path.parent}: {exc.strerror or exc}") from None
            raise
        return tmp

    @staticmethod
    def _sync_dir(directory: Path) -> None:
        with contextlib.suppress(OSError):
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def create(self, key: str, data: bytes) -> str:
        path = self._path(key)
        tmp = self._temp(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise PreconditionFailed(f"{self.url}/{key} already exists") from None
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror or exc}") from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._sync_dir(path.parent)
        return etag_of(data)

    @contextlib.contextmanager
    def _exclusive(self, path: Path) -> Iterator[None]:
        lock = path.parent / f"{_TMP}{path.name}.lck"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot lock {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def replace(self, key: str, data: bytes, etag: str) -> str:
        path = self._path(key)
        with self._exclusive(path):
            current = self.get(key)
            if current is None or current.etag != etag:
                raise PreconditionFailed(f"{self.url}/{key} changed since it was read")
            return self._rename_into_place(path, data)

    def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        with self._exclusive(path):
            return self._rename_into_place(path, data)

    def _rename_into_place(self, path: Path, data: bytes) -> str:
        tmp = self._temp(path, data)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from None
        self._sync_dir(path.parent)
        return etag_of(data)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"cannot delete {path}: {exc.strerror or exc}") from None

    def list(self, prefix: str) -> list[str]:
        if not self.root.is_dir():
            # Not created yet is an empty store; a path through a file is a mistake to name.
            blocker = next((p for p in (self.root, *self.root.parents) if p.exists()), None)
            if blocker is not None and not blocker.is_dir():
                raise StoreError(f"cannot list {self.root}: {blocker} is not a directory")
            return []
        keys: list[str] = []
        try:
            for dirpath, _, files in os.walk(self.root, onerror=_raise):  # never skip a directory silently
                for name in files:
                    if name.startswith(_TMP):
                        continue
                    key = Path(dirpath, name).relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        keys.append(key)
        except OSError as exc:
            raise StoreError(f"cannot list {self.root}: {exc.strerror or exc}") from None
        return sorted(keys)
