"""Scaling: the full import with 1, 2 and 4 validator instances on 8 partitions.

    python bench/scaling.py [--invoices 200000] [--customers 40000] [--instances 1,2,4]

Each count imports the same export into a fresh administration of the same database, with
that many validator processes (and one importer), and checks that each run accounted for every
outstanding record once and that the validator's tables hold the same rows each time, each
once. On a 2-core machine the gain is bounded: the point is that it works and nothing is lost
or duplicated.

Prints a table, then one line: the raw PostgreSQL upsert rate for the same rows, and ratio =
the best records_per_s / pg_upsert_raw_per_s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    customers_for,
    export_for,
    outstanding,
    parts,
    pg_upsert_rate,
    report,
    size_arguments,
)
from import_throughput import full_import

HEADLINE = ("best_records_per_s", "pg_upsert_raw_per_s", "ratio")
COLUMNS = (
    "validators",
    "seconds",
    "records_per_s",
    "records",
    "invoices",
    "customers",
    "duplicates",
    "ok",
)


async def main(args: argparse.Namespace) -> dict[str, object]:
    async with parts(partitions=8) as p:
        export = p.work / "export"
        export_for(export, open_invoices=args.invoices, customers=customers_for(args))
        raw = outstanding(export)
        raw_pg, _ = await pg_upsert_rate(p.settings, raw)
        table: list[dict[str, object]] = []
        for n in args.instances:
            result = await full_import(p, export, n, admin_id=f"bench{n}")
            loaded: dict[str, int] = result["loaded"]  # type: ignore[assignment]
            table.append(
                {
                    "validators": n,
                    "seconds": result["seconds"],
                    "records_per_s": result["records_per_s"],
                    "records": result["records"],
                    "invoices": loaded["invoices"],
                    "customers": loaded["customers"],
                    "duplicates": loaded["invoices_duplicates"] + loaded["customers_duplicates"],
                }
            )
        for row in table:
            # Every outstanding record accounted for once by the run, and the same rows
            # loaded whatever the number of validators.
            row["ok"] = (
                row["records"] == raw.record_count
                and row["duplicates"] == 0
                and (row["invoices"], row["customers"])
                == (table[0]["invoices"], table[0]["customers"])
            )
        best = max(row["records_per_s"] for row in table)  # type: ignore[type-var]
        return {
            "table": table,
            "expected_records": raw.record_count,
            "all_ok": all(row["ok"] for row in table),
            "best_records_per_s": best,
            "pg_upsert_raw_per_s": raw_pg,
            "ratio": best / raw_pg,  # type: ignore[operator]
        }


def show_table(table: list[dict[str, object]]) -> str:
    def cell(value: object) -> str:
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    lines = [" | ".join(COLUMNS)]
    lines += [" | ".join(cell(row[c]) for c in COLUMNS) for row in table]
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(parser, 200_000)
    parser.add_argument(
        "--instances",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[1, 2, 4],
        help="validator counts, comma-separated",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    result = asyncio.run(main(parse()))
    print(show_table(result["table"]))  # type: ignore[arg-type]
    print(report(result, HEADLINE), flush=True)
