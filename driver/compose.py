"""The composition root: the one place that builds adapters and hands them to the core.

The CLI parses flags into the requests below and calls a `Driver`; the Driver opens the stack,
reads its outputs through the contract, builds the AWS, Automation API, HTTP-check and journal
adapters, picks the strategy and returns what the machine did. Which strategy continues a recorded
release is decided by the `kind` its status carries (`STRATEGIES`), so no caller branches on types.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract import COLORS, ContractError, FleetOutputs, ServiceOutputs, Weights, parse_fleet, parse_service
from .adapters.aws.clients import client
from .adapters.aws.events import SnsPublisher
from .adapters.aws.instance_refresh import InstanceRefresher
from .adapters.aws.metrics import CloudWatchMetrics, ColorAlarms, TargetGroupMetrics
from .adapters.aws.router import ElbRuleRouter
from .adapters.checks import CommandHook, HttpCheck
from .adapters.file_journal import FileJournal
from .adapters.pulumi_stack import StackLike, StackOps, select_stack
from .adapters.stack_deployer import StackDeployer
from .core.analysis import AnalysisConfig
from .core.errors import InputError, StateError
from .core.fleet import FleetPorts, FleetRelease, FleetSpec, released_version
from .core.machine import Machine, Progress, Result, Strategy, latest_status
from .core.plan import Plan
from .core.ports import Clock, EventPublisher, NullPublisher, PreTrafficCheck, SystemClock
from .core.service import ServicePorts, ServiceRelease, ServiceSpec
from .core.status import FAILED, STOPPED, TERMINAL, Status


@dataclass
class Runtime:
    """What the driver reaches outside itself; tests replace the stack and the AWS clients."""

    open_stack: Callable[[str, Path], StackLike] = select_stack
    clients: Mapping[str, Any] | None = None
    clock: Clock = field(default_factory=SystemClock)
    stack_backoff_seconds: float = 5.0
    health_poll_seconds: float = 5.0


@dataclass(frozen=True)
class Target:
    """Where a command acts, and how it reaches AWS."""

    stack: str
    service: str
    work_dir: Path
    journal_dir: Path | None = None
    region: str | None = None
    percentiles: bool = True
    """Query p99/Apdex (off for emulators without percentile statistics)."""
    notify: bool = False
    """Publish release events to the service's SNS topic."""


@dataclass(frozen=True)
class CheckRequest:
    """Pre-traffic checks of a service release."""

    path: str = "/health"
    status: int = 200
    body_pattern: str | None = None
    hooks: Sequence[str] = ()
    test_listener: bool = True

    def validate(self) -> None:
        if not 100 <= self.status <= 599:
            raise InputError("check_status", f"must be an HTTP status, got {self.status}")
        if not self.path.startswith("/"):
            raise InputError("check_path", f"must start with '/', got {self.path!r}")
        if self.body_pattern is not None:
            try:
                re.compile(self.body_pattern)
            except re.error as exc:
                raise InputError("check_body", f"not a valid regular expression: {exc}") from None
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
    keep_warm_seconds: float = 900.0
    checks: CheckRequest = field(default_factory=CheckRequest)


