"""Every error the release driver raises, in one place.

The core names what is wrong by *key*: a release setting (`image`, `steps`, `analysis.threshold`),
a stack config key (`fleets.web.releasedVersion`) or a stack output (`services.web.productionRuleArn`).
Only the CLI knows its flags: it maps the keys it owns to them (`image` -> `--image`) when it
prints the message, so the core never names a flag that does not exist.

How the CLI treats each family:

| error        | meaning                                                        | exit |
| ------------ | -------------------------------------------------------------- | ---- |
| InputError   | refused input; nothing was changed                            | 2    |
| StateError   | the command does not apply to the release's current state     | 2    |
| FrozenError  | `abort` of a release whose contract started: roll forward only | 6    |
| BusyError    | another driver holds the service, or another update the stack | 5    |
| FencedOut    | another driver took over mid-release; this one stopped         | 5    |
| PortError    | an adapter could not do what it was asked                      | 1    |
| JournalError | the release journal cannot be read or written                  | 1    |

Inside a release, a PortError is not fatal: the machine records it and rolls back (or stops in
FAILED when the rollback itself fails).
"""

from __future__ import annotations


class DriverError(Exception):
    """Base of every driver error. The message is written for the operator."""


class InputError(DriverError, ValueError):
    """Refused input, before anything changed. `key` names the setting, config key or output at fault."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class StateError(DriverError):
    """A command that does not apply to the release's current state (e.g. promote when not paused)."""


class FrozenError(StateError):
    """The release has started its contract: it is frozen, roll forward only. No command moves
    traffic back to the old version (the CLI exits 6)."""


class BusyError(DriverError):
    """Someone else is working on it: another driver holds the service lock, or another Pulumi
    update keeps the stack busy. Retry later; nothing was changed by this command."""


class FencedOut(BusyError):
    """Another driver wrote this release's next record, its release state or its lease first. This
    driver stops at once, without acting: rolling back would fight the driver that now owns it."""


class PortError(DriverError):
    """A port could not do what it was asked (API error, timeout, refused write, failed `up`)."""


class StackBusy(BusyError, PortError):
    """Another Pulumi update kept the stack busy through every retry. Before a release starts the
    CLI exits busy; inside a release it is a failed operation and the release rolls back."""


class StoreSettling(PortError):
    """The flag store is still finishing an earlier change and cannot take a new one yet (AppConfig:
    a deployment in its bake, which StopDeployment may only revert). Try again after a poll."""


class RefreshNotReversible(PortError):
    """AWS refused to roll an instance refresh back (no desired configuration, `$Latest`, SSM image...)."""


class NoActiveRefresh(PortError):
    """There is no running instance refresh to roll back or cancel (it ended in the meantime)."""


class JournalError(DriverError):
    """The release journal cannot be read or written."""
