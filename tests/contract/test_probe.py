"""The pre-traffic probe against real sockets on 127.0.0.1: a TLS server whose certificate covers a
service host name (not the address it listens on), a port that refuses, one that drops, one that
never answers. The same module runs in the probe Lambda, so this is also the Lambda's test.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from zero_downtime.contract.probe import (
    PROBE_FORMAT,
    ProbeAnswer,
    ProbeInputError,
    ProbeRequest,
    handler,
    probe,
)

SERVICE_HOST = "shop.example.test"


def _no_pause(_: float) -> None:
    return None


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(CA bundle, server certificate, server key): the certificate covers SERVICE_HOST only."""
    tmp = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)
    ca_key, leaf_key = _key(), _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVICE_HOST)]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVICE_HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    bundle, cert, key = tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"
    bundle.write_bytes(_pem(ca))
    cert.write_bytes(_pem(leaf))
    key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return bundle, cert, key


@dataclass
class Seen:
    """What the server received: TLS server names and Host headers, in order."""

    server_names: list[str | None] = field(default_factory=list)
    hosts: list[str | None] = field(default_factory=list)
    status: int = 200
    body: bytes = b'{"status":"ok","version":"2.0.0"}'


@dataclass(frozen=True)
class Server:
    port: int
    seen: Seen


def _serve(httpd: http.server.HTTPServer) -> Iterator[None]:
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _handler_class(seen: Seen) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.hosts.append(self.headers.get("Host"))
            self.send_response(seen.status)
            self.send_header("Content-Length", str(len(seen.body)))
            self.end_headers()
            self.wfile.write(seen.body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


@pytest.fixture
def tls_server(certificates: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    bundle, cert, key = certificates
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # the probe trusts the test CA, as Lambda trusts ACM's
    seen = Seen()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: seen.server_names.append(name)  # type: ignore[assignment,func-returns-value]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(seen))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    for _ in _serve(httpd):
        yield Server(httpd.server_address[1], seen)


@pytest.fixture
def plain_server() -> Iterator[Server]:
    seen = Seen()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(seen))
    for _ in _serve(httpd):
        yield Server(httpd.server_address[1], seen)


def test_https_sends_the_service_host_name_as_sni_and_host_and_verifies_the_certificate(tls_server: Server) -> None:
    # The URL's host is an address the certificate does not cover, as an ALB's DNS name is not.
    answer = probe(ProbeRequest(f"https://127.0.0.1:{tls_server.port}/health", host_name=SERVICE_HOST))
    assert answer == ProbeAnswer(True, "status 200", 200)
    assert tls_server.seen.server_names == [SERVICE_HOST]
    assert tls_server.seen.hosts == [f"{SERVICE_HOST}:{tls_server.port}"]


def test_https_without_the_host_name_says_the_certificate_does_not_cover_the_address(tls_server: Server) -> None:
    answer = probe(ProbeRequest(f"https://127.0.0.1:{tls_server.port}/health", attempts=1))
    assert not answer.passed
    assert "certificate" in answer.detail and "not valid for 127.0.0.1" in answer.detail
    assert answer.status is None
    assert tls_server.seen.hosts == []  # no request was sent over an unverified connection


def test_status_and_body_are_judged(tls_server: Server) -> None:
    url = f"https://127.0.0.1:{tls_server.port}/health"
    assert probe(ProbeRequest(url, host_name=SERVICE_HOST, body_pattern=r'"version":"2\.')).passed
    mismatch = probe(ProbeRequest(url, host_name=SERVICE_HOST, body_pattern=r"v[a-z]+3", attempts=1))
    assert not mismatch.passed and mismatch.detail == "status 200, but the body does not match /v[a-z]+3/"
    tls_server.seen.status = 503
    failed = probe(ProbeRequest(url, host_name=SERVICE_HOST, attempts=2), pause=_no_pause)
    assert failed == ProbeAnswer(False, "status 503, expected 200 (after 2 attempts)", 503)
    assert len(tls_server.seen.hosts) == 4


def test_plain_http_sends_the_host_header(plain_server: Server) -> None:
    answer = probe(
        ProbeRequest(f"http://127.0.0.1:{plain_server.port}/api/health?deep=1", host_name="api.example.test")
    )
    assert answer.passed
    assert plain_server.seen.hosts == [f"api.example.test:{plain_server.port}"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_closed_port_is_reported_as_refused() -> None:
    port = _free_port()
    answer = probe(ProbeRequest(f"http://127.0.0.1:{port}/", attempts=1))
    assert not answer.passed
    assert answer.detail == f"127.0.0.1:{port} refused the connection: nothing listens there"


def test_a_dropped_connection_says_a_firewall_drops_it() -> None:
    # A listener that never accepts, its backlog full: further SYNs are dropped, as a security
    # group drops them for a source outside the test listener's CIDRs.
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            fillers.append(filler)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        answer = probe(ProbeRequest(f"http://127.0.0.1:{port}/", timeout_seconds=0.5, attempts=1))
    finally:
        for s in [*fillers, listener]:
            s.close()
    assert not answer.passed
    assert answer.detail.startswith(f"no answer from 127.0.0.1:{port} within 0.5s")
    assert "security group" in answer.detail


def test_a_listener_that_never_answers_is_told_apart_from_one_that_drops() -> None:
    listener = socket.socket()
    accepted: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        taker = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
        taker.start()
        answer = probe(ProbeRequest(f"http://127.0.0.1:{port}/", timeout_seconds=0.5, attempts=1))
        taker.join(timeout=5)
    finally:
        for s in [*accepted, listener]:
            s.close()
    assert answer == ProbeAnswer(False, "connected, but no response within 0.5s", None)


def test_an_unresolvable_name_says_so() -> None:
    answer = probe(ProbeRequest("http://nothing-here.invalid/", attempts=1))
    assert not answer.passed and answer.detail.startswith("cannot resolve nothing-here.invalid")


def test_a_later_attempt_can_pass(plain_server: Server) -> None:
    pauses: list[float] = []
    plain_server.seen.status = 502
    request = ProbeRequest(f"http://127.0.0.1:{plain_server.port}/", attempts=3)

    def recover(seconds: float) -> None:
        pauses.append(seconds)
        plain_server.seen.status = 200

    assert probe(request, pause=recover).passed
    assert pauses == [1.0] and len(plain_server.seen.hosts) == 2


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"url": "ftp://x/"}, "url"),
        ({"url": "https:///nohost"}, "url"),
        ({"url": 7}, "url"),
        ({"hostName": "shop example"}, "hostName"),
        ({"hostName": "a" * 254}, "hostName"),
        ({"expectedStatus": "200"}, "expectedStatus"),
        ({"expectedStatus": True}, "expectedStatus"),
        ({"expectedStatus": 700}, "expectedStatus"),
        ({"bodyPattern": "(["}, "bodyPattern"),
        ({"timeoutSeconds": 0}, "timeoutSeconds"),
        ({"timeoutSeconds": float("inf")}, "timeoutSeconds"),
        ({"attempts": 0}, "attempts"),
        ({"attempts": 11}, "attempts"),
        ({"format": 2}, "format"),
        ({"shell": "rm -rf /"}, "shell"),
    ],
)
def test_the_handler_answers_a_bad_event_naming_the_field(change: dict, key: str) -> None:
    event = {**ProbeRequest("https://alb.example.test:9443/health").to_event(), **change}
    answer = handler(event)
    assert answer["passed"] is False
    assert answer["detail"].startswith(f"bad probe event: {key}: ")
    json.dumps(answer)


