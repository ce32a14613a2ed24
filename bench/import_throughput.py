"""Full import: from import request to the run's completed event, everything committed.

    python bench/import_throughput.py --invoices 200000 [--customers 40000] [--validators 1]

Prints one line: records_per_s (outstanding records loaded per second, end to end) next to
pg_upsert_raw_per_s (COPY into staging + one upsert of the same rows) and the broker's own
produce/consume rates for the same messages, all measured in this run on this machine; ratio
is records_per_s / pg_upsert_raw_per_s (target: >= 0.5).

It also prints the CPU seconds the run cost (cpu_s: the services' and PostgreSQL's, the
broker's left out) and the ratio the run would reach if that work kept every core of this
machine busy from start to end (ratio_at_full_cores = records / (cpu_s / cores) / the raw
rate): no scheduling, overlap or number of instances can do better without less work.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    CpuSeconds,
    Parts,
    broker_rates,
    completed,
    customers_for,
    export_for,
    import_and_wait,
    loaded_rows,
    outstanding,
    parts,
    pg_upsert_rate,
    register,
    run_bench,
    running,
    size_arguments,
)

HEADLINE = ("records_per_s", "pg_upsert_raw_per_s", "ratio")


async def raw_limits(p: Parts, export: Path) -> dict[str, float]:
    """The raw limits for the export's outstanding records, and how many there are."""
    raw = outstanding(export)
    pg, _ = await pg_upsert_rate(p.settings, raw)
    produce, consume = await broker_rates(p.settings, raw)
    return {
        "expected_records": raw.record_count,
        "pg_upsert_raw_per_s": pg,
        "broker_produce_raw_per_s": produce,
        "broker_consume_raw_per_s": consume,
    }


async def full_import(
    p: Parts, export: Path, validators: int, admin_id: str = "bench"
) -> dict[str, object]:
    """One full import of `export` with `validators` validator processes: its figures and
    the rows it left in the validator's tables."""
    await register(p.settings, admin_id, export)
    async with running(p, ["importer"] + ["validator"] * validators) as started:
        with CpuSeconds(started) as cpu:
            run = await import_and_wait(p.settings, admin_id)
        phases = await run_phases(p, run["run_id"])
    records = completed(run)
    return {
        "records": records,
        **phases,
        **cpu.seconds,
        "seconds": run["elapsed"],
        "records_per_s": records / run["elapsed"],
        "counts": run["counts"],
        "loaded": await loaded_rows(p.settings, admin_id),
    }


async def run_phases(p: Parts, run_id: str) -> dict[str, float]:
    """Where the run's time went, by the database's clock, taken right after it completed:
    `read_s` until the importer had published every chunk, `load_start_s` until the last
    chunk was staged and the load began, `load_s` the load (its transaction)."""
    conn = await asyncpg.connect(p.settings.database_url)
    try:
        row = await conn.fetchrow(
            "select extract(epoch from read_at - started_at) as read_s,"
            " extract(epoch from finished_at - started_at) as load_start_s,"
            " extract(epoch from clock_timestamp() - finished_at) as load_s"
            " from import_runs where run_id = $1::uuid",
            run_id,
        )
    finally:
        await conn.close()
    return {name: float(row[name]) for name in ("read_s", "load_start_s", "load_s")}


async def main(args: argparse.Namespace) -> dict[str, object]:
    async with parts() as p:
        export = p.work / "export"
        export_for(export, open_invoices=args.invoices, customers=customers_for(args))
        limits = await raw_limits(p, export)
        result = await full_import(p, export, args.validators)
        records = result.pop("records")
        cpu_s = sum(v for k, v in result.items() if k.endswith("_cpu_s"))  # type: ignore[misc]
        cores = os.cpu_count() or 1
        return {
            "records": records,
            **limits,
            **result,
            "cpu_s": cpu_s,
            "cores": cores,
            "ratio_at_full_cores": records  # type: ignore[operator]
            / (cpu_s / cores)
            / limits["pg_upsert_raw_per_s"],
            "validators": args.validators,
            "ratio": result["records_per_s"] / limits["pg_upsert_raw_per_s"],  # type: ignore[operator]
        }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(parser, 200_000)
    parser.add_argument("--validators", type=int, default=1)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_bench(main, parse(), HEADLINE)
