"""The k6 script for real stacks (`loadtest/k6/release.js`): its thresholds are the driver's analysis
defaults, and the script runs under node with the three k6 modules it imports replaced by stubs.

CI has no k6 binary, so what k6's own runtime does with the options (executor, thresholds, abort,
summary) is not exercised here: `scripts/k6_check.py` runs the script with a real k6 against the
local stack (`make k6-check K6=/path/to/k6`; docs/load-testing.md), and `test_k6_check_with_real_k6`
below runs it when `K6` names a binary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.driver.core.analysis import AnalysisConfig

K6_DIR = Path(__file__).resolve().parents[2] / "loadtest" / "k6"
SCRIPT = K6_DIR / "release.js"
IMPORTS = {"'k6/http'": "'./stub-http.mjs'", "'k6'": "'./stub-k6.mjs'", "'k6/metrics'": "'./stub-metrics.mjs'"}

STUBS = {
    "stub-http.mjs": """
const state = globalThis.__k6;
export default {
  get(url, params) { state.requests.push({ url, params }); return state.responses.shift(); },
  setResponseCallback(callback) { state.callback = callback; },
  expectedStatuses(range) { return { expected: range }; },
};
""",
    "stub-k6.mjs": """
export function check(res, checks) {
  for (const [name, fn] of Object.entries(checks)) globalThis.__k6.checks.push([name, fn(res)]);
}
""",
    "stub-metrics.mjs": """
export class Counter {
  constructor(name) { this.name = name; }
  add(value, tags) { globalThis.__k6.metrics.push([this.name, value, tags]); }
}
export class Trend extends Counter {}
""",
    "harness.mjs": """
import { readFileSync } from 'node:fs';
globalThis.__k6 = { requests: [], checks: [], metrics: [], callback: null, responses: [
  { status: 200, headers: { 'X-App-Version': 'v2' }, timings: { waiting: 120 } },
  { status: 503, headers: {}, timings: { waiting: 2100 } },
  { status: 404, headers: { 'x-app-version': 'v1' }, timings: { waiting: 900 } },
  { status: 0, headers: {}, timings: { waiting: 0 } },
] };
globalThis.__ENV = JSON.parse(process.argv[2]);
globalThis.open = (path) => readFileSync(new URL(path, import.meta.url), 'utf8');
try {
  const script = await import('./release.mjs');
  for (let i = 0; i < 4; i++) script.default();
  const state = globalThis.__k6;
  console.log(JSON.stringify({ options: script.options, requests: state.requests, checks: state.checks,
    metrics: state.metrics, callback: state.callback }));
} catch (error) {
  console.error(String(error.message));
  process.exit(3);
}
""",
}


def test_thresholds_are_the_driver_analysis_defaults() -> None:
    import inspect

    from zero_downtime.driver.adapters.aws.metrics import CloudWatchMetrics

    limits = json.loads((K6_DIR / "thresholds.json").read_text())
    defaults = AnalysisConfig()
    assert limits["max_error_rate"] == defaults.max_error_rate
    assert limits["max_p99_seconds"] == defaults.max_p99_seconds
    assert limits["min_requests"] == defaults.min_requests
    assert limits["min_apdex"] == defaults.min_apdex
    apdex_t = inspect.signature(CloudWatchMetrics).parameters["apdex_t_seconds"].default
    assert limits["apdex_t_seconds"] == apdex_t  # the T the driver's Apdex is read with on AWS


def _run(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the k6 script was not evaluated")
    text = SCRIPT.read_text()
    for k6_module, stub in IMPORTS.items():
        assert f"from {k6_module};" in text
        text = text.replace(f"from {k6_module};", f"from {stub};")
    (tmp_path / "release.mjs").write_text(text)
    shutil.copy(K6_DIR / "thresholds.json", tmp_path / "thresholds.json")
    for name, body in STUBS.items():
        (tmp_path / name).write_text(body)
    return subprocess.run(
        [node, str(tmp_path / "harness.mjs"), json.dumps(env)], capture_output=True, text=True, timeout=30
    )


def test_script_runs_with_the_driver_thresholds(tmp_path: Path) -> None:
    done = _run(tmp_path, {"BASE_URL": "https://api.example.com/", "RATE": "40"})
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    options = out["options"]
    assert options["thresholds"]["http_req_failed"][0]["threshold"] == "rate<=0.05"
    assert options["thresholds"]["http_req_waiting"][0]["threshold"] == "p(99)<=2000"
    assert options["thresholds"]["http_reqs"] == ["count>=50"]
    assert options["thresholds"]["apdex"][0]["threshold"] == "avg>=0.8"
    release = options["scenarios"]["release"]
    assert (release["executor"], release["rate"], release["timeUnit"]) == ("constant-arrival-rate", 40, "1s")
    assert out["callback"] == {"expected": {"min": 200, "max": 499}}  # only 5xx and no answer fail
    urls = [r["url"] for r in out["requests"]]
    assert len(urls) == 4, urls  # one request per iteration: the harness runs the script's default() 4 times
    assert all(re.fullmatch(r"https://api\.example\.com/work\?user=u\d+", url) for url in urls), urls
    assert [r["params"]["tags"] for r in out["requests"]] == [{"name": "release-load"}] * 4
    assert [passed for _, passed in out["checks"]] == [True, False, True, False]
    versions = [m[2]["version"] for m in out["metrics"] if m[0] == "responses_by_version"]
    assert versions == ["v2", "none", "v1", "none"]  # any header case
    # Apdex with T = 0.5 s: 120 ms satisfied, 2.1 s frustrated, 900 ms tolerating, no answer frustrated
    assert [m[1] for m in out["metrics"] if m[0] == "apdex"] == [1, 0, 0.5, 0]
    assert not any(key.startswith("responses_by_version") for key in options["thresholds"])


def test_versions_get_a_summary_line_each(tmp_path: Path) -> None:
    """k6's summary shows a metric's total only; a threshold on `{version:X}` makes it show X's count."""
    done = _run(tmp_path, {"BASE_URL": "http://127.0.0.1:1", "VERSIONS": "v1, v2"})
    assert done.returncode == 0, done.stderr
    thresholds = json.loads(done.stdout)["options"]["thresholds"]
    per_version = {key: value for key, value in thresholds.items() if key.startswith("responses_by_version")}
    assert per_version == {
        f"responses_by_version{{version:{v}}}": ["count>=0"] for v in ("v1", "v2", "none")
    }  # always true: they only make the counts show


