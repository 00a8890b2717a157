"""The composition root: the one place that builds adapters and hands them to the core.

The CLI parses flags into the requests below and calls a `Driver`; the Driver opens the stack and
the release store, reads the stack outputs through the contract, builds the AWS, Automation API,
HTTP-check and store adapters, picks the strategy and returns what the machine did. Which strategy
continues a recorded release is decided by the `kind` its status carries (`strategies`), so no
caller branches on types.

Release state lives in the release store that the stack config key `releaseStore` names
(`contract/release_state.py`): the driver takes the service's lease there, journals there and
records the live color, weights, images and counts there before it acts.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..contract import (
    COLORS,
    ContractError,
    FeatureFlagsOutputs,
    FleetOutputs,
    ServiceOutputs,
    Weights,
    parse_feature_flags,
    parse_fleet,
    parse_service,
)
from ..contract.probe import MAX_BURST_SECONDS, MAX_CONCURRENCY, ProbeInputError, ProbeRequest
from ..contract.release_state import CONFIG_KEY, ColorState, ServiceState, StoreKeys, parse_store_url
from ..store import Blobs, StoreError, open_blobs
from ..store.s3 import BucketCheck, ensure_bucket
from .adapters.aws.appconfig import AppConfigFlagStore
from .adapters.aws.clients import AWS_ERRORS, client, port_error
from .adapters.aws.events import SnsPublisher
from .adapters.aws.flag_metrics import CloudWatchFlagMetrics
from .adapters.aws.instance_refresh import InstanceRefresher
from .adapters.aws.metrics import CloudWatchMetrics, ColorAlarms, TargetGroupMetrics
from .adapters.aws.migration_task import EcsMigrationRunner
from .adapters.aws.router import ElbRuleRouter
from .adapters.checks import CommandHook, HttpCheck, ProbeFunctionCheck
from .adapters.migrations import CommandMigrationRunner
from .adapters.pulumi_stack import StackLike, StackOps, select_stack
from .adapters.release_store import DEFAULT_LEASE_SECONDS, Lease, ReleaseStore, live_leases
from .adapters.sources import built_in_sources
from .adapters.stack_deployer import StackDeployer
from .adapters.synthetic import ProbeSyntheticTraffic, run_here, run_in_function
from .core.analysis import AnalysisConfig
from .core.errors import InputError, PortError, StateError
from .core.flag import KIND as FLAG_KIND
from .core.flag import TARGET_PREFIX, FlagPorts, FlagRelease, FlagSpec, kill_plan
from .core.fleet import FleetPorts, FleetRelease, FleetSpec, released_version
from .core.machine import Machine, Progress, Result, Strategy, latest_status
from .core.metric_checks import ROOT as ANALYSIS_FILE
from .core.metric_checks import AnalysisPlan, MetricJudge, MetricSource, parse_analysis_file
from .core.migrations import refuse_if_frozen
from .core.plan import RUN_FROM, Migrations, Plan, SyntheticBake
from .core.ports import Clock, EventPublisher, MigrationRunner, NullPublisher, PreTrafficCheck, SystemClock
from .core.service import ServicePorts, ServiceRelease, ServiceSpec
from .core.status import FAILED, STOPPED, SUCCEEDED, TERMINAL, Status

STORE_DOCS = "docs/driver.md#the-release-store"
DEFAULT_KEEP_WARM_SECONDS = 900.0


@dataclass
class Runtime:
    """What the driver reaches outside itself; tests replace the stack and the AWS clients."""

    open_stack: Callable[[str, Path], StackLike] = select_stack
    clients: Mapping[str, Any] | None = None
    """boto3 clients by service name (`elbv2`, `cloudwatch`, `sns`, `autoscaling`, `s3`, `ssm`)."""
    clock: Clock = field(default_factory=SystemClock)
    stack_backoff_seconds: float = 5.0
    health_poll_seconds: float = 5.0
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    holder: str | None = None
    """Who this driver is in the lease (default: host, process and a random part)."""
    open_blobs: Callable[..., Blobs] = open_blobs
    """Opens the release store's blobs from its URL (tests wrap them)."""


@dataclass(frozen=True)
class Target:
    """Where a command acts, and how it reaches AWS."""

    stack: str
    service: str
    work_dir: Path
    store_url: str | None = None
    """The release store; None reads the stack config key `releaseStore`."""
    region: str | None = None
    percentiles: bool = True
    """Query p99/Apdex (off for emulators without percentile statistics)."""
    notify: bool = False
    """Publish release events to the service's SNS topic."""
    adopt_live: bool = False
    """Take the load balancer's weights as the truth when they differ from the release store."""
    policy_packs: tuple[Path, ...] | None = None
    """Policy packs the driver's own `up` runs with; None: `<work_dir>/policies` when it holds a pack."""


CHECK_FROM = RUN_FROM


@dataclass(frozen=True)
class CheckRequest:
    """Pre-traffic checks of a service release."""

    path: str = "/health"
    status: int = 200
    body_pattern: str | None = None
    hooks: Sequence[str] = ()
    test_listener: bool = True
    check_from: str = "auto"
    """Where the HTTP check runs: `probe` (the stack's probe function inside the VPC), `driver`
    (here), or `auto` (the probe function when the stack has one, else here)."""

    def validate(self) -> None:
        if self.check_from not in CHECK_FROM:
            raise InputError("check_from", f"must be one of {', '.join(CHECK_FROM)}, got {self.check_from!r}")
        if not 100 <= self.status <= 599:
            raise InputError("check_status", f"must be an HTTP status, got {self.status}")
        if not self.path.startswith("/"):
            raise InputError("check_path", f"must start with '/', got {self.path!r}")
        if self.body_pattern is not None:
            try:
                re.compile(self.body_pattern)
            except re.error as exc:
                raise InputError(
                    "check_body", f"{self.body_pattern!r} is not a valid regular expression: {exc}"
                ) from None
        for hook in self.hooks:
            CommandHook(hook)  # refuses an empty or unparsable command


