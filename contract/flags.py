"""The feature-flag document: AppConfig's `AWS.AppConfig.FeatureFlags` format, as this project uses it.

One document holds every flag of one flag set. The component writes the first version, the driver
writes a new one for every percentage it sets, and the sample app (and the AppConfig agent) read it.

    {"version": "1",
     "flags":  {"new-checkout": {"name": "new-checkout", "description": "...",
                                 "attributes": {"percentage": {"constraints": {"type": "number", ...}},
                                                "allow": {...}, "deny": {...}, "segments": {...}}}},
     "values": {"new-checkout": {"enabled": true, "percentage": 0, "allow": ["u-1"], "deny": [],
                                 "segments": ["beta"]}}}

What a flag's value means (evaluated per request by the app, `app/flags.py`):
- `enabled: false`: off for everyone (the kill switch).
- `deny`: user ids always off; `allow`: user ids always on; `segments`: values of the request's
  `segment` attribute that are always on.
- otherwise on for the users whose stable bucket (SHA-256 of `<flag>:<user id>`, 0-9999) is below
  `percentage` x 100: the same users stay on as the percentage grows, in every process and version.

Flag and attribute keys follow AppConfig's rules: a letter first, then letters, digits, `_` or `-`,
at most 64 characters. Pure functions; errors are `ContractError` naming the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import ContractError

FORMAT_VERSION = "1"
FLAG_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
"""AppConfig's feature-flag key rule."""
MAX_FLAGS = 100
MAX_LIST = 100
"""Entries of `allow`, `deny` or `segments` one flag may carry (the document stays small)."""
CONTENT_TYPE = "application/json"
PERCENTAGE = "percentage"
LISTS = ("allow", "deny", "segments")

_ATTRIBUTES = {
    PERCENTAGE: {"constraints": {"type": "number", "minimum": 0, "maximum": 100, "required": True}},
    **{name: {"constraints": {"type": "string[]"}} for name in LISTS},
}


def check_flag_key(key: Any, where: str) -> str:
    if not isinstance(key, str) or not FLAG_KEY.match(key):
        raise ContractError(
            where,
            f"flag key {key!r} must start with a letter and hold only letters, digits, '_' or '-' (at most 64)",
        )
    return key


def check_percentage(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ContractError(where, f"must be an integer 0-100, got {value!r}")
    return value


def flag_value(
    *,
    enabled: bool = True,
    percentage: int = 0,
    allow: tuple[str, ...] | list[str] = (),
    deny: tuple[str, ...] | list[str] = (),
    segments: tuple[str, ...] | list[str] = (),
) -> dict[str, Any]:
    """One flag's value, checked."""
    value: dict[str, Any] = {"enabled": bool(enabled), PERCENTAGE: check_percentage(percentage, PERCENTAGE)}
    for name, items in (("allow", allow), ("deny", deny), ("segments", segments)):
        if not all(isinstance(i, str) and i for i in items) or len(items) > MAX_LIST:
            raise ContractError(name, f"must be a list of at most {MAX_LIST} non-empty strings, got {items!r}")
        value[name] = list(items)
    return value


def build_document(flags: Mapping[str, Mapping[str, Any]], descriptions: Mapping[str, str] | None = None) -> str:
    """The document (JSON text) for `flags`: key -> `flag_value(...)`. Keys sorted: same input, same text."""
    if len(flags) > MAX_FLAGS:
        raise ContractError("flags", f"at most {MAX_FLAGS} flags per flag set, got {len(flags)}")
    doc: dict[str, Any] = {"version": FORMAT_VERSION, "flags": {}, "values": {}}
    for key in sorted(flags):
        check_flag_key(key, f"flags.{key}")
        doc["flags"][key] = {
            "name": key,
            "description": (descriptions or {}).get(key, ""),
            "attributes": _ATTRIBUTES,
        }
        doc["values"][key] = dict(flags[key])
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def parse_document(text: str | bytes, where: str = "flags document") -> dict[str, Any]:
    """The document as a dict, checked for the parts the driver touches."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(where, f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
        raise ContractError(where, f"expected a feature-flag document of version {FORMAT_VERSION!r}")
    if not isinstance(doc.get("flags"), dict) or not isinstance(doc.get("values"), dict):
        raise ContractError(where, "expected `flags` and `values` objects")
    return doc


def percentage_of(doc: Mapping[str, Any], flag: str, where: str = "flags document") -> int:
    """The flag's percentage, or 0 when it is disabled."""
    value = doc["values"].get(flag)
    if flag not in doc["flags"] or not isinstance(value, Mapping):
        raise ContractError(f"{where}.{flag}", f"no flag {flag!r} (it has: {', '.join(sorted(doc['flags']))})")
    if value.get("enabled") is False:
        return 0
    return check_percentage(value.get(PERCENTAGE, 0), f"{where}.{flag}.{PERCENTAGE}")


def with_percentage(doc: Mapping[str, Any], flag: str, percentage: int) -> str:
    """The document with `flag` enabled at `percentage` (0 disables it: the kill switch), as JSON text.
    Every other flag and attribute stays as it was."""
    percentage_of(doc, flag)  # refuses an unknown flag
    check_percentage(percentage, PERCENTAGE)
    new = json.loads(json.dumps(doc))
    value = new["values"][flag]
    value[PERCENTAGE] = percentage
    value["enabled"] = percentage > 0
    return json.dumps(new, sort_keys=True, separators=(",", ":"))
