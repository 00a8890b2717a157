"""A service's schema migrations (expand/contract), as a BlueGreenService declares them.

The component does not run them: it validates them, exports them in the stack output `services`
(with what the driver needs to run them as one-off ECS tasks) and tags the ECS services with the
contract delay and keep-warm, so the policy `ecs-service-keep-warm-covers-contract-delay` can see
them. The driver runs them (docs/migrations.md).
"""

import shlex
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi

from .validation import ArgError

MAX_COMMAND_CHARS = 4096
MAX_SECONDS = 7 * 24 * 3600
DEFAULT_KEEP_WARM_SECONDS = 900
"""The driver's own keep-warm default (`zdd-release deploy --keep-warm`)."""
CONTRACT_DELAY_TAG = "zero-downtime:contract-delay-seconds"
KEEP_WARM_TAG = "zero-downtime:keep-warm-seconds"


class MigrationsArgs(TypedDict):
    """Commands the driver runs around a release of the service, and their timing."""

    expand_command: NotRequired[pulumi.Input[str]]
    """Expand the schema, before the new color starts (e.g. `alembic upgrade 0002`)."""
    compat_command: NotRequired[pulumi.Input[str]]
    """Compatibility gate: the expand on a scratch copy, the old version smoke-tested on it (needs expandCommand)."""
    contract_command: NotRequired[pulumi.Input[str]]
    """Contract the schema, once the old color serves nothing; not reversible."""
    contract_delay_seconds: NotRequired[pulumi.Input[int]]
    """Contract no sooner than this many seconds after promotion (default 0)."""
    keep_warm_seconds: NotRequired[pulumi.Input[int]]
    """Seconds the driver keeps the old color warm after promotion in this service's releases (default 900)."""


@dataclass(frozen=True)
class MigrationSettings:
    expand_command: str | None
    compat_command: str | None
    contract_command: str | None
    contract_delay_seconds: int
    keep_warm_seconds: int

    def tags(self) -> dict[str, str]:
        """Tags of the ECS services: what the keep-warm policy checks."""
        return {CONTRACT_DELAY_TAG: str(self.contract_delay_seconds), KEEP_WARM_TAG: str(self.keep_warm_seconds)}


def _command(args: MigrationsArgs, key: str) -> str | None:
    value = args.get(key)  # type: ignore[misc]
    if value is None:
        return None
    if not isinstance(value, str):
        raise ArgError(f"migrations.{key}", f"must be a command string known at preview, got {value!r}")
    if len(value) > MAX_COMMAND_CHARS:
        raise ArgError(f"migrations.{key}", f"must be at most {MAX_COMMAND_CHARS} characters")
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise ArgError(f"migrations.{key}", f"cannot be split into arguments: {exc}") from None
    if not argv:
        raise ArgError(f"migrations.{key}", "must name a program")
    return value


def _seconds(args: MigrationsArgs, key: str, default: int) -> int:
    value: Any = args.get(key, default)  # type: ignore[misc]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SECONDS:
        raise ArgError(f"migrations.{key}", f"must be a whole number of seconds 0-{MAX_SECONDS}, got {value!r}")
    return value


def resolve_migrations(args: MigrationsArgs | None) -> MigrationSettings | None:
    """Checked migrations (None when the service declares none); ArgError names `migrations.<key>`."""
    if args is None:
        return None
    if not isinstance(args, dict):
        raise ArgError("migrations", "must be a map of expandCommand, compatCommand, contractCommand, ...")
    unknown = sorted(set(args) - set(MigrationsArgs.__annotations__))
    if unknown:
        raise ArgError(f"migrations.{unknown[0]}", "is not a known migrations setting")
    expand, compat, contract = (_command(args, k) for k in ("expand_command", "compat_command", "contract_command"))
    if not expand and not contract:
        raise ArgError("migrations", "needs expandCommand, contractCommand or both")
    if expand and not compat:
        raise ArgError("migrations.compat_command", "is required with expandCommand: the compatibility gate")
    if compat and not expand:
        raise ArgError("migrations.compat_command", "gates an expand: give it with expandCommand")
    delay = _seconds(args, "contract_delay_seconds", 0)
    if delay and not contract:
        raise ArgError("migrations.contract_delay_seconds", "delays a contract: give it with contractCommand")
    keep_warm = _seconds(args, "keep_warm_seconds", DEFAULT_KEEP_WARM_SECONDS)
    return MigrationSettings(expand, compat, contract, delay, keep_warm)
