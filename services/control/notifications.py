"""Sent, suppressed and failed notifications (HTTP …/notifications), newest first."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.control.admins import require_administration
from shared.errors import Invalid

__all__ = ["list_notifications"]

MAX_LIMIT = 1000


async def list_notifications(
    pool: asyncpg.Pool,
    admin_id: str,
    *,
    invoice: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    await require_administration(pool, admin_id)
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit {limit} must be between 1 and {MAX_LIMIT}")
    # Newest first, in the order of the index notifications_listed (migration 0060); one
    # invoice's by its key.
    rows = await pool.fetch(
        "select n.*, coalesce(n.sent_at, n.created_at) as at,"
        " p.entity as pause_entity, p.key as pause_key, p.mode as pause_mode,"
        " p.reason as pause_reason"
        " from notifications n left join pauses p on p.id = n.pause_id"
        " where n.administration_id = $1 and n.status <> 'claimed'"
        + (" and n.invoice_number = $3" if invoice is not None else "")
        + " order by coalesce(n.sent_at, n.created_at) desc, n.id desc limit $2",
        admin_id,
        limit,
        *([invoice] if invoice is not None else []),
    )
    return [
        {
            "id": row["id"],
            "invoice": row["invoice_number"],
            "customer": row["customer_number"],
            "kind": row["kind"],
            "level": row["level"],
            "outcome": row["status"],
            "reason": row["reason"],
            "detail": row["detail"],
            "pause": {
                "id": row["pause_id"],
                "entity": row["pause_entity"],
                "key": row["pause_key"],
                "mode": row["pause_mode"],
                "reason": row["pause_reason"],
            }
            if row["pause_id"]
            else None,
            "message_id": row["email_message_id"],
            "recipient": row["recipient"],
            "run_date": row["run_date"].isoformat(),
            "at": row["at"].isoformat(),
        }
        for row in rows
    ]
