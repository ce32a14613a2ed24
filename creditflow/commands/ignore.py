"""`creditflow ignore add|remove ID customer|invoice|payment_condition KEY` and
`creditflow ignore list ID`: the ignore list (R7)."""

from __future__ import annotations

import argparse
from typing import Any

from creditflow.context import Context, run
from creditflow.output import print_result
from services.control.ignore import (
    add_ignore_entry,
    list_ignore_entries,
    parse_entry,
    remove_ignore_entry,
)
from services.validator.ignore import ENTITIES

COLUMNS = ["entity", "pattern", "kind", "created_at", "created_by"]
PATTERN_HELP = "an exact key (C1001), a range (1000...1999) or a prefix (TEST*)"


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ignore = commands.add_parser(
        "ignore", help="keep customers, invoices or payment conditions out of imports"
    )
    actions = ignore.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, handler, words in (
        ("add", _add, "put an entry on the ignore list (applies from the next import)"),
        ("remove", _remove, "take an entry off the ignore list (the next import loads it)"),
    ):
        action = actions.add_parser(name, help=words)
        action.add_argument("id", help="administration id")
        action.add_argument("entity", choices=ENTITIES)
        action.add_argument("key", metavar="KEY", help=PATTERN_HELP)
        action.add_argument("--json", action="store_true", help="print JSON")
        action.set_defaults(handler=handler)

    listing = actions.add_parser("list", help="the ignore list, newest first")
    listing.add_argument("id", help="administration id")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)


def _add(args: argparse.Namespace) -> int:
    parse_entry(args.entity, args.key)  # a bad pattern fails before any connection

    async def action(context: Context) -> dict[str, Any]:
        entry = await add_ignore_entry(
            context.pool, context.topics, args.id, args.entity, args.key, issued_by="cli"
        )
        await context.flush_outbox()
        return entry

    print_result(run(action), as_json=args.json)
    return 0


def _remove(args: argparse.Namespace) -> int:
    parse_entry(args.entity, args.key)

    async def action(context: Context) -> dict[str, Any]:
        entry = await remove_ignore_entry(
            context.pool, context.topics, args.id, args.entity, args.key, issued_by="cli"
        )
        await context.flush_outbox()
        return entry

    print_result(run(action), as_json=args.json)
    return 0


def _list(args: argparse.Namespace) -> int:
    async def action(context: Context) -> list[dict[str, Any]]:
        return await list_ignore_entries(context.pool, args.id)

    print_result(run(action), as_json=args.json, columns=COLUMNS)
    return 0
