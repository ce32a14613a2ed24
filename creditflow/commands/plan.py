"""`creditflow plan set ID CONDITION|default --first DAYS --interval DAYS --count N
[--no-final]` and `creditflow plan list ID` (R9)."""

from __future__ import annotations

import argparse
from typing import Any

from creditflow.context import Context, run
from creditflow.output import print_result
from services.control.plans import PlanInput, list_plans, set_plan

COLUMNS = ["code", "first_after_days", "interval_days", "count", "final_notice", "open_invoices"]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    plan = commands.add_parser("plan", help="dunning plans per payment condition")
    actions = plan.add_subparsers(dest="action", metavar="ACTION", required=True)

    put = actions.add_parser("set", help="create or replace a plan")
    put.add_argument("id", help="administration id")
    put.add_argument("condition", metavar="CONDITION", help="payment-condition code, or default")
    put.add_argument(
        "--first", type=int, required=True, metavar="DAYS", help="days after the due date"
    )
    put.add_argument(
        "--interval", type=int, required=True, metavar="DAYS", help="days between reminders"
    )
    put.add_argument("--count", type=int, required=True, metavar="N", help="number of reminders")
    put.add_argument(
        "--no-final", action="store_true", help="no final notice after the last reminder"
    )
    put.add_argument("--json", action="store_true", help="print JSON")
    put.set_defaults(handler=_set)

    listing = actions.add_parser("list", help="list the plans")
    listing.add_argument("id", help="administration id")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)


def _set(args: argparse.Namespace) -> int:
    plan = PlanInput(
        {
            "first_after_days": args.first,
            "interval_days": args.interval,
            "count": args.count,
            "final_notice": not args.no_final,
        }
    )

    async def action(context: Context) -> dict[str, Any]:
        result = await set_plan(
            context.pool, context.topics, args.id, args.condition, plan, issued_by="cli"
        )
        await context.flush_outbox()
        return result

    print_result(run(action), as_json=args.json)
    return 0


def _list(args: argparse.Namespace) -> int:
    async def action(context: Context) -> list[dict[str, Any]]:
        return await list_plans(context.pool, args.id)

    print_result(run(action), as_json=args.json, columns=COLUMNS)
    return 0
