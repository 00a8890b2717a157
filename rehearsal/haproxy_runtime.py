"""Client for HAProxy's runtime API (the admin stats socket): weights, addresses, `show stat`."""

from __future__ import annotations

import csv
import io
import socket
from dataclasses import dataclass

from ..driver.core.errors import PortError


class RuntimeApiError(PortError):
    """HAProxy refused a command or its socket did not answer."""


@dataclass(frozen=True)
class ServerStat:
    """One server row of `show stat`."""

    backend: str
    name: str
    status: str  # UP, DOWN, MAINT, DRAIN, "UP 1/2", "no check", ...
    weight: int
    responses_by_class: dict[str, int]  # "1xx".."5xx", "other"
    sessions_total: int
    check_status: str
    address: str
    current_sessions: int = 0  # requests in flight on this server now (`scur`)

    @property
    def responses(self) -> int:
        return sum(self.responses_by_class.values())

    @property
    def errors_5xx(self) -> int:
        return self.responses_by_class.get("5xx", 0)

    @property
    def is_up(self) -> bool:
        return self.status.startswith("UP")


class RuntimeApi:
    """One command per connection (HAProxy's non-interactive mode): send, read until EOF."""

    def __init__(self, socket_path: str, timeout_seconds: float = 2.0) -> None:
        self.socket_path = socket_path
        self.timeout_seconds = timeout_seconds

    def command(self, line: str) -> str:
        if "\n" in line or ";" in line:
            raise ValueError(f"one command per call, got {line!r}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout_seconds)
                sock.connect(self.socket_path)
                sock.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise RuntimeApiError(f"HAProxy runtime API {self.socket_path}: {exc}") from exc
        return b"".join(chunks).decode(errors="replace")

    def _set(self, line: str, success_marks: tuple[str, ...] = ()) -> None:
        # The runtime API has no status codes: `set weight`/`set state` answer nothing on
        # success, `set addr` answers a sentence saying what changed.
        answer = self.command(line).strip()
        if answer and not any(mark in answer for mark in success_marks):
            raise RuntimeApiError(f"HAProxy refused {line!r}: {answer}")

    def set_weight(self, backend: str, server: str, weight: int) -> None:
        if not 0 <= weight <= 256:
            raise ValueError(f"HAProxy server weight must be 0-256, got {weight}")
        self._set(f"set server {backend}/{server} weight {weight}")

    def set_address(self, backend: str, server: str, host: str, port: int) -> None:
        self._set(
            f"set server {backend}/{server} addr {host} port {port}",
            success_marks=("changed from", "no need to change"),
        )

    def set_state(self, backend: str, server: str, state: str) -> None:
        if state not in ("ready", "drain", "maint"):
            raise ValueError(f"state must be ready, drain or maint, got {state!r}")
        self._set(f"set server {backend}/{server} state {state}")

    def set_map_entry(self, map_path: str, key: str, value: str) -> None:
        """Point `key` of a runtime map at `value` (added when absent); no reload."""
        for arg in (map_path, key, value):
            if not arg or any(c.isspace() for c in arg):
                raise ValueError(f"map path, key and value must be non-empty words, got {arg!r}")
        answer = self.command(f"set map {map_path} {key} {value}").strip()
        if "not found" in answer.lower():
            answer = self.command(f"add map {map_path} {key} {value}").strip()
        if answer:
            raise RuntimeApiError(f"HAProxy refused to map {key} to {value} in {map_path}: {answer}")

    def show_map(self, map_path: str) -> dict[str, str]:
        """The entries of a runtime map, key -> value."""
        entries: dict[str, str] = {}
        for line in self.command(f"show map {map_path}").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0].startswith("0x"):  # "<ref> <key> <value>"
                entries[parts[1]] = parts[2]
        return entries

    def show_stat(self, backend: str) -> dict[str, ServerStat]:
        """Server rows of `backend`, by server name."""
        text = self.command("show stat")
        if not text.startswith("# "):
            raise RuntimeApiError(f"unexpected `show stat` answer: {text[:120]!r}")
        rows = csv.DictReader(io.StringIO(text[2:]))
        servers: dict[str, ServerStat] = {}
        for row in rows:
            if row.get("pxname") != backend or row.get("svname") in ("FRONTEND", "BACKEND"):
                continue
            by_class = {cls: int(row.get(f"hrsp_{cls}") or 0) for cls in ("1xx", "2xx", "3xx", "4xx", "5xx", "other")}
            servers[row["svname"]] = ServerStat(
                backend=backend,
                name=row["svname"],
                status=row.get("status", ""),
                weight=int(row.get("weight") or 0),
                responses_by_class=by_class,
                sessions_total=int(row.get("stot") or 0),
                check_status=row.get("check_status", ""),
                address=row.get("addr", ""),
                current_sessions=int(row.get("scur") or 0),
            )
        return servers
