"""The `--out` directory: checked writable and claimed by one run, before anything starts.

`claim_out_dir` creates the directory, proves it can write there (and in `store/`, where the release
store lives), and takes an exclusive lock (`<out>/.rehearsal.lock`, flock) for the whole run: a
second run on the same `--out` is refused at once instead of failing on the store's lease midway.
The kernel drops the lock when its process dies, so a killed run never blocks the next one. The
claim is re-entrant within a process (the CLI claims, then `run_rehearsal` claims again).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

from ..driver.adapters.release_store import Lease, ReleaseStore
from ..store import StoreError
from .lifetime import is_alive

LOCK_NAME = ".rehearsal.lock"
WRITTEN = ("report.json", "rehearsal.png")  # what the CLI writes at the end

_claimed: dict[Path, int] = {}


class OutDirError(RuntimeError):
    """`--out` cannot be written; the message names the flag and the reason."""


class OutDirBusy(RuntimeError):
    """Another rehearsal uses the same `--out` right now."""


def _probe(directory: Path) -> None:
    """Create and remove a file in `directory` (created if missing): OSError when it cannot."""
    directory.mkdir(parents=True, exist_ok=True)
    probe = directory / f".probe-{uuid.uuid4().hex}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    os.close(fd)
    probe.unlink()


def check_writable(out: Path) -> None:
    """Raise OutDirError naming `--out` when the run could not write its results there."""
    try:
        _probe(out)
        _probe(out / "store")
        for name in WRITTEN:  # an existing result must be replaceable (not a directory, not read-only)
            path = out / name
            if path.exists() or path.is_symlink():
                if not path.is_file():
                    raise IsADirectoryError(0, "exists and is not a file", str(path))
                with path.open("ab"):
                    pass
    except OSError as exc:
        where = exc.filename or out
        raise OutDirError(f"--out {out}: cannot write {where}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def claim_out_dir(out: Path) -> Iterator[Path]:
    """Check `out` and hold its lock for the block; OutDirError / OutDirBusy before anything starts."""
    key = out.resolve()
    if key in _claimed:
        _claimed[key] += 1
        try:
            yield out
        finally:
            _claimed[key] -= 1
        return
    check_writable(out)
    lock_path = out / LOCK_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise OutDirError(f"--out {out}: cannot write {lock_path}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise OutDirBusy(
                f"--out {out} is in use by another rehearsal (process {holder}); "
                "wait for it to finish or pass another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{socket.gethostname()}:{os.getpid()}\n".encode(), 0)
        _claimed[key] = 1
        try:
            yield out
        finally:
            del _claimed[key]
    finally:
        os.close(fd)  # releases the lock


def free_dead_lease(store: ReleaseStore) -> str | None:
    """Free the store's lease when its holder was a process of this host that is gone; its holder if so.

    Only for a store the caller owns exclusively (the rehearsal's, under its claimed `--out`): a run
    killed mid-release leaves its lease live for up to two minutes, which would make the next run
    busy for nothing. A holder that is alive, or of another host, is left alone (BusyError then).
    """
    lease = store.lease()
    if lease is None or not lease.live(store.clock.now()):
        return None
    host, _, rest = lease.holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid == os.getpid() or is_alive(pid):
        return None
    key = store.keys.lock(store.service)
    free = Lease("", lease.acquired_at, store.clock.now(), 0.0)
    try:
        blob = store.blobs.get(key)
        if blob is None or Lease.from_json(blob.data, key) != lease:
            return None  # changed meanwhile: the store's own rules decide
        store.blobs.replace(key, free.to_json(), blob.etag)
    except StoreError:  # includes PreconditionFailed; taking the lease then reports what holds it
        return None
    return lease.holder
