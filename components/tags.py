"""Tags every taggable resource carries, so cost, ownership and the driver's lookups line up."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

import pulumi

from ..contract.types import MANAGED_BY, MANAGED_BY_TAG
from .validation import ArgError, check_not_secret, is_known

MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
MAX_TAGS_PER_RESOURCE = 50
OUR_TAGS = 4
"""stack, managed-by, service, color (or Name and tier on network resources): what `standard_tags` adds."""
MAX_USER_TAGS = MAX_TAGS_PER_RESOURCE - OUR_TAGS
RESERVED_PREFIX = "aws:"
# AWS tag characters common to every service: letters, numbers, spaces, and + - = . _ : / @
_TAG_PUNCTUATION = frozenset("+-=._:/@")


def _tag_text_ok(text: str) -> bool:
    return all(
        c.isalnum() or c in _TAG_PUNCTUATION or unicodedata.category(c).startswith("Z") or c.isnumeric() for c in text
    )


def check_tags(tags: Any, key: str = "tags") -> dict[str, str]:
    """User tags AWS accepts on every resource type: ArgError naming the tag otherwise.

    Keys: 1-128 characters, not starting with `aws:` (reserved); values: at most 256 characters;
    both limited to letters, numbers, spaces and `+ - = . _ : / @` (the set every service accepts);
    at most 46 user tags, so that with ours a resource stays within AWS's 50.
    """
    if not is_known(tags):
        return tags
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise ArgError(key, f"must be a map of tag name to value, got {type(tags).__name__}")
    if len(tags) > MAX_USER_TAGS:
        raise ArgError(key, f"at most {MAX_USER_TAGS} tags (AWS allows {MAX_TAGS_PER_RESOURCE}, we add {OUR_TAGS})")
    for name, value in tags.items():
        where = f"{key}.{name}"
        check_not_secret(value, where)
        if not isinstance(name, str) or not name or len(name) > MAX_TAG_KEY_LENGTH:
            raise ArgError(where, f"tag keys must be 1-{MAX_TAG_KEY_LENGTH} characters, got {name!r}")
        if name.lower().startswith(RESERVED_PREFIX):
            raise ArgError(where, f"tag keys starting with {RESERVED_PREFIX!r} are reserved for AWS")
        if not _tag_text_ok(name):
            raise ArgError(where, "tag keys may hold letters, numbers, spaces and + - = . _ : / @ only")
        if not is_known(value):
            continue
        if not isinstance(value, str):
            raise ArgError(where, f"tag values must be strings (quote it), got {value!r}")
        if len(value) > MAX_TAG_VALUE_LENGTH:
            raise ArgError(where, f"tag values must be at most {MAX_TAG_VALUE_LENGTH} characters, got {len(value)}")
        if not _tag_text_ok(value):
            raise ArgError(where, "tag values may hold letters, numbers, spaces and + - = . _ : / @ only")
    return dict(tags)


def standard_tags(
    *,
    service: str | None = None,
    color: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """User tags merged with ours. Ours win: policies and operators rely on them being true."""
    ours = {"stack": pulumi.get_stack(), MANAGED_BY_TAG: MANAGED_BY}
    if service:
        ours["service"] = service
    if color:
        ours["color"] = color
    return {**dict(extra or {}), **ours}
