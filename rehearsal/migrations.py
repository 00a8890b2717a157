"""The migration rehearsal: expand/contract releases under write load, on a real PostgreSQL.

One throwaway PostgreSQL cluster (postgres.py), HAProxy and app instances on 127.0.0.1, and the
driver's release machine with the migration runner that runs the sample's Alembic commands
(`python -m zero_downtime.app.migrate`) as local processes. Blue v1 writes `name`; under a steady
load of writes (`POST /people`) and reads of acknowledged writes, four releases run in turn:

1. **breaking expand**: v2 with revision 0002b (renames `name`): the compatibility gate applies it
   to a scratch database, v1 fails there, and the release rolls back before the production schema
   changes. Expected: ROLLED_BACK, production still at 0001, 0 failed user requests.
2. **expand**: v2 with revision 0002 (adds first/last names, nullable `name`, a sync trigger,
   backfill): gate, expand, canary, promote. Expected: SUCCEEDED, production at 0002.
3. **contract while the old version still serves**: v3 with the contract 0003, but the old color's
   instances keep running, healthy and registered (their scale-down does not take effect). The
   driver refuses to contract: the release pauses, then the rehearsal aborts it (traffic back to
   v2, which the schema still suits). Expected: PAUSED then ROLLED_BACK, production still at 0002.
4. **contract**: v3 again, normally: after keep-warm and the old color's scale-down the contract
   drops `name`. Expected: SUCCEEDED, production at 0003.

Afterwards every acknowledged write is read back through HAProxy (v3 serving): each must be there
with its name. Every process and the cluster are stopped in `finally`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..contract import Color, Weights, other_color
from ..driver.adapters.migrations import CommandMigrationRunner
from ..driver.adapters.release_store import ReleaseStore
from ..driver.core.analysis import AnalysisConfig
from ..driver.core.machine import Machine, Result
from ..driver.core.plan import Migrations, build_plan
from ..driver.core.ports import AlarmStatus, SystemClock, WindowMetrics, nearest_rank_p99
from ..driver.core.service import ServicePorts, ServiceRelease, ServiceSpec
from ..store.local import LocalBlobs
from .checks import standard_checks
from .deployer import AppRelease, LocalDeployer
from .haproxy_config import SERVED_BY_HEADER, HealthCheck, slot_color
from .haproxy_process import HaproxyProcess, find_haproxy
from .lifetime import kill_marked, shielded, workdir
from .postgres import PostgresCluster
from .processes import Supervisor
from .router import HaproxyRouter

PROJECT, STACK, SERVICE = "zero-downtime", "local-migrations", "app"
MIGRATE = f"{shlex.quote(sys.executable)} -m zero_downtime.app.migrate"
SCENARIOS = ("breaking-expand", "expand", "contract-while-old-serves", "contract")


@dataclass(frozen=True)
class MigrationRehearsalConfig:
    rate: float = 60.0
    """Requests per second: every other one a write, the others reads of acknowledged writes."""
    instances: int = 1
    steps: tuple[int, ...] = (50, 100)
    interval: float = 3.0
    keep_warm_seconds: float = 1.0
    contract_delay_seconds: float = 1.0
    poll_seconds: float = 0.5
    min_requests: int = 10
    max_seconds: float = 300.0
    out_dir: Path = Path("out/rehearsal-migrations")

    def validate(self) -> None:
        for flag, ok, text in (
            ("--rate", 0 < self.rate <= 500, "must be in (0, 500] requests/s"),
            ("--instances", 1 <= self.instances <= 4, "must be 1-4"),
            ("--interval", 0 < self.interval <= 600, "must be in (0, 600] seconds"),
            ("--keep-warm", 0 <= self.keep_warm_seconds <= 600, "must be 0-600 seconds"),
            ("--contract-delay", 0 <= self.contract_delay_seconds <= 600, "must be 0-600 seconds"),
            ("--max-seconds", 10 <= self.max_seconds <= 3600, "must be 10-3600 seconds"),
        ):
            if not ok:
                raise ValueError(f"{flag}: {text}")


@dataclass
class WriteRecord:
    sent_at: float
    kind: str  # "write" or "read"
    status: int  # 0: no HTTP answer
    version: str | None
    person_id: int | None = None
    name: str | None = None
    server: str | None = None  # HAProxy's slot (x-served-by): which color answered
    latency: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500


class WriteLoad:
    """Bounded load through HAProxy: writes of new people and reads of acknowledged ones."""

    def __init__(self, base_url: str, rate: float, max_seconds: float, workers: int = 4) -> None:
        self.base_url = base_url
        self.rate = rate
        self.max_seconds = max_seconds
        self.records: list[WriteRecord] = []
        self.acked: list[tuple[int, str]] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(k, workers), name=f"write-load-{k}", daemon=True)
            for k in range(workers)
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            if t.is_alive():
                t.join(timeout=10)

    def _run(self, k: int, workers: int) -> None:
        """Worker `k` sends requests k, k + workers, ... of one timetable at `rate` per second."""
        start = time.monotonic()
        with httpx.Client(timeout=5.0) as client:
            i = k
            while not self._stop.is_set() and time.monotonic() - start < self.max_seconds:
                delay = start + i / self.rate - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                self._one(client, i)
                i += workers

    def _one(self, client: httpx.Client, i: int) -> None:
        sent, t0 = time.time(), time.perf_counter()
        if i % 2 == 0 or not self.acked:
            name = f"user{i} family{i}"
            try:
                r = client.post(f"{self.base_url}/people", json={"name": name})
            except httpx.HTTPError:
                self.records.append(WriteRecord(sent, "write", 0, None, name=name, latency=time.perf_counter() - t0))
                return
            seen = {"version": r.headers.get("x-app-version"), "server": r.headers.get(SERVED_BY_HEADER)}
            if r.status_code == 201:
                pid = int(r.json()["id"])
                self.acked.append((pid, name))
                self.records.append(WriteRecord(sent, "write", 201, person_id=pid, name=name, **seen))
            else:
                self.records.append(WriteRecord(sent, "write", r.status_code, name=name, **seen))
            self.records[-1].latency = time.perf_counter() - t0
            return
        pid, name = self.acked[(i * 7919) % len(self.acked)]
        try:
            r = client.get(f"{self.base_url}/people/{pid}")
        except httpx.HTTPError:
            self.records.append(WriteRecord(sent, "read", 0, None, pid, name, latency=time.perf_counter() - t0))
            return
        # A read that does not return the acknowledged name is a failure (599), like a 5xx.
        ok = r.status_code == 200 and r.json().get("name") == name
        status = r.status_code if ok or r.status_code >= 500 else 599
        seen = {"version": r.headers.get("x-app-version"), "server": r.headers.get(SERVED_BY_HEADER)}
        self.records.append(WriteRecord(sent, "read", status, person_id=pid, latency=time.perf_counter() - t0, **seen))


class LoadMetrics:
    """`MetricsSource` from the load's own records: each request counted for the color of the
    HAProxy slot that answered it, by when it was sent (no sampling lag at window edges)."""

    def __init__(self, load: WriteLoad) -> None:
        self.load = load

    def window(self, color: Color, start: float, end: float) -> WindowMetrics:
        mine = [
            r
            for r in list(self.load.records)
            if start <= r.sent_at <= end and r.server is not None and slot_color(r.server) == color
        ]
        latencies = tuple(r.latency for r in mine)
        return WindowMetrics(
            requests=len(mine),
            errors_5xx=sum(1 for r in mine if r.failed),
            p99_seconds=nearest_rank_p99(latencies),
            latencies=latencies[-5000:],
        )

    def alarms(self, color: Color) -> AlarmStatus:
        return AlarmStatus()


class OldColorStaysUp(LocalDeployer):
    """A deployer whose scale-down of one color does not take effect (its instances keep running,
    healthy and registered): what the driver must see before it contracts."""

    sticky: Color | None = None

    def scale_down(self, color: Color) -> None:
        if color == self.sticky:
            self.reconciled.append((Weights.all_to(other_color(color)), other_color(color)))
            return
        super().scale_down(color)


@dataclass
class ReleaseFigures:
    scenario: str
    version: str
    state: str
    reason: str
    states: list[str]
    revision_before: str | None
    revision_after: str | None
    requests: int
    failed: int
    writes_acknowledged: int
    migrations: list[dict[str, Any]] = field(default_factory=list)
    frozen: bool = False
    refused: str = ""
    """Why the driver refused to contract (the pause's reason), when it did."""


@dataclass
class MigrationRehearsalResult:
    releases: list[ReleaseFigures]
    total_requests: int
    total_failed: int
    writes_acknowledged: int
    writes_readable_after: int
    writes_missing_after: list[int]
    seconds: float
    final_revision: str | None
    leftover_pids: list[int]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["where"] = "local: HAProxy, app processes and PostgreSQL 15 on 127.0.0.1 (the migration rehearsal)"
        return data


def _revision(url: str) -> str | None:
    from ..app.migrate import current

    return current(url)


def run_migration_rehearsal(cfg: MigrationRehearsalConfig, say: Any = print) -> MigrationRehearsalResult:
    cfg.validate()
    find_haproxy()
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    with workdir() as work:
        return _run(cfg, work, say)


def _run(cfg: MigrationRehearsalConfig, work: Path, say: Any) -> MigrationRehearsalResult:
    started = time.time()
    marker = str(work)
    pg = PostgresCluster()
    haproxy = HaproxyProcess(work, slots_per_color=cfg.instances, check=HealthCheck(), marker=marker)
    supervisor = Supervisor(work, marker)
    load: WriteLoad | None = None
    journal = ReleaseStore(LocalBlobs(cfg.out_dir / "store"), PROJECT, STACK, SERVICE, SystemClock())
    figures: list[ReleaseFigures] = []

    def stop_everything() -> list[int]:
        if load is not None:
            load.stop()
        supervisor.stop_all()
        haproxy.stop()
        pg.stop()
        return kill_marked(marker)

    leftovers: list[int] = []
    try:
        say("starting PostgreSQL, HAProxy and blue v1")
        pg.start()
        url = pg.create_database("app")
        runner = CommandMigrationRunner(cfg.out_dir / "migration-logs", env={"APP_DATABASE_URL": url})
        first = runner.run("setup", f"{MIGRATE} upgrade 0001", "v1", {})
        if not first.passed:
            raise RuntimeError(f"could not create the v1 schema: {first.detail}")
        haproxy.start()
        assert haproxy.api is not None and haproxy.layout is not None
        db = {"APP_DATABASE_URL": url}
        releases = {v: AppRelease(v, extra_env={**db, "APP_SCHEMA_VERSION": v[1:]}) for v in ("v1", "v2", "v3")}
        deployer = OldColorStaysUp(haproxy, supervisor, releases)
        router = HaproxyRouter(haproxy.api, deployer.attached, test_map_path=haproxy.layout.test_map_path)
        deployer.deploy_idle("blue", "v1", cfg.instances)
        if not deployer.wait_healthy("blue", 30):
            raise RuntimeError("blue v1 did not become healthy within 30s")
        router.set_weights(Weights.all_to("blue"))
        load = WriteLoad(haproxy.url, cfg.rate, cfg.max_seconds)
        metrics = LoadMetrics(load)
        load.start()
        time.sleep(1.0)
        analysis = AnalysisConfig(
            min_requests=cfg.min_requests,
            poll_seconds=cfg.poll_seconds,
            threshold=2,
            judge="threshold",
            # A fresh instance opens its database connections under the first requests, on a machine
            # shared with other jobs: relative p99 below 0.5 s is noise here (the 2 s limit stays).
            p99_floor_seconds=0.5,
        )

        def release(scenario: str, version: str, stable: Color, old: str, migrations: Migrations) -> Result:
            before = _revision(url)
            seen = len(load.records)  # type: ignore[union-attr]
            acked0 = len(load.acked)  # type: ignore[union-attr]
            plan = build_plan("canary", steps=list(cfg.steps), interval=cfg.interval, migrations=migrations)
            spec = ServiceSpec(
                stack=STACK,
                service=SERVICE,
                image=version,
                desired_count=cfg.instances,
                stable_color=stable,
                plan=plan,
                analysis=analysis,
                health_timeout_seconds=30.0,
                keep_warm_seconds=cfg.keep_warm_seconds,
                verify_timeout_seconds=1.5,
                verify_poll_seconds=0.2,
                stable_desired_count=cfg.instances,
                project=PROJECT,
                rule_arn="haproxy:backend/app",
                stable_image=old,
            )
            new = other_color(stable)
            ports = ServicePorts(
                router=router,
                metrics=metrics,
                deployer=deployer,
                checks=standard_checks(lambda: deployer.instances(new), version),
                migrations=runner,
            )
            say(f"{scenario}: release {version} to {new}")
            with journal.hold():
                machine = Machine.start(ServiceRelease(spec, ports), journal, SystemClock())
                result = machine.run()
                refused = result.reason if result.state == "PAUSED" else ""
                if scenario == "contract-while-old-serves" and result.state == "PAUSED":
                    say(f"  {result.reason}")
                    deployer.sticky = None
                    result = Machine.continue_(
                        ServiceRelease(spec, ports), journal, SystemClock(), result.status
                    ).abort("the rehearsal: the old color still serves; abort instead of contracting")
            say(f"  -> {result.state}: {result.reason}")
            window = [r for r in load.records[seen:]]  # type: ignore[union-attr]
            trail = journal.records(result.release_id)
            figures.append(
                ReleaseFigures(
                    scenario=scenario,
                    version=version,
                    state=result.state,
                    reason=result.reason,
                    states=[r.state for r in trail if r.event in ("start", "transition")],
                    revision_before=before,
                    revision_after=_revision(url),
                    requests=len(window),
                    failed=sum(1 for r in window if r.failed),
                    writes_acknowledged=len(load.acked) - acked0,  # type: ignore[union-attr]
                    migrations=[dict(r.detail["migration"]) for r in trail if "migration" in r.detail],
                    frozen=bool(result.status.facts.get("frozen")),
                    refused=refused,
                )
            )
            return result

        compat = f"{MIGRATE} compat --old-schema {{old}} --new-schema {{new}} --to {{rev}}"
        breaking = Migrations(
            expand_command=f"{MIGRATE} upgrade 0002b", compat_command=compat.format(old=1, new=2, rev="0002b")
        )
        release("breaking-expand", "v2", "blue", "v1", breaking)
        expand = Migrations(
            expand_command=f"{MIGRATE} upgrade 0002", compat_command=compat.format(old=1, new=2, rev="0002")
        )
        res = release("expand", "v2", "blue", "v1", expand)
        live: Color = "green" if res.state == "SUCCEEDED" else "blue"
        contract = Migrations(
            contract_command=f"{MIGRATE} upgrade 0003", contract_delay_seconds=cfg.contract_delay_seconds
        )
        deployer.sticky = live
        res = release("contract-while-old-serves", "v3", live, "v2", contract)
        deployer.sticky = None
        if res.state == "SUCCEEDED":  # not expected: the next release starts from what serves
            live = other_color(live)
        res = release("contract", "v3", live, "v3" if res.state == "SUCCEEDED" else "v2", contract)
        if res.state == "SUCCEEDED":
            live = other_color(live)
        time.sleep(0.5)
        load.stop()
        # Every acknowledged write, read back through HAProxy from whatever serves now.
        missing = _read_back(haproxy.url, list(load.acked))
        final = _revision(url)
    finally:
        leftovers = shielded(stop_everything)
    records = load.records if load else []
    acked = load.acked if load else []
    return MigrationRehearsalResult(
        releases=figures,
        total_requests=len(records),
        total_failed=sum(1 for r in records if r.failed),
        writes_acknowledged=len(acked),
        writes_readable_after=len(acked) - len(missing),
        writes_missing_after=missing[:50],
        seconds=round(time.time() - started, 1),
        final_revision=final,
        leftover_pids=leftovers,
    )


def _read_back(base_url: str, acked: list[tuple[int, str]], workers: int = 8) -> list[int]:
    """The ids among `acked` that do not read back with their name through `base_url`."""

    def missing(chunk: list[tuple[int, str]]) -> list[int]:
        lost = []
        with httpx.Client(timeout=5.0) as client:
            for pid, name in chunk:
                try:
                    r = client.get(f"{base_url}/people/{pid}")
                    ok = r.status_code == 200 and r.json().get("name") == name
                except httpx.HTTPError:
                    ok = False
                if not ok:
                    lost.append(pid)
        return lost

    chunks = [acked[k::workers] for k in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        return sorted(pid for lost in pool.map(missing, chunks) for pid in lost)


def render_markdown(result: MigrationRehearsalResult) -> str:
    lines = [
        "# Migration rehearsal",
        "",
        "Measured locally: HAProxy, the sample app and PostgreSQL 15 on 127.0.0.1 (not AWS).",
        "",
        "| scenario | release | outcome | schema before -> after | requests | failed | writes acknowledged |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in result.releases:
        lines.append(
            f"| {f.scenario} | {f.version} | {f.state} | {f.revision_before} -> {f.revision_after} | "
            f"{f.requests} | {f.failed} | {f.writes_acknowledged} |"
        )
    lines += [
        "",
        f"Whole run: {result.total_requests} requests, {result.total_failed} failed; "
        f"{result.writes_acknowledged} writes acknowledged, {result.writes_readable_after} readable afterwards "
        f"(final schema {result.final_revision}); {result.seconds} s.",
        "",
    ]
    for f in result.releases:
        lines.append(f"- {f.scenario}: " + (f"{f.refused}; then: " if f.refused else "") + f.reason)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    d = MigrationRehearsalConfig()
    p = argparse.ArgumentParser(prog="python -m zero_downtime.rehearsal.migrations", description=__doc__)
    p.add_argument("--rate", type=float, default=d.rate, help=f"requests/s, half writes (default {d.rate:g})")
    p.add_argument("--instances", type=int, default=d.instances, help="instances per color (default 1)")
    p.add_argument("--interval", type=float, default=d.interval, help="bake seconds per step (default 3)")
    p.add_argument("--keep-warm", type=float, default=d.keep_warm_seconds, help="seconds (default 1)")
    p.add_argument("--contract-delay", type=float, default=d.contract_delay_seconds, help="seconds (default 1)")
    p.add_argument("--max-seconds", type=float, default=d.max_seconds, help="bound on the load (default 300)")
    p.add_argument("--out", type=Path, default=d.out_dir, help="report and journal dir")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    cfg = MigrationRehearsalConfig(
        rate=args.rate,
        instances=args.instances,
        interval=args.interval,
        keep_warm_seconds=args.keep_warm,
        contract_delay_seconds=args.contract_delay,
        max_seconds=args.max_seconds,
        out_dir=args.out,
    )
    try:
        result = run_migration_rehearsal(cfg, say=lambda line: print(line, file=sys.stderr))
    except ValueError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    (cfg.out_dir / "migrations-report.json").write_text(json.dumps(result.to_dict(), indent=2))
    (cfg.out_dir / "migrations-report.md").write_text(render_markdown(result))
    print(json.dumps(result.to_dict(), indent=2) if args.json else render_markdown(result))
    ok = (
        [f.state for f in result.releases] == ["ROLLED_BACK", "SUCCEEDED", "ROLLED_BACK", "SUCCEEDED"]
        and result.total_failed == 0
        and not result.writes_missing_after
    )
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