@dataclass(frozen=True)
class ServiceRequest:
    image: str
    plan: Plan
    analysis: AnalysisConfig
    desired_count: int | None = None
    """Tasks for the new color (default: the live color's count)."""
    health_timeout_seconds: float = 600.0
    keep_warm_seconds: float | None = None
    """Seconds the old color stays up after promotion (None: the service's declared
    `migrations.keepWarmSeconds`, else `DEFAULT_KEEP_WARM_SECONDS`)."""
    checks: CheckRequest = field(default_factory=CheckRequest)
    metric_checks: AnalysisPlan | None = None
    """The analysis file's metric checks (`--analysis-file`), judged at every analysis check."""


@dataclass(frozen=True)
class FleetRequest:
    ami_id: str | None
    """The AMI to roll out; None resolves the fleet's SSM parameter now, at release time."""
    analysis: AnalysisConfig
    timeout_seconds: float = 3600.0


MAX_ANALYSIS_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class FlagRequest:
    """A flag release: `flag` of the flag set the Target names (`flags.<set>`), step by step."""

    flag: str
    plan: Plan
    analysis: AnalysisConfig
    appconfig_strategy: str | None = None
    """AppConfig deployment strategy of each step (None: the flag set's own, alarm-monitored)."""
    timeout_seconds: float = 1800.0
    """How long one step's deployment may take to reach the hosts."""
    poll_seconds: float = 15.0


@dataclass(frozen=True)
class KillRequest:
    """The kill switch: `flag` of the flag set the Target names (`flags.<set>`) off for everyone, now."""

    flag: str
    reason: str = "kill switch"
    timeout_seconds: float = 600.0
    """How long AppConfig may take to serve the kill switch before the command fails (run it again)."""
    poll_seconds: float = 5.0
    wait_seconds: float = 120.0
    """When a driver is running a release of this flag: how long to wait for its rollback (as `abort`)."""


def load_analysis_file(path: Path) -> AnalysisPlan:
    """Read and validate an analysis file (YAML). Every refusal is an InputError of the key
    `analysis_file` (the CLI shows it as `--analysis-file`) naming the path and the offending key."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_ANALYSIS_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(ANALYSIS_FILE, f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(raw) > MAX_ANALYSIS_FILE_BYTES:
        raise InputError(ANALYSIS_FILE, f"{path} is larger than {MAX_ANALYSIS_FILE_BYTES} bytes")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(ANALYSIS_FILE, f"{path} is not UTF-8 text: {exc.reason}") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(ANALYSIS_FILE, f"{path} is not valid YAML{at}: {problem}") from None
    try:
        return parse_analysis_file(data)
    except InputError as exc:
        inner = exc.key.removeprefix(ANALYSIS_FILE).lstrip(".") or "the file"
        raise InputError(ANALYSIS_FILE, f"{path}: {inner}: {exc.problem}") from None


def apply_judge(config: AnalysisConfig, overrides: Mapping[str, Any]) -> AnalysisConfig:
    """`config` with the analysis file's `judge:` settings on top (they win over the flags).
    A setting AnalysisConfig does not have, of the wrong type, or out of range is refused naming
    `analysis_file.judge.<setting>`."""
    if not overrides:
        return config
    known = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    values: dict[str, Any] = {}
    for name, value in overrides.items():
        key = f"{ANALYSIS_FILE}.judge.{name}"
        if name not in known:
            raise InputError(key, f"unknown judge setting; known: {', '.join(sorted(known))}")
        current = known[name]
        if isinstance(current, bool):
            ok = isinstance(value, bool)
        elif isinstance(current, int | float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            ok = ok and (not isinstance(current, int) or isinstance(current, bool) or float(value).is_integer())
        else:
            ok = isinstance(value, type(current))
        if not ok:
            raise InputError(key, f"must be of the type of its default {current!r}, got {value!r}")
        values[name] = int(value) if isinstance(current, int) and not isinstance(current, bool) else value
    try:
        return dataclasses.replace(config, **values)
    except InputError as exc:
        setting = exc.key.rsplit(".", 1)[-1]
        raise InputError(f"{ANALYSIS_FILE}.judge.{setting}", exc.problem) from None


def _probe_function(where: str, service: ServiceOutputs) -> str | None:
    """The probe function to run pre-traffic requests from (`--check-from`), or None for here."""
    if where == "driver" or (where == "auto" and not service.probe_function_arn):
        return None
    if not service.probe_function_arn:
        raise InputError(
            "check_from",
            f"probe: service {service.name} has no probe function (stack output "
            f"services.{service.name}.probeFunctionArn); the stack creates one when "
            "`zero-downtime:preTrafficProbe` is true",
        )
    return service.probe_function_arn


def project_name(work_dir: Path) -> str:
    """The Pulumi project's name, from `<work_dir>/Pulumi.yaml`."""
    path = work_dir / "Pulumi.yaml"
    try:
        name = (yaml.safe_load(path.read_text()) or {}).get("name")
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise InputError("work_dir", f"cannot read the project name from {path}: {exc}") from None
    if not isinstance(name, str) or not name:
        raise InputError("work_dir", f"{path} has no project `name`")
    return name


