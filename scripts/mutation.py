"""`make mutation`: mutmut over the decision core, in a staging copy of the checkout.

Why a staging copy: the checkout maps each root folder to `zero_downtime.<folder>` (setuptools
`package-dir`), so `driver/core/analysis.py` imports as `zero_downtime.driver.core.analysis`.
mutmut names a mutant after its file path and puts `mutants/` first on `sys.path`; for the tests
to import the mutated module under the name mutmut expects, the files must sit at
`zero_downtime/driver/core/analysis.py`. This script builds `build/mutation/` with that layout
(the packages under `zero_downtime/`, plus `tests/`, `pyproject.toml`, `examples/` and the stack
files the tests read), runs `mutmut run` there, and prints the score per module and the surviving mutants.
Which files are mutated and which tests run are `[tool.mutmut]` in pyproject.toml; which mutants
a default run tests is `DEFAULT_MUTANTS` below: the decision core's modules whole, and of the
component files only their resolve steps (the rest of those files builds resources, which only
the whole component tests reach, at hours of mutants).

    .venv/bin/python scripts/mutation.py                     # DEFAULT_MUTANTS not yet tested
    .venv/bin/python scripts/mutation.py 'zero_downtime.driver.core.plan*'   # these, tested again
    .venv/bin/python scripts/mutation.py --all               # every mutant of the configured files
    .venv/bin/python scripts/mutation.py --report            # the last run's results only

A default run tests only the mutants of `DEFAULT_MUTANTS` without a verdict: new ones, and those
of every function whose code changed (mutmut drops their verdicts when it regenerates). mutmut
itself reruns every mutant it is given by name, so the script first lets mutmut regenerate (a
`mutmut run` for a name that matches nothing stops right after generating the mutants and timing
the tests), then names only the unchecked ones. Named globs on the command line are rerun whole.

Not part of `make test`: a first default run takes hours on two cores; a later one, minutes.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "build" / "mutation"
PACKAGES = ("app", "components", "contract", "driver", "offline", "policies", "rehearsal", "stack_config", "store")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "venv")


def stage() -> None:
    """Refresh build/mutation from the checkout; keep mutmut's cache (`mutants/`) when present."""
    STAGE.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        target = STAGE / "zero_downtime" / package
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / package, target, ignore=IGNORE)
    shutil.rmtree(STAGE / "tests", ignore_errors=True)
    shutil.copytree(ROOT / "tests", STAGE / "tests", ignore=IGNORE)
    for path in [ROOT / "pyproject.toml", ROOT / "__main__.py", *ROOT.glob("Pulumi*.yaml")]:
        shutil.copy2(path, STAGE / path.name)
    shutil.rmtree(STAGE / "examples", ignore_errors=True)
    shutil.copytree(ROOT / "examples", STAGE / "examples", ignore=IGNORE)  # the analysis file example
    for path in forget_unmutated_copies(STAGE):
        print(f"{path}: never mutated in this cache, mutated on this run", flush=True)


