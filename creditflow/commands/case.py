"""`creditflow case add ID CASE_KEY --customer KEY --invoice KEY [...]` and
`creditflow case list ID`: a customer's invoices under collection, paused through the case."""

from __future__ import annotations

import argparse
from typing import Any

from creditflow.context import Context, run
from creditflow.output import print_result
from services.control.cases import add_case, list_cases

COLUMNS = ["key", "customer", "invoices", "paused", "created_at"]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    case = commands.add_parser("case", help="group a customer's invoices in a case")
    actions = case.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="create a case, or add invoices to it")
    add.add_argument("id", help="administration id")
    add.add_argument("case_key", metavar="CASE_KEY")
    add.add_argument("--customer", required=True, metavar="KEY", help="customer number")
    add.add_argument(
        "--invoice",
        required=True,
        action="append",
        metavar="KEY",
        help="invoice number (repeatable)",
    )
    add.add_argument("--json", action="store_true", help="print JSON")
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="list the cases")
    listing.add_argument("id", help="administration id")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)


def _add(args: argparse.Namespace) -> int:
    async def action(context: Context) -> dict[str, Any]:
        case = await add_case(
            context.pool,
            context.topics,
            args.id,
            args.case_key,
            customer=args.customer,
            invoices=args.invoice,
            issued_by="cli",
        )
        await context.flush_outbox()
        return case

    print_result(run(action), as_json=args.json)
    return 0


def _list(args: argparse.Namespace) -> int:
    async def action(context: Context) -> list[dict[str, Any]]:
        return await list_cases(context.pool, args.id)

    print_result(run(action), as_json=args.json, columns=COLUMNS)
    return 0
