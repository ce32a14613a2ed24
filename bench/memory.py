"""Memory: import a large export and report every process's peak RSS (target: < 300 MB).

    python bench/memory.py [--invoices 1000000] [--customers 100000]

`--invoices` counts every invoice in the export, paid ones included (about 30% are paid).
RSS is sampled every 50 ms with psutil: the importer's and the validator's during the import,
the bench driver's (this process: generating the export, the raw limit, waiting for the run)
from start to end. Prints one line: the run's throughput and the raw PostgreSQL upsert rate
for the same rows, then the peaks next to the limit; ratio is the highest peak / the limit
(target: < 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PAID_RATIO,
    PeakRss,
    completed,
    export_for,
    import_and_wait,
    loaded_rows,
    outstanding,
    parts,
    pg_upsert_rate,
    register,
    run_bench,
    running,
)

LIMIT_MB = 300
HEADLINE = (
    "importer_peak_rss_mb",
    "validator_peak_rss_mb",
    "driver_peak_rss_mb",
    "limit_mb",
    "ratio",
)


async def main(args: argparse.Namespace) -> dict[str, object]:
    with PeakRss({"driver": psutil.Process()}) as driver:
        async with parts() as p:
            export = p.work / "export"
            export_for(
                export,
                open_invoices=round(args.invoices * (1 - PAID_RATIO)),
                customers=args.customers,
            )
            raw = outstanding(export)
            raw_pg, _ = await pg_upsert_rate(p.settings, raw)
            await register(p.settings, "bench", export)
            async with running(p, ["importer", "validator"]) as started:
                with PeakRss({s.name: s.process for s in started}) as services:
                    run = await import_and_wait(p.settings, "bench", timeout=3600)
            records = completed(run)
            loaded = await loaded_rows(p.settings, "bench")
    peaks = {
        f"{name}_peak_rss_mb": mb
        for name, mb in {**services.peaks_mb(), **driver.peaks_mb()}.items()
    }
    return {
        "export_invoices": args.invoices,
        "records": records,
        "expected_records": raw.record_count,
        "invoices_loaded": loaded["invoices"],
        "seconds": run["elapsed"],
        "records_per_s": records / run["elapsed"],
        "pg_upsert_raw_per_s": raw_pg,
        **peaks,
        "limit_mb": LIMIT_MB,
        "ratio": max(peaks.values()) / LIMIT_MB,
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000, help="all invoices, paid too")
    parser.add_argument("--customers", type=int, default=100_000)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_bench(main, parse(), HEADLINE)
