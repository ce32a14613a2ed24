"""Reminder run over every open invoice of a full import, without SMTP.

    python bench/reminders.py [--invoices 200000] [--customers 40000]

The open invoices are loaded by a real full import (importer and validator processes), timed
as in import_throughput.py: that is the figure the run is compared with. A dunning plan for
the `30D` condition (+14 days, every 7 days, 2 reminders, final notice) sits beside the
administration's default plan (+7, every 7, 2, final notice), so most overdue invoices are due.

The run is requested the way `creditflow remind ID --as-of DATE --wait` requests it (it is that
command), on the reminder-requests topic, from a notifier process; its time is the run's own,
from `reminder_runs.started_at` to `finished_at`. It runs as of a Saturday: every due reminder
is selected, decided and recorded (`not_working_day`, set-based, each with its event through
the outbox) and none is handed to an SMTP server. An e-mail that is sent costs its own
transaction on top of that (docs/notifier.md: a pause is in force the moment it returns), and
its SMTP exchange; that is not what this measures.

Prints one line: the due reminders recorded, the seconds from the run's start until the outbox
relay had published every event of it (events_published_s, polled every 0.2 s), the selection
alone (one statement, timed again after the run, rows built as the run builds them), the due
count by the rule written out in Python (expected_due, a check), then the run's seconds, the
due reminders it selected, the import's seconds for the same data, and
ratio = reminder_run_s / import_s (target: < 0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    Parts,
    Service,
    customers_for,
    export_for,
    parts,
    run_bench,
    running,
    service_env,
    size_arguments,
)
from import_throughput import full_import

from services.notifier.logic import Plan, next_reminder
from services.notifier.store import NotifierStore
from shared.topics import Topics

AS_OF = date(2026, 12, 5)  # a Saturday, two days after the export's `today`
HEADLINE = ("reminder_run_s", "selected", "import_s", "ratio")
_LAG = re.compile(r'^creditflow_consumer_lag\{[^}]*topic="([^"]+)"[^}]*\} (\S+)$', re.M)


def cli(p: Parts, *args: str) -> str:
    """Run `creditflow ARGS` against the bench's parts; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "creditflow", *args],
        cwd=ROOT,
        env=service_env(p.settings, 0),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise SystemExit(f"creditflow {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


async def caught_up(service: Service, topic: str, timeout: float = 600.0) -> None:
    """Wait until the service has consumed everything on `topic` (the import's accepted
    updates, which a notifier started after the import reads first)."""
    url = f"http://127.0.0.1:{service.port}/metrics"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
        lags = [float(v) for t, v in _LAG.findall(text.decode()) if t == topic]
        if lags and sum(lags) == 0:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{service.name} still behind on {topic}")


async def selection(p: Parts, admin_id: str) -> tuple[float, int]:
    """The due selection alone, as the run makes it: seconds and rows."""
    pool = await asyncpg.create_pool(p.settings.database_url, min_size=1, max_size=1)
    try:
        store = NotifierStore(pool, Topics(p.settings.topic_prefix))
        started = time.perf_counter()
        due = await store.due_reminders(admin_id, as_of=AS_OF, now=datetime.now(UTC))
        return time.perf_counter() - started, len(due)
    finally:
        await pool.close()


async def expected_due(p: Parts, admin_id: str) -> int:
    """The due reminders by the rule written out (logic.next_reminder), counted in Python over
    the open invoices: what the run's one statement must select."""
    conn = await asyncpg.connect(p.settings.database_url)
    try:
        plans = {
            row["condition_code"]: Plan(
                row["first_after_days"],
                row["interval_days"],
                row["reminder_count"],
                row["final_notice"],
            )
            for row in await conn.fetch(
                "select * from dunning_plans where administration_id = $1", admin_id
            )
        }
        invoices = await conn.fetch(
            "select payment_condition, due_date from invoices where administration_id = $1"
            " and status in ('open', 'blocked') and amount_open > 0",
            admin_id,
        )
    finally:
        await conn.close()
    return sum(
        next_reminder(
            plans.get(i["payment_condition"], plans["default"]),
            i["due_date"],
            sent_level=0,
            last_sent_on=None,
            as_of=AS_OF,
        )
        is not None
        for i in invoices
    )


async def reminder_run(p: Parts, admin_id: str, as_of: date = AS_OF) -> dict[str, Any]:
    async with running(p, ["notifier"], warm=False) as (notifier,):
        await caught_up(notifier, f"{p.settings.topic_prefix}accepted-updates")
        answer = json.loads(
            cli(p, "remind", admin_id, "--as-of", as_of.isoformat(), "--wait", "--json")
        )
        conn = await asyncpg.connect(p.settings.database_url)
        try:
            # The run's events leave through the outbox after it; wait until they all left.
            while True:
                if not await conn.fetchval("select count(*) from outbox"):
                    break
                await asyncio.sleep(0.2)
            row = await conn.fetchrow(
                "select status, reason, counts, extract(epoch from finished_at - started_at) as s,"
                " extract(epoch from clock_timestamp() - started_at) as published_s,"
                " (select count(*) from notifications where administration_id = $2) as recorded"
                " from reminder_runs where request_id = $1",
                answer["request_id"],
                admin_id,
            )
        finally:
            await conn.close()
    if row["status"] != "completed":
        raise SystemExit(f"reminder run ended {row['status']}: {row['reason']}")
    counts = json.loads(row["counts"]) if isinstance(row["counts"], str) else row["counts"]
    return {
        "seconds": float(row["s"]),
        "published_s": float(row["published_s"]),
        "counts": counts,
        "recorded": row["recorded"],
    }


async def main(args: argparse.Namespace) -> dict[str, object]:
    async with parts() as p:
        export = p.work / "export"
        export_for(export, open_invoices=args.invoices, customers=customers_for(args))
        imported = await full_import(p, export, validators=1)
        cli(p, "plan", "set", "bench", "30D", "--first", "14", "--interval", "7", "--count", "2")
        expected = await expected_due(p, "bench")
        run = await reminder_run(p, "bench")
        select_s, selected_again = await selection(p, "bench")
        return {
            "open_invoices": imported["loaded"]["invoices"],  # type: ignore[index]
            "recorded": run["recorded"],
            "suppressed": run["counts"].get("suppressed", 0),
            "sent": run["counts"].get("sent", 0),
            "events_published_s": run["published_s"],
            "select_s": select_s,
            "selected_again": selected_again,
            "expected_due": expected,
            "reminder_run_s": run["seconds"],
            "selected": run["counts"].get("due", 0),
            "import_s": imported["seconds"],
            "ratio": run["seconds"] / imported["seconds"],  # type: ignore[operator]
        }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(parser, 200_000)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_bench(main, parse(), HEADLINE)
