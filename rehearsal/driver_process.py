"""The release machine in its own driver process, so `--chaos kill-driver` can SIGKILL it for real.

The rehearsal keeps owning what a platform owns (HAProxy, the app instances, the metrics, the load):
it serves its ports (router, metrics, deployer, checks, synthetic traffic) to the driver process over
a `multiprocessing` manager on 127.0.0.1 with a random key, and the driver process runs the same
`Machine` and `ServiceRelease` as the in-process path, writing the same journal in the run's release
store. After the kill, a second driver process frees the dead one's lease and resumes the release from
the journal (`Machine.continue_(...).resume()`), as `zdd-release resume` does after a crash.

Child side: `python -m zero_downtime.rehearsal.driver_process`, with its job as JSON on stdin.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.managers import BaseManager
from pathlib import Path
from typing import Any

from ..driver.adapters.release_store import ReleaseStore
from ..driver.core.machine import Machine, Progress, Result, latest_status, new_release_id
from ..driver.core.ports import CheckResult, SystemClock
from ..driver.core.service import ServicePorts, ServiceRelease, ServiceSpec
from ..store.local import LocalBlobs
from .lifetime import marked_env, tethered
from .outdir import free_dead_lease
from .processes import PROJECT_ROOT

PORTS = ("router", "metrics", "deployer", "synthetic", "checks", "progress")


class _Checks:
    """The pre-traffic checks, served by index (a check's `name` is an attribute, not a method)."""

    def __init__(self, checks: Any) -> None:
        self.checks = list(checks)

    def names(self) -> list[str]:
        return [c.name for c in self.checks]

    def run(self, index: int) -> CheckResult:
        return self.checks[index].run()


class _Progress:
    def __init__(self, on_progress: Callable[[Progress], None]) -> None:
        self.on_progress = on_progress

    def report(self, update: Progress) -> None:
        self.on_progress(update)


class _RemoteCheck:
    def __init__(self, hub: Any, index: int, name: str) -> None:
        self.hub, self.index, self.name = hub, index, name

    def run(self) -> CheckResult:
        return self.hub.run(self.index)  # type: ignore[no-any-return]


@dataclass
class DriverRun:
    """What happened to the driver processes of one release."""

    result: Result
    pids: list[int]
    exit_codes: list[int]
    resumed_at: float | None = None
    resumed_in: str | None = None


class PortServer:
    """Serves `ports` to driver processes; stop with `close`."""

    def __init__(self, ports: ServicePorts, on_progress: Callable[[Progress], None]) -> None:
        served: dict[str, Any] = {
            "router": ports.router,
            "metrics": ports.metrics,
            "deployer": ports.deployer,
            "synthetic": ports.synthetic,
            "checks": _Checks(ports.checks),
            "progress": _Progress(on_progress),
        }
        manager_class = type("PortManager", (BaseManager,), {})
        for name, obj in served.items():
            manager_class.register(name, callable=(lambda o=obj: o))
        self.key = secrets.token_bytes(32)
        self.has_synthetic = ports.synthetic is not None
        self._server = manager_class(address=("127.0.0.1", 0), authkey=self.key).get_server()
        self.address: tuple[str, int] = self._server.address
        self._thread = threading.Thread(target=self._serve, name="driver-ports", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(SystemExit):  # the stdlib's server ends with sys.exit(0)
            self._server.serve_forever()

    def close(self) -> None:
        self._server.stop_event.set()
        with contextlib.suppress(OSError):
            self._server.listener.close()


def run_release(
    server: PortServer,
    store_dir: Path,
    names: tuple[str, str, str],
    spec: ServiceSpec,
    *,
    workdir: Path,
    marker: str,
    timeout_seconds: float,
    on_start: Callable[[subprocess.Popen[bytes]], None],
    killed: threading.Event,
    journal: ReleaseStore,
) -> DriverRun:
    """Run the release in a driver process; when it was SIGKILLed (`killed` set), resume it in another."""
    release_id = new_release_id("r", time.time())
    deadline = time.monotonic() + timeout_seconds
    pids: list[int] = []
    codes: list[int] = []
    resumed_at = resumed_in = None
    for mode in ("start", "resume"):
        job = {
            "address": list(server.address),
            "key": server.key.hex(),
            "store": str(store_dir),
            "names": list(names),
            "release_id": release_id,
            "mode": mode,
            "spec": spec.to_dict(),
            "synthetic": server.has_synthetic,
        }
        proc = _spawn(job, workdir, marker, len(pids))
        pids.append(proc.pid)
        on_start(proc)
        try:
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            raise RuntimeError(f"the driver process did not finish the release within {timeout_seconds:g}s") from None
        codes.append(code)
        if mode == "resume" or not (killed.is_set() and code < 0):
            break
        free_dead_lease(journal)  # the dead driver's lease, as after a crash on a real host
    status = latest_status(journal, release_id)
    trail = tuple(journal.records(release_id))
    for record in trail:
        if record.event == "resume":
            resumed_at, resumed_in = record.ts, record.status.state
    if codes[-1] != 0:
        raise RuntimeError(f"the driver process exited with {codes[-1]} in {status.state}; see {workdir}/driver-*.log")
    return DriverRun(Result(status, trail), pids, codes, resumed_at, resumed_in)


def _spawn(job: dict[str, Any], workdir: Path, marker: str, index: int) -> subprocess.Popen[bytes]:
    log = (workdir / f"driver-{index}.log").open("wb")
    try:
        proc = subprocess.Popen(
            tethered([sys.executable, "-m", "zero_downtime.rehearsal.driver_process"]),
            cwd=PROJECT_ROOT,
            env=marked_env(marker),
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(job).encode())
    proc.stdin.close()
    return proc


# -- the driver process -----------------------------------------------------------------------------------
def _connect(job: dict[str, Any]) -> tuple[ServicePorts, Any]:
    manager_class = type("PortManager", (BaseManager,), {})
    for name in PORTS:
        manager_class.register(name)
    hub = manager_class(address=tuple(job["address"]), authkey=bytes.fromhex(job["key"]))
    hub.connect()
    checks = hub.checks()  # type: ignore[attr-defined]
    ports = ServicePorts(
        router=hub.router(),  # type: ignore[attr-defined]
        metrics=hub.metrics(),  # type: ignore[attr-defined]
        deployer=hub.deployer(),  # type: ignore[attr-defined]
        checks=[_RemoteCheck(checks, i, name) for i, name in enumerate(checks.names())],
        synthetic=hub.synthetic() if job["synthetic"] else None,  # type: ignore[attr-defined]
    )
    return ports, hub.progress()  # type: ignore[attr-defined]


def main() -> int:
    job = json.loads(sys.stdin.read())
    ports, progress = _connect(job)
    project, stack, service = job["names"]
    clock = SystemClock()
    journal = ReleaseStore(LocalBlobs(Path(job["store"])), project, stack, service, clock)
    with journal.hold():
        if job["mode"] == "start":
            spec = ServiceSpec.from_dict(job["spec"])
            machine = Machine.start(
                ServiceRelease(spec, ports), journal, clock, release_id=job["release_id"], on_progress=progress.report
            )
            result = machine.run()
        else:
            status = latest_status(journal, job["release_id"])
            spec = ServiceSpec.from_dict(status.spec)
            machine = Machine.continue_(
                ServiceRelease(spec, ports), journal, clock, status, on_progress=progress.report
            )
            result = machine.resume()
    print(json.dumps({"release_id": result.release_id, "state": result.state, "reason": result.reason}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
