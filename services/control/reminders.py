"""Reminder runs on request (CLI `remind`, HTTP …/reminder-runs): every path publishes the
same ReminderRunRequested on `{prefix}reminder-requests`."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from services.control.admins import require_administration
from services.control.pauses import local_today
from services.notifier.logic import parse_iso_date
from shared.errors import Invalid
from shared.messages import ReminderRunRequested
from shared.publish import Publisher
from shared.topics import Topics

__all__ = ["list_reminder_runs", "request_reminder_run", "wait_for_reminder_run"]


async def request_reminder_run(
    pool: asyncpg.Pool,
    publisher: Publisher,
    topics: Topics,
    admin_id: str,
    *,
    as_of: object = None,
    requested_by: str,
) -> ReminderRunRequested:
    """Ask the notifier for a reminder run as of a date (default: today in the
    administration's time zone)."""
    admin = await require_administration(pool, admin_id)
    if as_of in (None, ""):
        day: date = local_today(admin["timezone"])
    else:
        try:
            day = parse_iso_date(as_of, "as_of")
        except ValueError as exc:
            raise Invalid(str(exc)) from None
    request = ReminderRunRequested(administration_id=admin_id, as_of=day, requested_by=requested_by)
    await publisher.send(topics.reminder_requests, admin_id, request)
    return request


def _run(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "request_id": str(row["request_id"]),
        "administration_id": row["administration_id"],
        "as_of": row["as_of"].isoformat(),
        "requested_by": row["requested_by"],
        "status": row["status"],
        "started_at": row["started_at"].isoformat(),
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
        "counts": row["counts"] or {},
        "reason": row["reason"],
    }


async def list_reminder_runs(
    pool: asyncpg.Pool, admin_id: str, *, limit: int = 100
) -> list[dict[str, Any]]:
    await require_administration(pool, admin_id)
    rows = await pool.fetch(
        "select * from reminder_runs where administration_id = $1"
        " order by started_at desc limit $2",
        admin_id,
        limit,
    )
    return [_run(row) for row in rows]


async def wait_for_reminder_run(
    pool: asyncpg.Pool, request_id: UUID, *, timeout: float = 600.0, poll: float = 0.2
) -> dict[str, Any]:
    """Follow a request to the end of its run; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        row = await pool.fetchrow("select * from reminder_runs where request_id = $1", request_id)
        if row is not None and row["status"] != "running":
            return _run(row)
        if time.monotonic() > deadline:
            state = row["status"] if row else "not picked up by a notifier"
            raise TimeoutError(f"reminder run {request_id} still {state} after {timeout:.0f}s")
        await asyncio.sleep(poll)
