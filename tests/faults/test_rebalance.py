"""A consumer-group rebalance in the middle of a run: a second validator joins while the
first one is inside a batch, the partitions move under its feet (its offset commit fails,
the new owner sees the batch again), and the outcome is that of an uninterrupted run.

To make sure the rebalance falls inside a batch, the test holds a share lock on the run's
row for a moment: chunks are still staged, but loading the run (which locks the row for
update) waits, as it would behind a long load, so the first validator sits inside its batch
while the second one joins.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import pytest

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

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]


async def test_a_second_validator_joining_mid_batch_changes_nothing_in_the_outcome(
    settings: Settings, postgres_server_url: str, tmp_path: Path
) -> None:
    # Small enough (13 chunks, about 0.8 MB) for the first validator's first fetch to hold every
    # chunk of the run, which lie on all 8 partitions: whichever partitions the rebalance moves,
    # some are the batch's. With 54 chunks the first batch held 20 of them, on 4 partitions,
    # which the rebalance could leave in place (it did once, under load in CI).
    export = generated_export(tmp_path / "export", open_invoices=4_000)
    expected = await reference_snapshot(postgres_server_url, settings, export)
    database_url = settings.database_url or ""
    await register(database_url, export)

    logs = tmp_path / "logs"
    importer = ServiceProcess("importer", settings, logs)
    first = ServiceProcess("validator", settings, logs)
    second = ServiceProcess("validator", settings, logs)
    lock = await asyncpg.connect(database_url)
    try:
        with processes(importer):
            await importer.wait_until_serving()
            requested = await request(settings)
            # Every chunk of the run is published before the first validator fetches, so its
            # first batch spans partitions of which the rebalance takes some away.
            await _wait_for(lock, "select count(*) from import_runs where read_at is not null")
            locked = lock.transaction()
            await locked.start()
            run_id = await _wait_for(lock, "select run_id from import_runs for share")
            with processes(first):
                await _wait_for(lock, "select count(*) from run_chunks")
                with processes(second):
                    await second.wait_until_serving()  # joined: the first one was rebalanced
                    staged = await lock.fetchval("select count(*) from run_chunks")
                    await locked.rollback()
                    run = await wait_for_run(database_url, requested.request_id, timeout=90)
    finally:
        await lock.close()

    assert run["status"] == "completed", run
    assert run["run_id"] == str(run_id)
    # The first validator's batch spanned partitions the rebalance gave the second one: its
    # chunks were seen twice (the keys of a run's chunks are fixed, and so is this).
    output = first.output()
    assert "moved to another consumer" in output or "commit failed" in output, (
        f"the rebalance fell outside a batch ({staged} chunks staged)"
    )
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


async def _wait_for(conn: asyncpg.Connection, query: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while not (value := await conn.fetchval(query)):
        assert time.monotonic() < deadline, f"timed out waiting for: {query}"
        await asyncio.sleep(0.01)
    return value
