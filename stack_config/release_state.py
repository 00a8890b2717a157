"""The release state the stack program applies: read from the release store, never from git alone.

For every service and fleet the program declares, the release store (stack config `releaseStore`)
may hold release state written by the release driver. When it does, it wins over git's values:

- a service gets the store's live color, weights, and each color's image and desired count;
- a fleet gets the store's released launch template version and AMI (the AMI a release resolved,
  also for a fleet configured with an SSM parameter, so a newly published AMI changes nothing until
  the next release).

Git's values only bootstrap what has never been released. So a bare `pulumi up` or `pulumi
preview`, from any checkout, never moves traffic and never changes what a release set. A store
that is configured but cannot be read fails the program, naming `releaseStore`: falling back to
git's values there would undo releases (the outage this module exists to prevent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract import COLORS, ContractError
from ..contract.release_state import CONFIG_KEY, StoreKeys, decode_fleet_state, decode_service_state
from ..store import StoreError, open_blobs
from .convert import ConfigError


@dataclass
class Applied:
    """What the program took from the release store, for the operator (`pulumi up` logs it)."""

    store: str = ""
    services: list[str] = field(default_factory=list)
    fleets: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        if not self.store:
            return [f"{CONFIG_KEY} is not set: release state comes from this stack file (git) alone"]
        released = [f"services.{s}" for s in self.services] + [f"fleets.{f}" for f in self.fleets]
        what = ", ".join(released) if released else "nothing released yet"
        return [f"release state from {self.store}: {what}"]


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
    try:
        blobs = open_blobs(store_url, base_dir=base_dir, s3_client=s3_client, region=region)
        keys = StoreKeys(project, stack)
        applied = Applied(store=blobs.url)
        out_services = {name: dict(args) for name, args in services.items()}
        for name, args in out_services.items():
            key = keys.service_state(name)
            blob = blobs.get(key)
            if blob is None:
                continue
            state = decode_service_state(blob.data, f"{blobs.url}/{key}")
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
            key = keys.fleet_state(name)
            blob = blobs.get(key)
            if blob is None:
                continue
            fleet = decode_fleet_state(blob.data, f"{blobs.url}/{key}")
            args["released_ami_id"] = fleet.ami_id
            args["released_version"] = fleet.released_version
            applied.fleets.append(name)
    except ContractError as exc:
        raise ConfigError(str(exc) if exc.key == CONFIG_KEY else f"{CONFIG_KEY}: {exc}") from None
    except StoreError as exc:
        raise ConfigError(f"{CONFIG_KEY}: cannot read the release store: {exc}") from None
    return out_services, out_fleets, applied
