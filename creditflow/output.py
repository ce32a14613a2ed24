"""Printing results: readable tables for people, `--json` for scripts."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = [
    "CommandError",
    "add_wait_options",
    "positive_number",
    "print_json",
    "print_result",
    "print_table",
]


class CommandError(Exception):
    """A command that cannot be carried out; printed as one line, exit status 2."""


def positive_number(text: str) -> float:
    """An argparse type: a number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number above 0")
    return value


def add_wait_options(command: argparse.ArgumentParser) -> None:
    """`--wait`, `--timeout SECONDS` and `--json`, for commands that request a run."""
    command.add_argument("--wait", action="store_true", help="follow the run to its end")
    command.add_argument(
        "--timeout",
        type=positive_number,
        default=600.0,
        metavar="SECONDS",
        help="how long --wait waits (default 600)",
    )
    command.add_argument("--json", action="store_true", help="print JSON")


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(r[i]) for r in cells)) for i, column in enumerate(columns)]
    print("  ".join(column.upper().ljust(w) for column, w in zip(columns, widths, strict=True)))
    for r in cells:
        print("  ".join(value.ljust(w) for value, w in zip(r, widths, strict=True)).rstrip())


def print_result(value: Any, *, as_json: bool, columns: Sequence[str] | None = None) -> None:
    if as_json:
        print_json(value)
    elif isinstance(value, list):
        print_table(value, columns or (list(value[0]) if value else []))
    elif isinstance(value, dict):
        width = max((len(k) for k in value), default=0)
        for key, item in value.items():
            print(f"{key.ljust(width)}  {_cell(item)}")
    else:
        print(value)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={_cell(v)}" for k, v in value.items())
    text = str(value)
    return text.replace("\n", " ")
