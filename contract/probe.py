"""The pre-traffic probe: one HTTP(S) GET against a service's test URL, judged, with the reason when
it cannot be made. Standard library only, and no imports from this project.

The same file runs in two places. The release driver calls `probe()` in-process when the test
listener is reachable from where the driver runs. The stack also deploys this file as a Lambda
function inside the VPC (`components/probe.py`, handler `probe.handler`), which the driver invokes
when the test listener is open only to the VPC: the request and the answer cross as JSON
(`ProbeRequest.to_event`, `ProbeAnswer.to_dict`).

A burst (`Burst`, `burst()`) is the same GET repeated: bounded synthetic load whose every answer is
timed by the sender, for the driver's synthetic bake and its probes during a bake. An event with a
`burst` member asks for one.

The request connects to the URL's host and port but sends `host_name` as both the Host header and
the TLS server name (SNI), and verifies the certificate against `host_name`: an ACM certificate
covers the service's domain, never the load balancer's `*.elb.amazonaws.com` name.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

PROBE_FORMAT = 1
"""Version of the event and answer; the handler refuses an event of another format."""
MAX_ATTEMPTS = 10
MAX_TIMEOUT_SECONDS = 60.0
BODY_BYTES = 65536
"""How much of the body `body_pattern` is matched against."""
MAX_BURST_REQUESTS = 5000
MAX_BURST_SECONDS = 60.0
"""A burst inside the probe function must end well within its timeout (default 90 s)."""
MAX_CONCURRENCY = 64
"""Requests of a burst in flight at a time: one thread each, blocked on the network, a few hundred
KB of memory together, well inside the function's 128 MB (the driver's default is 16)."""


class ProbeInputError(ValueError):
    """An event or request the probe cannot run; `key` names the offending field."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class ProbeRequest:
    """GET `url`; pass on `expected_status` and, when given, a body matching `body_pattern`."""

    url: str
    host_name: str | None = None
    """Host header and TLS server name; None: the URL's own host."""
    expected_status: int = 200
    body_pattern: str | None = None
    timeout_seconds: float = 5.0
    """For the connection and for the answer, each attempt."""
    attempts: int = 3
    """A target that just became healthy may refuse the first connection."""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url) if isinstance(self.url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProbeInputError("url", f"must be an http(s) URL with a host, got {self.url!r}")
        if self.host_name is not None and (
            not isinstance(self.host_name, str) or not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", self.host_name)
        ):
            raise ProbeInputError("hostName", f"must be a DNS name, got {self.host_name!r}")
        if isinstance(self.expected_status, bool) or not isinstance(self.expected_status, int):
            raise ProbeInputError("expectedStatus", f"must be an HTTP status, got {self.expected_status!r}")
        if not 100 <= self.expected_status <= 599:
            raise ProbeInputError("expectedStatus", f"must be an HTTP status, got {self.expected_status}")
        if self.body_pattern is not None:
            try:
                re.compile(self.body_pattern)
            except (re.error, TypeError) as exc:
                raise ProbeInputError("bodyPattern", f"not a regular expression: {exc}") from None
        timeout = self.timeout_seconds
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT_SECONDS:
            raise ProbeInputError("timeoutSeconds", f"must be in (0, {MAX_TIMEOUT_SECONDS:g}], got {timeout!r}")
        if (
            isinstance(self.attempts, bool)
            or not isinstance(self.attempts, int)
            or not 1 <= self.attempts <= MAX_ATTEMPTS
        ):
            raise ProbeInputError("attempts", f"must be 1..{MAX_ATTEMPTS}, got {self.attempts!r}")

    @property
    def server_name(self) -> str:
        """The name sent as Host and SNI, and the certificate must cover."""
        return self.host_name or str(urlsplit(self.url).hostname)

    def describe(self) -> str:
        shown = f"GET {self.url}"
        return f"{shown} as {self.host_name}" if self.host_name else shown

    def to_event(self) -> dict[str, Any]:
        return {
            "format": PROBE_FORMAT,
            "url": self.url,
            "hostName": self.host_name,
            "expectedStatus": self.expected_status,
            "bodyPattern": self.body_pattern,
            "timeoutSeconds": self.timeout_seconds,
            "attempts": self.attempts,
        }

    @classmethod
    def from_event(cls, event: Any) -> ProbeRequest:
        if not isinstance(event, Mapping):
            raise ProbeInputError("event", f"must be a JSON object, got {type(event).__name__}")
        if event.get("format") != PROBE_FORMAT:
            raise ProbeInputError("format", f"this probe reads format {PROBE_FORMAT}, got {event.get('format')!r}")
        known = {"format", "url", "hostName", "expectedStatus", "bodyPattern", "timeoutSeconds", "attempts", "burst"}
        unknown = sorted(set(event) - known)
        if unknown:
            raise ProbeInputError(unknown[0], "unknown field")
        return cls(
            url=event.get("url"),  # type: ignore[arg-type]
            host_name=event.get("hostName"),
            expected_status=event.get("expectedStatus", 200),
            body_pattern=event.get("bodyPattern"),
            timeout_seconds=event.get("timeoutSeconds", 5.0),
            attempts=event.get("attempts", 3),
        )


@dataclass(frozen=True)
class ProbeAnswer:
    """The verdict; `detail` says what was seen or why no answer came."""

    passed: bool
    detail: str
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"format": PROBE_FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Any) -> ProbeAnswer:
        if not isinstance(data, Mapping) or not isinstance(data.get("passed"), bool):
            raise ProbeInputError("answer", f"not a probe answer: {data!r}")
        status = data.get("status")
        return cls(
            passed=data["passed"],
            detail=str(data.get("detail", "")),
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        )


