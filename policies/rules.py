"""Policy builders: a plain check function becomes a CrossGuard policy with config and exemptions.

Validators in the service modules are pure functions of a property bag and resolved config, so
tests call them through the real `ResourceValidationArgs`/`StackValidationArgs` without a server.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .config import EXEMPTIONS, Setting, config_schema, exempted, resolve
from .props import urn_name

ResourceCheck = Callable[[Mapping[str, Any], Mapping[str, Any]], Iterable[str]]
"""(props, resolved config) -> one message per problem, each saying how to fix it."""
StackCheck = Callable[[Sequence[PolicyResource], Mapping[str, Any]], Iterable[tuple[str, str]]]
"""(resources, resolved config) -> (urn, message) per problem."""

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY


class GuardResourcePolicy(ResourceValidationPolicy):
    """A resource policy that knows its types, settings and exemptions."""

    def __init__(
        self,
        name: str,
        description: str,
        level: EnforcementLevel,
        resource_types: Collection[str],
        check: ResourceCheck,
        settings: Mapping[str, Setting] | None = None,
    ) -> None:
        self.resource_types = frozenset(resource_types)
        self.settings: Mapping[str, Setting] = dict(settings or {})
        self.check = check
        super().__init__(
            name=name,
            description=description,
            validate=self._validate,
            enforcement_level=level,
            config_schema=config_schema(self.settings),
        )

    def _validate(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in self.resource_types:
            return
        config = resolve(self.name, self.settings, args.get_config())
        if exempted(config[EXEMPTIONS], args.name, args.urn):
            return
        for message in self.check(args.props, config):
            report(message, None)


class GuardStackPolicy(StackValidationPolicy):
    """A stack policy that knows its settings and exemptions (matched on the reported URN)."""

    def __init__(
        self,
        name: str,
        description: str,
        level: EnforcementLevel,
        check: StackCheck,
        settings: Mapping[str, Setting] | None = None,
    ) -> None:
        self.settings: Mapping[str, Setting] = dict(settings or {})
        self.check = check
        super().__init__(
            name=name,
            description=description,
            validate=self._validate,
            enforcement_level=level,
            config_schema=config_schema(self.settings),
        )

    def _validate(self, args: StackValidationArgs, report: ReportViolation) -> None:
        config = resolve(self.name, self.settings, args.get_config())
        for urn, message in self.check(args.resources, config):
            if not exempted(config[EXEMPTIONS], urn_name(urn), urn):
                report(message, urn)


GuardPolicy = GuardResourcePolicy | GuardStackPolicy
