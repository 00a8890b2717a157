"""The release store: where release state lives, and the format of what is kept there (format 1).

Git owns the shape of a stack; the release store owns its release state; the load balancer owns the
traffic actually routed. The release driver is the only writer of the store. The stack program
reads it, so a bare `pulumi up` or `pulumi preview`, from any checkout, applies the released live
color, weights, images and counts and never moves traffic (docs/architecture.md, "Release state").

Stack config names the store with the key `releaseStore`:

    s3://<bucket>/<prefix>     S3, with conditional writes (Terraform 1.10's S3 lockfile works the same way)
    file://<path>              local files (the rehearsal, tests, the offline preview); a relative path
                               is relative to the project directory

Under `<prefix>/<project>/<stack>/` the store holds:

    state/services/<service>.json            ServiceState: live color, weights, each color's image and count
    state/fleets/<fleet>.json                FleetState: released launch template version and AMI
    state/flags/<flag set>.json              FlagSetState: each released flag's percentage and on/off
    journal/<service>/<release>/<seq>.json   one record per object, created only if absent (seq = 8 digits)
    locks/<service>.json                     the lease of the driver working on the service
    aborts/<service>.json                    an abort request for the driver that holds the lease

Every document carries `"format": 1`; a reader refuses a format it does not know, naming it.
This module is dependency-free: the program (stack_config) and the driver share it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .colors import COLORS, Color, Weights, parse_color
from .errors import ContractError
from .flags import FLAG_KEY

FORMAT = 1
CONFIG_KEY = "releaseStore"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$")
_MAX_SEQ = 99_999_999


# -- where ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoreLocation:
    """A parsed `releaseStore` value."""

    scheme: str
    """`s3` or `file`."""
    bucket: str
    """The S3 bucket (empty for `file`)."""
    prefix: str
    """Key prefix inside the bucket, or the directory for `file` (no trailing slash)."""

    @property
    def url(self) -> str:
        if self.scheme == "s3":
            return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        return f"file://{self.prefix}"


def parse_store_url(value: object, key: str = CONFIG_KEY) -> StoreLocation:
    """`s3://bucket/prefix` or `file://path`, or ContractError naming `key`."""
    if not isinstance(value, str) or not value.strip():
        raise ContractError(key, "must be s3://<bucket>/<prefix> or file://<path>")
    if any(c.isspace() for c in value):
        raise ContractError(key, f"must not contain whitespace, got {value!r}")
    scheme, sep, rest = value.partition("://")  # by hand: the contract imports no urllib (tests/test_layers.py)
    scheme = scheme.lower() if sep else ""
    if scheme == "s3":
        end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
        bucket, path = rest[:end], rest[end:]
        if not _BUCKET.match(bucket) or ".." in bucket:
            raise ContractError(key, f"{bucket!r} is not a valid S3 bucket name")
        if "?" in path or "#" in path or "//" in path:
            raise ContractError(key, f"must be s3://<bucket>/<prefix>, got {value!r}")
        prefix = path.strip("/")
        for part in prefix.split("/") if prefix else []:
            if not _SEGMENT.match(part):
                raise ContractError(key, f"prefix part {part!r} may hold letters, digits and . _ = - only")
        return StoreLocation("s3", bucket, prefix)
    if scheme == "file":
        if "?" in rest or "#" in rest:
            raise ContractError(key, f"must be file://<path>, got {value!r}")
        path = rest.rstrip("/")
        if not path:
            raise ContractError(key, "file:// needs a path")
        return StoreLocation("file", "", path)
    raise ContractError(key, f"must start with s3:// or file://, got {value!r}")


def _name(value: str, what: str) -> str:
    flat = value.replace("/", "__")  # fully qualified stack names: org/project/stack
    if not _SEGMENT.match(flat):
        raise ContractError(what, f"{value!r} cannot be part of a store key")
    return flat


@dataclass(frozen=True)
class StoreKeys:
    """Object keys of one stack's release state, relative to the store location."""

    project: str
    stack: str

    @property
    def root(self) -> str:
        return f"{_name(self.project, 'project')}/{_name(self.stack, 'stack')}"

    def service_state(self, service: str) -> str:
        return f"{self.root}/state/services/{_name(service, 'service')}.json"

    def fleet_state(self, fleet: str) -> str:
        return f"{self.root}/state/fleets/{_name(fleet, 'fleet')}.json"

    def flag_set_state(self, flag_set: str) -> str:
        return f"{self.root}/state/flags/{_name(flag_set, 'flag set')}.json"

    def journal(self, service: str) -> str:
        return f"{self.root}/journal/{_name(service, 'service')}/"

    def record(self, service: str, release_id: str, seq: int) -> str:
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= _MAX_SEQ:
            # a negative or 9-digit number would break the 8-digit names that sort in record order
            raise ContractError("seq", f"must be an integer 0-{_MAX_SEQ}, got {seq!r}")
        return f"{self.journal(service)}{_name(release_id, 'release')}/{seq:08d}.json"

    def lock(self, service: str) -> str:
        return f"{self.root}/locks/{_name(service, 'service')}.json"

    def abort(self, service: str) -> str:
        return f"{self.root}/aborts/{_name(service, 'service')}.json"

    @property
    def locks(self) -> str:
        return f"{self.root}/locks/"


