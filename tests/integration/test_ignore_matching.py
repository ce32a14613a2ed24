"""The ignore-list rule has two spellings, Python (`matches`, for tests and tools) and SQL
(`ignore_entry_matches`, used by loads, explain and the notifier): they must agree."""

from __future__ import annotations

import pytest

from services.validator.ignore import matches, parse_ignore_pattern
from shared.db import apply_migrations, connect_pool

pytestmark = pytest.mark.integration

PATTERNS = ["C1001", "TEST*", "1000...1999", "0100...0199", "A100...A199", "É*", "١...٩"]
KEYS = [
    "C1001",
    "C10010",
    "TEST",
    "TEST-9",
    "test-9",
    "999",
    "1000",
    "1500",
    "01500",
    "1999",
    "2000",
    "15A",
    "0150",
    "150",
    "A1",
    "A100",
    "A1000",
    "A199",
    "A2",
    "Éclair",
    "٥",
    "O'Brien <b>",
]


async def test_python_and_postgresql_match_the_same_keys(database_url: str) -> None:
    pool = await connect_pool(database_url, max_size=1)
    try:
        await apply_migrations(pool)
        entries = [parse_ignore_pattern(text) for text in PATTERNS]
        await pool.executemany(
            "insert into ignore_entries (administration_id, entity, pattern, kind, low, high,"
            " numeric_range) values ('a', 'customer', $1, $2, $3, $4, $5)",
            [(e.pattern, e.kind, e.low, e.high, e.numeric_range) for e in entries],
        )
        rows = await pool.fetch(
            "select e.pattern, k.key, ignore_entry_matches(e, k.key) as hit"
            " from ignore_entries e cross join unnest($1::text[]) as k(key)",
            KEYS,
        )
    finally:
        await pool.close()
    by_pattern = {e.pattern: e for e in entries}
    disagreements = [
        (row["pattern"], row["key"], row["hit"])
        for row in rows
        if matches(by_pattern[row["pattern"]], row["key"]) != row["hit"]
    ]
    assert disagreements == []
    assert len(rows) == len(PATTERNS) * len(KEYS)
