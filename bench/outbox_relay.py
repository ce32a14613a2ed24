"""The outbox relay: events written to the outbox, published to the broker.

    python bench/outbox_relay.py [--events 100000]

Writes `--events` events of about 400 bytes to the outbox (one administration's), then times
`OutboxRelay.flush()` publishing all of them. Then records as many held-back reminders in
`notifications` and stages their events as a reminder run does, one outbox row naming them
(migration 0070), and times the flush that builds each event from its row and publishes it
(`notification_events_per_s`). Prints one line: both rates next to the raw limit, aiokafka's
own producer sending the first messages in batches of the relay's size and awaiting each
batch, measured in the same run; ratio = relay / raw (the payload events).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import parts, run_bench

from shared.db import connect_pool
from shared.outbox import OutboxRelay
from shared.publish import JSON_HEADERS, new_producer
from shared.topics import Topics

HEADLINE = ("relay_per_s", "aiokafka_raw_per_s", "ratio")
PAYLOAD = b'{"event": "' + b"x" * 384 + b'"}'
BATCH = 2000


async def record_held_reminders(pool: asyncpg.Pool, topic: str, count: int) -> None:
    """`count` reminders held back on a Saturday, with their events staged by id."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "with recorded as ("
            " insert into notifications (administration_id, invoice_number, customer_number,"
            " kind, level, status, reason, detail, run_date, request_id, email_message_id)"
            " select 'acme', 'F' || g, 'C' || g % 5000, 'reminder', 1, 'suppressed',"
            " 'not_working_day', 'Saturday 2026-12-05: no reminders', date '2026-12-05',"
            " gen_random_uuid(), '<creditflow.reminder.1.' || md5(g::text) || '@example.nl>'"
            " from generate_series(1, $2) g returning id)"
            " insert into outbox (topic, key, notification_ids)"
            " select $1, 'acme', array_agg(id order by id) from recorded",
            topic,
            count,
        )


async def main(args: argparse.Namespace) -> dict[str, object]:
    async with parts() as p:
        topic = Topics(p.settings.topic_prefix).notifications
        pool = await connect_pool(p.settings.require_database(), min_size=1, max_size=2)
        try:
            await pool.execute(
                "insert into outbox (topic, key, payload)"
                " select $1, 'acme', $2::bytea from generate_series(1, $3)",
                topic,
                PAYLOAD,
                args.events,
            )
            relay = OutboxRelay(pool, p.settings)
            started = time.perf_counter()
            published = await relay.flush()
            relay_s = time.perf_counter() - started
            await record_held_reminders(pool, topic, args.events)
            started = time.perf_counter()
            built = await relay.flush()
            built_s = time.perf_counter() - started
            await relay.stop()
            left = await pool.fetchval("select count(*) from outbox")
        finally:
            await pool.close()
        producer = new_producer(p.settings)
        await producer.start()
        try:
            started = time.perf_counter()
            for first in range(0, args.events, BATCH):
                size = min(BATCH, args.events - first)
                futures = [
                    await producer.send(topic, PAYLOAD, key=b"acme", headers=JSON_HEADERS)
                    for _ in range(size)
                ]
                await asyncio.gather(*futures)
            raw_s = time.perf_counter() - started
        finally:
            await producer.stop()
    return {
        "events": args.events,
        "published": published,
        "left_in_outbox": left,
        "relay_s": relay_s,
        "notification_events": built,
        "notification_events_per_s": built / built_s,
        "relay_per_s": published / relay_s,
        "aiokafka_raw_per_s": args.events / raw_s,
        "ratio": raw_s and (published / relay_s) / (args.events / raw_s),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    run_bench(main, parser.parse_args(), HEADLINE)