# -- what ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColorState:
    image: str
    desired_count: int


@dataclass(frozen=True)
class ServiceState:
    """A service's release state: what `up` applies and what the next release starts from."""

    live_color: Color
    weights: Weights
    blue: ColorState
    green: ColorState
    release_id: str = ""
    """The release that wrote it last ("" when adopted from a deployed stack)."""
    updated_at: float = 0.0

    def color(self, color: Color) -> ColorState:
        return self.blue if color == "blue" else self.green

    def with_color(self, color: Color, state: ColorState) -> ServiceState:
        return replace(self, **{color: state})

    def to_json(self) -> bytes:
        return _dump(
            {
                "format": FORMAT,
                "kind": "service",
                "liveColor": self.live_color,
                "weights": self.weights.as_dict(),
                **{c: {"image": self.color(c).image, "desiredCount": self.color(c).desired_count} for c in COLORS},
                "releaseId": self.release_id,
                "updatedAt": self.updated_at,
            }
        )


@dataclass(frozen=True)
class FleetState:
    """A fleet's release state: the launch template version the group is pinned to, and its AMI."""

    released_version: int
    ami_id: str
    release_id: str = ""
    updated_at: float = 0.0

    def to_json(self) -> bytes:
        return _dump(
            {
                "format": FORMAT,
                "kind": "fleet",
                "releasedVersion": self.released_version,
                "amiId": self.ami_id,
                "releaseId": self.release_id,
                "updatedAt": self.updated_at,
            }
        )


@dataclass(frozen=True)
class FlagState:
    """One released flag: what the driver last served (`enabled: false` is the kill switch)."""

    enabled: bool
    percentage: int


@dataclass(frozen=True)
class FlagSetState:
    """A flag set's release state: the flags a release has moved, each as it last set it.

    Only `enabled` and `percentage` are release state; a flag's allow, deny and segment lists stay
    git's (the stack config). Flags no release has moved yet are not here: the config bootstraps them."""

    flags: Mapping[str, FlagState]
    release_id: str = ""
    updated_at: float = 0.0

    def with_flag(self, flag: str, state: FlagState, *, release_id: str, updated_at: float) -> FlagSetState:
        return FlagSetState({**self.flags, flag: state}, release_id=release_id, updated_at=updated_at)

    def to_json(self) -> bytes:
        return _dump(
            {
                "format": FORMAT,
                "kind": "flags",
                "flags": {k: {"enabled": v.enabled, "percentage": v.percentage} for k, v in sorted(self.flags.items())},
                "releaseId": self.release_id,
                "updatedAt": self.updated_at,
            }
        )


def _dump(data: Mapping[str, Any]) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=1) + "\n").encode()


