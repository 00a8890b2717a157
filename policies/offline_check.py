"""Run the policy pack over a stack without the Pulumi CLI or cloud credentials.

    python -m zero_downtime.policies.offline_check dev staging      # named stacks
    python -m zero_downtime.policies.offline_check --all            # every Pulumi.<stack>.yaml
    python -m zero_downtime.policies.offline_check --all --config policy-config.json --json

The stack program runs under mocks (`offline.evaluate`), every registered resource becomes the
`ResourceValidationArgs` (inputs) and `PolicyResource` (inputs plus mocked outputs) that
CrossGuard would build, and every policy runs with the pack config. Provider-computed defaults
are absent offline: a property the program leaves unset is checked as unset.

Exit codes: 0 no mandatory violation, 1 a mandatory violation, 2 a program, stack file,
config or policy error (the stack gets no verdict).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..offline.evaluate import PROJECT_ROOT, evaluate_program, load_stack_config, stack_names
from ..offline.mocks import RecordedResource
from .config import EXEMPTIONS, PackConfig, PolicyConfigError, parse_pack_config
from .config import exempted as find_exemption
from .config import resolve as resolve_config
from .pack import all_policies
from .props import urn_name
from .rules import GuardPolicy, GuardResourcePolicy

EXIT_OK, EXIT_MANDATORY, EXIT_ERROR = 0, 1, 2
LIMITS_NOTE = (
    "Offline check: provider-computed defaults are absent, so a property the program leaves "
    "unset is checked as unset; values come from mocks, not from AWS or Kubernetes."
)


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str
    urn: str
    resource_type: str
    message: str

    @property
    def resource(self) -> str:
        return urn_name(self.urn)

    @property
    def mandatory(self) -> bool:
        return self.level == EnforcementLevel.MANDATORY.value


@dataclass(frozen=True)
class AppliedExemption:
    policy: str
    urn: str
    reason: str


@dataclass
class StackReport:
    stack: str
    resources: int = 0
    violations: list[Violation] = field(default_factory=list)
    exemptions: list[AppliedExemption] = field(default_factory=list)
    error: str | None = None

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.mandatory]

    @property
    def exit_code(self) -> int:
        if self.error:
            return EXIT_ERROR
        return EXIT_MANDATORY if self.mandatory else EXIT_OK


class PolicyRunError(RuntimeError):
    """A policy raised instead of reporting: a bug in the pack, not a violation."""


def make_urn(stack: str, project: str, resource: RecordedResource) -> str:
    """The URN the engine would give: recorded by RecordingMonitor, rebuilt without parents otherwise."""
    return resource.urn or f"urn:pulumi:{stack}::{project}::{resource.type}::{resource.name}"


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def resource_args(resource: RecordedResource, urn: str, config: dict[str, Any] | None) -> ResourceValidationArgs:
    """What CrossGuard's Analyze gets: the inputs the provider would receive."""
    return ResourceValidationArgs(resource.type, resource.inputs, urn, resource.name, _options(), None, config)


def policy_resource(resource: RecordedResource, urn: str) -> PolicyResource:
    """What AnalyzeStack gets: the resource's state, i.e. inputs plus outputs (id included)."""
    props = {**resource.outputs, "id": resource.id}
    return PolicyResource(resource.type, props, urn, resource.name, _options(), None, None, [], {})


def _run(
    policy: GuardPolicy,
    resources: list[RecordedResource],
    stack_resources: list[PolicyResource],
    urns: list[str],
    config: dict[str, Any] | None,
) -> list[tuple[str, str]]:
    """(urn, message) of every violation of one policy with one config."""
    found: list[tuple[str, str]] = []
    if isinstance(policy, GuardResourcePolicy):
        for resource, urn in zip(resources, urns, strict=True):
            policy.validate(
                resource_args(resource, urn, config),
                lambda message, _urn=None, urn=urn: found.append((urn, message)),
            )
    else:
        policy.validate(
            StackValidationArgs(stack_resources, config),
            lambda message, urn=None: found.append((urn or "", message)),
        )
    return found


def check_resources(
    stack: str,
    project: str,
    resources: list[RecordedResource],
    pack_config: PackConfig,
    policies: Sequence[GuardPolicy] | None = None,
) -> StackReport:
    """Run every enabled policy over recorded resources; the pure core of the offline check."""
    report = StackReport(stack, resources=len(resources))
    urns = [make_urn(stack, project, r) for r in resources]
    types = {urn: r.type for urn, r in zip(urns, resources, strict=True)}
    stack_resources = [policy_resource(r, u) for r, u in zip(resources, urns, strict=True)]
    for policy in policies if policies is not None else all_policies():
        level = pack_config.level_for(policy.name, policy.enforcement_level)
        if level == EnforcementLevel.DISABLED:
            continue
        if level == EnforcementLevel.REMEDIATE:
            level = EnforcementLevel.MANDATORY  # as CrossGuard does for policies that still fail
        config = pack_config.properties_for(policy.name) or None
        try:
            found = _run(policy, resources, stack_resources, urns, config)
        except Exception as err:  # a validator bug must name the policy, not end in a traceback
            raise PolicyRunError(f"policy {policy.name} failed: {type(err).__name__}: {err}") from err
        for urn, message in found:
            report.violations.append(Violation(policy.name, level.value, urn, types.get(urn, ""), message))
        if config and config.get(EXEMPTIONS):
            exemptions = resolve_config(policy.name, policy.settings, config)[EXEMPTIONS]
            unexempted = {k: v for k, v in config.items() if k != EXEMPTIONS}
            for urn, _message in _run(policy, resources, stack_resources, urns, unexempted):
                match = find_exemption(exemptions, urn_name(urn), urn)
                if match:
                    report.exemptions.append(AppliedExemption(policy.name, urn, match.reason))
    return report


