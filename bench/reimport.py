"""Unchanged re-import: the same export again writes no rows and is much faster.

    python bench/reimport.py [--invoices 200000] [--customers 40000]

Prints one line: the first and second import's seconds, their ratio (target: at most 1/3),
the rows the second import changed (target: 0), and the raw PostgreSQL upsert rate.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    export_for,
    figures,
    import_and_wait,
    parts,
    pg_upsert_rate,
    register,
    services,
    wait_until_serving,
    warm_up,
)

WRITES = """
select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)
from pg_stat_user_tables where relname in ('customers', 'invoices', 'payment_conditions')
"""


async def table_writes(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("select pg_stat_force_next_flush()")
        return int(await conn.fetchval(WRITES))
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> dict[str, object]:
    async with parts() as p:
        export = p.work / "export"
        export_for(export, open_invoices=args.invoices, customers=args.customers)
        raw_pg, _ = await pg_upsert_rate(p.settings, export)
        await register(p.settings, "bench", export)
        with services(p.settings, ["importer", "validator"], p.work / "logs") as started:
            await wait_until_serving(started)
            await warm_up(p.settings, p.work)
            first = await import_and_wait(p.settings, "bench")
            before = await table_writes(p.settings.database_url or "")
            second = await import_and_wait(p.settings, "bench")
            after = await table_writes(p.settings.database_url or "")
        unchanged = sum(c.get("unchanged", 0) for c in second["counts"].values())
        return {
            "first_s": first["elapsed"],
            "second_s": second["elapsed"],
            "ratio": second["elapsed"] / first["elapsed"],
            "rows_written": after - before,
            "unchanged": unchanged,
            "pg_upsert_raw_per_s": raw_pg,
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=None)
    arguments = parser.parse_args()
    arguments.customers = arguments.customers or max(1, arguments.invoices // 5)
    print(figures(**asyncio.run(main(arguments))))
