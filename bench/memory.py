"""Memory: import a large export and report every process's peak RSS (target: < 300 MB).

    python bench/memory.py [--invoices 1000000] [--customers 100000]

`--invoices` counts every invoice in the export, paid ones included (about 30% are paid).
Prints one line: peak RSS of the importer and the validator next to the limit, with the run's
throughput and the raw PostgreSQL upsert rate for context.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PAID_RATIO,
    export_for,
    figures,
    import_and_wait,
    parts,
    register,
    services,
    wait_until_serving,
    warm_up,
)

LIMIT_MB = 300


class PeakRss(threading.Thread):
    """Samples a process tree's resident memory every 50 ms, keeping the peak per process."""

    def __init__(self, processes: dict[str, psutil.Process]) -> None:
        super().__init__(daemon=True)
        self.processes = processes
        self.peaks = dict.fromkeys(processes, 0)
        self.running = True

    def run(self) -> None:
        while self.running:
            for name, process in self.processes.items():
                try:
                    self.peaks[name] = max(self.peaks[name], process.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(0.05)


async def main(args: argparse.Namespace) -> dict[str, object]:
    async with parts() as p:
        export = p.work / "export"
        export_for(
            export, open_invoices=round(args.invoices * (1 - PAID_RATIO)), customers=args.customers
        )
        await register(p.settings, "bench", export)
        with services(p.settings, ["importer", "validator"], p.work / "logs") as started:
            await wait_until_serving(started)
            await warm_up(p.settings, p.work)
            sampler = PeakRss({s.name: s.process for s in started})
            sampler.start()
            run = await import_and_wait(p.settings, "bench", timeout=3600)
            sampler.running = False
            sampler.join()
        if run["status"] != "completed":
            raise SystemExit(f"run ended {run['status']}: {run['reason']}")
        loaded = sum(sum(c.values()) for c in run["counts"].values())
        peaks = {f"{name}_peak_rss_mb": rss / 2**20 for name, rss in sampler.peaks.items()}
        return {
            "export_invoices": args.invoices,
            "records": loaded,
            "seconds": run["elapsed"],
            **peaks,
            "limit_mb": LIMIT_MB,
            "within_limit": all(v < LIMIT_MB for v in peaks.values()),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    print(figures(**asyncio.run(main(parser.parse_args()))))
