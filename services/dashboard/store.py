"""The dashboard's SQL: its own view of the validation-errors topic.

One row per error identity (`error_id`) holding the latest event seen for it. Applying a batch
is one statement; an event only replaces the row when it is newer than the one held (by
`occurred_at`), so a redelivered or late event never resurrects a resolved error and never
hides a newer raise.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

import asyncpg

from services.control.records import error_fields
from shared.messages import ValidationErrorEvent

__all__ = [
    "ErrorStatus",
    "administration_summaries",
    "apply_error_events",
    "list_errors",
    "notification_message_ids",
]

ErrorStatus = Literal["open", "resolved", "all"]

_APPLY_SQL = """
insert into dashboard_errors as v (
    error_id, administration_id, entity, key, code, field, value, severity, message, run_id,
    event, message_id, occurred_at, resolution, raised_at, resolved_at)
select distinct on (e.error_id)
       e.error_id, e.administration_id, e.entity, e.key, e.code, e.field, e.value, e.severity,
       e.message, e.run_id, e.event, e.message_id, e.occurred_at,
       case when e.event = 'resolved' then e.resolution end,
       case when e.event = 'raised' then e.occurred_at end,
       case when e.event = 'resolved' then e.occurred_at end
from jsonb_to_recordset($1::text::jsonb) as e(
    error_id uuid, administration_id text, entity text, key text, code text, field text,
    value text, severity text, message text, run_id uuid, event text, message_id uuid,
    occurred_at timestamptz, resolution text)
-- Several events of one error in a batch: only the newest counts.
order by e.error_id, e.occurred_at desc
on conflict (error_id) do update set
    administration_id = excluded.administration_id,
    entity = excluded.entity, key = excluded.key, code = excluded.code,
    field = excluded.field, value = excluded.value, severity = excluded.severity,
    message = excluded.message, run_id = excluded.run_id, event = excluded.event,
    message_id = excluded.message_id, occurred_at = excluded.occurred_at,
    resolution = excluded.resolution,
    raised_at = coalesce(excluded.raised_at, v.raised_at),
    resolved_at = excluded.resolved_at,
    received_at = now()
where excluded.occurred_at > v.occurred_at
"""

_LIST_SQL = """
select * from dashboard_errors
where administration_id = $1 and ($2::text is null or event = $2::text)
order by occurred_at desc, entity, key, code
limit $3
"""

# Per administration: open errors and warnings in the view, and its latest run.
_SUMMARY_SQL = """
select a.id,
       count(e.*) filter (where e.severity = 'error') as errors,
       count(e.*) filter (where e.severity = 'warning') as warnings,
       last.status as last_status, last.started_at as last_started
from administrations a
left join dashboard_errors e on e.administration_id = a.id and e.event = 'raised'
left join lateral (select r.status, r.started_at from import_runs r
                   where r.administration_id = a.id
                   order by r.started_at desc limit 1) last on true
group by a.id, last.status, last.started_at
"""

_EVENT_OF_STATUS = {"open": "raised", "resolved": "resolved", "all": None}


async def apply_error_events(pool: asyncpg.Pool, events: Sequence[ValidationErrorEvent]) -> None:
    """Fold validation-error events into the view; idempotent and order-independent."""
    if not events:
        return
    rows = [event.model_dump(mode="json") for event in events]
    await pool.execute(_APPLY_SQL, json.dumps(rows))


async def list_errors(
    pool: asyncpg.Pool, administration_id: str, status: ErrorStatus = "open", *, limit: int = 5000
) -> list[dict[str, Any]]:
    """Errors of one administration, newest first, with the fields of the topic event."""
    rows = await pool.fetch(_LIST_SQL, administration_id, _EVENT_OF_STATUS[status], limit)
    return [_error(row) for row in rows]


async def administration_summaries(pool: asyncpg.Pool) -> dict[str, dict[str, Any]]:
    """For the list of administrations: open errors, open warnings and the latest run."""
    return {row["id"]: dict(row) for row in await pool.fetch(_SUMMARY_SQL)}


def _error(row: asyncpg.Record) -> dict[str, Any]:
    resolved = row["event"] == "resolved"
    error: dict[str, Any] = {
        "message_id": str(row["message_id"]),
        "event": row["event"],
        **error_fields(row),
        "occurred_at": row["occurred_at"].isoformat(),
        "status": "resolved" if resolved else "open",
        "raised_at": row["raised_at"].isoformat() if row["raised_at"] else None,
        "resolved_at": row["resolved_at"].isoformat() if row["resolved_at"] else None,
    }
    if resolved:
        error["resolution"] = row["resolution"]
    return error


async def notification_message_ids(pool: asyncpg.Pool, administration_id: str) -> set[str]:
    """The Message-IDs of the e-mails the notifier sent (or is sending) for this
    administration: how caught mail is told apart per administration."""
    try:
        rows = await pool.fetch(
            "select email_message_id from notifications"
            " where administration_id = $1 and status in ('claimed', 'sent')",
            administration_id,
        )
    except asyncpg.UndefinedTableError:
        return set()
    return {row["email_message_id"] for row in rows}