def test_the_handler_refuses_an_event_that_is_not_an_object() -> None:
    assert handler(["url"])["detail"] == "bad probe event: event: must be a JSON object, got list"


def test_the_handler_runs_the_event_and_answers_json(plain_server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    request = ProbeRequest(f"http://127.0.0.1:{plain_server.port}/health", host_name="web.example.test", attempts=1)
    answer = handler(json.loads(json.dumps(request.to_event())))
    assert answer == {"format": PROBE_FORMAT, "passed": True, "detail": "status 200", "status": 200}
    logged = json.loads(capsys.readouterr().out)
    assert logged["probe"] == f"GET http://127.0.0.1:{plain_server.port}/health as web.example.test"


def test_event_round_trip_keeps_every_field() -> None:
    request = ProbeRequest(
        "https://alb:9443/x", host_name="a.example.test", expected_status=204, body_pattern="ok", timeout_seconds=2.5
    )
    assert ProbeRequest.from_event(request.to_event()) == request


def test_an_answer_that_is_not_one_is_refused() -> None:
    with pytest.raises(ProbeInputError) as caught:
        ProbeAnswer.from_dict({"errorMessage": "Task timed out"})
    assert caught.value.key == "answer"
    assert ProbeAnswer.from_dict({"passed": False, "detail": "x", "status": True}).status is None
