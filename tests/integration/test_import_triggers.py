"""R2 through the real importer: requests during a run collapse into one follow-up (also
after a failed run), a request for an unknown administration fails alone, and scheduled
moments and new export files start exactly one run, whatever the number of importers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

from services.control.admins import NewAdministration, add_administration
from services.control.imports import request_import, run_for_request, wait_for_request
from services.importer.app import build_app as build_importer
from services.importer.handlers import Importer
from services.validator.app import build_app as build_validator
from shared.kafka import make_broker
from shared.publish import Publisher
from shared.service import ServiceRuntime
from shared.settings import Settings
from shared.testing import eventually, publish_json, running
from shared.topics import Topics
from tests.integration.importing import EventLog, Ledger, customer, invoice, open_pool

pytestmark = pytest.mark.integration


async def outcome(pool: asyncpg.Pool, request_id: object) -> str | None:
    return await pool.fetchval(
        "select outcome from import_requests where request_id = $1", request_id
    )


async def test_requests_during_a_run_give_one_follow_up_even_when_the_run_fails(
    settings: Settings, tmp_path: Path
) -> None:
    ledger = Ledger(tmp_path / "export", customers=[customer("C1")], invoices=[invoice("F1", "C1")])
    good = ledger.write()
    # The first run blocks on reading invoices.csv (a named pipe) until the test writes it.
    (good / "invoices.csv").rename(tmp_path / "invoices.good.csv")
    pipe = good / "invoices.csv"
    os.mkfifo(pipe)
    topics = Topics(settings.topic_prefix)
    async with (
        running(build_importer(settings, tick_seconds=3600), build_validator(settings)),
        Publisher(settings) as publisher,
        open_pool(settings) as pool,
    ):
        await add_administration(
            pool,
            NewAdministration.parse(
                {"id": "acme", "name": "Acme", "source": f"files:{good}", "import_mode": "manual"}
            ),
        )
        first = await request_import(publisher, topics, "acme", requested_by="test")
        await eventually(lambda: outcome(pool, first.request_id), what="the first run")

        # Two requests and one for an administration that does not exist, during the run.
        second = await request_import(publisher, topics, "acme", requested_by="test")
        third = await request_import(publisher, topics, "acme", requested_by="test")
        ghost = str(uuid4())
        await publish_json(
            settings.kafka_bootstrap,
            topics.import_requests,
            "ghost",
            {
                "message_id": str(uuid4()),
                "request_id": ghost,
                "administration_id": "ghost",
                "trigger": "manual",
                "requested_by": "another system",
                "requested_at": "2026-12-03T09:00:00Z",
            },
        )
        ghost_run = await wait_for_request(pool, ghost, timeout=30)
        assert (ghost_run["status"], ghost_run["reason"]) == (
            "failed",
            "unknown administration 'ghost'",
        )
        await eventually(lambda: outcome(pool, third.request_id), what="the third request")
        assert await outcome(pool, second.request_id) == "queued"
        assert await outcome(pool, third.request_id) == "collapsed"

        # The first run reads a broken header and fails; the good file is back for the next.
        writer = await asyncio.to_thread(open, pipe, "w", encoding="utf-8")
        (tmp_path / "invoices.good.csv").rename(pipe)
        await asyncio.to_thread(writer.write, "invoice_number\nF1\n")
        await asyncio.to_thread(writer.close)
        failed = await wait_for_request(pool, first.request_id, timeout=30)
        assert failed["status"] == "failed"
        assert "invoices.csv, line 1, column 'customer_number'" in failed["reason"]

        follow_up = await wait_for_request(pool, third.request_id, timeout=30)
        assert follow_up["status"] == "completed"
        assert follow_up["request_id"] == str(second.request_id)
        assert await run_for_request(pool, second.request_id) == follow_up
        runs = await pool.fetch("select status from import_runs where administration_id = 'acme'")
        assert sorted(r["status"] for r in runs) == ["completed", "failed"]


@asynccontextmanager
async def another_importer(settings: Settings) -> AsyncIterator[Importer]:
    """A second importer instance: its own broker connection and pool, no consumers."""
    runtime = ServiceRuntime(settings, make_broker(settings, client_id="importer-2"), "importer")
    await runtime.open()
    await runtime.broker.start()
    await runtime.start_relay()
    try:
        yield Importer(runtime)
    finally:
        await runtime.broker.stop()
        await runtime.close()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


async def test_a_scheduled_moment_across_the_spring_change_runs_once_with_two_importers(
    settings: Settings, tmp_path: Path
) -> None:
    scheduled = Ledger(tmp_path / "scheduled", customers=[customer("C1")], invoices=[])
    watched = Ledger(tmp_path / "watched", customers=[customer("C1")], invoices=[])
    topics = Topics(settings.topic_prefix)
    app = build_importer(settings, tick_seconds=3600)  # its own clock stays out of the way
    async with (
        running(app, build_validator(settings)),
        another_importer(settings) as second,
        EventLog(settings.kafka_bootstrap, topics.import_requests) as requests,
        open_pool(settings) as pool,
    ):
        first: Importer = app.state_importer  # type: ignore[attr-defined]
        for admin_id, ledger, mode in (("acme", scheduled, "schedule"), ("w", watched, "file")):
            await add_administration(
                pool,
                NewAdministration.parse(
                    {
                        "id": admin_id,
                        "name": admin_id,
                        "source": f"files:{ledger.write()}",
                        "import_mode": mode,
                        "import_at": ["06:00"],
                        "timezone": "Europe/Amsterdam",
                    }
                ),
            )
        # One administration's schedule is unreadable (edited by hand): it stops no other.
        await pool.execute(
            "insert into administrations (id, name, source, timezone)"
            " values ('broken', 'Broken', 'files:/nowhere', 'Mars/Olympus')"
        )
        # As if the administrations had existed since the day before the clocks go forward.
        await pool.execute("update administrations set created_at = '2026-03-28 12:00Z'")

        async def tick_both(now: datetime) -> list[tuple[str, str]]:
            await asyncio.gather(first.tick(now), second.tick(now))
            return [(m["administration_id"], m["trigger"]) for m in await requests.drain()]

        # 29 March 2026, 05:58 and 05:59 CEST: not yet (a fixed +01:00 would say 04:59, also
        # not yet). The first export starts a run once it stayed the same from a tick to the next.
        assert await tick_both(utc(2026, 3, 29, 3, 58)) == []
        assert await tick_both(utc(2026, 3, 29, 3, 59)) == [("w", "file")]
        # 06:30 CEST: due. Both importers tick; one claims the moment.
        assert (await tick_both(utc(2026, 3, 29, 4, 30)))[1:] == [("acme", "schedule")]
        # 07:30 CEST (06:30 at a fixed +01:00): nothing new, from either importer.
        assert len(await tick_both(utc(2026, 3, 29, 5, 30))) == 2
        claims = await pool.fetch("select administration_id, moment from schedule_claims")
        assert [(c["administration_id"], c["moment"]) for c in claims] == [
            ("acme", utc(2026, 3, 29, 4, 0))
        ]
        # A new export file is noticed once, when it stayed the same for a tick (one still
        # being written changes from tick to tick).
        watched.invoices = [invoice("F1", "C1")]
        watched.write()
        assert len(await tick_both(utc(2026, 3, 29, 5, 31))) == 2
        watched.invoices = [invoice("F1", "C1"), invoice("F2", "C1")]
        watched.write()
        assert len(await tick_both(utc(2026, 3, 29, 5, 32))) == 2
        assert (await tick_both(utc(2026, 3, 29, 5, 33)))[2:] == [("w", "file")]
        assert len(await tick_both(utc(2026, 3, 29, 5, 34))) == 3

        async def runs_done() -> list[asyncpg.Record] | None:
            rows = await pool.fetch("select administration_id, trigger, status from import_runs")
            return rows if all(r["status"] == "completed" for r in rows) else None

        runs = await eventually(runs_done, what="the runs to complete")
        assert sorted((r["administration_id"], r["trigger"]) for r in runs) == [
            ("acme", "schedule"),
            ("w", "file"),
            ("w", "file"),
        ]
