"""R2 admission in PostgreSQL: one active run per administration, requests during a run
collapse into one follow-up, and a request between a run's end and its follow-up's start
joins that follow-up instead of adding another."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.control.admins import NewAdministration, add_administration
from services.control.imports import run_for_request
from services.importer.store import ImportStore
from shared.db import apply_migrations, connect_pool
from shared.messages import ImportRequested
from shared.topics import Topics

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await connect_pool(database_url, max_size=2)
    await apply_migrations(pool)
    await add_administration(
        pool, NewAdministration.parse({"id": "acme", "name": "Acme", "source": "files:/x"})
    )
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def store(pool: asyncpg.Pool) -> ImportStore:
    return ImportStore(pool, Topics("t."))


def request(admin: str = "acme") -> ImportRequested:
    return ImportRequested(administration_id=admin, trigger="manual", requested_by="test")


async def test_requests_during_a_run_give_exactly_one_follow_up_after_it(
    store: ImportStore, pool: asyncpg.Pool
) -> None:
    first = await store.admit(request())
    assert first.outcome == "started" and first.run is not None
    queued, collapsed = request(), request()
    assert (await store.admit(queued)).outcome == "queued"
    assert (await store.admit(collapsed)).outcome == "collapsed"
    assert await store.start_follow_up("acme") is None  # the first run is still active

    await store.end_run(first.run, status="failed", reason="broken export")
    follow_up = await store.start_follow_up("acme")
    assert follow_up is not None and follow_up.request_id == queued.request_id
    assert await store.start_follow_up("acme") is None  # only one

    served = await run_for_request(pool, collapsed.request_id)
    assert served is not None and served["run_id"] == str(follow_up.run_id)
    assert await pool.fetchval("select count(*) from import_runs") == 2


async def test_a_request_between_a_run_and_its_follow_up_joins_the_follow_up(
    store: ImportStore, pool: asyncpg.Pool
) -> None:
    first = await store.admit(request())
    assert first.run is not None
    queued = request()
    await store.admit(queued)
    await store.end_run(first.run, status="failed", reason="broken export")

    late = request()
    admission = await store.admit(late)  # before anyone started the follow-up
    assert admission.outcome == "collapsed"
    assert admission.run is not None and admission.run.request_id == queued.request_id
    assert await store.start_follow_up("acme") is None
    assert await pool.fetchval("select count(*) from import_runs") == 2


async def test_a_redelivered_request_is_admitted_once(
    store: ImportStore, pool: asyncpg.Pool
) -> None:
    again = request()
    assert (await store.admit(again)).outcome == "started"
    assert (await store.admit(again)).outcome == "duplicate"
    assert await pool.fetchval("select count(*) from import_runs") == 1


async def test_a_request_for_an_unknown_administration_is_a_failed_run_and_nothing_else(
    store: ImportStore, pool: asyncpg.Pool
) -> None:
    ghost = request("ghost")
    assert (await store.admit(ghost)).outcome == "unknown_administration"
    run = await run_for_request(pool, ghost.request_id)
    assert run is not None
    assert (run["status"], run["reason"]) == ("failed", "unknown administration 'ghost'")
    assert await pool.fetchval("select count(*) from import_slots") == 0
    # The known administration is not affected.
    assert (await store.admit(request())).outcome == "started"
