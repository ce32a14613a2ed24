"""The notifications list (GET …/notifications, polled by the dashboard) on a large table.

    python bench/notifications_list.py [--notifications 400000]

Fills `notifications` with the given number of rows, half of them one administration's (a
reminder run over 200,000 open invoices records about 160,000), then asks for its newest page
of 200 and for one invoice's notifications, as the HTTP API does (`list_notifications`). Prints
one line: the best of five of each, in milliseconds, next to the raw limit: a plain read of the
administration's 200 newest rows by primary key; ratio = newest page / raw read.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import parts, run_bench

from services.control.admins import NewAdministration, add_administration
from services.control.notifications import list_notifications
from shared.db import connect_pool

HEADLINE = ("newest_page_ms", "raw_page_ms", "ratio")


async def best_ms(work: Callable[[], Awaitable[Any]], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        best = min(best, time.perf_counter() - started)
    return best * 1000


async def main(args: argparse.Namespace) -> dict[str, object]:
    async with parts() as p:
        pool = await connect_pool(p.settings.require_database(), min_size=1, max_size=2)
        try:
            for admin in ("acme", "other"):
                await add_administration(
                    pool,
                    NewAdministration.parse(
                        {"id": admin, "name": admin, "source": "demo:1", "import_mode": "manual"}
                    ),
                )
            await pool.execute(
                "insert into notifications (administration_id, invoice_number, customer_number,"
                " kind, level, status, reason, run_date, email_message_id, created_at)"
                " select case when g % 2 = 0 then 'acme' else 'other' end, 'F' || g, 'C1',"
                " 'reminder', 1, 'suppressed', 'not_working_day', date '2026-12-05', 'm' || g,"
                " now() - make_interval(secs => g) from generate_series(1, $1) g",
                args.notifications,
            )
            await pool.execute("analyze notifications")
            page = await list_notifications(pool, "acme", limit=200)
            one = await list_notifications(pool, "acme", invoice="F1000")
            newest = await best_ms(lambda: list_notifications(pool, "acme", limit=200))
            invoice = await best_ms(lambda: list_notifications(pool, "acme", invoice="F1000"))
            raw = await best_ms(
                lambda: pool.fetch(
                    "select * from notifications where id > $1 - 400 order by id desc limit 200",
                    args.notifications,
                )
            )
        finally:
            await pool.close()
    return {
        "notifications": args.notifications,
        "listed": len(page),
        "invoice_listed": len(one),
        "invoice_ms": invoice,
        "newest_page_ms": newest,
        "raw_page_ms": raw,
        "ratio": newest / raw,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=400_000)
    run_bench(main, parser.parse_args(), HEADLINE)