class _Connection(http.client.HTTPSConnection):
    """HTTPS to the URL's address, with `server_name` as SNI and the name the certificate must cover."""

    def __init__(self, host: str, port: int, *, server_name: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._server_name = server_name
        self._tls_context = context

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls_context.wrap_socket(self.sock, server_hostname=self._server_name)


class _Unreachable(Exception):
    """No HTTP answer; the message says why."""


def _connection(request: ProbeRequest) -> http.client.HTTPConnection:
    parts = urlsplit(request.url)
    host = str(parts.hostname)
    if parts.scheme == "https":
        return _Connection(
            host,
            parts.port or 443,
            server_name=request.server_name,
            timeout=request.timeout_seconds,
            context=ssl.create_default_context(),
        )
    return http.client.HTTPConnection(host, parts.port or 80, timeout=request.timeout_seconds)


def _connect(conn: http.client.HTTPConnection, request: ProbeRequest) -> None:
    parts = urlsplit(request.url)
    where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    seconds = f"{request.timeout_seconds:g}s"
    try:
        conn.connect()
    except socket.gaierror as exc:
        raise _Unreachable(f"cannot resolve {parts.hostname}: {exc.strerror or exc}") from None
    except ssl.SSLCertVerificationError as exc:
        raise _Unreachable(
            f"TLS: the certificate at {where} is not valid for {request.server_name} ({exc.verify_message}); "
            "send the name the certificate covers (the service's host name)"
        ) from None
    except ssl.SSLError as exc:
        raise _Unreachable(f"TLS handshake with {where} as {request.server_name} failed: {exc.reason or exc}") from None
    except ConnectionRefusedError:
        raise _Unreachable(f"{where} refused the connection: nothing listens there") from None
    except TimeoutError:
        raise _Unreachable(
            f"no answer from {where} within {seconds}: a firewall or security group drops the connection "
            "(a test listener open only to the VPC cannot be reached from outside it)"
        ) from None
    except OSError as exc:
        raise _Unreachable(f"cannot connect to {where}: {exc.strerror or exc}") from None


def _get(request: ProbeRequest) -> tuple[int, str]:
    conn = _connection(request)
    try:
        _connect(conn, request)
        parts = urlsplit(request.url)
        default_port = 443 if parts.scheme == "https" else 80
        host = request.server_name + (f":{parts.port}" if parts.port and parts.port != default_port else "")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", path, headers={"Host": host, "User-Agent": "zero-downtime-probe/1"})
            resp = conn.getresponse()
            body = resp.read(BODY_BYTES).decode("utf-8", "replace")
        except TimeoutError:
            raise _Unreachable(f"connected, but no response within {request.timeout_seconds:g}s") from None
        except (http.client.HTTPException, OSError) as exc:
            raise _Unreachable(f"connected, but the answer broke off: {exc.__class__.__name__}: {exc}") from None
        return resp.status, body
    finally:
        conn.close()


def probe(request: ProbeRequest, *, pause: Callable[[float], None] = time.sleep) -> ProbeAnswer:
    """Up to `request.attempts` GETs, one second apart; the first that passes wins."""
    detail = ""
    status: int | None = None
    for attempt in range(request.attempts):
        if attempt:
            pause(1.0)
        try:
            status, body = _get(request)
        except _Unreachable as exc:
            detail, status = str(exc), None
            continue
        if status != request.expected_status:
            detail = f"status {status}, expected {request.expected_status}"
            continue
        if request.body_pattern and not re.search(request.body_pattern, body):
            detail = f"status {status}, but the body does not match /{request.body_pattern}/"
            continue
        return ProbeAnswer(True, f"status {status}", status)
    tries = f" (after {request.attempts} attempts)" if request.attempts > 1 else ""
    return ProbeAnswer(False, detail + tries, status)


@dataclass(frozen=True)
class Burst:
    """Up to `requests` single-attempt GETs over at most `seconds`, `concurrency` at a time."""

    requests: int
    seconds: float
    concurrency: int = 4

    def __post_init__(self) -> None:
        for key, value, top in (
            ("requests", self.requests, MAX_BURST_REQUESTS),
            ("concurrency", self.concurrency, MAX_CONCURRENCY),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise ProbeInputError(f"burst.{key}", f"must be 1..{top}, got {value!r}")
        seconds = self.seconds
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= MAX_BURST_SECONDS:
            raise ProbeInputError("burst.seconds", f"must be in (0, {MAX_BURST_SECONDS:g}], got {seconds!r}")

    def to_event(self) -> dict[str, Any]:
        return {"requests": self.requests, "seconds": self.seconds, "concurrency": self.concurrency}

    @classmethod
    def from_event(cls, data: Any) -> Burst:
        if not isinstance(data, Mapping):
            raise ProbeInputError("burst", f"must be an object, got {type(data).__name__}")
        unknown = sorted(set(data) - {"requests", "seconds", "concurrency"})
        if unknown:
            raise ProbeInputError(f"burst.{unknown[0]}", "unknown field")
        return cls(data.get("requests"), data.get("seconds"), data.get("concurrency", 4))  # type: ignore[arg-type]


@dataclass(frozen=True)
class BurstAnswer:
    """What a burst got: one status per request sent (0: no HTTP answer) and its seconds."""

    statuses: tuple[int, ...]
    latencies: tuple[float, ...]
    detail: str = ""
    """The first failure seen, for the report."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROBE_FORMAT,
            "statuses": list(self.statuses),
            "latencies": [round(x, 4) for x in self.latencies],
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Any) -> BurstAnswer:
        if not isinstance(data, Mapping):
            raise ProbeInputError("answer", f"not a burst answer: {data!r}"[:200])
        statuses, latencies = data.get("statuses"), data.get("latencies")
        if (
            not isinstance(statuses, list)
            or not isinstance(latencies, list)
            or len(statuses) != len(latencies)
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in statuses)
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in latencies)
        ):
            raise ProbeInputError("answer", f"not a burst answer: {data!r}"[:200])
        return cls(tuple(statuses), tuple(float(x) for x in latencies), str(data.get("detail", "")))


def burst(request: ProbeRequest, shape: Burst, *, clock: Callable[[], float] = time.monotonic) -> BurstAnswer:
    """Send `shape.requests` GETs (one attempt each) until they are all answered or `shape.seconds`
    passed; a request still running then is waited for (its own timeout bounds it) and counted."""
    deadline = clock() + shape.seconds
    lock = threading.Lock()
    taken = [0]
    statuses: list[int] = []
    latencies: list[float] = []
    details: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                if taken[0] >= shape.requests or clock() >= deadline:
                    return
                taken[0] += 1
            started = clock()
            try:
                status, _ = _get(request)
            except _Unreachable as exc:
                status = 0
                with lock:
                    details.append(str(exc))
            with lock:
                statuses.append(status)
                latencies.append(clock() - started)

    with ThreadPoolExecutor(max_workers=shape.concurrency, thread_name_prefix="burst") as pool:
        for _ in range(shape.concurrency):
            pool.submit(worker)
    failed = next((f"status {s}" for s in statuses if s >= 500), "")
    return BurstAnswer(tuple(statuses), tuple(latencies), details[0] if details else failed)


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """Lambda entry point: a `ProbeRequest.to_event()` in, a `ProbeAnswer.to_dict()` out; with a
    `burst` member, a `BurstAnswer.to_dict()` out.

    A bad event is answered, not raised: `passed` false and the offending field in `detail`.
    """
    try:
        request = ProbeRequest.from_event(event)
        shape = Burst.from_event(event["burst"]) if "burst" in event else None
    except ProbeInputError as exc:
        return ProbeAnswer(False, f"bad probe event: {exc}").to_dict()
    if shape is not None:
        got = burst(request, shape)
        errors = sum(1 for s in got.statuses if s == 0 or s >= 500)
        print(json.dumps({"burst": request.describe(), "sent": len(got.statuses), "errors": errors}))
        return got.to_dict()
    answer = probe(request)
    print(json.dumps({"probe": request.describe(), **answer.to_dict()}))  # CloudWatch Logs line
    return answer.to_dict()
