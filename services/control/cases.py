"""Cases: a customer's invoices under collection (CLI `case add`, HTTP …/cases).

An invoice is in at most one case and is paused through it (R8). Adding invoices to a case
that is paused pauses them at once, so it takes the sending guard like a pause does.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.control.admins import require_administration
from services.control.pauses import GUARD_WAIT, Flush, stage_control_event, text_key
from shared.errors import Conflict, Invalid, NotFound
from shared.topics import Topics

__all__ = ["add_case", "list_cases"]

MAX_INVOICES = 1000


async def add_case(
    pool: asyncpg.Pool,
    topics: Topics,
    admin_id: str,
    case_key: object,
    *,
    customer: object,
    invoices: object,
    issued_by: str = "cli",
    flush: Flush | None = None,
) -> dict[str, Any]:
    """Create a case for a customer's invoices, or add invoices to the customer's case."""
    await require_administration(pool, admin_id)
    key = text_key(case_key, "case key")
    customer_number = text_key(customer, "customer")
    if not isinstance(invoices, list) or not invoices:
        raise Invalid("invoices must be a list of one or more invoice numbers")
    if len(invoices) > MAX_INVOICES:
        raise Invalid(f"a case takes at most {MAX_INVOICES} invoices at a time")
    numbers = sorted({text_key(number, "invoice") for number in invoices})
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval(
            "select true from customers where administration_id = $1 and customer_number = $2",
            admin_id,
            customer_number,
        ):
            raise NotFound(
                f"customer {customer_number!r} is not loaded in administration {admin_id!r}"
            )
        found = {
            row["invoice_number"]: row
            for row in await conn.fetch(
                "select i.invoice_number, i.customer_number, ci.case_key from invoices i"
                " left join case_invoices ci on ci.administration_id = i.administration_id"
                " and ci.invoice_number = i.invoice_number"
                " where i.administration_id = $1 and i.invoice_number = any($2::text[])",
                admin_id,
                numbers,
            )
        }
        missing = [n for n in numbers if n not in found]
        if missing:
            raise NotFound(
                f"invoice(s) {', '.join(missing)} not loaded in administration {admin_id!r}"
            )
        foreign = [n for n in numbers if found[n]["customer_number"] != customer_number]
        if foreign:
            first = found[foreign[0]]
            raise Invalid(
                f"invoice {first['invoice_number']!r} belongs to customer"
                f" {first['customer_number']!r}, not {customer_number!r}"
            )
        elsewhere = [n for n in numbers if found[n]["case_key"] not in (None, key)]
        if elsewhere:
            first = found[elsewhere[0]]
            raise Conflict(
                f"invoice {first['invoice_number']!r} is already in case {first['case_key']!r}"
            )
        existing = await conn.fetchval(
            "select customer_number from cases where administration_id = $1 and case_key = $2",
            admin_id,
            key,
        )
        if existing is not None and existing != customer_number:
            raise Conflict(
                f"case {key!r} belongs to customer {existing!r}, not {customer_number!r}"
            )
        await conn.execute(f"set local lock_timeout = '{GUARD_WAIT}'")
        try:
            await conn.execute("select lock_sending_exclusive($1)", admin_id)
        except asyncpg.LockNotAvailableError:
            raise Conflict(
                "a notifier has been sending for too long; the case was not changed, try again"
            ) from None
        await conn.execute("set local lock_timeout = 0")
        await conn.execute(
            "insert into cases (administration_id, case_key, customer_number, created_by)"
            " values ($1, $2, $3, $4) on conflict do nothing",
            admin_id,
            key,
            customer_number,
            issued_by,
        )
        added = await conn.fetch(
            "insert into case_invoices (administration_id, invoice_number, case_key)"
            " select $1, n, $3 from unnest($2::text[]) as n on conflict do nothing"
            " returning invoice_number",
            admin_id,
            numbers,
            key,
        )
        case = (await _cases(conn, admin_id, key))[0]
        await stage_control_event(
            conn,
            topics,
            admin_id,
            "case_added",
            {
                "key": key,
                "customer": customer_number,
                "invoices": case["invoices"],
                "added": sorted(r["invoice_number"] for r in added),
            },
            issued_by,
        )
    if flush is not None:
        await flush()
    return case


async def list_cases(pool: asyncpg.Pool, admin_id: str) -> list[dict[str, Any]]:
    await require_administration(pool, admin_id)
    async with pool.acquire() as conn:
        return await _cases(conn, admin_id)


async def _cases(
    conn: asyncpg.Connection, admin_id: str, key: str | None = None
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select c.*, array(select invoice_number from case_invoices i"
        " where i.administration_id = c.administration_id and i.case_key = c.case_key"
        " order by invoice_number) as invoices,"
        " exists (select 1 from pauses p where p.administration_id = c.administration_id"
        " and p.entity = 'case' and p.key = c.case_key and p.lifted_at is null"
        " and (p.until is null or p.until >= (now() at time zone a.timezone)::date)) as paused"
        " from cases c join administrations a on a.id = c.administration_id"
        " where c.administration_id = $1 and ($2::text is null or c.case_key = $2)"
        " order by c.created_at desc, c.case_key",
        admin_id,
        key,
    )
    return [
        {
            "key": row["case_key"],
            "customer": row["customer_number"],
            "invoices": list(row["invoices"]),
            "paused": row["paused"],
            "created_by": row["created_by"],
            "created_at": row["created_at"].isoformat(),
        }
        for row in rows
    ]
