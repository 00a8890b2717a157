"""contract/release_state.py: the documents of the release store, and the keys they live under."""

from __future__ import annotations

import json
from typing import Any

import pytest
from zero_downtime.contract.colors import Weights
from zero_downtime.contract.errors import ContractError
from zero_downtime.contract.release_state import (
    FORMAT,
    ColorState,
    FleetState,
    ServiceState,
    StoreKeys,
    decode_fleet_state,
    decode_service_state,
)
from zero_downtime.store.local import LocalBlobs

WHERE = "s3://bucket/proj/dev/state/services/api.json"

SERVICE = ServiceState(
    live_color="green",
    weights=Weights(blue=10, green=90),
    blue=ColorState("registry.example/api:1.4.0", 2),
    green=ColorState("registry.example/api:1.5.0", 3),
    release_id="20260101T120000Z-api-7f3a",
    updated_at=1767268800.25,
)
FLEET = FleetState(released_version=7, ami_id="ami-0123456789abcdef0", release_id="r-1", updated_at=1767268800.0)


# -- round trips ------------------------------------------------------------------------------------------
def test_service_state_round_trips() -> None:
    assert decode_service_state(SERVICE.to_json(), WHERE) == SERVICE


def test_service_state_defaults_round_trip() -> None:
    adopted = ServiceState("blue", Weights(100, 0), ColorState("img:a", 1), ColorState("img:b", 0))
    decoded = decode_service_state(adopted.to_json(), WHERE)
    assert decoded == adopted
    assert (decoded.release_id, decoded.updated_at) == ("", 0.0)


def test_fleet_state_round_trips() -> None:
    assert decode_fleet_state(FLEET.to_json(), WHERE) == FLEET
    bare = FleetState(1, "ami-12345678")
    assert decode_fleet_state(bare.to_json(), WHERE) == bare


def test_documents_carry_format_and_kind() -> None:
    service, fleet = json.loads(SERVICE.to_json()), json.loads(FLEET.to_json())
    assert (service["format"], service["kind"]) == (FORMAT, "service")
    assert (fleet["format"], fleet["kind"]) == (FORMAT, "fleet")
    assert service["weights"] == {"blue": 10, "green": 90}
    assert service["green"] == {"image": "registry.example/api:1.5.0", "desiredCount": 3}
    assert SERVICE.to_json() == SERVICE.to_json()  # stable bytes: sorted keys
    assert SERVICE.to_json().endswith(b"\n")


def test_optional_fields_may_be_absent() -> None:
    doc = json.loads(SERVICE.to_json())
    del doc["releaseId"], doc["updatedAt"]
    decoded = decode_service_state(json.dumps(doc).encode(), WHERE)
    assert (decoded.release_id, decoded.updated_at) == ("", 0.0)


def test_with_color_and_color() -> None:
    changed = SERVICE.with_color("blue", ColorState("img:new", 5))
    assert changed.color("blue") == ColorState("img:new", 5)
    assert changed.color("green") == SERVICE.green
    assert SERVICE.blue == ColorState("registry.example/api:1.4.0", 2)  # frozen original


# -- refusals ---------------------------------------------------------------------------------------------
def _service(**changes: Any) -> bytes:
    doc = json.loads(SERVICE.to_json())
    for path, value in changes.items():
        target = doc
        *parents, last = path.split("__")
        for parent in parents:
            target = target[parent]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return json.dumps(doc).encode()


def _fleet(**changes: Any) -> bytes:
    doc = json.loads(FLEET.to_json())
    for key, value in changes.items():
        if value is _DELETE:
            del doc[key]
        else:
            doc[key] = value
    return json.dumps(doc).encode()


_DELETE = object()


