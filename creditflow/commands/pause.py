"""`creditflow pause|resume ID [customer|case|invoice KEY]` and `creditflow pauses ID` (R8).

A pause is in force when the command returns: it is committed first, then its event is
published.
"""

from __future__ import annotations

import argparse
from typing import Any

from creditflow.context import Context, run
from creditflow.output import print_result
from services.control.pauses import ENTITIES, lift_pause, list_pauses, set_pause

COLUMNS = ["id", "entity", "key", "mode", "until", "reason", "state", "created_at"]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pause = commands.add_parser(
        "pause",
        help="pause e-mail to an administration, customer, case or invoice (in force at once)",
    )
    _target(pause)
    pause.add_argument(
        "--reminders-only",
        action="store_true",
        help="pause reminders but let invoice e-mails through (administration or customer)",
    )
    pause.add_argument("--until", metavar="DATE", help="the pause's last day (YYYY-MM-DD)")
    pause.add_argument("--reason", metavar="TEXT", help="why, for whoever looks later")
    pause.add_argument("--json", action="store_true", help="print JSON")
    pause.set_defaults(handler=_pause)

    resume = commands.add_parser(
        "resume", help="lift a pause; invoices go on with their next level, never a burst"
    )
    _target(resume)
    resume.add_argument("--json", action="store_true", help="print JSON")
    resume.set_defaults(handler=_resume)

    listing = commands.add_parser("pauses", help="list the pauses in force")
    listing.add_argument("id", help="administration id")
    listing.add_argument("--all", action="store_true", help="include lifted and ended pauses")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)


def _target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="administration id")
    parser.add_argument(
        "entity", nargs="?", choices=ENTITIES, help="what to pause (default: the administration)"
    )
    parser.add_argument("key", nargs="?", help="customer number, case key or invoice number")


def _checked_target(args: argparse.Namespace) -> tuple[str, str | None]:
    entity = args.entity or "administration"
    if entity != "administration" and not args.key:
        raise ValueError(f"name the {entity}: creditflow {args.command} {args.id} {entity} KEY")
    if entity == "administration" and args.key:
        raise ValueError("an administration pause takes no key")
    return entity, args.key


def _pause(args: argparse.Namespace) -> int:
    entity, key = _checked_target(args)

    async def action(context: Context) -> dict[str, Any]:
        pause = await set_pause(
            context.pool,
            context.topics,
            args.id,
            entity=entity,
            key=key,
            mode="reminders" if args.reminders_only else "full",
            until=args.until,
            reason=args.reason,
            issued_by="cli",
        )
        await context.flush_outbox()
        return pause

    print_result(run(action), as_json=args.json)
    return 0


def _resume(args: argparse.Namespace) -> int:
    entity, key = _checked_target(args)

    async def action(context: Context) -> dict[str, Any]:
        pause = await lift_pause(
            context.pool, context.topics, args.id, entity=entity, key=key, issued_by="cli"
        )
        await context.flush_outbox()
        return pause

    print_result(run(action), as_json=args.json)
    return 0


def _list(args: argparse.Namespace) -> int:
    async def action(context: Context) -> list[dict[str, Any]]:
        return await list_pauses(context.pool, args.id, include_ended=args.all)

    print_result(run(action), as_json=args.json, columns=COLUMNS)
    return 0