def check_stack(stack: str, pack_config: PackConfig, project_dir: Path = PROJECT_ROOT) -> StackReport:
    try:
        project = load_stack_config(stack, project_dir).project
        evaluation = evaluate_program(stack, project_dir=project_dir)
    except Exception as err:  # any program failure is reported, never a traceback
        return StackReport(stack, error=f"the stack program failed: {type(err).__name__}: {err}")
    try:
        return check_resources(stack, project, evaluation.resources, pack_config)
    except PolicyRunError as err:
        return StackReport(stack, resources=len(evaluation.resources), error=str(err))


def load_pack_config(path: Path | None) -> PackConfig:
    """Read a JSON or YAML pack config (the `--policy-pack-config` format) and validate it."""
    if path is None:
        return PackConfig()
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as err:
        raise PolicyConfigError("--config", f"cannot read {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise PolicyConfigError("--config", f"{path} is not valid JSON or YAML: {err}") from err
    return parse_pack_config(raw, {p.name: p.settings for p in all_policies()})


# --- output --------------------------------------------------------------------------------


def _ordered(violations: list[Violation]) -> list[tuple[str, list[Violation]]]:
    """Group by resource; resources with a mandatory violation first, mandatory first within."""
    groups: dict[str, list[Violation]] = {}
    for violation in violations:
        groups.setdefault(violation.urn, []).append(violation)
    for group in groups.values():
        group.sort(key=lambda v: (not v.mandatory, v.policy))
    return sorted(groups.items(), key=lambda kv: (not kv[1][0].mandatory, urn_name(kv[0])))


def render(report: StackReport, console: Console) -> None:
    console.rule(f"[bold]stack {escape(report.stack)}")
    if report.error:
        console.print(f"[bold red]error[/] {escape(report.error)}", soft_wrap=True)
        return
    for urn, group in _ordered(report.violations):
        where = f"{urn_name(urn)} ({group[0].resource_type})" if urn else "(stack)"
        console.print(f"[bold]{escape(where)}")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, min_width=11)
        grid.add_column()
        for v in group:
            style = "bold red" if v.mandatory else "yellow"
            grid.add_row(f"  [{style}]{escape(v.level)}[/]", f"[cyan]{escape(v.policy)}[/]\n{escape(v.message)}")
        console.print(grid)
    for e in report.exemptions:
        console.print(f"[dim]exempted {escape(e.policy)} on {escape(urn_name(e.urn))}: {escape(e.reason)}")
    advisory = len(report.violations) - len(report.mandatory)
    verdict = "[bold red]FAIL[/]" if report.mandatory else "[bold green]PASS[/]"
    console.print(
        f"{verdict} {report.resources} resources: {len(report.mandatory)} mandatory, "
        f"{advisory} advisory, {len(report.exemptions)} exempted"
    )


def _as_json(reports: list[StackReport]) -> str:
    return json.dumps(
        {
            "note": LIMITS_NOTE,
            "stacks": [
                {
                    "stack": r.stack,
                    "resources": r.resources,
                    "error": r.error,
                    "exitCode": r.exit_code,
                    "violations": [{**asdict(v), "resource": v.resource} for _, g in _ordered(r.violations) for v in g],
                    "exemptions": [asdict(e) for e in r.exemptions],
                }
                for r in reports
            ],
        },
        indent=2,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m zero_downtime.policies.offline_check",
        description="Check stacks against the policy pack offline (mocks, no CLI, no cloud).",
        epilog="Exit codes: 0 clean (advisories allowed), 1 mandatory violation, 2 error.",
    )
    parser.add_argument("stacks", nargs="*", metavar="STACK", help="stack names (Pulumi.<STACK>.yaml)")
    parser.add_argument("--all", action="store_true", help="check every Pulumi.<stack>.yaml")
    parser.add_argument("--config", type=Path, help="pack config file, JSON or YAML")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_ROOT, help="project directory (default: repo)")
    parser.add_argument("--json", action="store_true", help="print a JSON report instead")
    args = parser.parse_args(argv)
    err_console = Console(stderr=True)

    if bool(args.stacks) == args.all:
        parser.error("name one or more stacks, or pass --all (not both)")
    try:
        pack_config = load_pack_config(args.config)
    except PolicyConfigError as err:
        err_console.print(f"[bold red]error[/] pack config {escape(str(err))}", soft_wrap=True)
        return EXIT_ERROR
    project_dir = args.project_dir.resolve()
    stacks = stack_names(project_dir) if args.all else list(args.stacks)
    if not stacks:
        err_console.print(f"[bold red]error[/] --all: no Pulumi.<stack>.yaml in {escape(str(project_dir))}")
        return EXIT_ERROR

    reports = [check_stack(stack, pack_config, project_dir) for stack in stacks]
    if args.json:
        print(_as_json(reports))
    else:
        console = Console()
        console.print(f"[dim]{LIMITS_NOTE}")
        for report in reports:
            render(report, console)
    return max(r.exit_code for r in reports)


if __name__ == "__main__":
    sys.exit(main())
