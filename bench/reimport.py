"""Unchanged re-import: the same export again writes no rows and is much faster.

    python bench/reimport.py [--invoices 200000] [--customers 40000]

Prints one line: the first and second import's seconds, the rows the second import wrote
(target: 0), the records it counted unchanged, the raw PostgreSQL upsert rate for the same
rows, and ratio = second_s / first_s (target: at most 1/3).

A row written by the second import is a row version younger than the first import: an
insert or an update gives the row a new `xmin` (the import never deletes; closing is an
update). Unlike pg_stat counters, which backends report up to seconds later, this is exact
the moment the run has committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    customers_for,
    export_for,
    import_and_wait,
    outstanding,
    parts,
    pg_upsert_rate,
    register,
    run_bench,
    running,
    size_arguments,
)

HEADLINE = ("rows_written", "unchanged", "pg_upsert_raw_per_s", "ratio")
LOADED_TABLES = ("customers", "invoices", "payment_conditions")


async def current_xid(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        # xmin holds the 32-bit part of a transaction id.
        return int(await conn.fetchval("select txid_current() % 4294967296"))
    finally:
        await conn.close()


async def rows_written_since(url: str, xid: int) -> int:
    counts = " + ".join(
        f"(select count(*) from {table} where xmin::text::bigint > $1)" for table in LOADED_TABLES
    )
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"select {counts}", xid))
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> dict[str, object]:
    async with parts() as p:
        url = p.settings.require_database()
        export = p.work / "export"
        export_for(export, open_invoices=args.invoices, customers=customers_for(args))
        raw_pg, _ = await pg_upsert_rate(p.settings, outstanding(export))
        await register(p.settings, "bench", export)
        async with running(p, ["importer", "validator"]):
            first = await import_and_wait(p.settings, "bench")
            after_first = await current_xid(url)
            second = await import_and_wait(p.settings, "bench")
        return {
            "first_s": first["elapsed"],
            "second_s": second["elapsed"],
            "rows_written": await rows_written_since(url, after_first),
            "unchanged": sum(c.get("unchanged", 0) for c in second["counts"].values()),
            "pg_upsert_raw_per_s": raw_pg,
            "ratio": second["elapsed"] / first["elapsed"],
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(parser, 200_000)
    run_bench(main, parser.parse_args(), HEADLINE)
