"""`creditflow import ID [--wait]`: publish a manual import request (R2).

Exit status: 0 when the request was published (with `--wait`: when its run completed), 1 when
the run failed or hit a system error, 2 for a bad argument or an unknown administration.
"""

from __future__ import annotations

import argparse
from typing import Any

from creditflow.context import Context, run
from creditflow.output import CommandError, add_wait_options, print_json, print_table
from services.control.admins import require_administration
from services.control.imports import request_import, wait_for_request

COUNT_NAMES = ("added", "updated", "unchanged", "blocked", "ignored")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = commands.add_parser(
        "import",
        help="request an import run now",
        description="Publish a manual import request for an administration (the same message "
        "the dashboard's Import now button and other systems publish).",
    )
    command.add_argument("id", help="administration id")
    add_wait_options(command)
    command.set_defaults(handler=_import)


def _import(args: argparse.Namespace) -> int:
    async def action(context: Context) -> dict[str, Any]:
        await require_administration(context.pool, args.id)
        async with context.publisher() as publisher:
            request = await request_import(publisher, context.topics, args.id, requested_by="cli")
        if not args.wait:
            return {"request_id": str(request.request_id), "administration_id": args.id}
        try:
            return await wait_for_request(context.pool, request.request_id, timeout=args.timeout)
        except TimeoutError as exc:
            raise CommandError(str(exc)) from None

    result = run(action)
    if args.json:
        print_json(result)
    elif "run_id" in result:
        _print_run(result)
    else:
        print(f"import of {args.id!r} requested: request {result['request_id']}")
    return 0 if result.get("status", "completed") == "completed" else 1


def _print_run(result: dict[str, Any]) -> None:
    duration = result.get("duration_seconds")
    print(f"run       {result['run_id']}")
    print(f"status    {result['status']}")
    print(f"started   {result['started_at']}")
    if duration is not None:
        print(f"duration  {duration:.1f} s")
    if result.get("reason"):
        print(f"reason    {result['reason']}")
    counts: dict[str, dict[str, int]] = result.get("counts") or {}
    if counts:
        print()
        print_table(
            [{"entity": entity, **per} for entity, per in counts.items()],
            ["entity", *COUNT_NAMES],
        )
