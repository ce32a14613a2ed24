"""`creditflow errors ID [--all]`: the open validation errors and warnings (R6), or all."""

from __future__ import annotations

import argparse
from typing import Any

from creditflow.context import Context, run
from creditflow.output import print_result
from services.control.records import list_errors

COLUMNS = ["entity", "key", "code", "severity", "value", "message"]
ALL_COLUMNS = ["status", "resolution", *COLUMNS]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = commands.add_parser("errors", help="validation errors and warnings, newest first")
    command.add_argument("id", help="administration id")
    command.add_argument(
        "--all", action="store_true", help="resolved ones too (default: open ones only)"
    )
    command.add_argument("--json", action="store_true", help="print JSON")
    command.set_defaults(handler=_errors)


def _errors(args: argparse.Namespace) -> int:
    async def action(context: Context) -> list[dict[str, Any]]:
        return await list_errors(context.pool, args.id, status="all" if args.all else "open")

    print_result(run(action), as_json=args.json, columns=ALL_COLUMNS if args.all else COLUMNS)
    return 0