@dataclass(frozen=True)
class FleetRequest:
    ami_id: str
    analysis: AnalysisConfig
    timeout_seconds: float = 3600.0


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
        root = target.journal_dir or (target.work_dir / ".zdd" / "journal")
        self.journal = FileJournal(root, target.stack, target.service)
        self._ops: StackOps | None = None
        self._clients: dict[str, Any] = dict(runtime.clients or {})

    # -- commands ------------------------------------------------------------------------------------
    def deploy_service(self, request: ServiceRequest) -> Result:
        """Release `request.image` to the idle color. Everything is checked before anything changes."""
        t = self.target
        # Refuse bad input before the stack opens.
        self._service_spec(request, "blue", 1 if request.desired_count is None else request.desired_count)
        request.checks.validate()
        service = self.service_outputs()
        stable = service.live_color
        if service.weights != Weights.all_to(stable):
            raise InputError(
                "service",
                f"traffic of {t.service} is split {service.weights.as_dict()} with liveColor {stable}; "
                "finish or abort that release first",
            )
        count = (
            request.desired_count if request.desired_count is not None else max(1, service.color(stable).desired_count)
        )
        spec = self._service_spec(request, stable, count)
        with self.journal.hold():
            self._refuse_if_in_progress()
            strategy = ServiceRelease(spec, self.service_ports(service, self._checks(request.checks, spec, service)))
            observed = strategy.ports.router.observed_weights()
            if observed != Weights.all_to(stable):
                raise InputError(
                    "service",
                    f"the load balancer reports {observed.as_dict()} but the stack says 100% {stable}; "
                    "run `pulumi refresh` or abort the previous release first",
                )
            machine = self._start(strategy, self.publisher(service))
            self.announce(
                f"release {machine.status.release_id}: {spec.image} -> {t.service}/{spec.new_color} "
                f"({spec.plan.strategy.value}, steps {[s.weight for s in spec.plan.steps]})"
            )
            return machine.run()

    def deploy_fleet(self, request: FleetRequest) -> Result:
        """Roll `request.ami_id` out to the fleet by an instance refresh the driver starts and follows."""
        self._fleet_spec(request, None, 1)  # refuse a bad AMI before the stack opens
        fleet = self.fleet_outputs()
        with self.journal.hold():
            self._refuse_if_in_progress()
            self._refuse_if_release_unrecorded()
            key = f"{fleet.config_path}.releasedVersion"
            # N: the version a rollback returns to; pinned in config before the template changes.
            versions = self.ops.template_versions(self.target.service)
            spec = self._fleet_spec(request, fleet, released_version(self.ops.get_config(key), versions, key))
            machine = self._start(FleetRelease(spec, self.fleet_ports(fleet)), NullPublisher())
            self.announce(
                f"fleet release {machine.status.release_id}: {spec.ami_id} -> {fleet.auto_scaling_group_name} "
                f"(held on launch template version {spec.released_version} until the refresh succeeds)"
            )
            return machine.run()

    def promote(self) -> Result:
        return self._continue(lambda m: m.promote())

    def resume(self) -> Result:
        return self._continue(lambda m: m.resume())

    def abort(self, reason: str, wait_seconds: float) -> Result:
        """Roll the latest release back. While another driver runs it, ask that driver through the
        journal and wait up to `wait_seconds` for its rollback (Outcome RUNNING if it is not done)."""
        status = latest_status(self.journal)
        if not self.journal.held():
            return self._continue(lambda m: m.abort(reason))
        self.journal.request_abort(status.release_id, reason)
        self.announce(f"abort requested from the running driver of {status.release_id}; waiting up to {wait_seconds}s")
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if latest_status(self.journal, status.release_id).state in STOPPED:
                break
            time.sleep(0.5)
        final = latest_status(self.journal, status.release_id)
        return Result(final, tuple(self.journal.records(status.release_id)))

    # -- reading the journal (never takes the lock, never opens the stack) ------------------------------
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
                stack, self.rt.clock, backoff_seconds=self.rt.stack_backoff_seconds, on_output=self._pulumi_log
            )
        return self._ops

    def _pulumi_log(self, line: str) -> None:
        path = self.journal.path.with_suffix(".pulumi.log")
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

    def _service_spec(self, request: ServiceRequest, stable: str, count: int) -> ServiceSpec:
        return ServiceSpec(
            stack=self.target.stack,
            service=self.target.service,
            image=request.image,
            desired_count=count,
            stable_color=stable,  # type: ignore[arg-type]
            plan=request.plan,
            analysis=request.analysis,
            health_timeout_seconds=request.health_timeout_seconds,
            keep_warm_seconds=request.keep_warm_seconds,
        )

    def _fleet_spec(self, request: FleetRequest, fleet: FleetOutputs | None, released: int) -> FleetSpec:
        return FleetSpec(
            stack=self.target.stack,
            fleet=self.target.service,
            ami_id=request.ami_id,
            config_path=fleet.config_path if fleet else f"fleets.{self.target.service}",
            group_name=fleet.auto_scaling_group_name if fleet else "unknown",
            launch_template_id=fleet.launch_template_id if fleet else "unknown",
            released_version=released,
            preferences=fleet.refresh_preferences if fleet else {},
            analysis=request.analysis,
            timeout_seconds=request.timeout_seconds,
        )

    def _checks(self, request: CheckRequest, spec: ServiceSpec, service: ServiceOutputs) -> list[PreTrafficCheck]:
        checks: list[PreTrafficCheck] = []
        if service.test_url and request.test_listener:
            url = service.test_url.rstrip("/") + request.path
            checks.append(HttpCheck(url, expected_status=request.status, body_pattern=request.body_pattern))
        env = {
            "ZDD_STACK": spec.stack,
            "ZDD_SERVICE": spec.service,
            "ZDD_IMAGE": spec.image,
            "ZDD_COLOR": spec.new_color,
            "ZDD_TEST_URL": service.test_url or "",
        }
        checks += [CommandHook(hook, env=env) for hook in request.hooks]
        return checks

    def service_ports(self, service: ServiceOutputs, checks: Sequence[PreTrafficCheck] = ()) -> ServicePorts:
        elbv2, cloudwatch = self._client("elbv2"), self._client("cloudwatch")
        router = ElbRuleRouter(
            elbv2, service.production_rule_arn, {c: service.color(c).target_group_arn for c in COLORS}
        )
        metrics = CloudWatchMetrics(
            cloudwatch,
            service.load_balancer_arn_suffix,
            {c: service.color(c).target_group_arn_suffix for c in COLORS},
            {c: ColorAlarms(service.color(c).composite_alarm_name, service.color(c).alarm_names) for c in COLORS},
            percentiles=self.target.percentiles,
        )
        deployer = StackDeployer(
            self.ops, service, elbv2, self.rt.clock, health_poll_seconds=self.rt.health_poll_seconds
        )
        return ServicePorts(router=router, metrics=metrics, deployer=deployer, checks=tuple(checks))

    def publisher(self, service: ServiceOutputs) -> EventPublisher:
        if self.target.notify and service.notification_topic_arn:
            return SnsPublisher(self._client("sns"), service.notification_topic_arn)
        return NullPublisher()

    def fleet_ports(self, fleet: FleetOutputs) -> FleetPorts:
        cloudwatch = CloudWatchMetrics(
            self._client("cloudwatch"),
            fleet.load_balancer_arn_suffix or "",
            {},
            {},
            percentiles=self.target.percentiles,
        )
        metrics = TargetGroupMetrics(
            cloudwatch,
            fleet.target_group_arn_suffix,
            ColorAlarms(fleet.composite_alarm_name, fleet.alarm_names),
            addressable=bool(fleet.load_balancer_arn_suffix),
        )
        return FleetPorts(
            stack=self.ops,
            refresher=InstanceRefresher(self._client("autoscaling"), fleet.auto_scaling_group_name),
            metrics=metrics,
        )

    def _service_strategy(self, status: Status) -> tuple[Strategy, EventPublisher]:
        service = self.service_outputs()
        return ServiceRelease(ServiceSpec.from_dict(status.spec), self.service_ports(service)), self.publisher(service)

    def _fleet_strategy(self, status: Status) -> tuple[Strategy, EventPublisher]:
        return FleetRelease(FleetSpec.from_dict(status.spec), self.fleet_ports(self.fleet_outputs())), NullPublisher()

    @property
    def strategies(self) -> Mapping[str, Callable[[Status], tuple[Strategy, EventPublisher]]]:
        """Release kind -> how to rebuild its strategy from a recorded status."""
        return {"service": self._service_strategy, "fleet": self._fleet_strategy}

    def _start(self, strategy: Strategy, publisher: EventPublisher) -> Machine:
        return Machine.start(strategy, self.journal, self.rt.clock, publisher=publisher, on_progress=self.on_progress)

    def _continue(self, command: Callable[[Machine], Result]) -> Result:
        with self.journal.hold():
            status = latest_status(self.journal)
            build = self.strategies.get(status.kind)
            if build is None:
                raise StateError(
                    f"release {status.release_id} is of kind {status.kind!r}, which this driver cannot run"
                )
            strategy, publisher = build(status)
            machine = Machine.continue_(
                strategy, self.journal, self.rt.clock, status, publisher=publisher, on_progress=self.on_progress
            )
            return command(machine)

    def _refuse_if_in_progress(self) -> None:
        last = self.journal.last()
        if last is not None and last.state not in TERMINAL:
            raise InputError(
                "service",
                f"release {last.status.release_id} of {self.target.service} is {last.state}; "
                "promote, abort or resume it first",
            )

    def _refuse_if_release_unrecorded(self) -> None:
        """A fleet release whose refresh succeeded but whose releasedVersion write failed must be
        resumed first: a new release would pin the old version while AWS runs the new one."""
        last = self.journal.last()
        if last is not None and last.state == FAILED and last.status.facts.get("failed_in") == "PROMOTING":
            raise InputError(
                "service",
                f"fleet release {last.status.release_id} of {self.target.service} finished its instance refresh "
                "but did not record releasedVersion; run `resume` first",
            )