BAD_SETTINGS = {
    "no-url": ({}, "BASE_URL"),
    "scheme": ({"BASE_URL": "ftp://x"}, "BASE_URL"),
    "rate-zero": ({"RATE": "0"}, "RATE"),
    "rate-negative": ({"RATE": "-1"}, "RATE"),
    "rate-fraction": ({"RATE": "2.5"}, "RATE"),  # real k6 refuses it in its option parsing, not naming RATE
    "duration": ({"DURATION": "abc"}, "DURATION"),  # real k6: "invalid duration", not naming DURATION
    "duration-zero": ({"DURATION": "0s"}, "DURATION"),
    "abort": ({"ABORT": "yes"}, "ABORT"),  # was taken as false without a word
    "users": ({"USERS": "0"}, "USERS"),
    "path": ({"PATH_QUERY": "work?user="}, "PATH_QUERY"),
    "versions": ({"VERSIONS": "v1,a{b}"}, "VERSIONS"),
}


@pytest.mark.parametrize(
    ("env", "message"),
    [({"BASE_URL": "https://x", **env} if name != "no-url" else env, var) for name, (env, var) in BAD_SETTINGS.items()],
    ids=list(BAD_SETTINGS),
)
def test_script_refuses_bad_settings_naming_them(tmp_path: Path, env: dict[str, str], message: str) -> None:
    done = _run(tmp_path, env)
    assert done.returncode == 3 and done.stderr.startswith(f"{message}:")


def test_k6_check_with_real_k6(tmp_path: Path) -> None:
    """Opt-in (env K6=/path/to/k6): the real k6 against the local stack; CI has no k6, so it skips."""
    k6 = os.environ.get("K6")
    if not k6 or not Path(k6).is_file():
        pytest.skip("K6 does not name a k6 binary: the real-k6 check did not run")
    script = Path(__file__).resolve().parents[2] / "scripts" / "k6_check.py"
    argv = [sys.executable, str(script), "--k6", k6, "--out", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
