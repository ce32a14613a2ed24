"""Dunning plans (R9): per payment-condition code, with `default` as the administration's
fallback (CLI `plan set|list`, HTTP …/dunning-plans/{code})."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.control.admins import require_administration
from services.control.pauses import Flush, stage_control_event, text_key
from shared.errors import Invalid, NotFound
from shared.topics import Topics

__all__ = ["PlanInput", "get_plan", "list_plans", "set_plan"]

LIMITS = {"first_after_days": (0, 3650), "interval_days": (1, 365), "count": (0, 20)}


class PlanInput:
    """A plan from loosely typed input (CLI arguments, JSON); Invalid on any bad field."""

    def __init__(self, raw: dict[str, Any]) -> None:
        values = {}
        for name, (low, high) in LIMITS.items():
            value = raw.get(name)
            if value is None:
                raise Invalid(f"{name} is required")
            if isinstance(value, bool) or not isinstance(value, int):
                raise Invalid(f"{name} {value!r} must be a whole number")
            if not low <= value <= high:
                raise Invalid(f"{name} {value} must be between {low} and {high}")
            values[name] = value
        final = raw.get("final_notice", True)
        if not isinstance(final, bool):
            raise Invalid(f"final_notice {final!r} must be true or false")
        self.first_after_days: int = values["first_after_days"]
        self.interval_days: int = values["interval_days"]
        self.count: int = values["count"]
        self.final_notice = final


def _plan(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "administration_id": row["administration_id"],
        "code": row["condition_code"],
        "first_after_days": row["first_after_days"],
        "interval_days": row["interval_days"],
        "count": row["reminder_count"],
        "final_notice": row["final_notice"],
        "updated_at": row["updated_at"].isoformat(),
    }


async def set_plan(
    pool: asyncpg.Pool,
    topics: Topics,
    admin_id: str,
    code: object,
    plan: PlanInput,
    *,
    issued_by: str = "cli",
    flush: Flush | None = None,
) -> dict[str, Any]:
    """Create or replace the plan of a payment-condition code (or `default`)."""
    await require_administration(pool, admin_id)
    condition = text_key(code, "payment condition code", limit=64)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "insert into dunning_plans (administration_id, condition_code, first_after_days,"
            " interval_days, reminder_count, final_notice) values ($1, $2, $3, $4, $5, $6)"
            " on conflict (administration_id, condition_code) do update set"
            " first_after_days = excluded.first_after_days,"
            " interval_days = excluded.interval_days, reminder_count = excluded.reminder_count,"
            " final_notice = excluded.final_notice, updated_at = now() returning *",
            admin_id,
            condition,
            plan.first_after_days,
            plan.interval_days,
            plan.count,
            plan.final_notice,
        )
        result = _plan(row)
        detail = {k: v for k, v in result.items() if k not in ("administration_id", "updated_at")}
        await stage_control_event(conn, topics, admin_id, "plan_set", detail, issued_by)
    if flush is not None:
        await flush()
    return result


async def get_plan(pool: asyncpg.Pool, admin_id: str, code: str) -> dict[str, Any]:
    await require_administration(pool, admin_id)
    row = await pool.fetchrow(
        "select * from dunning_plans where administration_id = $1 and condition_code = $2",
        admin_id,
        code,
    )
    if row is None:
        raise NotFound(
            f"no dunning plan {code!r} in administration {admin_id!r}"
            " (invoices with that payment condition follow 'default')"
        )
    return _plan(row)


async def list_plans(pool: asyncpg.Pool, admin_id: str) -> list[dict[str, Any]]:
    """Every plan, `default` first, with how many open invoices follow each."""
    await require_administration(pool, admin_id)
    rows = await pool.fetch(
        "with followed as (select coalesce(d.condition_code, 'default') as code, count(*) as n"
        " from invoices i left join dunning_plans d on d.administration_id = i.administration_id"
        " and d.condition_code = i.payment_condition"
        " where i.administration_id = $1 and i.status = 'open' group by 1)"
        " select d.*, coalesce(f.n, 0) as open_invoices from dunning_plans d"
        " left join followed f on f.code = d.condition_code where d.administration_id = $1"
        " order by d.condition_code <> 'default', d.condition_code",
        admin_id,
    )
    return [{**_plan(row), "open_invoices": row["open_invoices"]} for row in rows]
