"""moto in server mode on 127.0.0.1, as strict as S3 about conditional writes.

moto (5.2.5, `s3/responses.py`) checks `If-None-Match: *` / `If-Match` and then writes, without a
lock, on a threaded server: two concurrent create-only writes of one key can both succeed (a fresh-
clone CI run under load saw 2 winners of 6). S3 itself decides a conditional write atomically, and
the release store relies on it. So the tests' moto runs every request that may write one at a
time; reads stay concurrent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

READS = frozenset({"GET", "HEAD"})


class AtomicWritesMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        writes = threading.Lock()

        def one_write_at_a_time(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            if environ.get("REQUEST_METHOD") in READS:
                return app(environ, start_response)  # type: ignore[no-any-return]
            with writes:
                return list(app(environ, start_response))

        self._server = make_server(
            self._ip_address, self._port, one_write_at_a_time, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


def start_moto() -> AtomicWritesMotoServer:
    """A started server on 127.0.0.1 and a free port; `stop()` it."""
    server = AtomicWritesMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server
