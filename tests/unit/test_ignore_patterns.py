"""R7 ignore-list patterns: parsing, and matching keys the way PostgreSQL does."""

from __future__ import annotations

import pytest

from services.validator.ignore import matches, parse_ignore_pattern


def test_a_plain_key_is_an_exact_entry() -> None:
    entry = parse_ignore_pattern("  C1001 ")
    assert (entry.pattern, entry.kind, entry.low) == ("C1001", "exact", "C1001")
    assert matches(entry, "C1001")
    assert not matches(entry, "C10010")
    assert not matches(entry, "c1001")


def test_a_trailing_star_is_a_prefix_entry() -> None:
    entry = parse_ignore_pattern("TEST*")
    assert (entry.kind, entry.low) == ("prefix", "TEST")
    assert matches(entry, "TEST")
    assert matches(entry, "TEST-42")
    assert not matches(entry, "ATEST")


def test_a_range_of_whole_numbers_compares_as_numbers() -> None:
    entry = parse_ignore_pattern("1000...1999")
    assert (entry.kind, entry.low, entry.high, entry.numeric_range) == (
        "range",
        "1000",
        "1999",
        True,
    )
    assert matches(entry, "1000")
    assert matches(entry, "1999")
    assert matches(entry, "01500")
    assert not matches(entry, "999")  # would be inside as text
    assert not matches(entry, "2000")
    assert not matches(entry, "15A")


def test_a_range_of_other_keys_compares_as_text() -> None:
    entry = parse_ignore_pattern("A100...A199")
    assert not entry.numeric_range
    assert matches(entry, "A150")
    assert not matches(entry, "A1")  # before "A100" as text
    assert matches(entry, "A1000")  # between "A100" and "A199" as text
    assert not matches(entry, "B100")


def test_a_range_is_stored_in_one_spelling() -> None:
    assert parse_ignore_pattern("1000 ... 1999").pattern == "1000...1999"


def test_digits_of_other_scripts_do_not_make_a_numeric_range() -> None:
    entry = parse_ignore_pattern("١...٩")  # Arabic-Indic digits: compared as text
    assert not entry.numeric_range


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("*", "before a single trailing"),
        ("A*B", "only allowed at the end"),
        ("A**", "before a single trailing"),
        ("...1999", "start and an end"),
        ("1000...", "start and an end"),
        ("1...2...3", "start and an end"),
        ("2000...1000", "starts after it ends"),
        ("B...A", "starts after it ends"),
        ("A*...B", "cannot also be a prefix"),
        ("C\x001", "control characters"),
        ("C1\n2", "control characters"),
        ("x" * 201, "at most 200"),
    ],
)
def test_a_malformed_pattern_is_refused_with_a_one_line_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_ignore_pattern(text)
    assert "\n" not in str(caught.value)
