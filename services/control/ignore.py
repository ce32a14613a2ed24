"""The ignore list (R7): adding, removing and listing entries (CLI `ignore`, HTTP …/ignore-list).

A change is written to PostgreSQL at once, so `list` shows it immediately; the next import run
applies it. Each change also leaves a `ControlEvent` (`ignore_added`, `ignore_removed`) on the
control topic: it is written to the outbox in the same transaction and published after the
commit, by the caller's `flush` when it has one (the dashboard) or else by the next relay pass
of any running service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from services.control.admins import require_administration
from services.validator.ignore import ENTITIES, IgnorePattern, parse_ignore_pattern
from shared.errors import Conflict, Invalid, NotFound
from shared.messages import ControlEvent
from shared.outbox import stage
from shared.topics import Topics

__all__ = [
    "add_ignore_entry",
    "list_ignore_entries",
    "parse_entity",
    "parse_entry",
    "remove_ignore_entry",
]

Flush = Callable[[], Awaitable[Any]]

_ENTITY_WORDS = {
    "customer": "customers",
    "invoice": "invoices",
    "payment_condition": "payment conditions",
}


def parse_entity(entity: object) -> str:
    """The ignore-list entity named by loosely typed input; Invalid otherwise."""
    if not isinstance(entity, str) or entity.strip() not in ENTITIES:
        raise Invalid(f"entity {entity!r} must be one of {', '.join(ENTITIES)}")
    return entity.strip()


def parse_entry(entity: object, pattern: object) -> tuple[str, IgnorePattern]:
    """An (entity, pattern) pair from loosely typed input (CLI arguments, JSON); Invalid."""
    name = parse_entity(entity)
    if not isinstance(pattern, str):
        raise Invalid("pattern is required and must be text")
    try:
        return name, parse_ignore_pattern(pattern)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


async def add_ignore_entry(
    pool: asyncpg.Pool,
    topics: Topics,
    administration_id: str,
    entity: object,
    pattern: object,
    *,
    issued_by: str,
    flush: Flush | None = None,
) -> dict[str, Any]:
    """Put an entry on the list; Conflict when the same entry is already there."""
    name, parsed = parse_entry(entity, pattern)
    await require_administration(pool, administration_id)
    async with pool.acquire() as conn, conn.transaction():
        # Like a pause: wait for e-mails in flight, so none leaves for an ignored record
        # once this returns (the notifier re-checks the list under the shared form).
        await conn.execute("select lock_sending_exclusive($1)", administration_id)
        row = await conn.fetchrow(
            "insert into ignore_entries (administration_id, entity, pattern, kind, low, high,"
            " numeric_range, created_by) values ($1, $2, $3, $4, $5, $6, $7, $8)"
            " on conflict (administration_id, entity, pattern) do nothing returning *",
            administration_id,
            name,
            parsed.pattern,
            parsed.kind,
            parsed.low,
            parsed.high,
            parsed.numeric_range,
            issued_by,
        )
        if row is None:
            raise Conflict(
                f"{parsed.pattern!r} is already on the ignore list for {_ENTITY_WORDS[name]}"
                f" of {administration_id!r}"
            )
        entry = _entry(row)
        await _announce(conn, topics, administration_id, "ignore_added", entry, issued_by)
    if flush is not None:
        await flush()
    return entry


async def remove_ignore_entry(
    pool: asyncpg.Pool,
    topics: Topics,
    administration_id: str,
    entity: object,
    pattern: object,
    *,
    issued_by: str,
    flush: Flush | None = None,
) -> dict[str, Any]:
    """Take an entry off the list; NotFound when there is no such entry."""
    name, parsed = parse_entry(entity, pattern)
    await require_administration(pool, administration_id)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "delete from ignore_entries where administration_id = $1 and entity = $2"
            " and pattern = $3 returning *",
            administration_id,
            name,
            parsed.pattern,
        )
        if row is None:
            raise NotFound(
                f"{parsed.pattern!r} is not on the ignore list for {_ENTITY_WORDS[name]}"
                f" of {administration_id!r}"
            )
        entry = _entry(row)
        await _announce(conn, topics, administration_id, "ignore_removed", entry, issued_by)
    if flush is not None:
        await flush()
    return entry


async def list_ignore_entries(pool: asyncpg.Pool, administration_id: str) -> list[dict[str, Any]]:
    """Every entry of the administration, newest first."""
    await require_administration(pool, administration_id)
    rows = await pool.fetch(
        "select * from ignore_entries where administration_id = $1"
        " order by created_at desc, id desc",
        administration_id,
    )
    return [_entry(row) for row in rows]


async def _announce(
    conn: asyncpg.Connection,
    topics: Topics,
    administration_id: str,
    command: str,
    entry: dict[str, Any],
    issued_by: str,
) -> None:
    event = ControlEvent(
        administration_id=administration_id,
        command=command,
        detail={key: entry[key] for key in ("entity", "pattern", "kind")},
        issued_by=issued_by,
    )
    await stage(conn, topics.control, administration_id, [event])


def _entry(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "entity": row["entity"],
        "pattern": row["pattern"],
        "kind": row["kind"],
        "created_at": row["created_at"].isoformat(),
        "created_by": row["created_by"],
    }
