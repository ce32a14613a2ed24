"""`creditflow remind ID [--as-of DATE] [--wait]`: request a reminder run now (R9)."""

from __future__ import annotations

import argparse
from typing import Any

from creditflow.context import Context, run
from creditflow.output import CommandError, add_wait_options, print_result
from services.control.reminders import request_reminder_run, wait_for_reminder_run


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = commands.add_parser("remind", help="request a reminder run now")
    command.add_argument("id", help="administration id")
    command.add_argument(
        "--as-of",
        metavar="DATE",
        help="the date the run acts as (YYYY-MM-DD; default: today in the administration's"
        " time zone)",
    )
    add_wait_options(command)
    command.set_defaults(handler=_remind)


def _remind(args: argparse.Namespace) -> int:
    async def action(context: Context) -> dict[str, Any]:
        async with context.publisher() as publisher:
            request = await request_reminder_run(
                context.pool,
                publisher,
                context.topics,
                args.id,
                as_of=args.as_of,
                requested_by="cli",
            )
        if not args.wait:
            return {
                "request_id": str(request.request_id),
                "administration_id": args.id,
                "as_of": request.as_of.isoformat(),
            }
        try:
            return await wait_for_reminder_run(
                context.pool, request.request_id, timeout=args.timeout
            )
        except TimeoutError as exc:
            raise CommandError(str(exc)) from None

    result = run(action)
    print_result(result, as_json=args.json)
    return 0 if result.get("status", "completed") == "completed" else 1
