"""A fake `pulumi.automation.Stack`: records calls, can raise the CLI's errors, and on `up` can
apply the written config the way the real program would (through a callback)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult


def concurrent_update() -> auto.ConcurrentUpdateError:
    return auto.ConcurrentUpdateError(
        CommandResult("", "error: [409] Conflict: Another update is currently in progress.", 255)
    )


def command_error(stderr: str) -> auto.CommandError:
    return auto.CommandError(CommandResult("", stderr, 255))


class FakeStack:
    def __init__(
        self,
        outputs: dict[str, Any] | None = None,
        on_up: Callable[[dict[str, str]], None] | None = None,
    ) -> None:
        self.config: dict[str, str] = {}
        self.calls: list[tuple[Any, ...]] = []
        self._outputs = outputs or {}
        self.on_up = on_up
        self.raise_on: dict[str, list[Exception]] = {}
        self.up_kwargs: list[dict[str, Any]] = []

    def _raise(self, op: str) -> None:
        queue = self.raise_on.get(op)
        if queue:
            raise queue.pop(0)

    def set_config(self, key: str, value: auto.ConfigValue, *, path: bool = False) -> None:
        self.calls.append(("set_config", key, value.value, path))
        self._raise("set_config")
        self.config[key] = value.value

    def get_config(self, key: str, *, path: bool = False) -> auto.ConfigValue:
        self.calls.append(("get_config", key, path))
        self._raise("get_config")
        if key not in self.config:
            raise command_error(f"error: configuration key '{key}' not found for stack 'dev'")
        return auto.ConfigValue(self.config[key])

    def up(self, **kwargs: Any) -> Any:
        self.calls.append(("up", kwargs.get("message")))
        self.up_kwargs.append(dict(kwargs))
        if callable(kwargs.get("on_output")):
            kwargs["on_output"]("Updating (fake)")
        self._raise("up")
        if self.on_up is not None:
            self.on_up(dict(self.config))
        return {"summary": "fake"}

    def refresh(self, **kwargs: Any) -> Any:
        self.calls.append(("refresh", kwargs.get("clear_pending_creates")))
        self._raise("refresh")
        return {"summary": "fake"}

    def outputs(self) -> dict[str, auto.OutputValue]:
        self.calls.append(("outputs",))
        self._raise("outputs")
        return {k: auto.OutputValue(v, False) for k, v in self._outputs.items()}

    @property
    def writes(self) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] in ("set_config", "up", "refresh")]
