"""The release journal and service lock as local files (JSON lines, fsynced per record).

Layout under the journal root (default `.zdd/journal` in the project, `--journal-dir` to change):
    <stack>/<service>.jsonl   every record of every release, oldest first, one JSON object per line
    <stack>/<service>.lock    flock held by the one driver working on the service
    <stack>/<service>.abort   an abort request for a running driver (holds the release id)

Each line is a `Record` (driver/core/status.py): the event and the whole status after it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..core.errors import BusyError, InputError, JournalError
from ..core.status import Record

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _safe(kind: str, name: str) -> str:
    # Stack names may be fully qualified (org/project/stack): keep them readable but path-safe.
    flat = name.replace("/", "__")
    if not _NAME.match(flat):
        raise InputError(kind, f"{name!r} is not a valid {kind} name")
    return flat


class FileJournal:
    """The journal and lock of one stack + service, as files under `root`."""

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
    def append(self, record: Record) -> None:
        """Write one record durably (one line, fsync) before the caller acts on it."""
        line = json.dumps(record.to_dict(), sort_keys=True, default=str) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc.strerror or exc}") from None

    def _read_all(self) -> list[Record]:
        try:
            text = self.path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            return []
        except UnicodeDecodeError:
            raise JournalError(f"{self.path}: not a text journal (invalid UTF-8)") from None
        except OSError as exc:
            raise JournalError(f"cannot read the journal {self.path}: {exc.strerror or exc}") from None
        lines = text.split("\n")
        out: list[Record] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{self.path}:{number}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                # A torn last line from a kill mid-write is skipped; anything else is corrupt.
                if all(not rest.strip() for rest in lines[number:]):
                    break
                raise JournalError(f"{where}: not valid JSON") from None
            out.append(Record.from_dict(data, where))
        return out

    def records(self, release_id: str) -> list[Record]:
        return [r for r in self._read_all() if r.status.release_id == release_id]

    def release_ids(self) -> list[str]:
        return list(dict.fromkeys(r.status.release_id for r in self._read_all()))

    def last(self, release_id: str | None = None) -> Record | None:
        records = self._read_all()
        if release_id is None:
            return records[-1] if records else None
        return next((r for r in reversed(records) if r.status.release_id == release_id), None)

    # -- one driver per service ------------------------------------------------------------
    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the service lock; raise BusyError at once if another driver holds it."""
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(f"cannot open the lock {self.lock_path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BusyError(
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

    def held(self) -> bool:
        """True when some driver (this process included) holds the service lock."""
        if self._lock_fd is not None:
            return True
        try:
            fd = os.open(self.lock_path, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    # -- abort requests for a running driver -----------------------------------------------
    def request_abort(self, release_id: str, reason: str) -> None:
        try:
            self.abort_path.parent.mkdir(parents=True, exist_ok=True)
            self.abort_path.write_text(json.dumps({"release_id": release_id, "reason": reason}))
        except OSError as exc:
            raise JournalError(f"cannot write the abort request {self.abort_path}: {exc.strerror or exc}") from None

    def abort_requested(self, release_id: str) -> str | None:
        try:
            data = json.loads(self.abort_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or data.get("release_id") != release_id:
            return None
        return str(data.get("reason") or "abort requested")

    def clear_abort(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.abort_path.unlink()
