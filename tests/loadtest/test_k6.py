"""The k6 script for real stacks (`loadtest/k6/release.js`): its thresholds are the driver's analysis
defaults, and the script runs under node with the three k6 modules it imports replaced by stubs.

k6 itself is not installed here (not in Debian's archive, and its npm package `k6` is only type
stubs): what k6's own runtime does with the options (executor, thresholds, abort) is not exercised.
"""

from __future__ import annotations

import json
import shutil
import subprocess
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
""",
    "harness.mjs": """
import { readFileSync } from 'node:fs';
globalThis.__k6 = { requests: [], checks: [], metrics: [], callback: null, responses: [
  { status: 200, headers: { 'X-App-Version': 'v2' } },
  { status: 503, headers: {} },
  { status: 404, headers: { 'x-app-version': 'v1' } },
] };
globalThis.__ENV = JSON.parse(process.argv[2]);
globalThis.open = (path) => readFileSync(new URL(path, import.meta.url), 'utf8');
try {
  const script = await import('./release.mjs');
  for (let i = 0; i < 3; i++) script.default();
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
    limits = json.loads((K6_DIR / "thresholds.json").read_text())
    defaults = AnalysisConfig()
    assert limits["max_error_rate"] == defaults.max_error_rate
    assert limits["max_p99_seconds"] == defaults.max_p99_seconds
    assert limits["min_requests"] == defaults.min_requests


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
    release = options["scenarios"]["release"]
    assert (release["executor"], release["rate"], release["timeUnit"]) == ("constant-arrival-rate", 40, "1s")
    assert out["callback"] == {"expected": {"min": 200, "max": 499}}  # only 5xx and no answer fail
    assert all(r["url"].startswith("https://api.example.com/work?user=u") for r in out["requests"])
    assert [passed for _, passed in out["checks"]] == [True, False, True]
    assert [m[2]["version"] for m in out["metrics"]] == ["v2", "none", "v1"]  # any header case


@pytest.mark.parametrize(
    ("env", "message"),
    [({}, "BASE_URL"), ({"BASE_URL": "https://x", "RATE": "0"}, "RATE"), ({"BASE_URL": "ftp://x"}, "BASE_URL")],
    ids=["no-url", "rate", "scheme"],
)
def test_script_refuses_bad_settings_naming_them(tmp_path: Path, env: dict[str, str], message: str) -> None:
    done = _run(tmp_path, env)
    assert done.returncode == 3 and done.stderr.startswith(f"{message}:")
