"""The broker connection cut and restored in the middle of a run: the importer's producer and
both services' consumers reconnect (rejoining their groups), and the run completes with the
outcome of an uninterrupted run, each event published under one message_id.

The broker is a dedicated Tansu behind a proxy the test cuts; it advertises the proxy's
address, so every connection a client makes (bootstrap, partition leader, group coordinator)
goes through the proxy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

from shared.embedded import EmbeddedBroker, free_port
from shared.kafka import ensure_topics
from shared.settings import Settings
from tests.faults.harness import (
    ServiceProcess,
    distinct_events,
    generated_export,
    processes,
    reference_snapshot,
    register,
    request,
    snapshot,
    wait_for_run,
)
from tests.faults.proxy import TcpProxy

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

OUTAGE_SECONDS = 6.0


@pytest.fixture
def proxied_broker(tmp_path: Path) -> Iterator[TcpProxy]:
    """A Tansu broker reachable only through a proxy, which it advertises."""
    broker_port = free_port()
    with TcpProxy(("127.0.0.1", broker_port)) as proxy:
        broker = EmbeddedBroker(
            broker_port, tmp_path / "tansu.log", advertised_port=proxy.port
        ).start()
        try:
            yield proxy
        finally:
            broker.stop()


async def test_a_broker_outage_mid_run_loses_and_duplicates_nothing(
    settings: Settings, postgres_server_url: str, proxied_broker: TcpProxy, tmp_path: Path
) -> None:
    proxy = proxied_broker
    settings = replace(settings, kafka_bootstrap=proxy.address)
    await ensure_topics(settings)
    export = generated_export(tmp_path / "export", open_invoices=8_000)
    expected = await reference_snapshot(postgres_server_url, settings, export)
    database_url = settings.database_url or ""
    await register(database_url, export)

    logs = tmp_path / "logs"
    importer = ServiceProcess("importer", settings, logs)
    validator = ServiceProcess("validator", settings, logs)
    conn = await asyncpg.connect(database_url)
    try:
        with processes(importer, validator):
            pids = {importer.pid, validator.pid}
            await importer.wait_until_serving()
            await validator.wait_until_serving()
            requested = await request(settings)
            await _wait_for(conn, "select count(*) from import_runs", timeout=60)

            proxy.cut()  # while the importer publishes and the validator consumes
            cut_at = time.monotonic()
            while time.monotonic() - cut_at < OUTAGE_SECONDS:
                assert importer.alive and validator.alive, "a service died in the outage"
                await asyncio.sleep(0.2)
            status = await conn.fetchval("select status from import_runs")
            proxy.restore()

            def still_alive() -> None:
                assert importer.alive and validator.alive, "a service died after the outage"

            run = await wait_for_run(
                database_url, requested.request_id, timeout=90, watch=still_alive
            )
            assert {importer.pid, validator.pid} == pids
            # Let the relays publish what the run left in the outbox.
            await _wait_for(conn, "select count(*) = 0 from outbox", timeout=30)
    finally:
        await conn.close()

    assert status == "running", "the outage must fall in the middle of the run"
    assert run["status"] == "completed", run
    actual = await snapshot(database_url)
    assert actual.differences(expected) == []
    runs = await distinct_events(settings, f"{settings.topic_prefix}import-runs", run["run_id"])
    assert {kind: len(ids) for kind, ids in runs.items()} == {
        "started:": 1,
        "finished:": 1,
        "completed:": 1,
    }
    errors = await distinct_events(
        settings, f"{settings.topic_prefix}validation-errors", run["run_id"]
    )
    assert len(errors) == len(expected.open_errors)
    assert all(len(ids) == 1 for ids in errors.values())


async def _wait_for(conn: asyncpg.Connection, query: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await conn.fetchval(query):
        assert time.monotonic() < deadline, f"timed out waiting for: {query}"
        await asyncio.sleep(0.01)