def forget_unmutated_copies(stage_dir: Path) -> list[str]:
    """Delete mutmut's plain copy of every configured file it never mutated; the removed paths.

    mutmut 3.8.1 keeps a file's mutants while its copy under `mutants/` is newer than the source,
    and a file outside `only_mutate` is copied there plainly, with a fresh time. So a file added to
    `only_mutate` after a run counts as "unmodified" and gets no mutants until its source changes.
    A mutated file has its `.meta` beside it; a configured file without one was never mutated, and
    without its copy mutmut mutates it on the next run. mutmut's stats (which tests call which
    function) know only functions that were mutated when they were collected, so they go too: the
    next run collects them again (a minute here) and keeps every verdict."""
    config = tomllib.loads((stage_dir / "pyproject.toml").read_text())["tool"]["mutmut"]
    removed = []
    for path in config.get("only_mutate", []):
        copy = stage_dir / "mutants" / path
        if copy.exists() and not copy.with_name(copy.name + ".meta").exists():
            copy.unlink()
            removed.append(path)
    if removed:
        (stage_dir / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    return removed


def mutmut(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=STAGE,
        text=True,
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


_C = "zero_downtime.components"
_CORE = "zero_downtime.driver.core"
DEFAULT_MUTANTS = (
    f"{_CORE}.machine.*",
    f"{_CORE}.analysis.*",
    f"{_CORE}.plan.*",
    "zero_downtime.store.local.*",
    f"{_CORE}.metric_checks.*",
    f"{_CORE}.*",  # bake.py last of the core: its mutants take minutes each
    f"{_C}.validation.*",
    f"{_C}.routing.*",
    f"{_C}.blue_green_service.x_resolve_*",
    f"{_C}.blue_green_service.x__resolve_*",
    f"{_C}.rolling_asg.x_resolve_*",
    f"{_C}.rolling_asg.x__resolve_*",
    f"{_C}.shared_edge.x_resolve_*",
    f"{_C}.release_alarms.x_resolve_*",
    f"{_C}.feature_flags.x_resolve_*",
    f"{_C}.flagger_canary.x_resolve_*",
    f"{_C}.flagger_canary.x__resolve_*",
    f"{_C}.rolling_deployment.x_resolve_*",
    f"{_C}.rolling_deployment.x__resolve_*",
    f"{_C}.network.x_resolve_*",
    f"{_C}.probe.x_resolve_*",
    f"{_C}.migrations.x_resolve_*",
    f"{_C}.rolling_update_policy.x_resolve_*",
)
"""What `make mutation` tests by default, one mutmut run per glob in this order: the decision
core's modules (the release machine, the analysis and the plan first, so a run cut short has
judged them), then the components' resolve steps (`resolve_health_check` is in `routing`).
Globs over mutant names, as mutmut matches them."""

NO_MUTANT = "zero_downtime.__no_such_mutant__"
"""A name no mutant has: `mutmut run` with it regenerates the mutants, then stops."""


def batches(patterns: tuple[str, ...] | list[str], status_by_mutant: dict[str, str]) -> list[list[str]]:
    """The mutants mutmut has not tested yet, one batch per glob in the globs' order: each mutant
    in the batch of the first glob it matches, sorted by name; empty batches left out. (mutmut
    orders the mutants of one run by their tests' time, so the order of globs needs one run each.)"""
    by_glob: list[list[str]] = [[] for _ in patterns]
    for name, status in sorted(status_by_mutant.items()):
        if status != "not checked":
            continue
        first = next((i for i, p in enumerate(patterns) if fnmatch.fnmatchcase(name, p)), None)
        if first is not None:
            by_glob[first].append(name)
    return [batch for batch in by_glob if batch]


def run(mutants: list[str], max_children: int) -> int:
    """`mutmut run` in the staging copy, its output shown as it goes; its exit code."""
    return subprocess.run(
        [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children), *mutants],
        cwd=STAGE,
        check=False,
    ).returncode


def run_default(max_children: int) -> int:
    """Regenerate the mutants, then test those of DEFAULT_MUTANTS without a verdict."""
    print("regenerating the mutants and timing the tests (minutes, output held back)", flush=True)
    generate = mutmut("run", "--max-children", str(max_children), NO_MUTANT)
    if "nothing matches" not in generate.stdout + generate.stderr:
        print(generate.stdout + generate.stderr, file=sys.stderr)
        print("mutmut did not stop after generating the mutants", file=sys.stderr)
        return generate.returncode or 1
    listing = mutmut("results", "--all", "true")
    if listing.returncode != 0:
        print(listing.stdout + listing.stderr, file=sys.stderr)
        return 1
    todo = batches(DEFAULT_MUTANTS, parse_results(listing.stdout))
    print(f"{sum(map(len, todo))} mutants without a verdict, in {len(todo)} runs", flush=True)
    for batch in todo:
        print(f"mutmut run: {len(batch)} mutants, {batch[0]} ...", flush=True)
        code = run(batch, max_children)
        if code != 0:
            return code
    return 0


KILLED = ("killed", "timeout", "caught by type check")
"""Statuses that count as killed: a timeout is a mutant the tests did not let finish."""


def parse_results(text: str) -> dict[str, str]:
    """`mutmut results --all true` (one `    <mutant>: <status>` line each) -> status by mutant name."""
    status_by_mutant: dict[str, str] = {}
    for line in text.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            status_by_mutant[name] = status
    return status_by_mutant


def module_of(mutant: str) -> str:
    """The module a mutant's name starts with: `pkg.mod.x_func__mutmut_3` (a function) and
    `pkg.mod.xǁClassǁmethod__mutmut_3` (a method) are both `pkg.mod`."""
    return mutant.split(".x_")[0].split(".xǁ")[0]


@dataclass(frozen=True)
class Score:
    """One module's mutants: killed (with timeouts and type-check catches), survived, and other
    (no tests, not checked, skipped, suspicious ...), which the score leaves out."""

    module: str
    killed: int
    survived: int
    other: int

    @property
    def score(self) -> str:
        """Killed out of those the tests ran to an end (killed + survived); "-" when none were."""
        tested = self.killed + self.survived
        return f"{100 * self.killed / tested:.0f}%" if tested else "-"


def scores(status_by_mutant: dict[str, str]) -> list[Score]:
    """Per module, sorted by module name."""
    by_module: dict[str, Counter[str]] = {}
    for name, status in status_by_mutant.items():
        by_module.setdefault(module_of(name), Counter())[status] += 1
    out = []
    for module, counts in sorted(by_module.items()):
        killed = sum(counts[s] for s in KILLED)
        survived = counts["survived"]
        out.append(Score(module, killed, survived, sum(counts.values()) - killed - survived))
    return out


def table(rows: list[Score]) -> list[str]:
    """The score table `report` prints."""
    lines = [f"{'module':48} {'killed':>6} {'survived':>8} {'other':>6} {'score':>6}"]
    lines += [f"{r.module:48} {r.killed:6} {r.survived:8} {r.other:6} {r.score:>6}" for r in rows]
    return lines


def survivors(status_by_mutant: dict[str, str]) -> list[str]:
    """The surviving mutants' names, sorted."""
    return sorted(n for n, s in status_by_mutant.items() if s == "survived")


def report() -> int:
    """Score per module (killed / all tested) and every surviving mutant with its diff."""
    listing = mutmut("results", "--all", "true")
    if listing.returncode != 0:
        print(listing.stdout + listing.stderr, file=sys.stderr)
        return 1
    status_by_mutant = parse_results(listing.stdout)
    print("\n".join(table(scores(status_by_mutant))))
    names = survivors(status_by_mutant)
    print(f"\n{len(names)} surviving mutants")
    for name in names:
        print(mutmut("show", name).stdout.rstrip())
        print()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/mutation.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("mutants", nargs="*", help="mutant name globs, rerun whole (default: DEFAULT_MUTANTS untested)")
    parser.add_argument("--all", action="store_true", help="every mutant of the configured files not yet tested")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutmut workers (default 1)")
    parser.add_argument("--report", action="store_true", help="print the last run's results, run nothing")
    args = parser.parse_args(argv)
    if args.max_children < 1:
        parser.error("--max-children must be at least 1")
    if args.all and args.mutants:
        parser.error("--all takes no mutant names")
    if not args.report:
        stage()
        named = args.mutants or args.all
        code = run(args.mutants, args.max_children) if named else run_default(args.max_children)
        if code != 0:
            print(f"mutmut run exited {code}", file=sys.stderr)
            return code
    return report()


if __name__ == "__main__":
    sys.exit(main())
