"""R7 ignore-list patterns: an exact key, a range (`1000...1999`) or a prefix (`TEST*`).

Patterns are parsed once, when an entry is added, into the columns PostgreSQL matches on
(`ignore_entry_matches` in the core migration). `matches` is the same rule in Python, for
explanations and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ENTITIES", "IgnorePattern", "matches", "parse_ignore_pattern"]

ENTITIES = ("customer", "invoice", "payment_condition")
RANGE_SEPARATOR = "..."
MAX_PATTERN_LENGTH = 200


@dataclass(frozen=True, slots=True)
class IgnorePattern:
    pattern: str
    kind: Literal["exact", "range", "prefix"]
    low: str
    high: str | None = None
    numeric_range: bool = False


def parse_ignore_pattern(text: str) -> IgnorePattern:
    """Parse a pattern; ValueError with a one-line reason when it is not one."""
    pattern = text.strip()
    if not pattern:
        raise ValueError("an ignore pattern may not be empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"an ignore pattern may be at most {MAX_PATTERN_LENGTH} characters")
    if not pattern.isprintable():
        raise ValueError("an ignore pattern may not contain control characters or line breaks")
    if RANGE_SEPARATOR in pattern:
        low, _, high = (part.strip() for part in pattern.partition(RANGE_SEPARATOR))
        if not low or not high or RANGE_SEPARATOR in high:
            raise ValueError(f"range {pattern!r} needs a start and an end, like 1000...1999")
        if "*" in low or "*" in high:
            raise ValueError(f"range {pattern!r}: a range cannot also be a prefix (*)")
        # ASCII digits only: PostgreSQL compares numeric ranges as numbers, which it cannot
        # do with the digits of other scripts that str.isdigit also accepts.
        numeric = _is_number(low) and _is_number(high)
        if (int(low) > int(high)) if numeric else (low > high):
            raise ValueError(f"range {pattern!r} starts after it ends")
        # One spelling per range, so `1000 ... 1999` is the same entry as `1000...1999`.
        return IgnorePattern(f"{low}{RANGE_SEPARATOR}{high}", "range", low, high, numeric)
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        if not prefix or "*" in prefix:
            raise ValueError(f"prefix {pattern!r} needs text before a single trailing *")
        return IgnorePattern(pattern, "prefix", prefix)
    if "*" in pattern:
        raise ValueError(f"pattern {pattern!r}: * is only allowed at the end (a prefix)")
    return IgnorePattern(pattern, "exact", pattern)


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def matches(entry: IgnorePattern, key: str) -> bool:
    if entry.kind == "exact":
        return key == entry.low
    if entry.kind == "prefix":
        return key.startswith(entry.low)
    assert entry.high is not None
    if entry.numeric_range:
        return _is_number(key) and int(entry.low) <= int(key) <= int(entry.high)
    return entry.low <= key <= entry.high