def _document(data: bytes, where: str, kind: str) -> Mapping[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ContractError(where, "not a JSON document") from None
    if not isinstance(doc, Mapping):
        raise ContractError(where, "must be a JSON object")
    if type(doc.get("format")) is not int or doc.get("format") != FORMAT:  # not true, not 1.0
        raise ContractError(f"{where}.format", f"this version reads format {FORMAT}, got {doc.get('format')!r}")
    if doc.get("kind") != kind:
        raise ContractError(f"{where}.kind", f"expected {kind!r}, got {doc.get('kind')!r}")
    return doc


def _int(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ContractError(key, f"must be an integer >= {minimum}, got {value!r}")
    return value


def _str(value: Any, key: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise ContractError(key, f"must be a {'' if empty else 'non-empty '}string, got {value!r}")
    return value


def _time(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ContractError(key, f"must be seconds since the epoch, got {value!r}")
    return float(value)


def decode_service_state(data: bytes, where: str) -> ServiceState:
    doc = _document(data, where, "service")
    weights = doc.get("weights")
    if not isinstance(weights, Mapping):
        raise ContractError(f"{where}.weights", "expected {blue: int, green: int}")
    colors: dict[str, ColorState] = {}
    for c in COLORS:
        entry = doc.get(c)
        if not isinstance(entry, Mapping):
            raise ContractError(f"{where}.{c}", "expected {image, desiredCount}")
        colors[c] = ColorState(
            image=_str(entry.get("image"), f"{where}.{c}.image"),
            desired_count=_int(entry.get("desiredCount"), f"{where}.{c}.desiredCount", 0),
        )
    try:
        split = Weights(
            blue=_int(weights.get("blue"), f"{where}.weights.blue", 0),
            green=_int(weights.get("green"), f"{where}.weights.green", 0),
        )
    except ContractError as exc:
        # Weights names `weights` (the sum) or `weights.<color>` (a value out of 0-100)
        raise ContractError(exc.key if exc.key.startswith(where) else f"{where}.{exc.key}", exc.problem) from None
    return ServiceState(
        live_color=parse_color(doc.get("liveColor"), f"{where}.liveColor"),
        weights=split,
        blue=colors["blue"],
        green=colors["green"],
        release_id=_str(doc.get("releaseId", ""), f"{where}.releaseId", empty=True),
        updated_at=_time(doc.get("updatedAt", 0.0), f"{where}.updatedAt"),
    )


def decode_fleet_state(data: bytes, where: str) -> FleetState:
    doc = _document(data, where, "fleet")
    ami = _str(doc.get("amiId"), f"{where}.amiId")
    if not ami.startswith("ami-"):
        raise ContractError(f"{where}.amiId", f"must be an AMI id, got {ami!r}")
    return FleetState(
        released_version=_int(doc.get("releasedVersion"), f"{where}.releasedVersion", 1),
        ami_id=ami,
        release_id=_str(doc.get("releaseId", ""), f"{where}.releaseId", empty=True),
        updated_at=_time(doc.get("updatedAt", 0.0), f"{where}.updatedAt"),
    )


def decode_flag_set_state(data: bytes, where: str) -> FlagSetState:
    doc = _document(data, where, "flags")
    raw = doc.get("flags")
    if not isinstance(raw, Mapping):
        raise ContractError(f"{where}.flags", "expected {<flag>: {enabled, percentage}}")
    flags: dict[str, FlagState] = {}
    for flag, entry in raw.items():
        key = f"{where}.flags.{flag}"
        if not isinstance(flag, str) or not FLAG_KEY.match(flag):
            raise ContractError(key, "is not a feature-flag key")
        if not isinstance(entry, Mapping):
            raise ContractError(key, "expected {enabled, percentage}")
        if not isinstance(entry.get("enabled"), bool):
            raise ContractError(f"{key}.enabled", f"must be true or false, got {entry.get('enabled')!r}")
        percentage = _int(entry.get("percentage"), f"{key}.percentage", 0)
        if percentage > 100:
            raise ContractError(f"{key}.percentage", f"must be 0-100, got {percentage}")
        flags[flag] = FlagState(enabled=entry["enabled"], percentage=percentage)
    return FlagSetState(
        flags=flags,
        release_id=_str(doc.get("releaseId", ""), f"{where}.releaseId", empty=True),
        updated_at=_time(doc.get("updatedAt", 0.0), f"{where}.updatedAt"),
    )


__all__ = [
    "CONFIG_KEY",
    "FORMAT",
    "ColorState",
    "FlagSetState",
    "FlagState",
    "FleetState",
    "ServiceState",
    "StoreKeys",
    "StoreLocation",
    "decode_flag_set_state",
    "decode_fleet_state",
    "decode_service_state",
    "parse_store_url",
]
