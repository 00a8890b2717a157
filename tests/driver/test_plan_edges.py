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
    MAX_STEPS,
    MAX_SYNTHETIC_REQUESTS,
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
    from zero_downtime.driver.core.plan import Migrations

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
