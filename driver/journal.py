"""Append-only release journal (JSONL, one record per transition or check) and the service lock.

Layout under the journal root (default `.zdd/journal` in the project, `--journal-dir` to change):
    <stack>/<service>.jsonl   every record of every release, oldest first, fsynced per record
    <stack>/<service>.lock    flock held by the one driver working on the service
    <stack>/<service>.abort   an abort request for a running driver (holds the release id)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class JournalError(RuntimeError):
    """The journal cannot be read or written."""


class JournalBusy(JournalError):
    """Another driver holds the service lock."""


def _safe(kind: str, name: str) -> str:
    # Stack names may be fully qualified (org/project/stack): keep them readable but path-safe.
    flat = name.replace("/", "__")
    if not _NAME.match(flat):
        raise ValueError(f"--{kind}: {name!r} is not a valid {kind} name")
    return flat


class Journal:
    """The journal of one stack + service."""

    def __init__(self, root: Path, stack: str, service: str) -> None:
        self.root = Path(root)
        self.stack = stack
        self.service = service
        directory = self.root / _safe("stack", stack)
        base = _safe("service", service)
        self.path = directory / f"{base}.jsonl"
        self.lock_path = directory / f"{base}.lock"
        self.abort_path = directory / f"{base}.abort"
        self._lock_fd: int | None = None

    # -- records ---------------------------------------------------------------------------
    def append(self, record: dict[str, Any]) -> None:
        """Write one record durably (one line, fsync) before the caller acts on it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def records(self, release_id: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out: list[dict[str, Any]] = []
        with self.path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    # A torn last line from a kill mid-write is skipped; anything else is corrupt.
                    if fh.readline() == "":
                        break
                    raise JournalError(f"{self.path}:{number}: not valid JSON") from None
                if release_id is None or rec.get("release_id") == release_id:
                    out.append(rec)
        return out

    def release_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for rec in self.records():
            seen.setdefault(str(rec.get("release_id")), None)
        return list(seen)

    def latest_release_id(self) -> str | None:
        ids = self.release_ids()
        return ids[-1] if ids else None

    def last(self, release_id: str | None = None) -> dict[str, Any] | None:
        rid = release_id or self.latest_release_id()
        if rid is None:
            return None
        recs = self.records(rid)
        return recs[-1] if recs else None

    # -- one driver per service ------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the service lock; raise JournalBusy at once if another driver holds it."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalBusy(
                f"another driver is working on {self.stack}/{self.service} (lock {self.lock_path})"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            self._lock_fd = fd
            yield
        finally:
            self._lock_fd = None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def is_locked(self) -> bool:
        """True when some driver (this process included) holds the service lock."""
        if self._lock_fd is not None:
            return True
        if not self.lock_path.exists():
            return False
        fd = os.open(self.lock_path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    # -- abort requests for a running driver -----------------------------------------------
    def request_abort(self, release_id: str, reason: str) -> None:
        self.abort_path.parent.mkdir(parents=True, exist_ok=True)
        self.abort_path.write_text(json.dumps({"release_id": release_id, "reason": reason}))

    def abort_requested(self, release_id: str) -> str | None:
        """The reason of a pending abort request for `release_id`, else None."""
        try:
            data = json.loads(self.abort_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if data.get("release_id") != release_id:
            return None
        return str(data.get("reason") or "abort requested")

    def clear_abort(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.abort_path.unlink()
