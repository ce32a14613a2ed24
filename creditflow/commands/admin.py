"""`creditflow admin add|list`."""

from __future__ import annotations

import argparse

from creditflow.context import Context, run
from creditflow.output import print_result
from services.control.admins import NewAdministration, add_administration, list_administrations

COLUMNS = [
    "id",
    "name",
    "source",
    "import_mode",
    "import_at",
    "timezone",
    "send_invoices_from",
    "minimum_amount",
]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    admin = commands.add_parser("admin", help="add and list administrations")
    actions = admin.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="register an administration")
    add.add_argument("id", help="administration id (letters, digits, _ . -)")
    add.add_argument("--name", required=True)
    add.add_argument("--source", required=True, help="files:/path/to/export or demo:SEED")
    add.add_argument(
        "--import-at",
        action="append",
        metavar="HH:MM",
        help="a daily import moment (repeatable; default 06:00)",
    )
    add.add_argument("--timezone", default="Europe/Amsterdam")
    add.add_argument(
        "--import-mode",
        choices=["schedule", "file", "manual"],
        default="schedule",
        help="when imports run besides manual requests (default: schedule)",
    )
    add.add_argument(
        "--send-invoices-from",
        metavar="DATE",
        help="e-mail invoices dated on or after this date (default: none)",
    )
    add.add_argument(
        "--minimum-amount",
        default="0",
        metavar="AMOUNT",
        help="open amounts below this are not chased",
    )
    add.add_argument("--json", action="store_true", help="print JSON")
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="list administrations")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)


def _add(args: argparse.Namespace) -> int:
    admin = NewAdministration.parse(
        {
            "id": args.id,
            "name": args.name,
            "source": args.source,
            "import_at": args.import_at or ["06:00"],
            "timezone": args.timezone,
            "import_mode": args.import_mode,
            "send_invoices_from": args.send_invoices_from,
            "minimum_amount": args.minimum_amount,
        }
    )

    async def action(context: Context) -> dict[str, object]:
        return await add_administration(context.pool, admin)

    print_result(run(action), as_json=args.json)
    return 0


def _list(args: argparse.Namespace) -> int:
    async def action(context: Context) -> list[dict[str, object]]:
        return await list_administrations(context.pool)

    print_result(run(action), as_json=args.json, columns=COLUMNS)
    return 0
