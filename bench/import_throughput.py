"""Full import: from import request to the run's completed event, everything committed.

    python bench/import_throughput.py --invoices 200000 [--customers 40000] [--validators 1]

Prints one line: records_per_s (outstanding records loaded per second, end to end) next to
pg_upsert_raw_per_s (COPY into staging + one upsert of the same rows) and the broker's own
produce/consume rates for the same messages, all measured in this run on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    broker_rates,
    export_for,
    figures,
    import_and_wait,
    outstanding_chunks,
    parts,
    pg_upsert_rate,
    register,
    services,
    wait_until_serving,
    warm_up,
)


async def main(args: argparse.Namespace) -> dict[str, object]:
    async with parts() as p:
        export = p.work / "export"
        export_for(export, open_invoices=args.invoices, customers=args.customers)
        raw_pg, rows = await pg_upsert_rate(p.settings, export)
        chunks = outstanding_chunks(export)
        produce, consume = await broker_rates(p.settings, chunks, rows)
        await register(p.settings, "bench", export)
        with services(
            p.settings, ["importer"] + ["validator"] * args.validators, p.work / "logs"
        ) as started:
            await wait_until_serving(started)
            await warm_up(p.settings, p.work)
            run = await import_and_wait(p.settings, "bench")
        if run["status"] != "completed":
            raise SystemExit(f"run ended {run['status']}: {run['reason']}")
        loaded = sum(sum(c.values()) for c in run["counts"].values())
        per_s = loaded / run["elapsed"]
        return {
            "records": loaded,
            "seconds": run["elapsed"],
            "records_per_s": per_s,
            "pg_upsert_raw_per_s": raw_pg,
            "ratio": per_s / raw_pg,
            "broker_produce_raw_per_s": produce,
            "broker_consume_raw_per_s": consume,
            "validators": args.validators,
            "counts": run["counts"],
        }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=200_000, help="open invoices")
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--validators", type=int, default=1)
    args = parser.parse_args(argv)
    args.customers = args.customers or max(1, args.invoices // 5)
    return args


if __name__ == "__main__":
    result = asyncio.run(main(parse()))
    result.pop("counts")
    print(figures(**result))
