"""`creditflow explain ID customer|invoice KEY`: why its source data is or is not taken over."""

from __future__ import annotations

import argparse
from typing import Any

from creditflow.context import Context, run
from creditflow.output import print_json
from services.control.explain import explain
from services.control.explain_rule import EXPLAINED_ENTITIES


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = commands.add_parser(
        "explain", help="why a customer's or invoice's source data is or is not taken over"
    )
    command.add_argument("id", help="administration id")
    command.add_argument("entity", choices=EXPLAINED_ENTITIES)
    command.add_argument("key", metavar="KEY", help="customer or invoice number")
    command.add_argument("--json", action="store_true", help="print JSON")
    command.set_defaults(handler=_explain)


def _explain(args: argparse.Namespace) -> int:
    async def action(context: Context) -> dict[str, Any]:
        return await explain(context.pool, args.id, args.entity, args.key)

    answer = run(action)
    if args.json:
        print_json(answer)
    else:
        print(f"{answer['entity']} {answer['key']}:")
        for reason in answer["reasons"]:
            print(f"  {reason['code']}: {reason['detail']}")
    return 0
