"""Strategies -> steps, and every refused plan input naming its setting (the CLI maps it to a flag)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from zero_downtime.driver.core.errors import InputError
from zero_downtime.driver.core.plan import SyntheticBake, build_plan, parse_float_list, parse_int_list


def test_canary_steps_and_per_step_intervals() -> None:
    plan = build_plan("canary", steps=[5, 10, 25, 50, 100], intervals=[60, 60, 120, 120, 300])
    assert [s.weight for s in plan.steps] == [5, 10, 25, 50, 100]
    assert [s.bake_seconds for s in plan.steps] == [60, 60, 120, 120, 300]
    assert plan.total_bake_seconds == 660
    assert plan.pre_traffic_checks


def test_canary_default_starts_at_one_percent() -> None:
    plan = build_plan("canary", interval=300)
    assert [(s.weight, s.bake_seconds) for s in plan.steps] == [(1, 300), (10, 300), (100, 300)]


def test_linear_caps_the_last_step_at_100() -> None:
    assert [s.weight for s in build_plan("linear", step_percent=30, interval=60).steps] == [
        30,
        60,
        90,
        100,
    ]


def test_blue_green_is_one_flip_with_a_bake_window() -> None:
    plan = build_plan("blue-green", bake=600)
    assert [(s.weight, s.bake_seconds) for s in plan.steps] == [(100, 600)]
    assert plan.pre_traffic_checks


def test_all_at_once_skips_pre_traffic_checks() -> None:
    plan = build_plan("all-at-once", interval=30)
    assert [s.weight for s in plan.steps] == [100]
    assert not plan.pre_traffic_checks


def test_pauses() -> None:
    plan = build_plan("canary", steps=[10, 50, 100], pause_at=[50], pause_before_promote=True)
    assert [s.pause for s in plan.steps] == [False, True, True]


def test_plan_round_trips_through_the_journal_format() -> None:
    plan = build_plan("canary", steps=[20, 100], intervals=[5, 7], pause_at=[20])
    assert type(plan).from_dict(plan.to_dict()) == plan


@dataclass(frozen=True)
class Bad:
    id: str
    strategy: str
    key: str
    kw: dict = field(default_factory=dict)


BAD = [
    Bad("unknown-strategy", "rainbow", "strategy"),
    Bad("not-increasing", "canary", "steps", {"steps": [10, 10, 100]}),
    Bad("decreasing", "canary", "steps", {"steps": [50, 10, 100]}),
    Bad("not-ending-at-100", "canary", "steps", {"steps": [10, 50]}),
    Bad("above-100", "canary", "steps", {"steps": [10, 101]}),
    Bad("zero-step", "canary", "steps", {"steps": [0, 100]}),
    Bad("negative-step", "canary", "steps", {"steps": [-5, 100]}),
    Bad("empty-steps", "canary", "steps", {"steps": []}),
    Bad("zero-interval", "canary", "interval", {"interval": 0}),
    Bad("negative-interval", "linear", "interval", {"interval": -1}),
    Bad("nan-interval", "canary", "interval", {"interval": float("nan")}),
    Bad("huge-interval", "canary", "interval", {"interval": 10**7}),
    Bad("interval-count", "canary", "intervals", {"steps": [10, 100], "intervals": [5]}),
    Bad("zero-in-intervals", "canary", "intervals", {"steps": [10, 100], "intervals": [5, 0]}),
    Bad("zero-bake", "blue-green", "bake", {"bake": 0}),
    Bad("steps-on-blue-green", "blue-green", "steps", {"steps": [100]}),
    Bad("steps-on-linear", "linear", "steps", {"steps": [100]}),
    Bad("step-percent-0", "linear", "step_percent", {"step_percent": 0}),
    Bad("step-percent-101", "linear", "step_percent", {"step_percent": 101}),
    Bad("pause-at-unknown", "canary", "pause_at", {"steps": [10, 100], "pause_at": [20]}),
]


@pytest.mark.parametrize("case", BAD, ids=[b.id for b in BAD])
def test_bad_plan_input_names_the_setting(case: Bad) -> None:
    with pytest.raises(InputError) as err:
        build_plan(case.strategy, **case.kw)
    assert err.value.key == case.key
    assert str(err.value).startswith(f"{case.key}: ")


@pytest.mark.parametrize("text", ["", "5,,100", "5;100", "ten,100"])
def test_unparsable_lists_name_the_setting(text: str) -> None:
    with pytest.raises(InputError, match=r"^steps: "):
        parse_int_list("steps", text)
    with pytest.raises(InputError, match=r"^intervals: "):
        parse_float_list("intervals", text)


def test_the_synthetic_bake_is_judged_in_growing_parts_that_add_up() -> None:
    parts = SyntheticBake(requests=800, seconds=20).parts()
    # judged at 50, 100, 200 (doubling), then every 100 (an eighth)
    assert [n for n, _ in parts] == [50, 50, 100, 100, 100, 100, 100, 100, 100]
    assert sum(s for _, s in parts) == pytest.approx(20)
    for requests in (1, 2, 3, 15, 16, 17, 100, 799):
        got = SyntheticBake(requests=requests).parts()
        assert sum(n for n, _ in got) == requests and all(n >= 1 for n, _ in got), requests


# -- the judgements a release-wide alpha is shared out over ---------------------------------------------------
BAKE = SyntheticBake(requests=100, seconds=10, probe_requests=10)


@pytest.mark.parametrize(
    "strategy, kw, judgements",
    [
        # users at 1% and 10% (not at 100%: no stable users left to compare with), probes at 3 steps
        ("canary", {"steps": [1, 10, 100], "synthetic": BAKE}, 2 + 3),
        ("canary", {"steps": [1, 10, 100], "synthetic": SyntheticBake(requests=100, probe_requests=0)}, 2),
        ("canary", {"steps": [1, 100], "synthetic": SyntheticBake(requests=100, probe_requests=1)}, 1 + 2),
        ("canary", {"steps": [1, 10, 100]}, 2),
        ("linear", {"step_percent": 10, "synthetic": BAKE}, 9 + 10),
        ("blue-green", {"synthetic": BAKE}, 0 + 1),
        ("blue-green", {}, 0),
    ],
)
def test_a_plan_counts_the_judgements_its_steps_make(strategy: str, kw: dict[str, object], judgements: int) -> None:
    assert build_plan(strategy, **kw).step_judgements() == judgements  # type: ignore[arg-type]
