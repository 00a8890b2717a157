"""The release state the stack program applies: read from the release store, never from git alone.

For every service and fleet the program declares, the release store (stack config `releaseStore`)
may hold release state written by the release driver. When it does, it wins over git's values:

- a service gets the store's live color, weights, and each color's image and desired count;
- a fleet gets the store's released launch template version and AMI (the AMI a release resolved,
  also for a fleet configured with an SSM parameter, so a newly published AMI changes nothing until
  the next release);
- a flag set gets, for each flag a release has moved, the store's percentage and on/off
  (`apply_flag_release_state`): a change to the set's config (a new flag, a new allow list)
  deploys the released percentages, not the configured ones. Its allow, deny and segment lists
  stay the config's.

Git's values only bootstrap what has never been released. So a bare `pulumi up` or `pulumi
preview`, from any checkout, never moves traffic and never changes what a release set. A store
that is configured but cannot be read fails the program, naming `releaseStore`: falling back to
git's values there would undo releases (the outage this module exists to prevent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..contract import COLORS, ContractError
from ..contract.release_state import (
    CONFIG_KEY,
    StoreKeys,
    decode_flag_set_state,
    decode_fleet_state,
    decode_service_state,
)
from ..store import Blobs, StoreError, open_blobs
from .convert import ConfigError

T = TypeVar("T")


@dataclass
class Applied:
    """What the program took from the release store, for the operator (`pulumi up` logs it)."""

    store: str = ""
    services: list[str] = field(default_factory=list)
    fleets: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    """`<set>.<flag>` of each flag whose percentage came from the store."""
    ignored: list[str] = field(default_factory=list)
    """Release state the stack no longer declares (a flag removed from its set), kept in the store."""

    @property
    def notes(self) -> list[str]:
        if not self.store:
            return [f"{CONFIG_KEY} is not set: release state comes from this stack file (git) alone"]
        released = (
            [f"services.{s}" for s in self.services]
            + [f"fleets.{f}" for f in self.fleets]
            + [f"featureFlags.{f}" for f in self.flags]
        )
        what = ", ".join(released) if released else "nothing released yet"
        notes = [f"release state from {self.store}: {what}"]
        notes += [f"release state of {i} is ignored: the stack no longer declares it" for i in self.ignored]
        return notes


@contextmanager
def _reading(store_url: str, base_dir: Path, region: str | None, s3_client: Any) -> Iterator[Blobs]:
    """The store, with every failure to read it turned into a ConfigError naming `releaseStore`."""
    try:
        yield open_blobs(store_url, base_dir=base_dir, s3_client=s3_client, region=region)
    except ContractError as exc:
        raise ConfigError(str(exc) if exc.key == CONFIG_KEY else f"{CONFIG_KEY}: {exc}") from None
    except StoreError as exc:
        raise ConfigError(f"{CONFIG_KEY}: cannot read the release store: {exc}") from None


def _released(blobs: Blobs, key: str, decode: Callable[[bytes, str], T]) -> T | None:
    """The decoded document at `key`, None when nothing was released there yet."""
    blob = blobs.get(key)
    return None if blob is None else decode(blob.data, f"{blobs.url}/{key}")


def apply_release_state(
    store_url: str,
    *,
    project: str,
    stack: str,
    services: Mapping[str, dict[str, Any]],
    fleets: Mapping[str, dict[str, Any]],
    base_dir: Path,
    region: str | None = None,
    s3_client: Any = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], Applied]:
    """`services` and `fleets` args (from `parse_services`/`parse_fleets`) with the store's release
    state applied. Raises ConfigError naming `releaseStore` when the store cannot be read."""
    if not store_url:
        return dict(services), dict(fleets), Applied()
    with _reading(store_url, base_dir, region, s3_client) as blobs:
        keys = StoreKeys(project, stack)
        applied = Applied(store=blobs.url)
        out_services = {name: dict(args) for name, args in services.items()}
        for name, args in out_services.items():
            state = _released(blobs, keys.service_state(name), decode_service_state)
            if state is None:
                continue
            args["live_color"] = state.live_color
            for color in COLORS:
                current = dict(args.get(color) or {})
                current.update(
                    image=state.color(color).image,
                    desired_count=state.color(color).desired_count,
                    weight=state.weights.of(color),
                )
                args[color] = current
            applied.services.append(name)
        out_fleets = {name: dict(args) for name, args in fleets.items()}
        for name, args in out_fleets.items():
            fleet = _released(blobs, keys.fleet_state(name), decode_fleet_state)
            if fleet is None:
                continue
            args["released_ami_id"] = fleet.ami_id
            args["released_version"] = fleet.released_version
            applied.fleets.append(name)
    return out_services, out_fleets, applied


def apply_flag_release_state(
    store_url: str,
    *,
    project: str,
    stack: str,
    flag_sets: Mapping[str, dict[str, Any]],
    base_dir: Path,
    region: str | None = None,
    s3_client: Any = None,
    applied: Applied | None = None,
) -> dict[str, dict[str, Any]]:
    """`flag_sets` (FeatureFlagsArgs by set name, from `parse_feature_flags`) with each released flag's
    percentage and on/off from the store. `applied` (from `apply_release_state`) collects what came
    from the store. Raises ConfigError naming `releaseStore` when the store cannot be read."""
    out = {name: dict(args) for name, args in flag_sets.items()}
    if not store_url:
        return out
    with _reading(store_url, base_dir, region, s3_client) as blobs:
        keys = StoreKeys(project, stack)
        for name, args in out.items():
            released_set = _released(blobs, keys.flag_set_state(name), decode_flag_set_state)
            if released_set is None:
                continue
            flags = {flag: dict(settings) for flag, settings in (args.get("flags") or {}).items()}
            for flag, released in sorted(released_set.flags.items()):
                if flag not in flags:
                    if applied is not None:
                        applied.ignored.append(f"featureFlags.{name}.{flag}")
                    continue
                flags[flag].update(enabled=released.enabled, percentage=released.percentage)
                if applied is not None:
                    applied.flags.append(f"{name}.{flag}")
            args["flags"] = flags
    return out
