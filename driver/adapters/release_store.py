"""The release store of one stack + service: its journal, its lease lock and its release state.

Built on the store's blobs (zero_downtime.store: S3 with conditional writes, or local files), with
the layout and formats of `zero_downtime.contract.release_state`.

- **Journal.** One object per record, `journal/<service>/<release>/<seq>.json`, created only if
  absent: the sequence number is a fencing token, so two drivers can never both write record N.
  The loser stops (FencedOut) without acting. A record that cannot be read (a partial or damaged
  object) is skipped and reported; the next record takes the next free number, so it never blocks
  a later command.
- **Lease.** `locks/<service>.json` names the holder, when it took the lease, when it last renewed
  it and when it expires. A heartbeat thread renews it every third of the lease while the driver
  holds it, also through a long `up` or health wait; released by marking it free. A dead holder's
  lease is taken over only once it has expired. Reading status never takes it.
- **Release state.** `state/services/<service>.json` and `state/fleets/<fleet>.json`, replaced only
  if unchanged since read: what the stack program applies on every `up`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ...contract import ContractError
from ...contract.release_state import (
    FORMAT,
    FlagSetState,
    FleetState,
    ServiceState,
    StoreKeys,
    decode_flag_set_state,
    decode_fleet_state,
    decode_service_state,
)
from ...store import Blob, Blobs, PreconditionFailed, StoreError
from ..core.errors import BusyError, FencedOut, InputError, JournalError
from ..core.ports import Clock
from ..core.status import Record

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 120.0


def holder_id() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is a new holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Lease:
    holder: str
    acquired_at: float
    renewed_at: float
    expires_at: float

    @property
    def free(self) -> bool:
        return not self.holder

    def live(self, now: float) -> bool:
        return not self.free and now < self.expires_at

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format": FORMAT,
                "kind": "lock",
                "holder": self.holder,
                "acquiredAt": self.acquired_at,
                "renewedAt": self.renewed_at,
                "expiresAt": self.expires_at,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Lease:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT or doc.get("kind") != "lock":
                raise ValueError(f"not a format {FORMAT} lock")
            return cls(
                holder=str(doc["holder"]),
                acquired_at=float(doc["acquiredAt"]),
                renewed_at=float(doc["renewedAt"]),
                expires_at=float(doc["expiresAt"]),
            )
        except (ValueError, KeyError, TypeError):
            # An unreadable lock must not wedge the service forever: it counts as expired.
            log.warning("%s: unreadable lock, treated as expired", where)
            return cls(holder="(unreadable)", acquired_at=0.0, renewed_at=0.0, expires_at=0.0)


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class ReleaseStore:
    """Journal (the machine's port), lease and release state of one stack + service."""

    def __init__(
        self,
        blobs: Blobs,
        project: str,
        stack: str,
        service: str,
        clock: Clock,
        *,
        holder: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self.blobs = blobs
        self.project = project
        self.stack = stack
        self.service = service
        self.clock = clock
        self.holder = holder or holder_id()
        self.lease_seconds = lease_seconds
        try:
            self.keys = StoreKeys(project, stack)
            self.keys.lock(service)
        except ContractError as exc:
            raise InputError(exc.key, exc.problem) from None
        self.skipped: list[str] = []
        """Records that could not be read, as `key: why` (shown by `status` and `history`)."""
        self._lease_etag: str | None = None
        self._lease: Lease | None = None
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self._fenced: str | None = None
        self._state_etags: dict[str, str | None] = {}

    @property
    def location(self) -> str:
        return f"{self.blobs.url}/{self.keys.root}"

    # -- journal (the machine's Journal port) -----------------------------------------------------------
    def append(self, record: Record) -> None:
        key = self.keys.record(self.service, record.status.release_id, record.seq)
        data = json.dumps(record.to_dict(), sort_keys=True, default=str).encode()
        try:
            self.blobs.create(key, data)
        except PreconditionFailed:
            if self._ours(key, data):  # a retried create whose first answer was lost: it is ours
                return
            raise FencedOut(
                f"record {record.seq} of release {record.status.release_id} was already written by another "
                f"driver ({self.blobs.url}/{key}); this driver stops without acting"
            ) from None
        except StoreError as exc:
            raise JournalError(f"cannot write the journal: {exc}") from None

    def _ours(self, key: str, data: bytes) -> bool:
        existing = self._get(key)
        return existing is not None and existing.data == data

    def _record_keys(self, release_id: str) -> list[tuple[int, str]]:
        prefix = f"{self.keys.journal(self.service)}{release_id}/"
        found: list[tuple[int, str]] = []
        for key in self._list(prefix):
            name = key[len(prefix) :]
            if "/" in name or not name.endswith(".json") or not name[:-5].isdigit():
                continue
            found.append((int(name[:-5]), key))
        return sorted(found)

    def _read(self, seq: int, key: str) -> Record | None:
        blob = self._get(key)
        if blob is None:
            return None
        where = f"{self.blobs.url}/{key}"
        try:
            record = Record.from_dict(json.loads(blob.data.decode("utf-8")), where)
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._skip(where, "not a JSON record (partial or damaged)")
            return None
        except JournalError as exc:
            self._skip(where, str(exc).removeprefix(f"{where}: "))
            return None
        if record.seq != seq:
            self._skip(where, f"holds seq {record.seq}, its name says {seq}")
            return None
        return record

    def _skip(self, where: str, why: str) -> None:
        line = f"{where}: {why}; skipped"
        if line not in self.skipped:
            self.skipped.append(line)
            log.warning("%s", line)

    def records(self, release_id: str) -> list[Record]:
        out = [self._read(seq, key) for seq, key in self._record_keys(release_id)]
        return [r for r in out if r is not None]

    def next_seq(self, release_id: str) -> int:
        """The first free record number (after any unreadable record too)."""
        keys = self._record_keys(release_id)
        return keys[-1][0] + 1 if keys else 0

    def release_ids(self) -> list[str]:
        """Every release of the service, oldest first (ids start with their UTC start time)."""
        prefix = self.keys.journal(self.service)
        ids = {key[len(prefix) :].split("/", 1)[0] for key in self._list(prefix) if "/" in key[len(prefix) :]}
        return sorted(ids, key=_start_order)

    def last(self, release_id: str | None = None) -> Record | None:
        ids = [release_id] if release_id else list(reversed(self.release_ids()))
        for rid in ids:
            for seq, key in reversed(self._record_keys(rid)):
                record = self._read(seq, key)
                if record is not None:
                    return record
        return None

    # -- abort requests -----------------------------------------------------------------------------------
    def request_abort(self, release_id: str, reason: str) -> None:
        doc = {"format": FORMAT, "kind": "abort", "releaseId": release_id, "reason": reason, "at": self.clock.now()}
        try:
            self.blobs.put(self.keys.abort(self.service), json.dumps(doc).encode())
        except StoreError as exc:
            raise JournalError(f"cannot write the abort request: {exc}") from None

    def abort_requested(self, release_id: str) -> str | None:
        blob = self._get(self.keys.abort(self.service))
        if blob is None:
            return None
        try:
            doc = json.loads(blob.data)
        except ValueError:
            return None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("releaseId") != release_id:
            return None
        return str(doc.get("reason") or "abort requested")

    def clear_abort(self) -> None:
        try:
            self.blobs.delete(self.keys.abort(self.service))
        except StoreError as exc:
            raise JournalError(f"cannot clear the abort request: {exc}") from None

    # -- lease ----------------------------------------------------------------------------------------------
    def lease(self) -> Lease | None:
        """The lease as the store has it now (None: never taken). Takes nothing."""
        blob = self._get(self.keys.lock(self.service))
        return None if blob is None else Lease.from_json(blob.data, f"{self.blobs.url}/{self.keys.lock(self.service)}")

    def held(self) -> bool:
        """True while some driver holds an unexpired lease on the service."""
        lease = self.lease()
        return lease is not None and lease.live(self.clock.now())

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lease for the block; BusyError at once when another driver holds it."""
        self._acquire()
        try:
            yield
        finally:
            self._release()

    def _acquire(self) -> None:
        key = self.keys.lock(self.service)
        now = self.clock.now()
        mine = Lease(self.holder, now, now, now + self.lease_seconds)
        try:
            try:
                self._lease_etag = self.blobs.create(key, mine.to_json())
            except PreconditionFailed:
                current = self._get(key)
                if current is not None and current.data == mine.to_json():  # our retried create
                    self._lease_etag = current.etag
                elif current is None:  # released and removed meanwhile: one more try
                    self._lease_etag = self.blobs.create(key, mine.to_json())
                else:
                    lease = Lease.from_json(current.data, f"{self.blobs.url}/{key}")
                    if lease.live(now):
                        raise BusyError(self._busy(lease)) from None
                    if not lease.free:
                        log.warning("taking over the expired lease of %s on %s", lease.holder, self.service)
                    self._lease_etag = self.blobs.replace(key, mine.to_json(), current.etag)
        except PreconditionFailed:
            raise BusyError(f"another driver took the lease of {self.target} at the same moment") from None
        except StoreError as exc:
            raise JournalError(f"cannot take the lease: {exc}") from None
        self._lease = mine
        self._start_heartbeat()

    def _start_heartbeat(self) -> None:
        """Renew the lease from a thread while it is held, so no single long step outlives it."""
        self._stop = threading.Event()
        self._fenced = None
        self._heartbeat = threading.Thread(target=self._beat, name=f"lease-{self.service}", daemon=True)
        self._heartbeat.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                self._renew(force=True)
            except FencedOut as exc:
                self._fenced = str(exc)
                return
            except JournalError as exc:  # the store is unreachable now: try again at the next beat
                log.warning("%s", exc)
            except BaseException:  # the driver is going down: nothing more to renew
                return

    @property
    def target(self) -> str:
        return f"{self.stack}/{self.service}"

    def _busy(self, lease: Lease) -> str:
        where = f"{self.blobs.url}/{self.keys.lock(self.service)}"
        return (
            f"another driver is working on {self.target}: {lease.holder} holds its lease until "
            f"{_when(lease.expires_at)} (renewed {_when(lease.renewed_at)}; {where})"
        )

    def keep_alive(self) -> None:
        """Renew the lease once a third of it has passed; FencedOut when another driver took it
        (here, or found by the heartbeat)."""
        if self._fenced:
            raise FencedOut(self._fenced)
        self._renew(force=False)

    def _renew(self, *, force: bool) -> None:
        with self._guard:
            if self._lease is None or self._lease_etag is None:
                return
            now = self.clock.now()
            if not force and now - self._lease.renewed_at < self.lease_seconds / 3:
                return
            renewed = Lease(self.holder, self._lease.acquired_at, now, now + self.lease_seconds)
            try:
                key = self.keys.lock(self.service)
                self._lease_etag = self.blobs.replace(key, renewed.to_json(), self._lease_etag)
            except PreconditionFailed:
                taken = self.lease()
                raise FencedOut(
                    f"the lease of {self.target} was taken over by {taken.holder if taken else 'nobody'} "
                    "while this driver ran; it stops without acting"
                ) from None
            except StoreError as exc:
                raise JournalError(f"cannot renew the lease: {exc}") from None
            self._lease = renewed

    def _release(self) -> None:
        self._stop.set()
        if self._heartbeat is not None and self._heartbeat is not threading.current_thread():
            self._heartbeat.join(timeout=10)
        self._heartbeat = None
        if self._lease is None or self._lease_etag is None:
            return
        free = Lease("", self._lease.acquired_at, self.clock.now(), 0.0)
        try:  # no heartbeat runs any more: the guard is not needed
            self.blobs.replace(self.keys.lock(self.service), free.to_json(), self._lease_etag)
        except PreconditionFailed:
            log.warning("the lease of %s was no longer ours at release", self.service)
        except StoreError as exc:
            log.warning("could not release the lease of %s (it expires by itself): %s", self.service, exc)
        finally:
            self._lease, self._lease_etag = None, None

    # -- release state ----------------------------------------------------------------------------------------
    def service_state(self) -> ServiceState | None:
        key = self.keys.service_state(self.service)
        blob = self._get(key)
        self._state_etags[key] = None if blob is None else blob.etag
        if blob is None:
            return None
        return self._decode(decode_service_state, blob, key)

    def write_service_state(self, state: ServiceState) -> None:
        self._write_state(self.keys.service_state(self.service), state.to_json())

    def fleet_state(self) -> FleetState | None:
        key = self.keys.fleet_state(self.service)
        blob = self._get(key)
        self._state_etags[key] = None if blob is None else blob.etag
        if blob is None:
            return None
        return self._decode(decode_fleet_state, blob, key)

    def write_fleet_state(self, state: FleetState) -> None:
        self._write_state(self.keys.fleet_state(self.service), state.to_json())

    def flag_set_state(self, flag_set: str) -> FlagSetState | None:
        key = self.keys.flag_set_state(flag_set)
        blob = self._get(key)
        self._state_etags[key] = None if blob is None else blob.etag
        if blob is None:
            return None
        return self._decode(decode_flag_set_state, blob, key)

    def write_flag_set_state(self, flag_set: str, state: FlagSetState) -> None:
        self._write_state(self.keys.flag_set_state(flag_set), state.to_json())

    def _decode(self, decode: Any, blob: Blob, key: str) -> Any:
        try:
            return decode(blob.data, f"{self.blobs.url}/{key}")
        except ContractError as exc:
            raise JournalError(f"release state {exc}") from None

    def _write_state(self, key: str, data: bytes) -> None:
        """Create, or replace the version last read or written here: another writer fences us out."""
        if key not in self._state_etags:
            self._get_state_etag(key)
        etag = self._state_etags[key]
        try:
            self._state_etags[key] = (
                self.blobs.create(key, data) if etag is None else self.blobs.replace(key, data, etag)
            )
        except PreconditionFailed:
            raise FencedOut(
                f"the release state {self.blobs.url}/{key} changed under this driver; another driver is "
                "writing it, so this one stops without acting"
            ) from None
        except StoreError as exc:
            raise JournalError(f"cannot write the release state: {exc}") from None

    def _get_state_etag(self, key: str) -> None:
        blob = self._get(key)
        self._state_etags[key] = None if blob is None else blob.etag

    # -- plumbing -----------------------------------------------------------------------------------------------
    def _get(self, key: str) -> Blob | None:
        try:
            return self.blobs.get(key)
        except StoreError as exc:
            raise JournalError(f"cannot read the release store: {exc}") from None

    def _list(self, prefix: str) -> list[str]:
        try:
            return self.blobs.list(prefix)
        except StoreError as exc:
            raise JournalError(f"cannot list the release store: {exc}") from None


def _start_order(release_id: str) -> tuple[str, str]:
    """Release ids are `<kind>-<UTC start, %Y%m%dT%H%M%S.%f>-<random>`: order by the time part."""
    parts = release_id.split("-")
    return (parts[1] if len(parts) >= 3 else "", release_id)


def live_leases(blobs: Blobs, keys: StoreKeys, now: float) -> dict[str, Lease]:
    """Service -> its lease, for every unexpired lease under one stack (takes nothing)."""
    found: dict[str, Lease] = {}
    try:
        for key in blobs.list(keys.locks):
            blob = blobs.get(key)
            if blob is None:
                continue
            lease = Lease.from_json(blob.data, f"{blobs.url}/{key}")
            if lease.live(now):
                found[key[len(keys.locks) :].removesuffix(".json")] = lease
    except StoreError as exc:
        raise JournalError(f"cannot read the leases: {exc}") from None
    return found
