"""At-least-once delivery, exactly-once effects: raw-record chunks delivered twice, before and
after their run was loaded, change nothing: the same rows, the same open errors, the same
counts, no second `raised`."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.control.admins import NewAdministration, add_administration
from services.importer.store import ImportStore
from services.validator.app import build_app as build_validator
from shared.messages import ImportRequested, RawRecord, RecordsRead, encode
from shared.settings import Settings
from shared.testing import eventually, publish_json, running
from shared.topics import Topics
from tests.integration.importing import CONDITION, EventLog, customer, invoice, open_pool

pytestmark = pytest.mark.integration


def raw(entity: str, line: int, data: dict[str, str]) -> RawRecord:
    return RawRecord(entity=entity, line=line, data=data)  # type: ignore[arg-type]


async def consumed(settings: Settings, group: str, topic: str) -> bool:
    """Whether the consumer group committed every message of the topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            if end[tp] and (await consumer.committed(tp) or 0) < end[tp]:
                return False
        return True
    finally:
        await consumer.stop()


async def state(pool: asyncpg.Pool) -> tuple[object, ...]:
    return (
        await pool.fetch("select * from customers order by customer_number"),
        await pool.fetch("select * from invoices order by invoice_number"),
        await pool.fetch("select * from validation_errors order by key"),
        await pool.fetch("select run_id, status, counts from import_runs"),
    )


async def test_redelivered_chunks_are_counted_once_and_a_replayed_run_changes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    topics = Topics(settings.topic_prefix)
    async with (
        running(build_validator(settings)),
        EventLog(settings.kafka_bootstrap, topics.validation_errors) as errors,
        open_pool(settings) as pool,
    ):
        await add_administration(
            pool, NewAdministration.parse({"id": "acme", "name": "Acme", "source": "files:/x"})
        )
        importer = ImportStore(pool, topics)
        admission = await importer.admit(
            ImportRequested(administration_id="acme", trigger="manual", requested_by="test")
        )
        run = admission.run
        assert run is not None
        chunks = [
            [raw("invoice", 2, invoice("F1", "C1")), raw("invoice", 3, invoice("F2", "C2"))],
            [raw("customer", 2, customer("C1")), raw("customer", 3, customer("C2", email="x@"))],
            [raw("payment_condition", 2, CONDITION)],
        ]
        messages = [
            encode(RecordsRead(administration_id="acme", run_id=run.run_id, seq=seq, records=c))
            for seq, c in enumerate(chunks)
        ]

        async def deliver(payloads: list[tuple[int, bytes]]) -> None:
            for seq, payload in payloads:
                await publish_json(
                    settings.kafka_bootstrap, topics.raw_records, f"acme:{seq}", payload
                )

        # Every chunk arrives, the first one twice (once more after it was staged), before
        # the run is announced as read.
        await deliver([(0, messages[0])])
        await eventually(
            lambda: pool.fetchval("select count(*) = 1 from run_chunks"), what="chunk 0 staged"
        )
        await deliver([(0, messages[0]), (1, messages[1]), (2, messages[2])])
        await importer.mark_read(
            run, chunks=3, records={"invoice": 2, "customer": 2, "payment_condition": 1}
        )

        async def completed() -> bool:
            status = await pool.fetchval(
                "select status from import_runs where run_id = $1", run.run_id
            )
            return status == "completed"

        await eventually(completed, what="the run to be loaded")
        counts = await pool.fetchval("select counts from import_runs where run_id = $1", run.run_id)
        assert counts["invoice"] == {
            "added": 1,
            "updated": 0,
            "unchanged": 0,
            "blocked": 1,
            "ignored": 0,
        }
        assert counts["customer"]["added"] == 1 and counts["customer"]["blocked"] == 1
        await eventually(lambda: pool.fetchval("select count(*) = 0 from outbox"), what="relay")
        raised = await errors.drain()
        assert [(e["event"], e["key"], e["code"]) for e in raised] == [
            ("raised", "C2", "invalid_email")
        ]
        before = await state(pool)

        # The whole run is delivered again after it was loaded.
        await deliver([(seq, payload) for seq, payload in enumerate(messages)])
        group = f"{settings.topic_prefix}validator"
        await eventually(
            lambda: consumed(settings, group, topics.raw_records), what="the replay consumed"
        )
        assert await state(pool) == before
        assert await errors.drain() == raised
        for table in ("run_chunks", "staged_invoices", "staged_customers", "staged_findings"):
            assert await pool.fetchval(f"select count(*) from {table}") == 0, table
