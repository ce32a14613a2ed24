"""Unchanged re-import: the same export again writes no rows and is much faster.

    python bench/reimport.py [--invoices 200000] [--customers 40000]

Imports the export, imports it again unchanged (written anew: new file times, the same
content), then once more with one loaded invoice's description changed. Prints one line: the
three imports' seconds, the rows the second import wrote (target: 0) and the third (1), the
records the second counted unchanged, the raw PostgreSQL upsert rate for the same rows, and
ratio = second_s / first_s (target: at most 1/3).

The second import finds the export's content hash equal to that of the last completed run,
with the same code, ignore list and dunning plans (docs/import-and-validation.md §4), and
completes at once. The third cannot: it shows the cost of a re-import in which nearly
everything is unchanged, which goes record by record (each record's source hash, migration
0040).

A row written by an import is a row version younger than the import before it: an insert or
an update gives the row a new `xmin` (the import never deletes; closing is an update). Unlike
pg_stat counters, which backends report up to seconds later, this is exact the moment the
run has committed.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    CpuSeconds,
    completed,
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
from import_throughput import run_phases

from services.importer.sources import FILE_NAMES

HEADLINE = ("second_s", "rows_written", "unchanged", "pg_upsert_raw_per_s", "ratio")
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
        async with running(p, ["importer", "validator"]) as started:
            first = await import_and_wait(p.settings, "bench")
            after_first = await current_xid(url)
            rewrite(export / FILE_NAMES["invoice"])  # the same content, written anew
            second = await import_and_wait(p.settings, "bench")
            second_rows = await rows_written_since(url, after_first)
            after_second = await current_xid(url)
            await change_one_invoice(url, export / FILE_NAMES["invoice"])
            with CpuSeconds(started) as cpu:
                third = await import_and_wait(p.settings, "bench")
            third_rows = await rows_written_since(url, after_second)
            phases = await run_phases(p, third["run_id"])
        for run in (first, second, third):
            completed(run)
        return {
            "first_s": first["elapsed"],
            "one_changed_s": third["elapsed"],
            "one_changed_rows_written": third_rows,
            **{f"one_changed_{name}": value for name, value in phases.items()},
            **{f"one_changed_{name}": value for name, value in cpu.seconds.items()},
            "second_s": second["elapsed"],
            "rows_written": second_rows,
            "unchanged": sum(c.get("unchanged", 0) for c in second["counts"].values()),
            "pg_upsert_raw_per_s": raw_pg,
            "ratio": second["elapsed"] / first["elapsed"],
        }


def rewrite(path: Path) -> None:
    content = path.read_bytes()
    path.unlink()
    path.write_bytes(content)


async def change_one_invoice(url: str, path: Path) -> None:
    """Give one loaded (open) invoice of the export another description."""
    conn = await asyncpg.connect(url)
    try:
        number = await conn.fetchval(
            "select invoice_number from invoices where administration_id = 'bench'"
            " and status = 'open' order by invoice_number limit 1"
        )
    finally:
        await conn.close()
    describe_anew(path, number)


def describe_anew(path: Path, invoice_number: str) -> None:
    with open(path, encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    key, description = rows[0].index("invoice_number"), rows[0].index("description")
    for row in rows[1:]:
        if row[key] == invoice_number:
            row[description] = f"{row[description]} (changed)"
    with open(path, "w", encoding="utf-8", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(parser, 200_000)
    run_bench(main, parser.parse_args(), HEADLINE)
