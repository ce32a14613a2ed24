"""The `creditflow` command (DESIGN section 4).

Each command group lives in `creditflow/commands/<group>.py` with a `register(subparsers)`
function. A bad argument, an unknown id or a refused change ends with a one-line error on
stderr and exit status 2; nothing is changed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from aiokafka.errors import KafkaError

from creditflow.commands import GROUPS
from creditflow.output import CommandError
from shared.errors import UserError

__all__ = ["build_parser", "main"]


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="creditflow",
        description="Keeps receivables in step with the accounting package; never sends an "
        "unjustified reminder.",
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser
    )
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        result = args.handler(args)
    except (UserError, CommandError, ValueError) as exc:
        return _fail(str(exc))
    except RuntimeError as exc:  # no database or broker to talk to
        return _fail(str(exc))
    except KafkaError as exc:
        return _fail(f"cannot reach the message broker: {exc}")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`creditflow … --json | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return int(result or 0)


def _fail(message: str) -> int:
    """One line on stderr, exit status 2."""
    line = " ".join(message.split()) or "failed"
    print(f"creditflow: error: {line}", file=sys.stderr)
    return 2
