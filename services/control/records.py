"""Loaded master data and validation errors as people see them (CLI `errors`, HTTP
…/customers/{key} and …/invoices/{key}).

Records carry their DESIGN section 6 field names plus `status`; amounts are strings with two
decimals and dates ISO strings, so JSON loses nothing.
"""

from __future__ import annotations

from typing import Any, Literal

import asyncpg

from services.control.admins import require_administration
from shared.errors import Invalid, NotFound
from shared.source_format import COLUMNS

__all__ = [
    "ERROR_STATUSES",
    "error_fields",
    "get_customer",
    "get_invoice",
    "list_errors",
    "public_error",
]

ERROR_STATUSES = ("open", "resolved", "all")


async def get_customer(pool: asyncpg.Pool, administration_id: str, key: str) -> dict[str, Any]:
    """The loaded customer; `status` is `active` or `blocked` (ignored after it was loaded)."""
    await require_administration(pool, administration_id)
    row = await pool.fetchrow(
        "select * from customers where administration_id = $1 and customer_number = $2",
        administration_id,
        key,
    )
    if row is None:
        raise NotFound(f"customer {key!r} is not loaded in {administration_id!r}")
    return {
        **{name: row[name] for name in COLUMNS["customer"]},
        "status": row["status"],
        "loaded_at": row["loaded_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


async def get_invoice(pool: asyncpg.Pool, administration_id: str, key: str) -> dict[str, Any]:
    """The loaded invoice; `status` is `open`, `closed` (paid) or `blocked` (ignored)."""
    await require_administration(pool, administration_id)
    row = await pool.fetchrow(
        "select * from invoices where administration_id = $1 and invoice_number = $2",
        administration_id,
        key,
    )
    if row is None:
        raise NotFound(f"invoice {key!r} is not loaded in {administration_id!r}")
    record = {name: row[name] for name in COLUMNS["invoice"]}
    for name in ("invoice_date", "due_date"):
        record[name] = row[name].isoformat()
    for name in ("amount_total", "amount_open"):
        record[name] = f"{row[name]:.2f}"
    return {
        **record,
        "status": row["status"],
        "closed_at": row["closed_at"].isoformat() if row["closed_at"] else None,
        "loaded_at": row["loaded_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


async def list_errors(
    pool: asyncpg.Pool,
    administration_id: str,
    *,
    status: Literal["open", "resolved", "all"] | str = "open",
) -> list[dict[str, Any]]:
    """Validation errors and warnings (R6), newest first: open ones, resolved ones, or all."""
    if status not in ERROR_STATUSES:
        raise Invalid(f"status {status!r} must be one of {', '.join(ERROR_STATUSES)}")
    await require_administration(pool, administration_id)
    rows = await pool.fetch(
        "select * from validation_errors where administration_id = $1"
        " and ($2 = 'all' or status = $2)"
        " order by coalesce(resolved_at, raised_at) desc, entity, key, code",
        administration_id,
        status,
    )
    return [public_error(row) for row in rows]


def error_fields(row: asyncpg.Record) -> dict[str, Any]:
    """The fields an error shares with its event on the validation-errors topic."""
    return {
        "error_id": str(row["error_id"]),
        "administration_id": row["administration_id"],
        "run_id": str(row["run_id"]) if row["run_id"] else None,
        **{name: row[name] for name in _ERROR_TEXT_FIELDS},
    }


_ERROR_TEXT_FIELDS = ("entity", "key", "code", "field", "value", "severity", "message")


def public_error(row: asyncpg.Record) -> dict[str, Any]:
    """An error with the fields of the validation-errors topic event, plus its state."""
    return {
        **error_fields(row),
        "status": row["status"],
        "resolution": row["resolution"],
        "raised_at": row["raised_at"].isoformat(),
        "resolved_at": row["resolved_at"].isoformat() if row["resolved_at"] else None,
    }
