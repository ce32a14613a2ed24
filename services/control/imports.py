"""Import requests and the run log (CLI `import`, HTTP …/imports)."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

import asyncpg

from shared.messages import ImportRequested
from shared.publish import Publisher
from shared.topics import Topics

__all__ = [
    "TERMINAL",
    "list_runs",
    "request_for",
    "request_import",
    "run_for_request",
    "wait_for_request",
]

TERMINAL = ("completed", "failed", "system_error")


async def request_import(
    publisher: Publisher, topics: Topics, administration_id: str, *, requested_by: str
) -> ImportRequested:
    """R2: every manual path publishes the same import-request message."""
    request = ImportRequested(
        administration_id=administration_id, trigger="manual", requested_by=requested_by
    )
    await publisher.send(topics.import_requests, administration_id, request)
    return request


def _run(row: asyncpg.Record) -> dict[str, Any]:
    finished = row["finished_at"]
    return {
        "run_id": str(row["run_id"]),
        "request_id": str(row["request_id"]) if row["request_id"] else None,
        "administration_id": row["administration_id"],
        "trigger": row["trigger"],
        "requested_by": row["requested_by"],
        "status": row["status"],
        "started_at": row["started_at"].isoformat(),
        "finished_at": finished.isoformat() if finished else None,
        "duration_seconds": round((finished - row["started_at"]).total_seconds(), 3)
        if finished
        else None,
        "counts": row["counts"] or {},
        "reason": row["reason"],
        "records": row["records"],
    }


async def list_runs(
    pool: asyncpg.Pool, administration_id: str, *, limit: int = 100, days: int | None = None
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "select * from import_runs where administration_id = $1"
        " and ($3::int is null or started_at > now() - make_interval(days => $3))"
        " order by started_at desc limit $2",
        administration_id,
        limit,
        days,
    )
    return [_run(row) for row in rows]


async def run_for_request(
    pool: asyncpg.Pool, request_id: UUID, administration_id: str | None = None
) -> dict[str, Any] | None:
    """The latest run serving a request (its own, or the follow-up it collapsed into)."""
    row = await pool.fetchrow(
        "select r.* from import_requests q join import_runs r"
        " on r.request_id = coalesce(q.follows_request_id, q.request_id)"
        " where q.request_id = $1 and ($2::text is null or q.administration_id = $2::text)"
        " order by r.started_at desc limit 1",
        request_id,
        administration_id,
    )
    return _run(row) if row else None


async def request_for(
    pool: asyncpg.Pool, administration_id: str, request_id: UUID
) -> dict[str, Any]:
    """What became of one import request of this administration: `outcome` is null while no
    importer has received it yet, then started, queued or collapsed; `run` is the run serving
    it once one exists."""
    outcome = await pool.fetchval(
        "select outcome from import_requests where request_id = $1 and administration_id = $2",
        request_id,
        administration_id,
    )
    return {
        "request_id": str(request_id),
        "administration_id": administration_id,
        "outcome": outcome,
        "run": await run_for_request(pool, request_id, administration_id),
    }


async def wait_for_request(
    pool: asyncpg.Pool, request_id: UUID, *, timeout: float = 600.0, poll: float = 0.2
) -> dict[str, Any]:
    """Follow a request to the end of its run; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        run = await run_for_request(pool, request_id)
        if run is not None and run["status"] in TERMINAL:
            return run
        if time.monotonic() > deadline:
            state = run["status"] if run else "not picked up by an importer"
            raise TimeoutError(f"request {request_id} still {state} after {timeout:.0f}s")
        await asyncio.sleep(poll)
