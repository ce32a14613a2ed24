"""A reminder run on a working day, sending every due reminder to a real SMTP server.

    python bench/sending.py [--invoices 5000] [--customers 1000]

The open invoices are loaded by a real full import (as in import_throughput.py). The run is
requested as `creditflow remind bench --as-of 2026-12-04 --wait` requests it (a Friday, the day
after the export's `today`), and a notifier process sends every due reminder to an embedded
SMTP sink (aiosmtpd, the one `creditflow up` starts), one transaction per e-mail: sending
guard, re-select, claim, the SMTP exchange, mark sent, event (docs/notifier.md). This is the
cost bench/reminders.py leaves out: there, on a Saturday, nothing is sent.

The raw limit, measured in the same run against the same sink: aiosmtplib sending the very
messages the run sent (read back from the sink), over as many connections as the notifier's
sending lanes, each reused for all of its share.

Prints one line: the reminders sent (each Message-ID once, a check), the run's seconds
(`reminder_runs.started_at` to `finished_at`), then sent_per_s, smtp_raw_per_s and
ratio = sent_per_s / smtp_raw_per_s. No target: the figure to improve.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import mailbox
import sys
import time
from datetime import date
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path

import aiosmtplib

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Parts, customers_for, export_for, parts, run_bench, size_arguments
from import_throughput import full_import
from reminders import reminder_run

from services.notifier.delivery import SEND_LANES
from shared.embedded import SmtpSink

AS_OF = date(2026, 12, 4)  # a Friday, and no Dutch holiday
HEADLINE = ("sent_per_s", "smtp_raw_per_s", "ratio")


def sent_messages(maildir: Path) -> list[tuple[Message, bytes]]:
    """Every message the sink kept: its headers (parsed once) and its bytes."""
    parser = BytesHeaderParser()
    return [
        (parser.parsebytes(raw), raw)
        for raw in (bytes(m) for m in mailbox.Maildir(maildir, create=False))
    ]


async def smtp_raw_rate(sink: SmtpSink, messages: list[tuple[Message, bytes]]) -> float:
    """Messages per second that aiosmtplib hands to the sink over SEND_LANES connections."""

    async def lane(share: list[tuple[Message, bytes]]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port, start_tls=False)
        async with client:
            for headers, raw in share:
                await client.sendmail(headers["From"], [headers["To"]], raw)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as lanes:
        for n in range(SEND_LANES):
            lanes.create_task(lane(messages[n::SEND_LANES]))
    return len(messages) / (time.perf_counter() - started)


async def sending_run(p: Parts, maildir: Path) -> tuple[dict[str, object], float]:
    sink = SmtpSink(maildir).start()
    try:
        with_sink = Parts(dataclasses.replace(p.settings, smtp_url=sink.url), p.work)
        run = await reminder_run(with_sink, "bench", as_of=AS_OF)
        messages = sent_messages(maildir)
        raw = await smtp_raw_rate(sink, messages)
    finally:
        sink.stop()
    ids = {headers["Message-ID"] for headers, _ in messages}
    return {**run, "received": len(messages), "distinct_message_ids": len(ids)}, raw


async def main(args: argparse.Namespace) -> dict[str, object]:
    async with parts() as p:
        export = p.work / "export"
        export_for(export, open_invoices=args.invoices, customers=customers_for(args))
        imported = await full_import(p, export, validators=1)
        run, raw = await sending_run(p, p.work / "mail")
        counts: dict[str, int] = run["counts"]  # type: ignore[assignment]
        sent = counts.get("sent", 0)
        seconds: float = run["seconds"]  # type: ignore[assignment]
        return {
            "open_invoices": imported["loaded"]["invoices"],  # type: ignore[index]
            "due": counts.get("due", 0),
            "suppressed": counts.get("suppressed", 0),
            "sent": sent,
            "received": run["received"],
            "distinct_message_ids": run["distinct_message_ids"],
            "run_s": seconds,
            "sent_per_s": sent / seconds,
            "smtp_raw_per_s": raw,
            "ratio": sent / seconds / raw,
        }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size_arguments(parser, 5_000)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run_bench(main, parse(), HEADLINE)
