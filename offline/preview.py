"""`python -m zero_downtime.offline.preview <stack>`: what `pulumi up` would create, without an account.

Evaluates the program for `Pulumi.<stack>.yaml` under mocks and prints the resource tree with the
properties that matter for zero-downtime releases. ARNs and names are mock values.

Exit codes: 0 the tree was printed; 2 the stack file, its config or the program was refused (the
message names the key at fault; a name the provider would refuse names the resource). Everything
user-influenced prints literally: no rich markup is read from names, paths or error messages.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from ..contract.types import ResourceType as T
from .evaluate import PROJECT_ROOT, Evaluation, StackFileError, evaluate_program, stack_names
from .mocks import ProviderRefusal, RecordedResource

EXIT_OK, EXIT_ERROR = 0, 2


def _forward_weights(actions: list[dict[str, Any]], names: dict[str, str]) -> str:
    for action in actions or []:
        if action.get("type") == "forward":
            groups = action["forward"]["targetGroups"]
            return ", ".join(f"{names.get(g['arn'], g['arn'])}={int(g['weight'])}%" for g in groups)
        if action.get("type") == "redirect":
            return f"redirect -> {action['redirect'].get('protocol')}:{action['redirect'].get('port')}"
        if action.get("type") == "fixed-response":
            return f"fixed {action['fixedResponse'].get('statusCode')}"
    return ""


def _conditions(inputs: dict[str, Any]) -> str:
    parts = []
    for condition in inputs.get("conditions", []):
        for kind in ("pathPattern", "hostHeader"):
            if kind in condition:
                parts.append(f"{kind}={','.join(condition[kind]['values'])}")
    return " ".join(parts)


def _summary(resource: RecordedResource, tg_names: dict[str, str]) -> str:
    i = resource.inputs
    describe: dict[str, Callable[[], str]] = {
        T.ECS_SERVICE: lambda: (
            f"desired={int(i.get('desiredCount', 0))} min/max={int(i.get('deploymentMinimumHealthyPercent', 0))}/"
            f"{int(i.get('deploymentMaximumPercent', 0))}% circuit-breaker-rollback="
            f"{i.get('deploymentCircuitBreaker', {}).get('rollback')}"
            + (f" strategy={i['deploymentConfiguration'].get('strategy')}" if i.get("deploymentConfiguration") else "")
        ),
        T.ECS_TASK_DEFINITION: lambda: (
            f"image={json.loads(i['containerDefinitions'])[0]['image']} cpu={i.get('cpu')} memory={i.get('memory')}"
        ),
        T.TARGET_GROUP: lambda: (
            f"health={i['healthCheck'].get('path')} every {int(i['healthCheck'].get('interval', 0))}s "
            f"deregistration={int(i.get('deregistrationDelay', 300))}s"
        ),
        T.LISTENER: lambda: (
            f"{i.get('protocol')}:{int(i.get('port', 0))} default: {_forward_weights(i.get('defaultActions'), {})}"
        ),
        T.LISTENER_RULE: lambda: (
            f"priority={int(i.get('priority', 0))} {_conditions(i)} -> {_forward_weights(i.get('actions'), tg_names)}"
            + (" (actions owned by ECS)" if resource.ignore_changes else "")
        ),
        T.METRIC_ALARM: lambda: f"{i.get('name')} > {i.get('threshold')}",
        T.COMPOSITE_ALARM: lambda: f"{i.get('alarmName')}",
        T.LOAD_BALANCER: lambda: f"internal={i.get('internal')} access-logs={bool(i.get('accessLogs'))}",
        T.SECURITY_GROUP: lambda: ", ".join(
            f"{int(r['fromPort'])}<-{','.join(r.get('cidrBlocks') or r.get('securityGroups') or [])}"
            for r in i.get("ingress", [])
        ),
        T.SUBNET: lambda: f"{i.get('cidrBlock')} {i.get('tags', {}).get('tier', '')}",
        T.AUTOSCALING_GROUP: lambda: (
            f"desired={i.get('desiredCapacity')} min={i.get('minSize')} max={i.get('maxSize')} "
            f"health={i.get('healthCheckType')}"
        ),
        T.K8S_DEPLOYMENT: lambda: (
            f"replicas={int(i.get('spec', {}).get('replicas', 0))} "
            f"strategy={i.get('spec', {}).get('strategy', {}).get('rollingUpdate')}"
        ),
    }
    try:
        return describe[resource.type]() if resource.type in describe else ""
    except (KeyError, TypeError, ValueError, IndexError):
        return ""


def render(evaluation: Evaluation, console: Console) -> None:
    children: dict[str, list[RecordedResource]] = defaultdict(list)
    for resource in evaluation.resources:
        children[resource.parent].append(resource)
    tg_names = {r.outputs.get("arn"): r.name for r in evaluation.of_type(T.TARGET_GROUP)}
    known = {r.urn for r in evaluation.resources}
    roots = [urn for urn in children if urn not in known]
    tree = Tree(f"[bold]stack {escape(evaluation.stack)}[/] ({len(evaluation.resources)} resources, offline)")

    def add(node: Tree, parent_urn: str) -> None:
        for resource in children.get(parent_urn, []):
            label = f"[cyan]{escape(resource.type.rsplit(':', 1)[-1])}[/] {escape(resource.name)}"
            summary = _summary(resource, tg_names)
            branch = node.add(f"{label}  [dim]{escape(summary)}[/]" if summary else label)
            add(branch, resource.urn)

    for root in roots:
        add(tree, root)
    console.print(tree)


def main(argv: list[str] | None = None, console: Console | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m zero_downtime.offline.preview",
        description="Show what `pulumi up` would create for a stack, evaluated offline under mocks.",
        epilog="Exit codes: 0 the resource tree was printed, 2 the stack was refused (the message names the key).",
    )
    parser.add_argument("stack", nargs="?", default="dev", help="stack name: Pulumi.<stack>.yaml (default dev)")
    parser.add_argument("--outputs", action="store_true", help="also print the stack outputs as JSON")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_ROOT, help="project directory (default: repo)")
    args = parser.parse_args(argv)
    console = console or Console()
    project_dir = args.project_dir.resolve()
    stacks = stack_names(project_dir)
    if args.stack not in stacks:
        console.print(f"[red]unknown stack {escape(repr(args.stack))}[/]: choose one of {escape(', '.join(stacks))}")
        return EXIT_ERROR
    where = f"Pulumi.{args.stack}.yaml"
    try:
        evaluation = evaluate_program(args.stack, project_dir=project_dir)
    except (ValueError, StackFileError) as err:  # ConfigError, ArgError, StackFileError name the key
        kind = "refused by the provider" if isinstance(err, ProviderRefusal) else "config error"
        console.print(f"[red]{kind} in {escape(where)}:[/] {escape(str(err))}", soft_wrap=True)
        return EXIT_ERROR
    except pulumi.RunError as err:  # e.g. ConfigTypeError from pulumi.Config
        console.print(f"[red]config error in {escape(where)}:[/] {escape(str(err))}", soft_wrap=True)
        return EXIT_ERROR
    except Exception as err:  # a program failure is reported, never a traceback
        console.print(f"[red]the stack program failed for {escape(where)}:[/] {escape(f'{type(err).__name__}: {err}')}")
        return EXIT_ERROR
    render(evaluation, console)
    if args.outputs:
        console.print_json(json.dumps(evaluation.outputs))
    console.print("[dim]Mock ARNs and names; provider-computed defaults are not shown.[/]")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
