"""Pauses (R8): set, lift and list them (CLI `pause`/`resume`/`pauses`, HTTP …/pauses).

A pause is in force the moment `set_pause` returns: it takes the administration's sending
guard in its exclusive form (so it waits for any e-mail a notifier is sending right now),
writes the pause and commits; the notifier checks pauses under the same guard when it claims
each notification. The `pause_set` / `pause_lifted` event goes through the outbox in the same
transaction and is published right after (`flush`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from services.control.admins import require_administration
from services.notifier.logic import parse_iso_date
from shared.errors import Conflict, Invalid, NotFound
from shared.messages import ControlEvent
from shared.outbox import stage
from shared.topics import Topics

__all__ = [
    "ENTITIES",
    "Flush",
    "PauseTarget",
    "lift_pause",
    "list_pauses",
    "local_today",
    "set_pause",
    "stage_control_event",
    "text_key",
]

ENTITIES = ("administration", "customer", "case", "invoice")
MODES = ("full", "reminders")
# How long a pause waits for a notifier that is sending right now (an SMTP send times out
# well before this).
GUARD_WAIT = "90s"

Flush = Callable[[], Awaitable[Any]]


def text_key(value: object, name: str, *, limit: int = 100) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{name} is required and must be text")
    text = value.strip()
    if len(text) > limit or any(ord(ch) < 32 for ch in text):
        raise Invalid(f"{name} {text[:limit]!r} must be one line of at most {limit} characters")
    return text


def local_today(timezone: str, now: datetime | None = None) -> date:
    zone = ZoneInfo(timezone)
    return (now.astimezone(zone) if now else datetime.now(zone)).date()


class PauseTarget:
    """What a pause names: the administration itself, or one customer, case or invoice."""

    def __init__(self, entity: object, key: object, admin_id: str) -> None:
        entity = entity or "administration"
        if entity not in ENTITIES:
            raise Invalid(f"entity {entity!r} must be one of {', '.join(ENTITIES)}")
        self.entity: str = str(entity)
        if self.entity == "administration":
            if key not in (None, "", admin_id):
                raise Invalid("an administration pause takes no key")
            self.key = admin_id
        else:
            self.key = text_key(key, f"{self.entity} key")

    def describe(self) -> str:
        return (
            "the administration"
            if self.entity == "administration"
            else (f"{self.entity} {self.key}")
        )


def _pause(row: asyncpg.Record, today: date | None = None) -> dict[str, Any]:
    if row["lifted_at"] is not None:
        state = "ended" if row["lifted_by"] == "until" else "lifted"
    elif row["until"] is not None and today is not None and row["until"] < today:
        state = "ended"
    else:
        state = "active"
    return {
        "id": row["id"],
        "administration_id": row["administration_id"],
        "entity": row["entity"],
        "key": row["key"],
        "mode": row["mode"],
        "until": row["until"].isoformat() if row["until"] else None,
        "reason": row["reason"],
        "state": state,
        "created_by": row["created_by"],
        "created_at": row["created_at"].isoformat(),
        "lifted_at": row["lifted_at"].isoformat() if row["lifted_at"] else None,
        "lifted_by": row["lifted_by"],
    }


async def _require_target(conn: asyncpg.Connection, admin_id: str, target: PauseTarget) -> None:
    """The named customer, case or invoice must exist; an invoice inside a case is paused
    through its case."""
    if target.entity == "customer":
        found = await conn.fetchval(
            "select true from customers where administration_id = $1 and customer_number = $2",
            admin_id,
            target.key,
        )
        if not found:
            raise NotFound(f"customer {target.key!r} is not loaded in administration {admin_id!r}")
    elif target.entity == "case":
        found = await conn.fetchval(
            "select true from cases where administration_id = $1 and case_key = $2",
            admin_id,
            target.key,
        )
        if not found:
            raise NotFound(f"case {target.key!r} does not exist in administration {admin_id!r}")
    elif target.entity == "invoice":
        row = await conn.fetchrow(
            "select i.invoice_number, ci.case_key from invoices i"
            " left join case_invoices ci on ci.administration_id = i.administration_id"
            " and ci.invoice_number = i.invoice_number"
            " where i.administration_id = $1 and i.invoice_number = $2",
            admin_id,
            target.key,
        )
        if row is None:
            raise NotFound(f"invoice {target.key!r} is not loaded in administration {admin_id!r}")
        if row["case_key"] is not None:
            raise Conflict(
                f"invoice {target.key!r} is in case {row['case_key']!r}: it is paused through"
                f" its case; pause case {row['case_key']!r} instead"
            )


async def set_pause(
    pool: asyncpg.Pool,
    topics: Topics,
    admin_id: str,
    *,
    entity: object = "administration",
    key: object = None,
    mode: object = "full",
    until: object = None,
    reason: object = None,
    issued_by: str = "cli",
    flush: Flush | None = None,
) -> dict[str, Any]:
    """Pause; pausing what is already paused replaces its pause (mode, end date, reason)."""
    admin = await require_administration(pool, admin_id)
    target = PauseTarget(entity, key, admin_id)
    if mode not in MODES:
        raise Invalid(f"mode {mode!r} must be full or reminders")
    if mode == "reminders" and target.entity not in ("administration", "customer"):
        raise Invalid(
            f"{'an' if target.entity == 'invoice' else 'a'} {target.entity} is paused fully;"
            " only an administration or a customer can be"
            " paused for reminders only"
        )
    today = local_today(admin["timezone"])
    last_day: date | None = None
    if until not in (None, ""):
        try:
            last_day = parse_iso_date(until, "until")
        except ValueError as exc:
            raise Invalid(str(exc)) from None
        if last_day < today:
            raise Invalid(
                f"until {last_day.isoformat()} is in the past (today is {today.isoformat()}"
                f" in {admin['timezone']})"
            )
    why = None if reason in (None, "") else text_key(reason, "reason", limit=500)
    async with pool.acquire() as conn, conn.transaction():
        await _require_target(conn, admin_id, target)
        await conn.execute(f"set local lock_timeout = '{GUARD_WAIT}'")
        try:
            # Waits until no notifier of this administration is between a claim and its
            # record; every claim after this commit sees the pause.
            await conn.execute("select lock_sending_exclusive($1)", admin_id)
        except asyncpg.LockNotAvailableError:
            raise Conflict(
                "a notifier has been sending for too long; the pause was not set, try again"
            ) from None
        await conn.execute("set local lock_timeout = 0")
        replaced = await conn.fetchval(
            "update pauses set lifted_at = now(), lifted_by = 'replaced'"
            " where administration_id = $1 and entity = $2 and key = $3 and lifted_at is null"
            " returning id",
            admin_id,
            target.entity,
            target.key,
        )
        row = await conn.fetchrow(
            "insert into pauses (administration_id, entity, key, mode, until, reason, created_by)"
            " values ($1, $2, $3, $4, $5, $6, $7) returning *",
            admin_id,
            target.entity,
            target.key,
            mode,
            last_day,
            why,
            issued_by,
        )
        pause = _pause(row, today)
        detail = {k: pause[k] for k in ("id", "entity", "key", "mode", "until", "reason")}
        if replaced:
            detail["replaces"] = replaced
        await stage_control_event(conn, topics, admin_id, "pause_set", detail, issued_by)
    if flush is not None:
        await flush()
    return pause


async def lift_pause(
    pool: asyncpg.Pool,
    topics: Topics,
    admin_id: str,
    *,
    entity: object = "administration",
    key: object = None,
    issued_by: str = "cli",
    flush: Flush | None = None,
) -> dict[str, Any]:
    """Resume: lift the pause in force on this target. The invoices go on with their next
    level (R9), never a burst of the missed ones."""
    admin = await require_administration(pool, admin_id)
    target = PauseTarget(entity, key, admin_id)
    today = local_today(admin["timezone"])
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "update pauses set lifted_at = now(), lifted_by = $4"
            " where administration_id = $1 and entity = $2 and key = $3 and lifted_at is null"
            " and (until is null or until >= $5) returning *",
            admin_id,
            target.entity,
            target.key,
            issued_by,
            today,
        )
        if row is None:
            raise NotFound(f"{target.describe()} is not paused in administration {admin_id!r}")
        pause = _pause(row, today)
        detail = {k: pause[k] for k in ("id", "entity", "key", "mode", "until", "reason")}
        await stage_control_event(conn, topics, admin_id, "pause_lifted", detail, issued_by)
    if flush is not None:
        await flush()
    return pause


async def list_pauses(
    pool: asyncpg.Pool, admin_id: str, *, include_ended: bool = False
) -> list[dict[str, Any]]:
    """The pauses in force, newest first; with `include_ended`, the history too."""
    admin = await require_administration(pool, admin_id)
    today = local_today(admin["timezone"])
    rows = await pool.fetch(
        "select * from pauses where administration_id = $1"
        " and ($2 or (lifted_at is null and (until is null or until >= $3)))"
        " order by created_at desc, id desc",
        admin_id,
        include_ended,
        today,
    )
    return [_pause(row, today) for row in rows]


async def stage_control_event(
    conn: asyncpg.Connection,
    topics: Topics,
    admin_id: str,
    command: str,
    detail: dict[str, Any],
    issued_by: str,
) -> None:
    event = ControlEvent(
        administration_id=admin_id, command=command, detail=detail, issued_by=issued_by
    )
    await stage(conn, topics.control, admin_id, [event])
