"""What a synthetic request costs the sender: httpx (the rehearsal's sender before) against the
standard library's http.client (its sender now), 20 threads, 1,500 requests each, twice, against one
sample-app process on 127.0.0.1 that this script starts and stops. Prints requests/s and the
sender's CPU per request. Not a test: figures vary with the machine.

Usage: .venv/bin/python bench/synthetic_sender.py [--port 18931]
"""

from __future__ import annotations

import argparse
import http.client
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable

import httpx

HOST, N, C = "127.0.0.1", 1500, 20


def run(make_get: Callable[[], Callable[[], object]]) -> tuple[float, float]:
    """N requests from C threads, each with its own `make_get()`: (requests/s, sender CPU µs per request)."""
    taken = [0]
    lock = threading.Lock()

    def worker() -> None:
        get = make_get()
        while True:
            with lock:
                if taken[0] >= N:
                    return
                taken[0] += 1
            get()

    ts = [threading.Thread(target=worker) for _ in range(C)]
    t0 = time.perf_counter()
    c0 = time.process_time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return N / (time.perf_counter() - t0), (time.process_time() - c0) / N * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=18931, help="a free port on 127.0.0.1 for the app")
    port = parser.parse_args().port
    app = subprocess.Popen([sys.executable, "-m", "zero_downtime.app", "--port", str(port)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://{HOST}:{port}/work?user=s", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        client = httpx.Client(limits=httpx.Limits(max_connections=C, max_keepalive_connections=C))

        def hx() -> Callable[[], object]:
            return lambda: client.get(f"http://{HOST}:{port}/work", params={"user": "s"})

        def hc() -> Callable[[], object]:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)

            def get() -> object:
                conn.request("GET", "/work?user=s")
                return conn.getresponse().read()

            return get

        for name, make in (("httpx", hx), ("http.client", hc), ("httpx", hx), ("http.client", hc)):
            rate, cpu = run(make)
            print(f"{name:12s} {rate:7.0f} req/s   sender CPU {cpu:5.0f} us/request", flush=True)
    finally:
        app.terminate()
        app.wait(timeout=30)


if __name__ == "__main__":
    main()
