"""The plan's refusals and its journal form, at their edges (mutants that survived `make mutation`).

Each refusal is checked for its key *and* its message (the operator reads the message); every
limit is tried exactly at it and one past it; and a plan read back from an older journal record,
written before a field existed, gets that field's documented default.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import pytest
from zero_downtime.driver.core.errors import InputError
from zero_downtime.driver.core.plan import (
    DOUBLING_LOOK_FRACTIONS,
    JOURNALED_SYNTHETIC_CONCURRENCY,
    MAX_COMMAND_CHARS,
    MAX_CONTRACT_DELAY_SECONDS,
    MAX_INTERVAL_SECONDS,
    MAX_STEPS,
    MAX_SYNTHETIC_CONCURRENCY,
    MAX_SYNTHETIC_REQUESTS,
    Migrations,
    Plan,
    Step,
    Strategy,
    SyntheticBake,
    build_plan,
    parse_float_list,
    parse_int_list,
    validate_weights,
)


def _refused(key: str, message: str) -> AbstractContextManager[object]:
    return pytest.raises(InputError, match=rf"^{key}: {message}")


# -- lists from the command line -------------------------------------------------------------------
def test_int_and_float_lists_split_on_commas_and_trim() -> None:
    assert parse_int_list("steps", " 10, 50 ,100") == [10, 50, 100]
    assert parse_float_list("intervals", "30, 1.5") == [30.0, 1.5]


@pytest.mark.parametrize("text", ["", "  ", "10,,100", "10,", "ten", "10;50"])
def test_int_lists_refuse_blanks_and_words_naming_the_flag(text: str) -> None:
    with _refused("steps", "expected comma-separated integers, got "):
        parse_int_list("steps", text)


@pytest.mark.parametrize("text", ["", "30,,60", "soon"])
def test_float_lists_refuse_blanks_and_words_naming_the_flag(text: str) -> None:
    with _refused("intervals", "expected comma-separated seconds, got "):
        parse_float_list("intervals", text)


# -- step weights ----------------------------------------------------------------------------------
def test_weights_messages_say_what_is_wrong() -> None:
    with _refused("steps", "needs at least one step$"):
        validate_weights("steps", [])
    with _refused("steps", "each step must be an integer 1-100, got 101$"):
        validate_weights("steps", [50, 101])
    with _refused("steps", "each step must be an integer 1-100, got True$"):
        validate_weights("steps", [True, 100])  # type: ignore[list-item]
    with _refused("steps", "each step must be an integer 1-100, got 0$"):
        validate_weights("steps", [0, 100])
    with _refused("steps", "steps must strictly increase, got 50 then 10$"):
        validate_weights("steps", [50, 10, 100])
    with _refused("steps", "the last step must be 100, got 90$"):
        validate_weights("steps", [10, 50, 90])


def test_weights_limits_exactly_at_them() -> None:
    assert validate_weights("steps", [1, 100]) == (1, 100)
    assert validate_weights("steps", [100]) == (100,)
    at_limit = list(range(101 - MAX_STEPS, 101))  # MAX_STEPS strictly increasing steps ending at 100
    assert len(validate_weights("steps", at_limit)) == MAX_STEPS
    with _refused("steps", f"at most {MAX_STEPS} steps, got {MAX_STEPS + 1}$"):
        validate_weights("steps", [*at_limit[:1], *at_limit])  # one more (a repeat is never reached)


def test_one_interval_per_step() -> None:
    with _refused("intervals", r"needs one interval per step \(3\), got 2$"):
        build_plan("canary", steps=[10, 50, 100], intervals=[30, 30])


# -- the synthetic bake ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["health", "", "/a b", "/tab\there"])
def test_synthetic_path_must_be_an_absolute_path_without_spaces(path: str) -> None:
    with _refused("synthetic_path", "must be a path starting with '/', got "):
        SyntheticBake(path=path)


def test_synthetic_run_from_lists_the_choices() -> None:
    with _refused("check_from", "must be one of auto, driver, probe, got 'lambda'$"):
        SyntheticBake(run_from="lambda")
    for choice in ("auto", "driver", "probe"):
        assert SyntheticBake(run_from=choice).run_from == choice


@pytest.mark.parametrize(
    ("field", "key", "low"),
    [("requests", "synthetic_requests", 1), ("probe_requests", "probe_requests", 0)],
)
def test_synthetic_request_counts_exactly_at_their_limits(field: str, key: str, low: int) -> None:
    assert getattr(SyntheticBake(**{field: low}), field) == low
    assert getattr(SyntheticBake(**{field: MAX_SYNTHETIC_REQUESTS}), field) == MAX_SYNTHETIC_REQUESTS
    for bad in (low - 1, MAX_SYNTHETIC_REQUESTS + 1, True, 2.5):
        with _refused(key, f"must be an integer {low}-{MAX_SYNTHETIC_REQUESTS}, got "):
            SyntheticBake(**{field: bad})


# -- the journal form ------------------------------------------------------------------------------
def test_plan_round_trips_with_every_field_away_from_its_default() -> None:
    plan = Plan(
        strategy=Strategy.CANARY,
        steps=(Step(10, 30.0, pause=True), Step(100, 60.0)),
        pre_traffic_checks=False,
        synthetic=SyntheticBake(requests=7, seconds=3.0, probe_requests=5, path="/health", run_from="probe"),
    )
    assert Plan.from_dict(plan.to_dict()) == plan


def test_plan_round_trips_with_its_migrations() -> None:
    migrations = Migrations(
        expand_command="migrate expand", compat_command="migrate check", contract_command="migrate contract"
    )
    plan = Plan(strategy=Strategy.BLUE_GREEN, steps=(Step(100, 60.0),), migrations=migrations)
    back = Plan.from_dict(plan.to_dict())
    assert back == plan and back.migrations == migrations


def test_a_record_written_before_newer_fields_reads_with_their_defaults() -> None:
    old = {"strategy": "canary", "steps": [{"weight": 10, "bake_seconds": 30}, {"weight": 100, "bake_seconds": 60}]}
    plan = Plan.from_dict(old)
    assert plan.pre_traffic_checks is True
    assert plan.synthetic is None and plan.migrations is None
    assert [s.pause for s in plan.steps] == [False, False]
    bake = SyntheticBake.from_dict({"requests": 100, "seconds": 10})
    assert (bake.probe_requests, bake.path, bake.run_from) == (0, "/", "auto")
    with_bake = Plan.from_dict({**old, "synthetic": {"requests": 100, "seconds": 10}})
    assert with_bake.synthetic == bake


# -- seconds: every interval and bake, at its edges (issue 17, second run) -------------------------
@pytest.mark.parametrize(("kwargs", "key"), [({"interval": 0}, "interval"), ({"bake": 0}, "bake")])
def test_intervals_say_what_is_wrong(kwargs: dict[str, float], key: str) -> None:
    strategy = "blue-green" if key == "bake" else "canary"
    with _refused(key, "must be > 0 seconds, got 0$"):
        build_plan(strategy, **kwargs)  # type: ignore[arg-type]
    with _refused(key, f"must be at most {MAX_INTERVAL_SECONDS} seconds, got {MAX_INTERVAL_SECONDS + 1}$"):
        build_plan(strategy, **{key: MAX_INTERVAL_SECONDS + 1})  # type: ignore[arg-type]
    with _refused(key, "must be a number of seconds, got True$"):
        build_plan(strategy, **{key: True})  # type: ignore[arg-type]
    with _refused(key, "must be a number of seconds, got '60'$"):
        build_plan(strategy, **{key: "60"})  # type: ignore[arg-type]
    with _refused(key, "must be > 0 seconds, got nan$"):
        build_plan(strategy, **{key: float("nan")})  # type: ignore[arg-type]


def test_intervals_exactly_at_their_limits_are_seconds() -> None:
    top = build_plan("canary", steps=[100], interval=MAX_INTERVAL_SECONDS).steps[0].bake_seconds
    assert top == MAX_INTERVAL_SECONDS and type(top) is float
    tiny = build_plan("blue-green", bake=0.001).steps[0].bake_seconds
    assert tiny == 0.001
    per_step = build_plan("canary", steps=[10, 100], intervals=[MAX_INTERVAL_SECONDS, 1]).steps
    assert [s.bake_seconds for s in per_step] == [MAX_INTERVAL_SECONDS, 1.0]
    with _refused("intervals", f"must be at most {MAX_INTERVAL_SECONDS} seconds, got {MAX_INTERVAL_SECONDS + 1}$"):
        build_plan("canary", steps=[10, 100], intervals=[1, MAX_INTERVAL_SECONDS + 1])
    assert [s.bake_seconds for s in build_plan("all-at-once", interval=45).steps] == [45.0]
    with _refused("interval", "must be > 0 seconds, got 0$"):
        build_plan("all-at-once", interval=0)  # all-at-once bakes its one step `interval`, not `bake`


# -- strategies: what each one builds, and its refusals' words -------------------------------------
def test_strategy_refusals_say_what_to_use_instead() -> None:
    with _refused("strategy", "must be one of blue-green, canary, linear, all-at-once, got 'rainbow'$"):
        build_plan("rainbow")
    with _refused("steps", "blue-green flips 100% at once; use --strategy canary$"):
        build_plan("blue-green", steps=[100])
    with _refused("steps", "all-at-once has a single step; use --strategy canary$"):
        build_plan("all-at-once", steps=[100])
    with _refused("steps", "linear derives its steps from --step-percent$"):
        build_plan("linear", steps=[100])
    with _refused("pause_at", r"\[20, 30\] are not step weights of this plan \[10, 100\]$"):
        build_plan("canary", steps=[10, 100], pause_at=[30, 10, 20])
    with _refused("synthetic_requests", "all-at-once checks nothing before traffic; use another strategy$"):
        build_plan("all-at-once", synthetic=SyntheticBake())


def test_each_strategy_gates_on_pre_traffic_checks_except_all_at_once() -> None:
    for strategy in ("blue-green", "canary", "linear"):
        plan = build_plan(strategy)
        assert plan.pre_traffic_checks is True and plan.strategy is Strategy(strategy)
        assert plan.synthetic is None and plan.migrations is None
    plan = build_plan("all-at-once")
    assert plan.pre_traffic_checks is False and plan.strategy is Strategy.ALL_AT_ONCE
    assert [(s.weight, s.bake_seconds, s.pause) for s in plan.steps] == [(100, 300.0, False)]
    assert [(s.weight, s.bake_seconds) for s in build_plan("blue-green").steps] == [(100, 300.0)]
    assert [s.bake_seconds for s in build_plan("canary").steps] == [300.0, 300.0, 300.0]
    bake = SyntheticBake(requests=10)
    assert build_plan("blue-green", synthetic=bake).synthetic is bake


def test_linear_step_percent_at_its_edges() -> None:
    assert [s.weight for s in build_plan("linear", step_percent=1).steps] == list(range(1, 101))
    assert [s.weight for s in build_plan("linear", step_percent=100).steps] == [100]
    assert [s.weight for s in build_plan("linear", step_percent=50).steps] == [50, 100]
    assert [s.weight for s in build_plan("linear").steps] == list(range(10, 101, 10))
    for bad in (0, 101, True, 2.5):
        with _refused("step_percent", f"must be an integer 1-100, got {bad!r}$"):
            build_plan("linear", step_percent=bad)  # type: ignore[arg-type]
    per_step = build_plan("linear", step_percent=50, intervals=[5, 7]).steps
    assert [s.bake_seconds for s in per_step] == [5.0, 7.0]


def test_a_pause_is_only_where_asked() -> None:
    assert [s.pause for s in build_plan("canary", steps=[10, 50, 100]).steps] == [False, False, False]
    assert [s.pause for s in build_plan("canary", steps=[10, 50, 100], pause_before_promote=True).steps] == [
        False,
        False,
        True,
    ]
    assert [s.pause for s in build_plan("canary", steps=[10, 50, 100], pause_at=[10]).steps] == [True, False, False]
    assert [s.pause for s in build_plan("blue-green", pause_before_promote=True).steps] == [True]
    assert [s.pause for s in build_plan("blue-green", pause_at=[100]).steps] == [True]
    with_migrations = Migrations(contract_command="migrate contract")
    assert build_plan("canary", migrations=with_migrations).migrations is with_migrations


# -- the synthetic bake: seconds, concurrency, and the journal form of both ------------------------
def test_synthetic_seconds_are_checked_under_their_own_key() -> None:
    with _refused("synthetic_seconds", "must be > 0 seconds, got 0$"):
        SyntheticBake(seconds=0)
    with _refused("synthetic_seconds", f"must be at most {MAX_INTERVAL_SECONDS} seconds, got "):
        SyntheticBake(seconds=MAX_INTERVAL_SECONDS + 1)
    assert SyntheticBake(seconds=MAX_INTERVAL_SECONDS).seconds == MAX_INTERVAL_SECONDS


def test_synthetic_concurrency_exactly_at_its_limits() -> None:
    assert SyntheticBake(concurrency=1).concurrency == 1
    assert SyntheticBake(concurrency=MAX_SYNTHETIC_CONCURRENCY).concurrency == MAX_SYNTHETIC_CONCURRENCY
    for bad in (0, MAX_SYNTHETIC_CONCURRENCY + 1, True, 2.5, "4"):
        with _refused("synthetic_concurrency", f"must be an integer 1-{MAX_SYNTHETIC_CONCURRENCY}, got {bad!r}$"):
            SyntheticBake(concurrency=bad)  # type: ignore[arg-type]


def test_synthetic_bake_journal_form_keeps_every_field_and_reads_old_records_at_four() -> None:
    bake = SyntheticBake(requests=7, seconds=3.5, probe_requests=0, path="/ready", run_from="driver", concurrency=33)
    assert bake.to_dict() == {
        "requests": 7,
        "seconds": 3.5,
        "probe_requests": 0,
        "path": "/ready",
        "run_from": "driver",
        "concurrency": 33,
    }
    assert SyntheticBake.from_dict(bake.to_dict()) == bake
    assert SyntheticBake.from_dict(SyntheticBake().to_dict()) == SyntheticBake()
    old = SyntheticBake.from_dict({"requests": 100, "seconds": 10})
    assert old.concurrency == JOURNALED_SYNTHETIC_CONCURRENCY == 4
    assert (old.requests, old.seconds) == (100, 10.0)


def test_synthetic_parts_carry_their_share_of_the_seconds() -> None:
    assert SyntheticBake(requests=16, seconds=32).parts() == [(1, 2.0), (1, 2.0)] + [(2, 4.0)] * 7
    doubling = SyntheticBake(requests=16, seconds=32).parts(DOUBLING_LOOK_FRACTIONS)
    assert doubling == [(1, 2.0), (1, 2.0), (2, 4.0), (4, 8.0), (8, 16.0)]
    assert SyntheticBake(requests=1, seconds=5).parts() == [(1, 5.0)]
    assert SyntheticBake(requests=2, seconds=4).parts() == [(1, 2.0), (1, 2.0)]


# -- the step and the plan in the journal ----------------------------------------------------------
def test_step_and_plan_journal_forms_name_every_field() -> None:
    assert Step(10, 30.0, pause=True).to_dict() == {"weight": 10, "bake_seconds": 30.0, "pause": True}
    assert Step.from_dict({"weight": "10", "bake_seconds": "30", "pause": 1}) == Step(10, 30.0, True)
    plan = Plan(strategy=Strategy.LINEAR, steps=(Step(100, 5.0),), pre_traffic_checks=False)
    assert plan.to_dict() == {
        "strategy": "linear",
        "steps": [{"weight": 100, "bake_seconds": 5.0, "pause": False}],
        "pre_traffic_checks": False,
        "synthetic": None,
        "migrations": None,
    }
    assert Plan.from_dict(plan.to_dict()) == plan
    assert Plan.from_dict({**plan.to_dict(), "synthetic": "none", "migrations": []}) == plan
    assert Plan(strategy=Strategy.CANARY, steps=(Step(10, 1.5), Step(100, 2.0))).total_bake_seconds == 3.5


# -- migrations: every refusal's words, the limits, the journal form ------------------------------
def test_migrations_that_are_accepted() -> None:
    assert Migrations(contract_command="c").contract_command == "c"
    both = Migrations(expand_command="up", compat_command="check")
    assert (both.expand_command, both.compat_command, both.contract_command) == ("up", "check", "")
    long = "x" * MAX_COMMAND_CHARS
    assert Migrations(contract_command=long).contract_command == long
    top = Migrations(contract_command="c", contract_delay_seconds=MAX_CONTRACT_DELAY_SECONDS)
    assert top.contract_delay_seconds == MAX_CONTRACT_DELAY_SECONDS
    assert Migrations(contract_command="c", contract_delay_seconds=0).contract_delay_seconds == 0
    assert Migrations(contract_command="c", contract_delay_seconds=1).contract_delay_seconds == 1
    assert Migrations(expand_command="up", compat_command="'a b' c").compat_command == "'a b' c"


@pytest.mark.parametrize(
    ("kwargs", "key", "message"),
    [
        ({"contract_command": 5}, "contract_command", "must be a command string, got 5$"),
        ({"expand_command": None, "contract_command": "c"}, "expand_command", "must be a command string, got None$"),
        (
            {"contract_command": "x" * (MAX_COMMAND_CHARS + 1)},
            "contract_command",
            f"must be at most {MAX_COMMAND_CHARS} characters, got {MAX_COMMAND_CHARS + 1}$",
        ),
        (
            {"contract_command": "'open"},
            "contract_command",
            r"cannot split \"'open\" into arguments: No closing quotation$",
        ),
        ({"contract_command": " \t "}, "contract_command", r"must name a program, got ' \\t '$"),
        ({"contract_command": "c", "compat_command": "  "}, "compat_command", "must name a program, got '  '$"),
        ({}, "expand_command", "a migration needs an expand command, a contract command or both$"),
        (
            {"expand_command": "up"},
            "compat_command",
            "required with an expand command: the compatibility gate smoke-tests the old version "
            "against the expanded schema before production's schema changes$",
        ),
        (
            {"compat_command": "check", "contract_command": "c"},
            "compat_command",
            "gates an expand; give it with an expand command$",
        ),
        (
            {"contract_command": "c", "contract_delay_seconds": float("nan")},
            "contract_delay_seconds",
            "must be a number of seconds, got nan$",
        ),
        (
            {"contract_command": "c", "contract_delay_seconds": True},
            "contract_delay_seconds",
            "must be a number of seconds, got True$",
        ),
        (
            {"contract_command": "c", "contract_delay_seconds": "60"},
            "contract_delay_seconds",
            "must be a number of seconds, got '60'$",
        ),
        (
            {"contract_command": "c", "contract_delay_seconds": -0.5},
            "contract_delay_seconds",
            f"must be 0-{MAX_CONTRACT_DELAY_SECONDS} seconds, got -0.5$",
        ),
        (
            {"contract_command": "c", "contract_delay_seconds": MAX_CONTRACT_DELAY_SECONDS + 1},
            "contract_delay_seconds",
            f"must be 0-{MAX_CONTRACT_DELAY_SECONDS} seconds, got {MAX_CONTRACT_DELAY_SECONDS + 1}$",
        ),
        (
            {"expand_command": "up", "compat_command": "check", "contract_delay_seconds": 1},
            "contract_delay_seconds",
            "delays a contract; give it with a contract command$",
        ),
    ],
)
def test_migrations_refusals_say_what_is_wrong(kwargs: dict[str, object], key: str, message: str) -> None:
    with _refused(key, message):
        Migrations(**kwargs)  # type: ignore[arg-type]


def test_migrations_journal_form() -> None:
    full = Migrations(expand_command="up", compat_command="check", contract_command="down", contract_delay_seconds=9.5)
    assert full.to_dict() == {
        "expand_command": "up",
        "compat_command": "check",
        "contract_command": "down",
        "contract_delay_seconds": 9.5,
    }
    assert Migrations.from_dict(full.to_dict()) == full
    sparse = Migrations.from_dict({"contract_command": "down", "expand_command": None, "contract_delay_seconds": None})
    assert sparse == Migrations(contract_command="down")
    assert (sparse.expand_command, sparse.compat_command, sparse.contract_delay_seconds) == ("", "", 0.0)
    expand_only = Migrations.from_dict({"expand_command": "up", "compat_command": "check"})
    assert expand_only == Migrations(expand_command="up", compat_command="check")
    assert expand_only.contract_command == ""