@pytest.mark.parametrize(
    ("data", "key"),
    [
        pytest.param(_service(format=2), "format", id="format-2"),
        pytest.param(_service(format="1"), "format", id="format-string"),
        pytest.param(_service(format=True), "format", id="format-true"),
        pytest.param(_service(format=1.0), "format", id="format-float"),
        pytest.param(_service(format=_DELETE), "format", id="format-missing"),
        pytest.param(_service(kind="fleet"), "kind", id="kind-fleet"),
        pytest.param(_service(kind=_DELETE), "kind", id="kind-missing"),
        pytest.param(_service(liveColor="red"), "liveColor", id="live-red"),
        pytest.param(_service(liveColor=_DELETE), "liveColor", id="live-missing"),
        pytest.param(_service(weights={"blue": 50, "green": 60}), "weights", id="weights-sum-110"),
        pytest.param(_service(weights={"blue": 0, "green": 0}), "weights", id="weights-sum-0"),
        pytest.param(_service(weights={"blue": -10, "green": 110}), "weights.blue", id="weights-negative"),
        pytest.param(_service(weights={"blue": 150, "green": 0}), "weights.blue", id="weights-over-100"),
        pytest.param(_service(weights={"blue": 50.0, "green": 50}), "weights.blue", id="weights-float"),
        pytest.param(_service(weights={"blue": True, "green": 99}), "weights.blue", id="weights-bool"),
        pytest.param(_service(weights={"blue": 100}), "weights.green", id="weights-missing-color"),
        pytest.param(_service(weights=[100, 0]), "weights", id="weights-list"),
        pytest.param(_service(blue__desiredCount=-1), "blue.desiredCount", id="count-negative"),
        pytest.param(_service(green__desiredCount="2"), "green.desiredCount", id="count-string"),
        pytest.param(_service(green__desiredCount=True), "green.desiredCount", id="count-bool"),
        pytest.param(_service(green__desiredCount=1.5), "green.desiredCount", id="count-float"),
        pytest.param(_service(blue__image=""), "blue.image", id="image-empty"),
        pytest.param(_service(blue__image=_DELETE), "blue.image", id="image-missing"),
        pytest.param(_service(green=_DELETE), "green", id="color-missing"),
        pytest.param(_service(releaseId=7), "releaseId", id="release-id-number"),
        pytest.param(_service(updatedAt="yesterday"), "updatedAt", id="updated-string"),
        pytest.param(_service(updatedAt=True), "updatedAt", id="updated-bool"),
        pytest.param(_service(updatedAt=float("nan")), "updatedAt", id="updated-nan"),
        pytest.param(_service(updatedAt=float("inf")), "updatedAt", id="updated-inf"),
        pytest.param(_service(updatedAt=float("-inf")), "updatedAt", id="updated-minus-inf"),
    ],
)
def test_decode_service_state_refuses(data: bytes, key: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode_service_state(data, WHERE)
    assert caught.value.key == f"{WHERE}.{key}"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        pytest.param(_fleet(format=0), "format", id="format-0"),
        pytest.param(_fleet(format=True), "format", id="format-true"),
        pytest.param(_fleet(kind="service"), "kind", id="kind-service"),
        pytest.param(_fleet(amiId="img-0123"), "amiId", id="ami-not-ami"),
        pytest.param(_fleet(amiId="AMI-0123"), "amiId", id="ami-upper"),
        pytest.param(_fleet(amiId=""), "amiId", id="ami-empty"),
        pytest.param(_fleet(amiId=_DELETE), "amiId", id="ami-missing"),
        pytest.param(_fleet(amiId=12345678), "amiId", id="ami-number"),
        pytest.param(_fleet(releasedVersion=0), "releasedVersion", id="version-0"),
        pytest.param(_fleet(releasedVersion=-3), "releasedVersion", id="version-negative"),
        pytest.param(_fleet(releasedVersion="7"), "releasedVersion", id="version-string"),
        pytest.param(_fleet(releasedVersion=_DELETE), "releasedVersion", id="version-missing"),
        pytest.param(_fleet(updatedAt=float("nan")), "updatedAt", id="updated-nan"),
        pytest.param(_fleet(releaseId=None), "releaseId", id="release-id-null"),
    ],
)
def test_decode_fleet_state_refuses(data: bytes, key: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode_fleet_state(data, WHERE)
    assert caught.value.key == f"{WHERE}.{key}"


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b'{"format": 1', b"\xff\xfe\x00", b"[1, 2]", b'"a string"', b"null", b"1"],
)
@pytest.mark.parametrize("decode", [decode_service_state, decode_fleet_state])
def test_decode_refuses_what_is_not_a_json_object(data: bytes, decode: Any) -> None:
    with pytest.raises(ContractError) as caught:
        decode(data, WHERE)
    assert caught.value.key == WHERE


