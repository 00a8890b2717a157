"""OpenFeature providers of the sample service's flags, evaluated per request.

The service asks an OpenFeature client (`openfeature-sdk`) for each flag with the request's
evaluation context: the targeting key is the user id, and `segment` (and any other attribute) comes
from the request. Three providers, one chosen by settings (`open_flags`):

- `AppConfigAgentProvider`: the AWS AppConfig agent's local endpoint
  (`http://localhost:2772/applications/<app>/environments/<env>/configurations/<profile>`), which
  answers a feature-flag profile with the flags' values. Fetched at most every `poll_seconds` with
  a bounded timeout; an unreachable agent or a bad answer keeps the last good values (the reason
  says STALE), and before any good answer every flag is its default (reason ERROR).
- `FileFlagProvider`: the same flags from a file (AppConfig's feature-flag document, or only its
  values), re-read when the file changes: what the rehearsal's driver writes.
- `RulesProvider`: the `APP_FLAGS` environment variable (`percent`, `allow`, `killed`), as before.

What a value means is in `app/flags.py` (`evaluate`): disabled, deny, allow, segments, then the
stable SHA-256 bucket of `<flag>:<user>` against the percentage. The bucket is the same in every
process and every version, so a user keeps the flag as the percentage grows.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from .flags import FlagRule, FlagValue, evaluate, is_enabled, parse_values

AGENT_TIMEOUT_SECONDS = 1.0
AGENT_POLL_SECONDS = 5.0


def _context(ctx: EvaluationContext | None) -> tuple[str, Mapping[str, Any]]:
    if ctx is None:
        return "anonymous", {}
    return ctx.targeting_key or "anonymous", ctx.attributes or {}


class _ValuesProvider(AbstractProvider):
    """A provider over flag values (`FlagValue` by key) that a subclass keeps current."""

    name = "values"

    def __init__(self) -> None:
        super().__init__()
        self._values: dict[str, FlagValue] | None = None
        self._stale = False

    def get_metadata(self) -> Metadata:
        return Metadata(name=self.name)

    def refresh(self) -> None:
        """Bring `_values` up to date (subclasses); never raises."""

    def flag_keys(self) -> list[str]:
        self.refresh()
        return sorted(self._values or {})

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        self.refresh()
        if self._values is None:
            return FlagResolutionDetails(
                default_value, ErrorCode.PROVIDER_NOT_READY, "no flag values yet", Reason.ERROR, "off"
            )
        value = self._values.get(flag_key)
        if value is None:
            return FlagResolutionDetails(default_value, ErrorCode.FLAG_NOT_FOUND, f"no flag {flag_key!r}", Reason.ERROR)
        user, attributes = _context(evaluation_context)
        on, reason = evaluate(value, flag_key, user, attributes)
        return FlagResolutionDetails(on, reason=Reason.STALE if self._stale else reason, variant="on" if on else "off")

    def _not_boolean(self, default: Any) -> FlagResolutionDetails[Any]:
        return FlagResolutionDetails(default, ErrorCode.TYPE_MISMATCH, "flags here are boolean", Reason.ERROR)

    def resolve_string_details(self, flag_key: str, default_value: str, evaluation_context: Any = None) -> Any:
        return self._not_boolean(default_value)

    def resolve_integer_details(self, flag_key: str, default_value: int, evaluation_context: Any = None) -> Any:
        return self._not_boolean(default_value)

    def resolve_float_details(self, flag_key: str, default_value: float, evaluation_context: Any = None) -> Any:
        return self._not_boolean(default_value)

    def resolve_object_details(self, flag_key: str, default_value: Any, evaluation_context: Any = None) -> Any:
        return self._not_boolean(default_value)


class FileFlagProvider(_ValuesProvider):
    """Flags from a file, re-read when its modification time or size changes.

    A file that cannot be read or parsed keeps the last good values (STALE): a half-written file is
    not the writer's intent (the driver replaces it whole anyway)."""

    name = "file"

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._seen: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            self._stale = self._values is not None
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._seen:
            return
        with self._lock:
            try:
                self._values = parse_values(json.loads(self.path.read_bytes()))
                self._stale = False
                self._seen = stamp
            except (OSError, ValueError):
                self._stale = self._values is not None


class AppConfigAgentProvider(_ValuesProvider):
    """Flags from the AppConfig agent's local HTTP endpoint, with a bounded timeout and a cache."""

    name = "appconfig-agent"

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = AGENT_TIMEOUT_SECONDS,
        poll_seconds: float = AGENT_POLL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.poll_seconds = poll_seconds
        self.clock = clock
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.failures = 0

    def refresh(self) -> None:
        now = self.clock()
        if self._fetched_at is not None and now - self._fetched_at < self.poll_seconds:
            return
        if not self._lock.acquire(blocking=False):
            return  # another request is fetching: use what there is
        try:
            self._fetched_at = now
            with urllib.request.urlopen(self.url, timeout=self.timeout_seconds) as resp:
                self._values = parse_values(json.loads(resp.read()))
            self._stale = False
        except (OSError, ValueError, urllib.error.URLError):
            self.failures += 1
            self._stale = self._values is not None
        finally:
            self._lock.release()


class RulesProvider(_ValuesProvider):
    """The `APP_FLAGS` rules (percent, allow, killed): the service's flags before OpenFeature."""

    name = "env"

    def __init__(self, rules: Mapping[str, FlagRule]) -> None:
        super().__init__()
        self.rules = dict(rules)
        self._values = {}

    def flag_keys(self) -> list[str]:
        return sorted(self.rules)

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        rule = self.rules.get(flag_key)
        if rule is None:
            return FlagResolutionDetails(default_value, ErrorCode.FLAG_NOT_FOUND, f"no flag {flag_key!r}", Reason.ERROR)
        user, _ = _context(evaluation_context)
        on = is_enabled(rule, flag_key, user)
        reason = Reason.DISABLED if rule.killed else Reason.SPLIT
        return FlagResolutionDetails(on, reason=reason, variant="on" if on else "off")


class Flags:
    """The service's OpenFeature client and its provider, in a domain of their own."""

    def __init__(self, provider: _ValuesProvider) -> None:
        self.provider = provider
        self.domain = f"app-{uuid.uuid4().hex[:8]}"
        api.set_provider(provider, self.domain)
        self.client: OpenFeatureClient = api.get_client(self.domain)

    def evaluate_all(self, user: str, attributes: Mapping[str, Any] | None = None) -> dict[str, bool]:
        """Every flag for this request: its user id as the targeting key, and its attributes."""
        ctx = EvaluationContext(targeting_key=user, attributes=dict(attributes or {}))
        return {key: self.client.get_boolean_value(key, False, ctx) for key in self.provider.flag_keys()}

    def details(self, key: str, user: str, attributes: Mapping[str, Any] | None = None) -> Any:
        ctx = EvaluationContext(targeting_key=user, attributes=dict(attributes or {}))
        return self.client.get_boolean_details(key, False, ctx)

    def known(self, key: str) -> bool:
        return key in self.provider.flag_keys()


def open_flags(rules: Mapping[str, FlagRule], flags_file: str | None, agent_url: str | None) -> Flags:
    """The provider the settings choose: the agent, else the file, else the `APP_FLAGS` rules."""
    if agent_url:
        return Flags(AppConfigAgentProvider(agent_url))
    if flags_file:
        return Flags(FileFlagProvider(flags_file))
    return Flags(RulesProvider(rules))
