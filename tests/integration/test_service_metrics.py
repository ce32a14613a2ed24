"""`GET /metrics` of the worker services: their state read from PostgreSQL at scrape time, the
messages their handlers received (FastStream's Prometheus middleware) and their consumer lag;
and `/asyncapi` beside it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import uuid4

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.importer.app import build_app as build_importer
from shared.db import apply_migrations, connect_pool
from shared.metrics import consumer_lag, read_state
from shared.settings import Settings
from shared.testing import eventually, publish_json, running

pytestmark = pytest.mark.integration


def _value(text: str, metric: str) -> float | None:
    match = re.search(rf"^{re.escape(metric)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


async def test_a_worker_serves_its_runs_its_handled_messages_and_its_consumer_lag(
    settings: Settings,
) -> None:
    app = build_importer(settings, tick_seconds=3600)
    prefix = settings.topic_prefix
    assert settings.kafka_bootstrap
    async with (
        running(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://w") as client,
    ):
        # A request for an administration that does not exist: the run is logged as failed.
        await publish_json(
            settings.kafka_bootstrap,
            f"{prefix}import-requests",
            "ghost",
            {
                "message_id": str(uuid4()),
                "request_id": str(uuid4()),
                "administration_id": "ghost",
                "trigger": "manual",
                "requested_by": "test",
                "requested_at": "2026-12-03T09:00:00Z",
            },
        )

        async def scraped() -> str | None:
            text = (await client.get("/metrics")).text
            failed = _value(text, 'creditflow_import_runs{status="failed"}')
            lag = _value(
                text,
                f'creditflow_consumer_lag{{group="{prefix}importer",topic="{prefix}import-requests"}}',
            )
            return text if failed == 1 and lag == 0 else None

        text = await eventually(scraped, timeout=30, what="the failed run and no lag")
        assert "faststream_received_messages_total{" in text
        assert re.search(
            r'faststream_received_messages_total\{app_name="importer"[^}]*\} [1-9]', text
        )
        assert "creditflow_metrics_scrape_ok 1.0" in text
        assert "creditflow_validation_errors" not in text  # the validator's, not counted twice

        document = (await client.get("/asyncapi.json")).json()
        assert f"{prefix}import-requests" in {c["address"] for c in document["channels"].values()}
        assert (await client.get("/asyncapi")).status_code == 200
        assert (await client.get("/asyncapi/try")).status_code == 404  # never publish from docs


@dataclass
class _Subscriber:
    consumer: AIOKafkaConsumer
    group_id: str


async def test_consumer_lag_counts_what_the_group_has_not_committed(settings: Settings) -> None:
    assert settings.kafka_bootstrap
    topic = f"{settings.topic_prefix}raw-records"
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for _ in range(5):
            await producer.send_and_wait(topic, b"x", key=b"k", partition=0)
    finally:
        await producer.stop()
    group = f"{settings.topic_prefix}lag-test"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        consumer.assign(partitions)
        assert [lag.lag for lag in await consumer_lag([_Subscriber(consumer, group)])] == [5]
        await consumer.commit({TopicPartition(topic, 0): 2})
        (lag,) = await consumer_lag([_Subscriber(consumer, group)])
        assert (lag.group, lag.topic, lag.lag) == (group, topic, 3)
    finally:
        await consumer.stop()


async def test_counts_of_a_missing_table_are_empty_not_an_error(
    database_url: str,
) -> None:
    pool: asyncpg.Pool = await connect_pool(database_url, max_size=2)
    try:
        await apply_migrations(pool)
        await pool.execute("alter table notifications rename to notifications_later")
        assert await read_state(pool, ["notifications"]) == {"notifications": []}
        await pool.execute("create table notifications (kind text, status text)")
        await pool.execute(
            "insert into notifications values ('reminder', 'sent'), ('reminder', 'sent'),"
            " ('invoice', 'suppressed'), ('reminder', 'claimed')"
        )
        counts = await read_state(pool, ["notifications", "import_runs"])
        assert sorted(counts["notifications"]) == [
            (("invoice", "suppressed"), 1),
            (("reminder", "sent"), 2),
        ]
        assert counts["import_runs"] == []
    finally:
        await pool.close()