def test_the_refusal_names_the_unknown_format() -> None:
    with pytest.raises(ContractError, match="reads format 1, got 2"):
        decode_service_state(_service(format=2), WHERE)


# -- keys -------------------------------------------------------------------------------------------------
def test_store_keys_build_the_documented_layout() -> None:
    keys = StoreKeys("shop", "dev")
    assert keys.root == "shop/dev"
    assert keys.service_state("api") == "shop/dev/state/services/api.json"
    assert keys.fleet_state("workers") == "shop/dev/state/fleets/workers.json"
    assert keys.journal("api") == "shop/dev/journal/api/"
    assert keys.record("api", "20260101T120000Z-api", 0) == "shop/dev/journal/api/20260101T120000Z-api/00000000.json"
    assert keys.record("api", "r1", 42) == "shop/dev/journal/api/r1/00000042.json"
    assert keys.record("api", "r1", 99_999_999) == "shop/dev/journal/api/r1/99999999.json"
    assert keys.lock("api") == "shop/dev/locks/api.json"
    assert keys.abort("api") == "shop/dev/aborts/api.json"
    assert keys.locks == "shop/dev/locks/"
    assert keys.record("api", "r1", 3).startswith(keys.journal("api"))
    assert keys.lock("api").startswith(keys.locks)


def test_record_keys_sort_in_sequence_order() -> None:
    keys = StoreKeys("shop", "dev")
    seqs = [0, 1, 2, 9, 10, 11, 99, 100, 12345678]
    assert sorted(keys.record("api", "r1", s) for s in reversed(seqs)) == [keys.record("api", "r1", s) for s in seqs]


@pytest.mark.parametrize("seq", [-1, 100_000_000, True])
def test_record_refuses_sequence_numbers_that_are_not_8_digits(seq: Any) -> None:
    with pytest.raises(ContractError) as caught:
        StoreKeys("shop", "dev").record("api", "r1", seq)
    assert caught.value.key == "seq"


def test_a_fully_qualified_stack_name_is_flattened() -> None:
    keys = StoreKeys("proj", "org/proj/dev")
    assert keys.root == "proj/org__proj__dev"
    assert keys.lock("api") == "proj/org__proj__dev/locks/api.json"
    assert StoreKeys("proj", "org/proj/dev").root != StoreKeys("proj", "dev").root


BAD_NAMES = ["", ".", "..", ".hidden", "-dash", "_under", "a b", "tab\tname", "ünï", "x" * 129, "a:b", "a\\b", "/abs"]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize(
    ("what", "build"),
    [
        ("project", lambda n: StoreKeys(n, "dev").root),
        ("stack", lambda n: StoreKeys("shop", n).root),
        ("service", lambda n: StoreKeys("shop", "dev").service_state(n)),
        ("service", lambda n: StoreKeys("shop", "dev").lock(n)),
        ("service", lambda n: StoreKeys("shop", "dev").abort(n)),
        ("service", lambda n: StoreKeys("shop", "dev").journal(n)),
        ("fleet", lambda n: StoreKeys("shop", "dev").fleet_state(n)),
        ("release", lambda n: StoreKeys("shop", "dev").record("api", n, 0)),
    ],
)
def test_store_keys_refuse_names_that_cannot_be_part_of_a_key(name: str, what: str, build: Any) -> None:
    with pytest.raises(ContractError) as caught:
        build(name)
    assert caught.value.key == what
    assert repr(name) in caught.value.problem


def test_every_built_key_is_a_valid_local_key(tmp_path: Any) -> None:
    keys = StoreKeys("shop", "acme/shop/prod")
    store = LocalBlobs(tmp_path)
    built = [
        keys.service_state("api"),
        keys.fleet_state("workers"),
        keys.record("api", "20260101T120000Z-x", 0),
        keys.lock("api"),
        keys.abort("api"),
    ]
    for key in built:
        store.create(key, b"{}")
    assert store.list("") == sorted(built)
    assert store.list(keys.journal("api")) == [keys.record("api", "20260101T120000Z-x", 0)]
    assert store.list(keys.locks) == [keys.lock("api")]
