"""SIGTERM mid-import: each worker finishes or hands back what it holds, commits what it
completed and exits within 10 seconds; restarted, they complete the run with the outcome of
an uninterrupted run.

- The importer, stopped while reading, hands its run back at once (status `restarted`, queued
  as the follow-up), so the next importer starts it again without waiting for the run to go
  stale.
- The validator, stopped while staging, finishes (or rewinds) its batch and commits its
  offsets before it leaves its group.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.settings import Settings
from tests.faults.harness import (
    ServiceProcess,
    generated_export,
    processes,
    reference_snapshot,
    register,
    request,
    snapshot,
    wait_for_run,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

GRACE_SECONDS = 10.0


async def test_sigterm_mid_import_hands_back_work_and_restarted_services_finish_the_run(
    settings: Settings, postgres_server_url: str, tmp_path: Path
) -> None:
    export = generated_export(tmp_path / "export", open_invoices=20_000)
    expected = await reference_snapshot(postgres_server_url, settings, export)
    database_url = settings.database_url or ""
    await register(database_url, export)
    logs = tmp_path / "logs"
    conn = await asyncpg.connect(database_url)
    try:
        importer = ServiceProcess("importer", settings, logs)
        validator = ServiceProcess("validator", settings, logs)
        with processes(importer, validator):
            await importer.wait_until_serving()
            await validator.wait_until_serving()
            requested = await request(settings)

            # The importer, while it reads.
            await _wait_for(conn, "select count(*) from import_runs where read_at is null")
            await _stops_in_time(importer)
            assert await conn.fetchval("select status from import_runs") == "restarted"

            # The validator, while it stages the follow-up run.
            with processes(ServiceProcess("importer", settings, logs)) as (importer,):
                await _wait_for(
                    conn,
                    "select count(*) from run_chunks c join import_runs r using (run_id)"
                    " where r.status = 'running'",
                )
                await _stops_in_time(validator)
                committed = await _committed(settings, f"{settings.topic_prefix}validator")
                with processes(ServiceProcess("validator", settings, logs)):
                    run = await wait_for_run(database_url, requested.request_id, timeout=90)
    finally:
        await conn.close()

    assert run["status"] == "completed", run
    assert committed > 0, "the stopped validator committed nothing it had completed"
    actual = await snapshot(database_url)
    assert actual.runs == Counter({"restarted": 1, "completed": 1})
    assert actual.differences(expected) == [f"runs: {dict(actual.runs)} != {{'completed': 1}}"]


async def _stops_in_time(service: ServiceProcess) -> None:
    started = time.monotonic()
    service.terminate()
    code = await service.wait(GRACE_SECONDS + 5)
    took = time.monotonic() - started
    assert took <= GRACE_SECONDS, f"{service.name} took {took:.1f}s to stop"
    # uvicorn re-raises the signal once it shut down cleanly: exit status 143, as expected.
    assert code in (0, -signal.SIGTERM), service.output()[-3000:]
    assert f"{service.name} stopped" in service.output()


async def _committed(settings: Settings, group: str) -> int:
    """How many raw-records messages the group has committed, over all partitions."""
    topic = f"{settings.topic_prefix}raw-records"
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        return sum([await consumer.committed(tp) or 0 for tp in partitions])
    finally:
        await consumer.stop()


async def _wait_for(conn: asyncpg.Connection, query: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await conn.fetchval(query):
        assert time.monotonic() < deadline, f"timed out waiting for: {query}"
        await asyncio.sleep(0.01)
