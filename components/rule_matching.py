"""Which requests an ALB listener rule matches, and when one rule takes every request of another.

The listener evaluates rules by priority, lowest first, and the first match wins. A rule whose
host and path conditions match every request another rule could match, checked earlier, leaves
that rule (and the service or fleet behind it) without traffic: `/*` at priority 100 starves the
catch-all service at 50000. The comparison is conservative: it reports a shadow only when one is
certain (identical patterns, a literal prefix ending in `*` or suffix after a leading `*`, or a
pattern that matches anything), so it never refuses a rule that can still receive traffic.

Pure functions over the standard library only: the stack config and the policy pack share them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

WILDCARDS = frozenset("*?")


@dataclass(frozen=True)
class RuleMatch:
    """A rule's host and path conditions; None means the rule has no such condition (any value)."""

    path_patterns: tuple[str, ...] | None = None
    host_headers: tuple[str, ...] | None = None
    other_conditions: bool = False
    """The rule also has conditions this module does not model (headers, query strings, source IPs...)."""

    @classmethod
    def of(cls, path_patterns: Iterable[str] | None = None, host_headers: Iterable[str] | None = None) -> "RuleMatch":
        return cls(
            tuple(path_patterns) if path_patterns is not None else None,
            tuple(host_headers) if host_headers is not None else None,
        )


def matches_everything(pattern: str, *, host: bool) -> bool:
    """`*`, `/*`, `**`... match every host or every path (ALB paths always start with `/`)."""
    text = pattern if host else pattern.removeprefix("/")
    return bool(text) and set(text) == {"*"}


def _normal(pattern: str, host: bool) -> str:
    # Host conditions compare case-insensitively; path conditions are case-sensitive.
    return pattern.lower() if host else pattern


def pattern_covers(wide: str, narrow: str, *, host: bool) -> bool:
    """Every value `narrow` matches is also matched by `wide` (only when certain)."""
    if matches_everything(wide, host=host):
        return True
    wide, narrow = _normal(wide, host), _normal(narrow, host)
    if wide == narrow:
        return True
    # `literal*` covers whatever starts with the literal; `*literal` whatever ends with it.
    prefix, suffix = wide[:-1], wide[1:]
    if wide.endswith("*") and not (set(prefix) & WILDCARDS) and narrow.startswith(prefix):
        return True
    return wide.startswith("*") and not (set(suffix) & WILDCARDS) and narrow.endswith(suffix)


def _condition_covers(wide: Sequence[str] | None, narrow: Sequence[str] | None, *, host: bool) -> bool:
    if wide is None:
        return True  # no condition: any value
    if narrow is None:
        return any(matches_everything(w, host=host) for w in wide)
    return all(any(pattern_covers(w, n, host=host) for w in wide) for n in narrow)


def shadows(earlier: RuleMatch, later: RuleMatch) -> bool:
    """`earlier` (checked first) matches every request `later` matches, so `later` gets none."""
    if earlier.other_conditions:
        return False
    return _condition_covers(earlier.path_patterns, later.path_patterns, host=False) and _condition_covers(
        earlier.host_headers, later.host_headers, host=True
    )
