"""`creditflow import ID [--wait]`: publish a manual import request (R2)."""

from __future__ import annotations

import argparse
from typing import Any

from creditflow.context import Context, run
from creditflow.output import CommandError, print_result
from services.control.admins import require_administration
from services.control.imports import request_import, wait_for_request


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = commands.add_parser("import", help="request an import run now")
    command.add_argument("id", help="administration id")
    command.add_argument("--wait", action="store_true", help="follow the run to its end")
    command.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait with --wait (default 600)"
    )
    command.add_argument("--json", action="store_true", help="print JSON")
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
    print_result(result, as_json=args.json)
    return 0 if result.get("status", "completed") == "completed" else 1
