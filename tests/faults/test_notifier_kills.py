"""kill -9 a notifier during a reminder run, again and again, restarting it each time: every
due reminder reaches the SMTP server, each (invoice, level) under one Message-ID only, and
each is recorded as sent once.

A notifier claims, sends and records each e-mail in one transaction, and commits the run's
request only after the run: killed, it gets the request again and sends what is left. An
e-mail the server accepted just before the kill may arrive twice, under the same Message-ID.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from services.control.admins import NewAdministration, add_administration
from services.notifier.logic import email_message_id
from shared.messages import ReminderRunRequested
from shared.publish import Publisher
from shared.settings import Settings
from shared.topics import Topics
from tests.faults.harness import ServiceProcess, processes
from tests.integration.notifier_support import (
    add_customers,
    add_invoices,
    local_today,
    mail_catcher,
    next_working_day,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

INVOICES = 400
KILLS = 6
ADMIN = "acme"


def quiet_time_zone() -> str:
    """A zone where it is early afternoon now: the notifier's own daily run (09:00 local)
    is neither due nor missed during the test, so only the requested run sends."""
    offset = 14 - datetime.now(UTC).hour  # local hour 14
    offset = (offset + 12) % 24 - 12  # -12..11
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


async def test_a_notifier_killed_during_a_reminder_run_sends_every_reminder_once(
    settings: Settings, tmp_path: Path
) -> None:
    seed = int(os.environ.get("FAULT_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    as_of = next_working_day(local_today())
    due = as_of - timedelta(days=30)
    invoices = [f"F{n:04}" for n in range(INVOICES)]
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    async with mail_catcher() as smtp:
        configured = replace(settings, smtp_url=smtp.url)
        logs = tmp_path / "logs"
        notifier = ServiceProcess("notifier", configured, logs)
        try:
            with processes(notifier):
                await notifier.wait_until_serving()  # its migrations are in place
                await add_administration(
                    pool,
                    NewAdministration.parse(
                        {
                            "id": ADMIN,
                            "name": "Acme Trading B.V.",
                            "source": "demo:1",
                            "import_mode": "manual",
                            "timezone": quiet_time_zone(),
                            "send_invoices_from": "2020-01-01",
                        }
                    ),
                )
                customers = [f"C{n:03}" for n in range(INVOICES // 4)]
                await add_customers(pool, ADMIN, customers)
                await add_invoices(
                    pool,
                    ADMIN,
                    [
                        (i, customers[n % len(customers)], due, due, "100")
                        for n, i in enumerate(invoices)
                    ],
                )
                request = ReminderRunRequested(
                    administration_id=ADMIN, as_of=as_of, requested_by="fault-test"
                )
                async with Publisher(configured) as publisher:
                    await publisher.send(
                        Topics(settings.topic_prefix).reminder_requests, ADMIN, request
                    )

                # Kill points: random numbers of e-mails received, spread over the run.
                targets = sorted(rng.sample(range(1, INVOICES - 20), KILLS))
                received_at_kill = []
                for target in targets:
                    deadline = time.monotonic() + 30
                    while len(smtp.messages) < target:
                        assert time.monotonic() < deadline, f"stuck at {len(smtp.messages)} e-mails"
                        assert notifier.alive, notifier.output()[-3000:]
                        await asyncio.sleep(0.005)
                    notifier.kill()
                    received_at_kill.append(len(smtp.messages))
                    notifier = ServiceProcess("notifier", configured, logs).start()

                deadline = time.monotonic() + 90
                while (
                    await pool.fetchval(
                        "select status from reminder_runs where request_id = $1", request.request_id
                    )
                    != "completed"
                ):
                    assert time.monotonic() < deadline, "the reminder run did not complete"
                    assert notifier.alive, notifier.output()[-3000:]
                    await asyncio.sleep(0.05)
                notifier.stop()
            sent = await pool.fetch(
                "select invoice_number, kind, level, email_message_id from notifications"
                " where administration_id = $1 and status = 'sent'",
                ADMIN,
            )
        finally:
            await pool.close()

    report = f"seed {seed}; e-mails received at each kill: {received_at_kill}"
    domain = str(smtp.messages[0]["Message-ID"]).strip().rstrip(">").rsplit("@", 1)[1]
    expected = {i: email_message_id(ADMIN, i, "reminder", 1, domain) for i in invoices}
    by_invoice: dict[str, set[str]] = defaultdict(set)
    for message in smtp.messages:
        subject = str(message["Subject"])
        [invoice] = [i for i in invoices if f" {i}" in subject] or [subject]
        by_invoice[invoice].add(str(message["Message-ID"]).strip())
    assert set(by_invoice) == set(invoices), report  # every due reminder arrived
    assert all(ids == {expected[i]} for i, ids in by_invoice.items()), report  # one Message-ID
    assert sorted(r["invoice_number"] for r in sent) == invoices, report  # recorded once each
    assert {(r["kind"], r["level"]) for r in sent} == {("reminder", 1)}
    resent = len(smtp.messages) - INVOICES
    print(f"{report}; {resent} e-mails arrived twice (same Message-ID)")
    assert resent <= KILLS * 4, report  # at most one per SMTP connection cut by a kill
