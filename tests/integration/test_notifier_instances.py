"""Several notifier instances on one database: every due reminder is sent exactly once, and
the daily reminder run is requested once per administration and day."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest

from shared.db import connect_pool
from shared.settings import Settings
from shared.testing import TopicReader
from tests.integration.notifier_support import (
    AMSTERDAM,
    Clock,
    add_admin,
    add_customers,
    add_invoices,
    mail_catcher,
    reminder_request,
    running_notifier,
)

pytestmark = pytest.mark.integration

INVOICES = 40


async def test_two_notifiers_running_the_same_reminder_run_send_each_reminder_once(
    settings: Settings,
) -> None:
    as_of = date(2027, 3, 3)
    clock = Clock(datetime.combine(as_of, time(10), tzinfo=AMSTERDAM))
    async with mail_catcher() as smtp:
        configured = replace(settings, smtp_url=smtp.url)
        async with (
            running_notifier(configured, clock) as first,
            running_notifier(configured, clock) as second,
        ):
            pool = first.runtime.pool
            await add_admin(pool)
            await add_customers(pool, "acme", ["C1"])
            due = as_of - timedelta(days=30)
            await add_invoices(
                pool, "acme", [(f"F{n:03}", "C1", due, due, "100") for n in range(INVOICES)]
            )
            request = reminder_request("acme", as_of)  # one request, delivered to both
            counts = await asyncio.gather(
                first.run_reminders(request), second.run_reminders(request)
            )
            sent = await pool.fetchval("select count(*) from notifications where status = 'sent'")

    ids = Counter(str(m["Message-ID"]).strip() for m in smtp.messages)
    assert len(smtp.messages) == INVOICES
    assert len(ids) == INVOICES and max(ids.values()) == 1
    assert sent == INVOICES
    assert counts[0]["sent"] + counts[1]["sent"] == INVOICES
    assert counts[0]["sent"] > 0 and counts[1].get("skipped", 0) > 0  # they did run together


async def test_the_daily_reminder_run_is_requested_once_whatever_the_number_of_notifiers(
    settings: Settings,
) -> None:
    pool = await connect_pool(settings.require_database(), max_size=2)
    tomorrow = datetime.now(AMSTERDAM).date() + timedelta(days=1)
    before = Clock(datetime.combine(tomorrow, time(8, 59), tzinfo=AMSTERDAM))
    after = Clock(datetime.combine(tomorrow, time(9, 1), tzinfo=AMSTERDAM))
    topic = f"{settings.topic_prefix}reminder-requests"
    async with TopicReader(settings.require_kafka(), topic) as requests:
        async with running_notifier(settings, after) as first:
            await add_admin(pool)
            async with running_notifier(settings, after) as second:
                early = first.__class__(first.runtime, clock=before)
                await early.tick()  # 08:59: only yesterday's moment, before the admin existed
                await asyncio.gather(first.tick(), second.tick(), first.tick())
                seen = await requests.wait_for(lambda ms: len(ms) >= 1, what="the daily run")
                await second.tick()
                await requests.poll()
    claims = await pool.fetch("select moment from reminder_schedule_claims")
    await pool.close()

    assert len(seen) == 1
    assert seen[0]["administration_id"] == "acme"
    assert seen[0]["as_of"] == tomorrow.isoformat()
    assert seen[0]["requested_by"] == "schedule"
    assert [c["moment"].astimezone(AMSTERDAM).time() for c in claims] == [time(9, 0)]