class Driver:
    """Builds and runs releases of one stack + service for the CLI."""

    def __init__(
        self,
        target: Target,
        runtime: Runtime,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        announce: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.target = target
        self.rt = runtime
        self.on_progress = on_progress
        self.announce = announce
        self._ops: StackOps | None = None
        self._store: ReleaseStore | None = None
        self._blobs: Blobs | None = None
        self._clients: dict[str, Any] = dict(runtime.clients or {})

    # -- commands ------------------------------------------------------------------------------------
    def deploy_service(self, request: ServiceRequest) -> Result:
        """Release `request.image` to the idle color. Everything is checked before anything changes."""
        t = self.target
        # Refuse bad input before the stack opens.
        self._service_spec(request, "blue", 1 if request.desired_count is None else request.desired_count)
        request.checks.validate()
        synthetic = request.plan.synthetic
        if synthetic is not None and synthetic.seconds > MAX_BURST_SECONDS:
            raise InputError("synthetic_seconds", f"must be at most {MAX_BURST_SECONDS:g}, got {synthetic.seconds:g}")
        if synthetic is not None and synthetic.concurrency > MAX_CONCURRENCY:
            raise InputError("synthetic_concurrency", f"must be at most {MAX_CONCURRENCY}, got {synthetic.concurrency}")
        service = self.service_outputs()
        store = self.journal
        with store.hold():
            self._refuse_if_in_progress()
            router = self._router(service)
            state, adopted = self._current_state(store, service, router)
            stable = state.live_color
            count = request.desired_count
            if count is None:
                count = max(1, state.color(stable).desired_count)
            request = self._with_declared_migrations(request, service)
            spec = self._service_spec(request, stable, count, state, service)
            checks = self._checks(request.checks, spec, service)
            ports = self.service_ports(service, state, checks, spec.plan.synthetic, request.metric_checks)
            deployer = ports.deployer
            assert isinstance(deployer, StackDeployer)
            if adopted:
                store.write_service_state(state)  # the truth the release starts from; `up` applies it
            release = ServiceRelease(spec, ports)
            machine = self._start(release, self.publisher(service))
            deployer.release_id = machine.status.release_id
            self.announce(
                f"release {machine.status.release_id}: {spec.image} -> {t.service}/{spec.new_color} "
                f"({spec.plan.strategy.value}, steps {[s.weight for s in spec.plan.steps]}; store {store.location}; "
                f"{release.alpha_shares()})"
            )
            return machine.run()

    def deploy_fleet(self, request: FleetRequest) -> Result:
        """Roll a new AMI out to the fleet by an instance refresh the driver starts and follows."""
        if request.ami_id is not None:
            self._fleet_spec(request.ami_id, request, None, 1, "")  # refuse a bad AMI before the stack opens
        fleet = self.fleet_outputs()
        store = self.journal
        with store.hold():
            self._refuse_if_in_progress()
            self._refuse_if_release_unrecorded()
            ami = request.ami_id or self._resolve_ami(fleet)
            versions = self.ops.template_versions(self.target.service)
            state = store.fleet_state()
            if state is None:
                # Never released: N is the version the stack pins (config `releasedVersion`) or holds.
                key = f"{fleet.config_path}.releasedVersion"
                n, previous = released_version(self.ops.get_config(key), versions, key), fleet.ami_id
            else:
                key = f"the release store's {self.target.service} state (releasedVersion)"
                n, previous = released_version(str(state.released_version), versions, key), state.ami_id
            spec = self._fleet_spec(ami, request, fleet, n, previous)
            machine = self._start(FleetRelease(spec, self.fleet_ports(fleet)), NullPublisher())
            self.announce(
                f"fleet release {machine.status.release_id}: {spec.ami_id} -> {fleet.auto_scaling_group_name} "
                f"(held on launch template version {spec.released_version} until the refresh succeeds)"
            )
            return machine.run()

    def deploy_flag(self, request: FlagRequest) -> Result:
        """Move `request.flag` through the plan's percentages. Everything is checked before anything changes."""
        flag_set = self.flag_set_name
        FlagSpec(
            stack=self.target.stack,
            flag_set=flag_set,
            flag=request.flag,
            plan=request.plan,
            analysis=request.analysis,
            verify_timeout_seconds=request.timeout_seconds,
            verify_poll_seconds=request.poll_seconds,
        )  # refuse bad input before the stack opens
        flags = self.flag_outputs()
        if request.flag not in flags.flags:
            raise InputError(
                "flag", f"no flag {request.flag!r} in flag set {flag_set} (it has: {', '.join(flags.flags)})"
            )
        store = self.journal
        with store.hold():
            self._refuse_if_in_progress()
            ports = self.flag_ports(flags, request.appconfig_strategy)
            spec = FlagSpec(
                stack=self.target.stack,
                flag_set=flag_set,
                flag=request.flag,
                plan=request.plan,
                analysis=request.analysis,
                start_percentage=ports.store.percentage(request.flag),
                verify_timeout_seconds=request.timeout_seconds,
                verify_poll_seconds=request.poll_seconds,
                project=project_name(self.target.work_dir),
                resource=flag_resource(flags, request.flag),
                appconfig_strategy=request.appconfig_strategy,
            )
            machine = self._start(FlagRelease(spec, ports), NullPublisher())
            self.announce(
                f"flag release {machine.status.release_id}: {flag_set}/{request.flag} from {spec.start_percentage}% "
                f"through {[s.weight for s in spec.plan.steps]}% (store {store.location})"
            )
            return machine.run()

    def kill_flag(self, request: KillRequest) -> Result:
        """Turn `request.flag` off for everyone now, whatever state its releases are in.

        The flag's release in progress (its driver running or killed) is aborted: its rollback is the
        kill switch. Otherwise (no release, or the last one SUCCEEDED or ROLLED_BACK) a kill-switch
        release starts: the release state says off before AppConfig gets 0%, so no `up` turns it back
        on. A kill-switch release left unfinished by a killed driver is continued, not started again.
        Refused while a release of another flag of the set is unfinished (one writer per document)."""
        flag_set = self.flag_set_name
        if not request.wait_seconds >= 0:
            raise InputError("wait", f"must be >= 0 seconds, got {request.wait_seconds!r}")
        self._kill_spec(request, flag_set)  # refuse bad input before the stack opens
        flags = self.flag_outputs()
        if request.flag not in flags.flags:
            raise InputError(
                "flag", f"no flag {request.flag!r} in flag set {flag_set} (it has: {', '.join(flags.flags)})"
            )
        last = self.journal.last()
        unfinished = last is not None and last.state not in TERMINAL
        mine = last is not None and last.status.kind == FLAG_KIND and last.status.spec.get("flag") == request.flag
        if unfinished and not mine:
            status = last.status  # type: ignore[union-attr]
            raise InputError(
                "flag",
                f"release {status.release_id} of {status.spec.get('flag') or status.kind!r} in flag set {flag_set} "
                f"is {status.state}, and a flag set has one writer at a time: abort it (which turns that flag "
                f"off) or resume it to its end, then kill {request.flag}",
            )
        if mine and (unfinished or last.state == FAILED):  # type: ignore[union-attr]
            result = self.abort(request.reason, request.wait_seconds)  # its rollback is the kill switch
            if result.state != SUCCEEDED:
                return result
            # It succeeded before its driver saw the abort request: kill the flag below.
        store = self.journal
        with store.hold():
            self._refuse_if_in_progress()
            spec = self._kill_spec(request, flag_set, flags)
            machine = self._start(FlagRelease(spec, self.flag_ports(flags, None)), NullPublisher())
            self.announce(
                f"kill switch {machine.status.release_id}: {flag_set}/{request.flag} to 0% and disabled, "
                f"release state first, then AppConfig with the flag set's all-at-once strategy (store {store.location})"
            )
            return machine.run()

    def _kill_spec(self, request: KillRequest, flag_set: str, flags: FeatureFlagsOutputs | None = None) -> FlagSpec:
        return FlagSpec(
            stack=self.target.stack,
            flag_set=flag_set,
            flag=request.flag,
            plan=kill_plan(),
            verify_timeout_seconds=request.timeout_seconds,
            verify_poll_seconds=request.poll_seconds,
            project=project_name(self.target.work_dir) if flags else "",
            resource=flag_resource(flags, request.flag) if flags else "",
            kill=True,
            reason=request.reason,
        )

    def promote(self) -> Result:
        return self._continue(lambda m: m.promote(), check_drift=True)

    def resume(self) -> Result:
        return self._continue(lambda m: m.resume())

    def abort(self, reason: str, wait_seconds: float) -> Result:
        """Roll the latest release back. While another driver runs it, ask that driver through the
        store and wait up to `wait_seconds` for its rollback (Outcome RUNNING if it is not done)."""
        store = self.journal
        status = latest_status(store)
        refuse_if_frozen(status)  # before asking a running driver: a frozen release never rolls back
        if status.kind == FLAG_KIND and status.state == SUCCEEDED:
            flag = status.spec.get("flag")
            raise StateError(
                f"flag release {status.release_id} already succeeded, so there is no release to roll back; "
                f"{flag} stays on until you run the kill switch: zdd-release kill-flag --stack {self.target.stack} "
                f"--flag-set {self.flag_set_name} --flag {flag}"
            )
        if not store.held():
            return self._continue(lambda m: m.abort(reason))
        store.request_abort(status.release_id, reason)
        self.announce(f"abort requested from the running driver of {status.release_id}; waiting up to {wait_seconds}s")
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if latest_status(store, status.release_id).state in STOPPED:
                break
            time.sleep(0.5)
        final = latest_status(store, status.release_id)
        return Result(final, tuple(store.records(status.release_id)))

    def next_image(self) -> str:
        """The image git says the next release deploys: the stack config key `services.<name>.image`."""
        key = f"services.{self.target.service}.image"
        image = self.ops.get_config(key)
        if not image:
            raise InputError("image", f"required: pass --image, or set {key} in Pulumi.{self.target.stack}.yaml")
        return image

    def init(self, *, check_only: bool) -> list[BucketCheck]:
        """Create (or only check) the release store: an S3 bucket with versioning, default encryption
        and public access blocked, or a directory for `file://`."""
        location = parse_store_url(self.store_url)
        if location.scheme == "file":
            path = Path(location.prefix)
            path = path if path.is_absolute() else self.target.work_dir / path
            existed = path.is_dir()
            if not existed and not check_only:
                path.mkdir(parents=True, exist_ok=True)
            return [
                BucketCheck(
                    "directory",
                    "present" if existed else "missing",
                    "present" if existed or not check_only else "missing",
                )
            ]
        s3 = self._clients.get("s3") or client("s3", region=self.target.region)
        try:
            return ensure_bucket(s3, location.bucket, self.target.region, create=not check_only)
        except StoreError as exc:
            raise PortError(str(exc)) from None

    def wait_idle(self, timeout_seconds: float, service: str | None = None) -> dict[str, Lease]:
        """Wait until no driver holds a lease in the stack (or on `service`); what still holds one."""
        try:
            keys = StoreKeys(project_name(self.target.work_dir), self.target.stack)
            keys.lock(service or "all")
        except ContractError as exc:
            raise InputError(exc.key, exc.problem) from None
        deadline = time.monotonic() + timeout_seconds
        while True:
            held = {
                s: lease
                for s, lease in live_leases(self.blobs, keys, self.rt.clock.now()).items()
                if service in (None, s)
            }
            if not held or time.monotonic() >= deadline:
                return held
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))

    # -- reading the store (never takes the lease) ----------------------------------------------------
    def status(self, release_id: str | None = None) -> Status:
        return latest_status(self.journal, release_id)

    def trail(self, release_id: str) -> Result:
        return Result(latest_status(self.journal, release_id), tuple(self.journal.records(release_id)))

    # -- construction ---------------------------------------------------------------------------------
    @property
    def ops(self) -> StackOps:
        if self._ops is None:
            stack = self.rt.open_stack(self.target.stack, self.target.work_dir)
            self._ops = StackOps(
                stack,
                self.rt.clock,
                backoff_seconds=self.rt.stack_backoff_seconds,
                on_output=self._pulumi_log,
                policy_packs=[str(p) for p in self._policy_packs()],
            )
        return self._ops

    def _policy_packs(self) -> tuple[Path, ...]:
        if self.target.policy_packs is not None:
            return self.target.policy_packs
        default = self.target.work_dir / "policies"
        return (default,) if (default / "PulumiPolicy.yaml").is_file() else ()

    @property
    def store_url(self) -> str:
        """The release store's URL, checked (`--store`, else the stack config key `releaseStore`)."""
        url = self.target.store_url or self.ops.get_config(CONFIG_KEY) or ""
        if url:
            try:
                parse_store_url(url)
            except ContractError as exc:
                raise InputError(CONFIG_KEY, exc.problem) from None
        if not url:
            raise InputError(
                CONFIG_KEY,
                f"not set for stack {self.target.stack}: the driver keeps release state in a release store "
                f"(s3://<bucket>/<prefix> or file://<path>); set it in Pulumi.{self.target.stack}.yaml or "
                f"pass --store (see {STORE_DOCS})",
            )
        return url

    @property
    def blobs(self) -> Blobs:
        if self._blobs is None:
            try:
                self._blobs = self.rt.open_blobs(
                    self.store_url,
                    base_dir=self.target.work_dir,
                    s3_client=self._clients.get("s3"),
                    region=self.target.region,
                )
            except ContractError as exc:
                raise InputError(CONFIG_KEY, exc.problem) from None
            except StoreError as exc:
                raise InputError(CONFIG_KEY, str(exc)) from None
        return self._blobs

    @property
    def journal(self) -> ReleaseStore:
        """The release store of this stack + service (journal, lease and release state)."""
        if self._store is None:
            self._store = ReleaseStore(
                self.blobs,
                project_name(self.target.work_dir),
                self.target.stack,
                self.target.service,
                self.rt.clock,
                holder=self.rt.holder,
                lease_seconds=self.rt.lease_seconds,
            )
        return self._store

    def _pulumi_log(self, line: str) -> None:
        path = self.target.work_dir / ".zdd" / "logs" / f"{self.target.stack}-{self.target.service}.pulumi.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line if line.endswith("\n") else line + "\n")

    def _client(self, name: str) -> Any:
        if name not in self._clients:
            self._clients[name] = client(name, region=self.target.region)
        return self._clients[name]

    def service_outputs(self) -> ServiceOutputs:
        """The service's entry of the stack output `services`; only paired services are released here."""
        try:
            service = parse_service(self.ops.outputs(), self.target.service)
        except ContractError as exc:
            raise self._refusal(exc, "services", "service") from None
        if service.mode != "paired":
            raise InputError(
                "service",
                f"{service.name} uses mode {service.mode!r}; ECS shifts its traffic itself, "
                "the driver releases paired services only",
            )
        return service

    def fleet_outputs(self) -> FleetOutputs:
        """The fleet's entry of the stack output `fleets`."""
        try:
            return parse_fleet(self.ops.outputs(), self.target.service)
        except ContractError as exc:
            raise self._refusal(exc, "fleets", "fleet") from None

    def _refusal(self, exc: ContractError, section: str, what: str) -> InputError:
        if exc.key == f"{section}.{self.target.service}":  # no such entry: the operator named it
            return InputError("service", f"unknown {what} {self.target.service!r}: {exc.problem}")
        return InputError(exc.key, f"{exc.problem} in the stack output `{section}`")

    def _current_state(
        self, store: ReleaseStore, service: ServiceOutputs, router: ElbRuleRouter
    ) -> tuple[ServiceState, bool]:
        """The release state to start from, and whether it must be written first.

        Never released: adopted from the deployed stack (what git's config bootstrapped). Then the
        load balancer must agree with it, unless --adopt-live takes the load balancer's weights.
        """
        state = store.service_state()
        adopted = state is None
        if state is None:
            state = ServiceState(
                live_color=service.live_color,
                weights=service.weights,
                blue=ColorState(service.blue.image, service.blue.desired_count),
                green=ColorState(service.green.image, service.green.desired_count),
                updated_at=self.rt.clock.now(),
            )
        observed = router.observed_weights()
        if observed != state.weights:
            live = next((c for c in COLORS if observed.of(c) == 100), None)
            if not self.target.adopt_live or live is None:
                hint = (
                    "pass --adopt-live to take the load balancer's weights as the truth"
                    if live is not None
                    else "traffic is split: abort or finish that release first"
                )
                raise InputError(
                    "service",
                    f"drift: the load balancer routes {observed.as_dict()} but the release store says "
                    f"{state.weights.as_dict()} (live {state.live_color}); nothing was moved; {hint}",
                )
            state = ServiceState(live, observed, state.blue, state.green, "", self.rt.clock.now())
            adopted = True
        if state.weights != Weights.all_to(state.live_color):
            raise InputError(
                "service",
                f"traffic of {self.target.service} is split {state.weights.as_dict()} in the release store; "
                "finish or abort that release first",
            )
        return state, adopted

    def _service_spec(
        self,
        request: ServiceRequest,
        stable: str,
        count: int,
        state: ServiceState | None = None,
        service: ServiceOutputs | None = None,
    ) -> ServiceSpec:
        return ServiceSpec(
            stack=self.target.stack,
            service=self.target.service,
            image=request.image,
            desired_count=count,
            stable_color=stable,  # type: ignore[arg-type]
            plan=request.plan,
            analysis=request.analysis,
            health_timeout_seconds=request.health_timeout_seconds,
            keep_warm_seconds=DEFAULT_KEEP_WARM_SECONDS
            if request.keep_warm_seconds is None
            else request.keep_warm_seconds,
            stable_desired_count=state.color(stable).desired_count if state else 1,  # type: ignore[arg-type]
            project=project_name(self.target.work_dir) if service else "",
            rule_arn=service.production_rule_arn if service else "",
            metric_checks=request.metric_checks.to_dict() if request.metric_checks else None,
            stable_image=state.color(stable).image if state else "",  # type: ignore[arg-type]
        )

    @staticmethod
    def _with_declared_migrations(request: ServiceRequest, service: ServiceOutputs) -> ServiceRequest:
        """The stack's declared migrations (`services.<name>.migrations`) when no flag gave any."""
        declared = service.migrations
        if declared is None:
            return request
        if request.keep_warm_seconds is None:
            request = dataclasses.replace(request, keep_warm_seconds=float(declared.keep_warm_seconds))
        if request.plan.migrations is not None:
            return request
        try:
            migrations = Migrations(
                expand_command=declared.expand_command or "",
                compat_command=declared.compat_command or "",
                contract_command=declared.contract_command or "",
                contract_delay_seconds=float(declared.contract_delay_seconds),
            )
        except InputError as exc:
            raise InputError(f"services.{service.name}.migrations", exc.problem) from None
        return dataclasses.replace(request, plan=dataclasses.replace(request.plan, migrations=migrations))

    def _fleet_spec(
        self, ami: str, request: FleetRequest, fleet: FleetOutputs | None, released: int, previous: str
    ) -> FleetSpec:
        return FleetSpec(
            stack=self.target.stack,
            fleet=self.target.service,
            ami_id=ami,
            config_path=fleet.config_path if fleet else f"fleets.{self.target.service}",
            group_name=fleet.auto_scaling_group_name if fleet else "unknown",
            launch_template_id=fleet.launch_template_id if fleet else "unknown",
            released_version=released,
            previous_ami=previous,
            preferences=fleet.refresh_preferences if fleet else {},
            analysis=request.analysis,
            timeout_seconds=request.timeout_seconds,
            project=project_name(self.target.work_dir) if fleet else "",
        )

    def _resolve_ami(self, fleet: FleetOutputs) -> str:
        """The AMI the fleet's SSM parameter names now; recorded in the store, so `up` keeps it."""
        if not fleet.ami_ssm_parameter:
            raise InputError("ami_id", f"required: fleet {fleet.name} names no SSM parameter to resolve")
        try:
            value = self._client("ssm").get_parameter(Name=fleet.ami_ssm_parameter)["Parameter"]["Value"]
        except AWS_ERRORS as exc:
            raise port_error(f"ssm get_parameter {fleet.ami_ssm_parameter}", exc) from exc
        self.announce(f"{fleet.ami_ssm_parameter} resolves to {value} now; that AMI is what this release rolls out")
        return str(value)

    def _checks(self, request: CheckRequest, spec: ServiceSpec, service: ServiceOutputs) -> list[PreTrafficCheck]:
        checks: list[PreTrafficCheck] = []
        if service.test_url and request.test_listener:
            checks.append(self._http_check(request, service))
        env = {
            "ZDD_STACK": spec.stack,
            "ZDD_SERVICE": spec.service,
            "ZDD_IMAGE": spec.image,
            "ZDD_COLOR": spec.new_color,
            "ZDD_TEST_URL": service.test_url or "",
            "ZDD_TEST_HOST": service.test_host_name or "",
        }
        checks += [CommandHook(hook, env=env) for hook in request.hooks]
        return checks

    def _http_check(self, request: CheckRequest, service: ServiceOutputs) -> PreTrafficCheck:
        """GET the test URL with the service's host name, from the probe function or from here."""
        url = service.test_url.rstrip("/") + request.path
        options = {"expected_status": request.status, "body_pattern": request.body_pattern}
        here = HttpCheck(url, host_name=service.test_host_name, **options)  # also checks the inputs
        arn = _probe_function(request.check_from, service)
        return here if arn is None else ProbeFunctionCheck(self._client("lambda"), arn, here.request)

    def _deployer(self, service: ServiceOutputs, state: ServiceState) -> StackDeployer:
        return StackDeployer(
            self.ops,
            service,
            self.journal,
            state,
            self._client("elbv2"),
            self.rt.clock,
            health_poll_seconds=self.rt.health_poll_seconds,
        )

    def _router(self, service: ServiceOutputs) -> ElbRuleRouter:
        target_groups = {c: service.color(c).target_group_arn for c in COLORS}
        return ElbRuleRouter(self._client("elbv2"), service.production_rule_arn, target_groups)

    def service_ports(
        self,
        service: ServiceOutputs,
        state: ServiceState,
        checks: Sequence[PreTrafficCheck] = (),
        synthetic: SyntheticBake | None = None,
        metric_checks: AnalysisPlan | None = None,
    ) -> ServicePorts:
        """Router, metrics, deployer (from release state `state`) and checks of `service`."""
        metrics = CloudWatchMetrics(
            self._client("cloudwatch"),
            service.load_balancer_arn_suffix,
            {c: service.color(c).target_group_arn_suffix for c in COLORS},
            {c: ColorAlarms(service.color(c).composite_alarm_name, service.color(c).alarm_names) for c in COLORS},
            percentiles=self.target.percentiles,
        )
        deployer = self._deployer(service, state)
        return ServicePorts(
            self._router(service),
            metrics,
            deployer,
            tuple(checks),
            synthetic=self._synthetic(service, synthetic),
            metric_judge=self.metric_judge(metric_checks),
            migrations=self.migration_runner(service),
        )

    def migration_runner(self, service: ServiceOutputs, timeout_seconds: float = 1800.0) -> MigrationRunner:
        # 1800 s per command, on deploy and on resume alike (docs/migrations.md).
        """One-off ECS tasks when the stack exports a migration task for the service
        (`services.<name>.migrationTask`), else local processes (logs under `.zdd/logs/migrations`)."""
        task = service.migration_task
        if task is not None:
            return EcsMigrationRunner(
                self._client("ecs"), task, self.rt.clock, timeout_seconds=timeout_seconds, region=self.target.region
            )
        log_dir = self.target.work_dir / ".zdd" / "logs" / "migrations"
        return CommandMigrationRunner(log_dir, timeout_seconds=timeout_seconds)

    def _synthetic(self, service: ServiceOutputs, bake: SyntheticBake | None) -> ProbeSyntheticTraffic | None:
        """Bursts to the test and production URLs with the service's host name, from the probe
        function inside the VPC or from here (`bake.run_from`, as `--check-from`)."""
        if bake is None:
            return None
        try:
            targets = {
                via: ProbeRequest(url.rstrip("/") + bake.path, host_name=service.test_host_name, attempts=1)
                for via, url in (("test", service.test_url), ("production", service.production_url))
            }
        except ProbeInputError as exc:
            raise InputError("synthetic_path", exc.problem) from None
        arn = _probe_function(bake.run_from, service)
        run = run_here if arn is None else run_in_function(self._client("lambda"), arn)
        return ProbeSyntheticTraffic(targets, run, concurrency=bake.concurrency)

    def metric_sources(self) -> Mapping[str, MetricSource]:
        """The analysis file's built-in sources: `cloudwatch` over the driver's CloudWatch client
        (the one the ALB metrics use), `http-json` over its own httpx client."""
        return built_in_sources(self._client("cloudwatch"))

    def metric_judge(self, plan: AnalysisPlan | None) -> MetricJudge | None:
        """The judge of the analysis file's checks (None without a file). Build it at deploy from
        `ServiceRequest.metric_checks`, and on resume from the plan journaled with the release
        (`AnalysisPlan.from_dict`)."""
        if plan is None:
            return None
        return MetricJudge(plan, self.metric_sources())

    def publisher(self, service: ServiceOutputs) -> EventPublisher:
        if self.target.notify and service.notification_topic_arn:
            return SnsPublisher(self._client("sns"), service.notification_topic_arn)
        return NullPublisher()

    def fleet_ports(self, fleet: FleetOutputs) -> FleetPorts:
        lb = fleet.load_balancer_arn_suffix or ""
        cloudwatch = CloudWatchMetrics(self._client("cloudwatch"), lb, {}, {}, percentiles=self.target.percentiles)
        metrics = TargetGroupMetrics(
            cloudwatch,
            fleet.target_group_arn_suffix,
            ColorAlarms(fleet.composite_alarm_name, fleet.alarm_names),
            addressable=bool(lb),
        )
        return FleetPorts(
            stack=self.ops,
            refresher=InstanceRefresher(self._client("autoscaling"), fleet.auto_scaling_group_name),
            metrics=metrics,
            states=self.journal,
        )

    def _service_strategy(self, status: Status) -> tuple[Strategy, EventPublisher]:
        service = self.service_outputs()
        self._bound(status, service.production_rule_arn)
        state = self.journal.service_state()
        if state is None:
            raise StateError(f"release {status.release_id} has no release state in {self.journal.location}")
        spec = ServiceSpec.from_dict(status.spec)
        plan = AnalysisPlan.from_dict(spec.metric_checks) if spec.metric_checks else None
        ports = self.service_ports(service, state, synthetic=spec.plan.synthetic, metric_checks=plan)
        ports.deployer.release_id = status.release_id  # type: ignore[attr-defined]
        return ServiceRelease(spec, ports), self.publisher(service)

    @property
    def flag_set_name(self) -> str:
        """The flag set a `flags.<set>` target names."""
        if not self.target.service.startswith(TARGET_PREFIX) or self.target.service == TARGET_PREFIX:
            raise InputError("flag_set", f"expected {TARGET_PREFIX}<flag set>, got {self.target.service!r}")
        return self.target.service.removeprefix(TARGET_PREFIX)

    def flag_outputs(self) -> FeatureFlagsOutputs:
        """The flag set's entry of the stack output `featureFlags`."""
        try:
            return parse_feature_flags(self.ops.outputs(), self.flag_set_name)
        except ContractError as exc:
            if exc.key == f"featureFlags.{self.flag_set_name}":
                raise InputError("flag_set", f"unknown flag set {self.flag_set_name!r}: {exc.problem}") from None
            raise InputError(exc.key, f"{exc.problem} in the stack output `featureFlags`") from None

    def flag_ports(self, flags: FeatureFlagsOutputs, appconfig_strategy: str | None) -> FlagPorts:
        return FlagPorts(
            store=AppConfigFlagStore(self._client("appconfig"), flags, appconfig_strategy),
            metrics=CloudWatchFlagMetrics(self._client("cloudwatch"), flags, percentiles=self.target.percentiles),
            states=self.journal,
        )

    def _flag_strategy(self, status: Status) -> tuple[Strategy, EventPublisher]:
        flags = self.flag_outputs()
        spec = FlagSpec.from_dict(status.spec)
        self._bound(status, flag_resource(flags, spec.flag))
        return FlagRelease(spec, self.flag_ports(flags, spec.appconfig_strategy)), NullPublisher()

    def _fleet_strategy(self, status: Status) -> tuple[Strategy, EventPublisher]:
        fleet = self.fleet_outputs()
        self._bound(status, fleet.auto_scaling_group_name)
        return FleetRelease(FleetSpec.from_dict(status.spec), self.fleet_ports(fleet)), NullPublisher()

    def _bound(self, status: Status, resource: str) -> None:
        """The recorded release must be about this project and this rule/group (refused otherwise)."""
        latest_status(self.journal, status.release_id, project=project_name(self.target.work_dir), resource=resource)

    @property
    def strategies(self) -> Mapping[str, Callable[[Status], tuple[Strategy, EventPublisher]]]:
        """Release kind -> how to rebuild its strategy from a recorded status."""
        return {"service": self._service_strategy, "fleet": self._fleet_strategy, "flag": self._flag_strategy}

    def _start(self, strategy: Strategy, publisher: EventPublisher) -> Machine:
        return Machine.start(strategy, self.journal, self.rt.clock, publisher=publisher, on_progress=self.on_progress)

    def _continue(self, command: Callable[[Machine], Result], *, check_drift: bool = False) -> Result:
        store = self.journal
        with store.hold():
            status = latest_status(store)
            build = self.strategies.get(status.kind)
            if build is None:
                raise StateError(
                    f"release {status.release_id} is of kind {status.kind!r}, which this driver cannot run"
                )
            strategy, publisher = build(status)
            if check_drift and isinstance(strategy, ServiceRelease):
                self._refuse_drift(strategy)
            machine = Machine.continue_(
                strategy, store, self.rt.clock, status, publisher=publisher, on_progress=self.on_progress
            )
            return command(machine)

    def _refuse_drift(self, strategy: ServiceRelease) -> None:
        recorded = self.journal.service_state()
        observed = strategy.ports.router.observed_weights()
        if recorded is not None and observed != recorded.weights:
            raise InputError(
                "service",
                f"drift: the load balancer routes {observed.as_dict()} but the release store says "
                f"{recorded.weights.as_dict()}; nothing was moved; abort, or correct the rule",
            )

    def _refuse_if_in_progress(self) -> None:
        last = self.journal.last()
        if last is not None and last.state not in TERMINAL:
            raise InputError(
                "service",
                f"release {last.status.release_id} of {self.target.service} is {last.state}; "
                "promote, abort or resume it first",
            )

    def _refuse_if_release_unrecorded(self) -> None:
        """A fleet release whose refresh succeeded but whose released version was not recorded must
        be resumed first: a new release would pin the old version while AWS runs the new one."""
        last = self.journal.last()
        if last is not None and last.state == FAILED and last.status.facts.get("failed_in") == "PROMOTING":
            raise InputError(
                "service",
                f"fleet release {last.status.release_id} of {self.target.service} finished its instance refresh "
                "but did not record the released version; run `resume` first",
            )


def flag_resource(flags: FeatureFlagsOutputs, flag: str) -> str:
    """What a flag release moves, bound into every record: `appconfig:<app>/<env>/<profile>#<flag>`."""
    return f"appconfig:{flags.application_id}/{flags.environment_id}/{flags.configuration_profile_id}#{flag}"


__all__ = [
    "AnalysisPlan",
    "CheckRequest",
    "Driver",
    "FlagRequest",
    "FleetRequest",
    "KillRequest",
    "Runtime",
    "ServiceRequest",
    "Target",
    "apply_judge",
    "load_analysis_file",
    "project_name",
]
