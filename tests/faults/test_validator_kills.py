"""kill -9 a validator at random points of a large import, 20 times, restarting it each time:
the outcome equals that of an uninterrupted run, and the run completes exactly once.

A validator life ends at a random moment of a randomly chosen phase of the run:
- starting: while the process starts, joins its groups, begins to consume;
- staging: just after it staged some chunks (before or after their offsets are committed);
- loading: while (or just after) it loads the complete run in one transaction.
Phases that are over are not chosen again; once the run is loaded, lives end at random
moments after the start (redeliveries of a loaded run, events still in the outbox).
FAULT_SEED=N replays one sequence.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from pathlib import Path
from uuid import UUID

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

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

KILLS = 20
OPEN_INVOICES = 20_000


class RunProgress:
    """The run as the database shows it: chunks announced, chunks staged, status."""

    def __init__(self, conn: asyncpg.Connection, request_id: UUID) -> None:
        self.conn = conn
        self.request_id = request_id

    async def read(self) -> tuple[str | None, int | None, int]:
        row = await self.conn.fetchrow(
            "select r.status, r.chunks, (select count(*) from run_chunks c"
            " where c.run_id = r.run_id) as staged"
            " from import_runs r where r.request_id = $1",
            self.request_id,
        )
        if row is None:
            return None, None, 0
        return row["status"], row["chunks"], row["staged"]


async def _end_of_life(progress: RunProgress, validator: ServiceProcess, rng: random.Random) -> str:
    """Wait for this life's random kill point; return the phase it fell in."""
    status, chunks, staged = await progress.read()
    if status not in (None, "running"):
        phase = "after"
    else:
        staging_left = chunks is None or staged < chunks
        phases = (
            ["starting", "staging", "staging", "loading"]
            if staging_left
            else [
                "starting",
                "loading",
                "loading",
            ]
        )
        phase = rng.choice(phases)
    deadline = time.monotonic() + 6
    if phase == "starting":
        await asyncio.sleep(rng.uniform(0, 1.5))
        return phase
    if phase == "after":
        await asyncio.sleep(rng.uniform(0.5, 2.5))
        return phase
    staged_at_birth = staged
    while time.monotonic() < deadline and validator.alive:
        status, chunks, staged = await progress.read()
        if status not in (None, "running"):
            break  # it loaded the run before we got to kill it
        if phase == "staging" and staged > staged_at_birth:
            await asyncio.sleep(rng.uniform(0, 0.3))
            return phase
        if phase == "loading" and chunks is not None and staged >= chunks:
            await asyncio.sleep(rng.uniform(0, 2.5))
            return phase
        await asyncio.sleep(0.01)
    return f"{phase} (missed)"


async def test_a_validator_killed_twenty_times_mid_import_ends_as_an_uninterrupted_run(
    settings: Settings, postgres_server_url: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("FAULT_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    export = generated_export(tmp_path / "export", open_invoices=OPEN_INVOICES)
    expected = await reference_snapshot(postgres_server_url, settings, export)
    await register(settings.database_url or "", export)

    logs = tmp_path / "logs"
    importer = ServiceProcess("importer", settings, logs)
    phases: Counter[str] = Counter()
    conn = await asyncpg.connect(settings.database_url)
    try:
        with processes(importer, validator := ServiceProcess("validator", settings, logs)):
            await importer.wait_until_serving()
            requested = await request(settings)
            progress = RunProgress(conn, requested.request_id)
            lives = [validator]
            for _ in range(KILLS):
                phases[await _end_of_life(progress, validator, rng)] += 1
                if validator.alive:
                    validator.kill()
                validator = ServiceProcess("validator", settings, logs).start()
                lives.append(validator)
            try:
                run = await wait_for_run(
                    settings.database_url or "", requested.request_id, timeout=60
                )
            finally:
                validator.stop()
            assert importer.alive, importer.output()[-3000:]
    finally:
        await conn.close()

    report = f"seed {seed}; kills by phase: {dict(phases)}"
    print(report)
    assert run["status"] == "completed", (run, report)
    actual = await snapshot(settings.database_url or "")
    assert actual.differences(expected) == [], report
    assert actual.runs == {"completed": 1}, report
    # Exactly once on the topics too: a redelivered event repeats its message_id.
    runs = await distinct_events(settings, f"{settings.topic_prefix}import-runs", run["run_id"])
    assert {kind: len(ids) for kind, ids in runs.items()} == {
        "started:": 1,
        "finished:": 1,
        "completed:": 1,
    }, report
    errors = await distinct_events(
        settings, f"{settings.topic_prefix}validation-errors", run["run_id"]
    )
    assert len(errors) == len(expected.open_errors), report
    assert all(len(ids) == 1 for ids in errors.values()), report
