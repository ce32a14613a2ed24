"""`creditflow run importer|validator|notifier|dashboard`: one service, for scaling."""

from __future__ import annotations

import argparse
import importlib
import logging

from creditflow.supervisor import LOOPBACK
from shared.service import serve
from shared.settings import Settings

SERVICES = ("importer", "validator", "notifier", "dashboard")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = commands.add_parser(
        "run",
        help="run one service in this process",
        description="Run one service (for scaling: start as many as you like). It listens on "
        "CREDITFLOW_HTTP_HOST:CREDITFLOW_HTTP_PORT for /healthz, /metrics and /asyncapi.",
    )
    command.add_argument("service", choices=SERVICES, help=", ".join(SERVICES))
    command.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    settings.require_database()
    settings.require_kafka()
    logging.getLogger().setLevel(settings.log_level)
    logging.basicConfig(
        level=settings.log_level,
        format=f"%(asctime)s {args.service} %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    if (
        args.service == "dashboard"
        and settings.http_host not in LOOPBACK
        and not settings.api_token
    ):
        logging.getLogger("creditflow").warning(
            "the dashboard listens on %s without CREDITFLOW_API_TOKEN: anyone who can reach"
            " it can read and change everything",
            settings.http_host,
        )
    module = importlib.import_module(f"services.{args.service}.app")
    serve(module.build_app(settings), settings)
    return 0
