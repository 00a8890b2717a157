"""The thin Automation API layer: select the local stack, write config, `up`, read outputs.

Only this module imports `pulumi.automation`. Errors become the driver's own (core/errors.py) with
messages that say what to do: a stack that does not exist is refused input; `ConcurrentUpdateError`
is retried with backoff, then reported as StackBusy; any other CLI failure is a PortError.
Tested against a fake `Stack` (the Pulumi CLI is not installed where the tests run).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from pulumi import automation as auto

from ...contract import ContractError, parse_fleet
from ..core.errors import InputError, PortError, StackBusy
from ..core.ports import Clock, TemplateVersions

log = logging.getLogger(__name__)

# Text the CLI prints when a previous update was interrupted mid-operation.
_PENDING_MARKERS = ("pending operation", "pending create", "clear-pending-creates")


class StackLike(Protocol):
    """What we use of `pulumi.automation.Stack` (a fake implements it in tests)."""

    def set_config(self, key: str, value: auto.ConfigValue, *, path: bool = False) -> None: ...

    def get_config(self, key: str, *, path: bool = False) -> auto.ConfigValue: ...

    def up(self, **kwargs: Any) -> Any: ...

    def refresh(self, **kwargs: Any) -> Any: ...

    def outputs(self) -> Mapping[str, Any]: ...


def _tail(err: auto.CommandError, lines: int = 6) -> str:
    """The last useful lines of the CLI's output. CommandError keeps only str(CommandResult):
    "code: N / stdout: ... / stderr: ...", so stderr is preferred and the framing dropped."""
    text = str(err)
    stdout, _, stderr = text.partition(" stderr: ")
    stdout = stdout.split(" stdout: ", 1)[-1]
    body = stderr if stderr.strip() else stdout
    useful = [ln for ln in body.splitlines() if ln.strip() and not ln.strip().startswith("code:")]
    return "\n".join(useful[-lines:]) or text.strip()


def select_stack(stack_name: str, work_dir: Path) -> StackLike:
    """`auto.select_stack` on the local project, errors mapped to clear messages."""
    try:
        return auto.select_stack(stack_name=stack_name, work_dir=str(work_dir))
    except auto.StackNotFoundError:
        raise InputError(
            "stack", f"stack {stack_name!r} not found in the current backend (check `pulumi stack ls` in {work_dir})"
        ) from None
    except auto.CommandError as err:
        raise PortError(f"selecting stack {stack_name!r} failed:\n{_tail(err)}") from err
    except FileNotFoundError as err:  # no pulumi binary on PATH
        raise PortError(f"the Pulumi CLI is not installed or not on PATH ({err})") from err


class StackOps:
    """Config writes, `up`, `refresh` and outputs for one stack."""

    def __init__(
        self,
        stack: StackLike,
        clock: Clock,
        *,
        attempts: int = 5,
        backoff_seconds: float = 5.0,
        max_backoff_seconds: float = 60.0,
        on_output: Callable[[str], None] | None = None,
        policy_packs: Sequence[str] = (),
    ) -> None:
        self.stack = stack
        self.policy_packs = list(policy_packs)
        """Policy pack directories every `up` of the driver runs with (CrossGuard guardrails)."""
        self.clock = clock
        self.attempts = attempts
        self.backoff = backoff_seconds
        self.max_backoff = max_backoff_seconds
        self.on_output = on_output or (lambda line: log.info("pulumi: %s", line.rstrip()))

    def set_config(self, values: Mapping[str, str]) -> None:
        """Write each key with path=True (e.g. `services.api.green.image`)."""
        for key, value in values.items():
            self._retry(f"config set {key}", lambda k=key, v=value: self._set(k, v))

    def _set(self, key: str, value: str) -> None:
        self.stack.set_config(key, auto.ConfigValue(value=value, secret=False), path=True)

    def get_config(self, key: str) -> str | None:
        """The value at `key` (path=True), or None when it is not set."""
        try:
            value = self._retry(f"config get {key}", lambda: self.stack.get_config(key, path=True))
        except PortError as err:
            if "not found" in str(err).lower():
                return None
            raise
        return None if value is None else str(value.value)

    def up(self, message: str = "") -> Any:
        """`up` with output streamed; repair an interrupted update once with refresh."""
        try:
            return self._retry("up", lambda: self._up(message))
        except StackBusy:
            raise
        except PortError as err:
            if not any(m in str(err).lower() for m in _PENDING_MARKERS):
                raise
            log.warning("previous update was interrupted; refreshing with clear_pending_creates")
            self.refresh()
            return self._retry("up", lambda: self._up(message))

    def _up(self, message: str) -> Any:
        extra: dict[str, Any] = {"policy_packs": self.policy_packs} if self.policy_packs else {}
        return self.stack.up(on_output=self.on_output, message=message or None, **extra)

    def refresh(self) -> Any:
        return self._retry(
            "refresh",
            lambda: self.stack.refresh(clear_pending_creates=True, on_output=self.on_output),
        )

    def outputs(self) -> dict[str, Any]:
        raw = self._retry("stack output", self.stack.outputs)
        return {k: getattr(v, "value", v) for k, v in raw.items()}

    def template_versions(self, fleet: str) -> TemplateVersions:
        """The fleet's launch template versions from the stack output `fleets`."""
        try:
            outputs = parse_fleet(self.outputs(), fleet)
        except ContractError as exc:
            raise PortError(f"stack output {exc}") from None
        return TemplateVersions(
            launch_template_id=outputs.launch_template_id,
            pinned=outputs.launch_template_version,
            latest=outputs.launch_template_latest_version,
        )

    def _retry(self, what: str, fn: Callable[[], Any]) -> Any:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except auto.ConcurrentUpdateError as err:
                if attempt == self.attempts:
                    raise StackBusy(
                        f"{what}: another update is running on this stack; gave up after "
                        f"{self.attempts} attempts. Wait for it to finish (or cancel it with "
                        f"`pulumi cancel`) and run `resume`.\n{_tail(err)}"
                    ) from err
                log.warning("%s: concurrent update, retry %d in %.0fs", what, attempt, delay)
                self.clock.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
            except auto.StackNotFoundError as err:
                raise PortError(f"{what}: stack not found\n{_tail(err)}") from err
            except auto.CommandError as err:
                raise PortError(f"{what} failed:\n{_tail(err)}") from err
        raise PortError(f"{what}: no attempt made")  # attempts < 1
