"""The stack program applies release state from the release store (issue 12, property 1).

The real program runs under Pulumi's mocks with git's unchanged stack files, as `main.yml`'s `up`
would, against a release store on both backends (local files; S3 on the moto server). What it
exports and the inputs it gives the listener rule, the services and the launch template must be
exactly the released ones.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract import ResourceType, Weights, parse_fleet, parse_service
from zero_downtime.contract.release_state import ColorState, FleetState, ServiceState, StoreKeys
from zero_downtime.offline.evaluate import evaluate_program
from zero_downtime.store import Blobs, open_blobs

RELEASED = ServiceState(
    live_color="green",
    weights=Weights(0, 100),
    blue=ColorState("registry.example.com/shop/web:1.4.2", 0),
    green=ColorState("registry.example.com/shop/web:1.5.0", 3),
    release_id="r-20261201T100000.000000-abcdef",
    updated_at=1_764_583_200.0,
)
BUCKET = "zdd-program-test"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from tests.moto_server import start_moto

    server = start_moto()  # conditional writes as atomic as S3's (tests/moto_server.py)
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Blobs]:
    if request.param == "local":
        url = f"file://{tmp_path / 'store'}"
        return url, open_blobs(url)
    moto = request.getfixturevalue("moto_url")
    urllib.request.urlopen(urllib.request.Request(f"{moto}/moto-api/reset", method="POST"), timeout=10).close()
    # The program makes its own client, as on AWS: credentials and endpoint come from the environment.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    import boto3

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    url = f"s3://{BUCKET}/releases"
    return url, open_blobs(url)


def _rule_weights(ev: Any, name: str) -> dict[str, int]:
    rule = next(r for r in ev.of_type(ResourceType.LISTENER_RULE) if r.name == name)
    groups = rule.inputs["actions"][0]["forward"]["targetGroups"]
    arn_to_color = {
        tg.outputs["arn"]: tg.name.split("-")[-2]
        for tg in ev.of_type(ResourceType.TARGET_GROUP)
        if tg.name.startswith("web-")
    }
    return {arn_to_color[g["arn"]]: int(g["weight"]) for g in groups}


def test_a_bare_up_after_a_release_applies_exactly_the_released_state(store: tuple[str, Blobs]) -> None:
    url, blobs = store
    blobs.create(StoreKeys("zero-downtime", "dev").service_state("web"), RELEASED.to_json())
    ev = evaluate_program("dev", release_store=url)  # git's Pulumi.dev.yaml says blue, 1.4.2, 1/0
    web = parse_service(ev.outputs, "web")
    assert web.live_color == "green" and web.weights == Weights(0, 100)
    assert (web.blue.image, web.blue.desired_count, web.blue.weight) == ("registry.example.com/shop/web:1.4.2", 0, 0)
    assert (web.green.image, web.green.desired_count, web.green.weight) == (
        "registry.example.com/shop/web:1.5.0",
        3,
        100,
    )
    assert _rule_weights(ev, "web-prod-rule") == {"blue": 0, "green": 100}
    counts = {s.name: s.inputs["desiredCount"] for s in ev.of_type(ResourceType.ECS_SERVICE)}
    assert counts == {"web-blue-svc": 0, "web-green-svc": 3}


def test_without_release_state_git_bootstraps(store: tuple[str, Blobs]) -> None:
    url, _ = store
    ev = evaluate_program("dev", release_store=url)
    web = parse_service(ev.outputs, "web")
    assert web.live_color == "blue" and web.weights == Weights(100, 0)
    assert web.blue.image == "registry.example.com/shop/web:1.4.2"


def test_a_released_fleet_keeps_its_ami_whatever_the_ssm_parameter_says_now(store: tuple[str, Blobs]) -> None:
    url, blobs = store
    state = FleetState(released_version=7, ami_id="ami-0released0000000", release_id="f-1-x")
    blobs.create(StoreKeys("zero-downtime", "staging").fleet_state("reports"), state.to_json())
    ev = evaluate_program("staging", release_store=url)
    (template,) = [r for r in ev.of_type(ResourceType.LAUNCH_TEMPLATE) if r.name.startswith("reports")]
    assert template.inputs["imageId"] == "ami-0released0000000"
    assert not [token for token, _ in ev.mocks.calls if token == "aws:ssm/getParameter:getParameter"]
    (group,) = [r for r in ev.of_type(ResourceType.AUTOSCALING_GROUP) if r.name.startswith("reports")]
    assert str(group.inputs["launchTemplate"]["version"]) == "7"
    fleet = parse_fleet(ev.outputs, "reports")
    assert fleet.ami_id == "ami-0released0000000" and fleet.launch_template_version == 7
    # The fleet still names its parameter: the next `deploy --ami-from-ssm` resolves it again.
    assert fleet.ami_ssm_parameter == "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def test_a_never_released_ssm_fleet_resolves_its_parameter(store: tuple[str, Blobs]) -> None:
    url, _ = store
    ev = evaluate_program("staging", release_store=url)
    assert [token for token, _ in ev.mocks.calls if token == "aws:ssm/getParameter:getParameter"]


def test_an_unreadable_store_fails_the_program_naming_the_key(tmp_path: Path) -> None:
    blobs = open_blobs(f"file://{tmp_path}")
    blobs.create(StoreKeys("zero-downtime", "dev").service_state("web"), b'{"format": 99}')
    with pytest.raises(ValueError, match=r"releaseStore: .*format: this version reads format 1, got 99"):
        evaluate_program("dev", release_store=f"file://{tmp_path}")
    with pytest.raises(ValueError, match="releaseStore: must start with s3:// or file://"):
        evaluate_program("dev", release_store="ftp://x")


def test_a_missing_bucket_fails_the_program_rather_than_fall_back_to_git(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(ValueError, match=r"releaseStore: cannot read the release store: .*NoSuchBucket"):
        evaluate_program("dev", release_store="s3://no-such-zdd-bucket/releases")


def test_the_next_image_is_spec_for_the_driver_and_never_applied(tmp_path: Path) -> None:
    ev = evaluate_program("dev", overrides={"services": _dev_services(image="registry.example.com/shop/web:9.9.9")})
    images = {r.name: r.inputs["containerDefinitions"] for r in ev.of_type(ResourceType.ECS_TASK_DEFINITION)}
    assert images and all("9.9.9" not in str(defs) for defs in images.values())
    with pytest.raises(ValueError, match=r"services\.web\.image: must be an image reference without whitespace"):
        evaluate_program("dev", overrides={"services": _dev_services(image="bad image")})


def _dev_services(**web: Any) -> dict[str, Any]:
    import json

    from zero_downtime.offline.evaluate import load_stack_config

    raw = json.loads(load_stack_config("dev").values["zero-downtime:services"])
    raw["web"].update(web)
    return raw
