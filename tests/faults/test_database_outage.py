"""PostgreSQL unreachable for 10 seconds in the middle of a run: the services (real processes,
connected through a proxy the test cuts) wait and retry with backoff, stay up, and the run
completes with the outcome of an uninterrupted run."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest

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
from tests.faults.proxy import TcpProxy, database_upstream

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

OUTAGE_SECONDS = 10.0
# A worker retrying without backoff would log hundreds of lines in 10 seconds.
MAX_RETRY_LINES = 40


async def test_a_ten_second_database_outage_mid_run_delays_the_run_but_loses_nothing(
    settings: Settings, postgres_server_url: str, tmp_path: Path
) -> None:
    export = generated_export(tmp_path / "export", open_invoices=8_000)
    expected = await reference_snapshot(postgres_server_url, settings, export)
    direct_url = settings.database_url or ""
    await register(direct_url, export)

    with TcpProxy(database_upstream(direct_url)) as proxy:
        proxied = replace(settings, database_url=proxy.database_url(direct_url))
        logs = tmp_path / "logs"
        importer = ServiceProcess("importer", proxied, logs)
        validator = ServiceProcess("validator", proxied, logs)
        conn = await asyncpg.connect(direct_url)
        try:
            with processes(importer, validator):
                pids = {importer.pid, validator.pid}
                await importer.wait_until_serving()
                await validator.wait_until_serving()
                requested = await request(settings)
                await _wait_for_staging(conn, timeout=60)

                proxy.cut()
                cut_at = time.monotonic()
                while time.monotonic() - cut_at < OUTAGE_SECONDS:
                    assert importer.alive and validator.alive, "a service died in the outage"
                    await asyncio.sleep(0.2)
                status = await conn.fetchval("select status from import_runs")
                proxy.restore()

                def still_alive() -> None:
                    assert importer.alive and validator.alive, "a service died after the outage"

                run = await wait_for_run(
                    direct_url, requested.request_id, timeout=90, watch=still_alive
                )
                assert {importer.pid, validator.pid} == pids  # never restarted
        finally:
            await conn.close()

    assert status == "running", "the outage must fall in the middle of the run"
    assert run["status"] == "completed", run
    actual = await snapshot(direct_url)
    assert actual.differences(expected) == []
    for service in (importer, validator):
        output = service.output()
        retries = len(re.findall(r"retrying|not reachable|relay:|clock:", output))
        assert retries <= MAX_RETRY_LINES, f"{service.name} retried {retries} times:\n{output}"
        assert "Traceback" not in output, output
        assert " ERROR " not in output, output


async def _wait_for_staging(conn: asyncpg.Connection, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await conn.fetchval("select count(*) from run_chunks"):
        assert time.monotonic() < deadline, "the validator never staged a chunk"
        await asyncio.sleep(0.01)
