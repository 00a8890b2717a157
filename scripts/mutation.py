"""`make mutation`: mutmut over the decision core, in a staging copy of the checkout.

Why a staging copy: the checkout maps each root folder to `zero_downtime.<folder>` (setuptools
`package-dir`), so `driver/core/analysis.py` imports as `zero_downtime.driver.core.analysis`.
mutmut names a mutant after its file path and puts `mutants/` first on `sys.path`; for the tests
to import the mutated module under the name mutmut expects, the files must sit at
`zero_downtime/driver/core/analysis.py`. This script builds `build/mutation/` with that layout
(the packages under `zero_downtime/`, plus `tests/`, `pyproject.toml` and the stack files the
tests read), runs `mutmut run` there, and prints the score per module and the surviving mutants.
What is mutated and which tests run are `[tool.mutmut]` in pyproject.toml.

    .venv/bin/python scripts/mutation.py                     # everything configured
    .venv/bin/python scripts/mutation.py 'zero_downtime.driver.core.plan*'   # one module
    .venv/bin/python scripts/mutation.py --report            # the last run's results only

Not part of `make test`: it takes tens of minutes on two cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
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


def mutmut(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=STAGE,
        text=True,
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


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
    parser.add_argument("mutants", nargs="*", help="mutant name globs (default: every configured module)")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutmut workers (default 1)")
    parser.add_argument("--report", action="store_true", help="print the last run's results, run nothing")
    args = parser.parse_args(argv)
    if args.max_children < 1:
        parser.error("--max-children must be at least 1")
    if not args.report:
        stage()
        run = subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children), *args.mutants],
            cwd=STAGE,
            check=False,
        )
        if run.returncode != 0:
            print(f"mutmut run exited {run.returncode}", file=sys.stderr)
            return run.returncode
    return report()


if __name__ == "__main__":
    sys.exit(main())
