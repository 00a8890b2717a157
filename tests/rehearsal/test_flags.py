"""Feature flags: a stable bucket across processes, percentages, allow-list, kill switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from zero_downtime.app.flags import BUCKETS, FlagRule, bucket, is_enabled, parse_flags
from zero_downtime.rehearsal.processes import PROJECT_ROOT

USERS = [f"user-{i}" for i in range(10_000)]


def _buckets_in_child(seed: str, users: list[str]) -> list[int]:
    code = (
        "import json, sys; from app.flags import bucket; "
        "print(json.dumps([bucket('checkout', u) for u in json.load(sys.stdin)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(users),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONHASHSEED": seed},
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def test_same_bucket_in_two_processes_with_different_hash_seeds() -> None:
    users = USERS[:500]
    first = _buckets_in_child("1", users)
    second = _buckets_in_child("2", users)
    assert first == second
    assert first == [bucket("checkout", u) for u in users]
    # The buckets are spread, not constant: the comparison above means something.
    assert len(set(first)) > 400


def test_python_hash_would_not_be_stable() -> None:
    """Why the flag uses SHA-256: hash() of the same string differs between processes."""
    code = "print(hash('checkout:user-1'))"
    values = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(values) == 2


@pytest.mark.parametrize("percent", [1, 10, 25, 50, 90])
def test_percentage_holds_within_tolerance_over_10000_users(percent: int) -> None:
    rule = FlagRule(percent=percent)
    enabled = sum(is_enabled(rule, "checkout", u) for u in USERS)
    assert abs(enabled / len(USERS) - percent / 100) < 0.015


def test_rollout_grows_monotonically() -> None:
    """Raising the percentage only adds users: nobody flips off during a rollout."""
    at_10 = {u for u in USERS if is_enabled(FlagRule(percent=10), "checkout", u)}
    at_30 = {u for u in USERS if is_enabled(FlagRule(percent=30), "checkout", u)}
    assert at_10 < at_30


def test_allow_list_and_kill_switch() -> None:
    outsider = next(u for u in USERS if bucket("checkout", u) >= BUCKETS // 2)
    assert not is_enabled(FlagRule(percent=0), "checkout", "alice")
    assert is_enabled(FlagRule(percent=0, allow=frozenset({"alice"})), "checkout", "alice")
    assert not is_enabled(FlagRule(percent=50), "checkout", outsider)
    killed = FlagRule(percent=100, allow=frozenset({"alice"}), killed=True)
    assert not is_enabled(killed, "checkout", "alice")
    assert not any(is_enabled(killed, "checkout", u) for u in USERS[:100])


def test_parse_flags_reads_rules() -> None:
    rules = parse_flags({"checkout": {"percent": 25, "allow": ["alice"], "killed": False}})
    assert rules == {"checkout": FlagRule(percent=25.0, allow=frozenset({"alice"}), killed=False)}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"checkout": {"percent": 101}}, r"checkout\.percent"),
        ({"checkout": {"percent": "10"}}, r"checkout\.percent"),
        ({"checkout": {"allow": "alice"}}, r"checkout\.allow"),
        ({"checkout": {"killed": "yes"}}, r"checkout\.killed"),
        ({"checkout": {"pct": 5}}, r"checkout: unknown key\(s\) pct"),
        ([1, 2], "expected an object"),
    ],
    ids=["percent-range", "percent-type", "allow-type", "killed-type", "unknown-key", "not-object"],
)
def test_parse_flags_names_the_bad_key(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_flags(raw)


# -- OpenFeature: AppConfig values, targeting rules, the file and agent providers ---------------------
from zero_downtime.app.flag_providers import (  # noqa: E402 - the OpenFeature half of this file
    AppConfigAgentProvider,
    FileFlagProvider,
    Flags,
    RulesProvider,
)
from zero_downtime.app.flags import FlagValue, evaluate, parse_values  # noqa: E402
from zero_downtime.app.service import FLAGS_HEADER, create_app  # noqa: E402
from zero_downtime.app.settings import Settings, SettingsError, load_settings  # noqa: E402


def test_buckets_are_pinned_across_versions() -> None:
    """A later version of the app must put every user in the same bucket: these values are the
    contract (SHA-256 of `<flag>:<user>`, first 8 bytes big-endian, mod 10000), not a recomputation."""
    pinned = {("new-checkout", "user-1"): 2648, ("new-checkout", "user-42"): 1762, ("checkout", "alice"): 7183}
    assert {key: bucket(*key) for key in pinned} == pinned


def _doc(**value: object) -> dict:
    base = {"enabled": True, "percentage": 0, "allow": [], "deny": [], "segments": []}
    return {
        "version": "1",
        "flags": {"new-checkout": {"name": "new-checkout"}},
        "values": {"new-checkout": {**base, **value}},
    }


@pytest.mark.parametrize(
    ("value", "user", "segment", "expected"),
    [
        ({"enabled": False, "percentage": 100, "allow": ["alice"]}, "alice", None, (False, "DISABLED")),
        ({"percentage": 100, "deny": ["alice"], "allow": ["alice"]}, "alice", None, (False, "TARGETING_MATCH")),
        ({"percentage": 0, "allow": ["alice"]}, "alice", None, (True, "TARGETING_MATCH")),
        ({"percentage": 0, "segments": ["beta"]}, "bob", "beta", (True, "TARGETING_MATCH")),
        ({"percentage": 0, "segments": ["beta"]}, "bob", "gamma", (False, "SPLIT")),
        ({"percentage": 100}, "bob", None, (True, "SPLIT")),
    ],
    ids=["disabled-beats-allow", "deny-beats-allow", "allow", "segment-match", "segment-other", "all"],
)
def test_targeting_rules_in_order(value: dict, user: str, segment: str | None, expected: tuple) -> None:
    [parsed] = parse_values(_doc(**value)).values()
    assert evaluate(parsed, "new-checkout", user, {"segment": segment} if segment else {}) == expected


def test_the_agent_answer_and_the_document_parse_alike() -> None:
    doc = _doc(percentage=25, allow=["alice"])
    assert (
        parse_values(doc)
        == parse_values(doc["values"])
        == {"new-checkout": FlagValue(enabled=True, percentage=25.0, allow=frozenset({"alice"}))}
    )
    with pytest.raises(ValueError, match=r"new-checkout\.percentage"):
        parse_values({"new-checkout": {"enabled": True, "percentage": 120}})


def test_the_driver_s_document_is_what_the_app_reads() -> None:
    from zero_downtime.contract import flags as flag_doc

    text = flag_doc.build_document({"new-checkout": flag_doc.flag_value(percentage=30, segments=["beta"])})
    [value] = parse_values(json.loads(text)).values()
    assert value == FlagValue(enabled=True, percentage=30.0, segments=frozenset({"beta"}))
    killed = parse_values(json.loads(flag_doc.with_percentage(json.loads(text), "new-checkout", 0)))
    assert not any(evaluate(killed["new-checkout"], "new-checkout", u, {"segment": "beta"})[0] for u in USERS[:200])


def test_the_file_provider_rereads_the_file_and_keeps_the_last_good_values(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "flags.json"
    path.write_text(json.dumps(_doc(percentage=0)))
    flags = Flags(FileFlagProvider(path))
    users = USERS[:400]
    assert not any(flags.evaluate_all(u)["new-checkout"] for u in users)
    path.write_text(json.dumps(_doc(percentage=50)))
    os.utime(path, ns=(1, 1))  # a new stamp even within the file system's time resolution
    on = sum(flags.evaluate_all(u)["new-checkout"] for u in users)
    assert 150 < on < 250
    path.write_text("{half a docu")
    os.utime(path, ns=(2, 2))
    assert sum(flags.evaluate_all(u)["new-checkout"] for u in users) == on  # last good values
    assert flags.details("new-checkout", "bob").reason == "STALE"


def test_the_agent_provider_times_out_and_keeps_the_last_good_values() -> None:
    import http.server
    import threading
    import time

    answer = {"body": json.dumps(_doc(percentage=100)["values"]).encode(), "delay": 0.0}

    class Agent(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(answer["delay"])
            try:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(answer["body"])
            except OSError:
                return  # the provider gave up waiting: its timeout worked

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Agent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/applications/a/environments/e/configurations/flags"
        provider = AppConfigAgentProvider(url, timeout_seconds=0.2, poll_seconds=0.0)
        flags = Flags(provider)
        assert flags.evaluate_all("bob") == {"new-checkout": True}
        answer["delay"] = 1.0  # slower than the timeout
        started = time.monotonic()
        details = flags.details("new-checkout", "bob")
        assert time.monotonic() - started < 0.9  # bounded by the timeout, not the agent
        assert (details.value, details.reason) == (True, "STALE")
        assert provider.failures >= 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_an_agent_never_reached_gives_the_default() -> None:
    flags = Flags(AppConfigAgentProvider("http://127.0.0.1:9/applications/a/environments/e/configurations/f"))
    details = flags.details("new-checkout", "bob")
    assert (details.value, details.reason) == (False, "ERROR")


def test_app_flags_env_still_works_through_openfeature() -> None:
    rules = parse_flags({"checkout": {"percent": 0, "allow": ["alice"]}})
    flags = Flags(RulesProvider(rules))
    assert flags.evaluate_all("alice") == {"checkout": True}
    assert flags.evaluate_all("bob") == {"checkout": False}


def test_the_app_evaluates_per_request_and_labels_the_response(tmp_path: object) -> None:
    from pathlib import Path

    from starlette.testclient import TestClient

    path = Path(str(tmp_path)) / "flags.json"
    path.write_text(json.dumps(_doc(percentage=0, segments=["beta"])))
    client = TestClient(create_app(Settings(flags_file=str(path), flag_faults={"new-checkout": 1.0})))
    off = client.get("/work", params={"user": "bob"})
    assert off.status_code == 200 and off.json()["flags"] == {"new-checkout": False}
    assert off.headers[FLAGS_HEADER] == "new-checkout=off"
    on = client.get("/work", params={"user": "bob", "segment": "beta"})  # the flagged path fails
    assert on.status_code == 500 and on.headers[FLAGS_HEADER] == "new-checkout=on"
    detail = client.get("/flags/new-checkout", params={"user": "bob", "segment": "beta"}).json()
    assert (detail["enabled"], detail["variant"], detail["reason"]) == (True, "on", "TARGETING_MATCH")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"APP_FLAGS_AGENT_URL": "http://example.com:2772/applications/a"}, "APP_FLAGS_AGENT_URL"),
        ({"APP_FLAG_FAULTS": "{"}, "APP_FLAG_FAULTS"),
        ({"APP_FLAG_FAULTS": '{"f": 2}'}, "APP_FLAG_FAULTS"),
    ],
)
def test_flag_settings_errors_name_the_variable(env: dict, variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(env)


def test_flag_settings_are_read() -> None:
    s = load_settings(
        {
            "APP_FLAGS_FILE": "/tmp/f.json",
            "APP_FLAGS_AGENT_URL": "http://localhost:2772/applications/a/environments/e/configurations/flags",
            "APP_FLAG_FAULTS": '{"new-checkout": 0.3}',
        }
    )
    assert (s.flags_file, s.flag_faults) == ("/tmp/f.json", {"new-checkout": 0.3})
    assert s.flags_agent_url and s.flags_agent_url.startswith("http://localhost:2772/")


def test_the_app_writes_per_variant_emf_the_driver_reads(tmp_path: object) -> None:
    """`ZeroDowntime/Flags` lines with the dimensions and metric names `CloudWatchFlagMetrics` queries."""
    import io
    from pathlib import Path

    from starlette.testclient import TestClient
    from zero_downtime.driver.adapters.aws.flag_metrics import NAMESPACE

    path = Path(str(tmp_path)) / "flags.json"
    path.write_text(json.dumps(_doc(percentage=0, allow=["alice"])))
    out = io.StringIO()
    settings = Settings(flags_file=str(path), flag_faults={"new-checkout": 1.0}, emf_metrics=True, flag_set="checkout")
    with TestClient(create_app(settings, metrics_out=out)) as client:
        for user in ("alice", "bob", "carol", "alice"):
            client.get("/work", params={"user": user})
    docs = [json.loads(line) for line in out.getvalue().splitlines()]
    flag_docs = [d for d in docs if d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE]
    assert {tuple(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) for d in flag_docs} == {
        ("FlagSet", "Flag", "Variant")
    }
    totals: dict[str, list[int]] = {}
    for d in flag_docs:
        assert (d["FlagSet"], d["Flag"]) == ("checkout", "new-checkout")
        seen = totals.setdefault(d["Variant"], [0, 0])
        seen[0] += d["Requests"]
        seen[1] += d["Errors5xx"]
    assert totals == {"on": [2, 2], "off": [2, 0]}  # alice twice on the failing flagged path
