"""R8 against a real SMTP server, PostgreSQL and broker: each pause kind suppresses exactly
what it should and records why; a pause is in force the moment it returns, even while an
e-mail is being sent; a pause with an end date ends by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from services.control.cases import add_case
from services.control.pauses import lift_pause, list_pauses, set_pause
from services.notifier.delivery import SEND_LANES
from services.notifier.logic import Pause
from shared.messages import NotificationRecorded
from shared.settings import Settings
from shared.testing import TopicReader, eventually
from tests.integration.notifier_support import (
    Env,
    add_customers,
    add_invoices,
    local_today,
    notifier_env,
    outcomes,
    recorded_event,
    records,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    async with notifier_env(settings) as env:
        yield env


async def _new_and_overdue(env: Env, customers: list[str]) -> None:
    """Per customer Cn: invoice Nn, new (its e-mail due now), and On, 30 days overdue."""
    w = env.wednesday
    await add_customers(env.pool, "acme", customers)
    rows = []
    for c in customers:
        n = c[1:]
        rows.append((f"N{n}", c, w - timedelta(days=1), w + timedelta(days=29), "100.00"))
        rows.append((f"O{n}", c, w - timedelta(days=60), w - timedelta(days=30), "100.00"))
    await add_invoices(env.pool, "acme", rows)
    await env.schedule_invoice_mails([f"N{c[1:]}" for c in customers])


async def _pause(env: Env, entity: str, key: str | None = None, **options: object) -> int:
    pause = await set_pause(
        env.pool,
        env.notifier.runtime.topics,
        "acme",
        entity=entity,
        key=key,
        issued_by="test",
        **options,  # type: ignore[arg-type]
    )
    return int(pause["id"])


async def test_each_pause_kind_suppresses_exactly_what_it_should_and_records_why(
    env: Env,
) -> None:
    await _new_and_overdue(env, ["C1", "C2", "C3", "C4", "C5"])
    topics = env.notifier.runtime.topics
    await add_case(env.pool, topics, "acme", "K3", customer="C3", invoices=["N3", "O3"])
    customer_full = await _pause(env, "customer", "C1", reason="disputed")
    customer_reminders = await _pause(env, "customer", "C2", mode="reminders")
    case = await _pause(env, "case", "K3")
    invoice = await _pause(env, "invoice", "O4")
    pauses = {
        p["id"]: Pause(p["id"], p["entity"], p["key"], p["mode"], p["reason"], p["until"])
        for p in await env.pool.fetch("select * from pauses")
    }

    async with TopicReader(env.settings.require_kafka(), topics.notifications) as events:
        await env.send_invoice_mails()
        await env.remind()
        published = await events.wait_for(lambda ms: len(ms) >= 10, what="10 records")

    assert sorted(env.smtp.to()) == sorted(
        ["c2@example.nl", "c4@example.nl", "c5@example.nl", "c5@example.nl"]
    )
    rows = await records(env.pool)
    assert outcomes(rows) == {
        ("N1", "invoice", 0, "suppressed", "paused"),
        ("O1", "reminder", 1, "suppressed", "paused"),
        ("N2", "invoice", 0, "sent", None),
        ("O2", "reminder", 1, "suppressed", "paused"),
        ("N3", "invoice", 0, "suppressed", "paused"),
        ("O3", "reminder", 1, "suppressed", "paused"),
        ("N4", "invoice", 0, "sent", None),
        ("O4", "reminder", 1, "suppressed", "paused"),
        ("N5", "invoice", 0, "sent", None),
        ("O5", "reminder", 1, "sent", None),
    }
    caused_by = {r["invoice_number"]: r["pause_id"] for r in rows if r["status"] == "suppressed"}
    assert caused_by == {
        "N1": customer_full,
        "O1": customer_full,
        "O2": customer_reminders,
        "N3": case,
        "O3": case,
        "O4": invoice,
    }
    on_topic = {m["invoice"]: m for m in published}
    assert on_topic["O1"]["outcome"] == "suppressed"
    assert on_topic["O1"]["pause_id"] == customer_full
    assert (on_topic["O1"]["pause_entity"], on_topic["O1"]["pause_key"]) == ("customer", "C1")
    assert "disputed" in on_topic["O1"]["detail"]
    assert on_topic["O5"]["outcome"] == "sent"
    assert on_topic["O5"]["email_message_id"] in env.smtp.message_ids()
    # Each event is its row as NotificationRecorded, message_id included, whether it was
    # sent (staged by the sending transaction) or held back (by the run's statement).
    stored = {r["id"]: r for r in await env.pool.fetch("select * from notifications")}
    for message in published:
        event = NotificationRecorded.model_validate(message)
        assert event == recorded_event(stored[event.notification_id], pauses.get(event.pause_id))


async def test_an_administration_paused_fully_gets_nothing_and_for_reminders_only_gets_invoices(
    env: Env,
) -> None:
    await _new_and_overdue(env, ["C1"])
    full = await _pause(env, "administration")
    await env.send_invoice_mails()
    await env.remind()
    assert env.smtp.messages == []
    assert {r["pause_id"] for r in await records(env.pool)} == {full}

    reminders_only = await _pause(env, "administration", mode="reminders")  # replaces it
    env.clock.now += timedelta(minutes=1)  # a held-back invoice e-mail is looked at again
    await env.send_invoice_mails()
    await env.remind()
    assert env.smtp.subjects() == [
        "Factuur N1 van Acme Trading B.V.: € 100,00, te betalen uiterlijk"
        f" {env.smtp.messages[0]['Subject'].split('uiterlijk ')[1]}"
    ]
    suppressed = [r for r in await records(env.pool) if r["invoice_number"] == "O1"]
    assert [r["pause_id"] for r in suppressed] == [full, reminders_only]

    await lift_pause(env.pool, env.notifier.runtime.topics, "acme", issued_by="test")
    await env.remind()
    assert env.smtp.subjects()[1].startswith("Eerste herinnering: factuur O1")


async def test_a_pause_set_while_emails_are_being_sent_waits_for_them_and_stops_the_rest(
    env: Env,
) -> None:
    await add_customers(env.pool, "acme", ["C1"])
    due = env.wednesday - timedelta(days=30)
    invoices = [f"O{n}" for n in range(SEND_LANES + 3)]  # more than can be in flight at once
    await add_invoices(env.pool, "acme", [(n, "C1", due, due, "100.00") for n in invoices])
    env.smtp.hold()  # the server keeps its answers: e-mails in flight
    run = asyncio.create_task(env.remind())
    try:
        await eventually(_is_set(env.smtp.data_arrived), what="an e-mail in flight")
        pause = asyncio.create_task(_pause(env, "customer", "C1"))

        async def returned_or_waiting() -> bool:
            return pause.done() or await _pause_waits(env)

        await eventually(returned_or_waiting, what="the pause to return or to wait")
        assert not pause.done(), "the pause returned while an e-mail was still being sent"
        assert env.smtp.messages == []
    finally:
        env.smtp.release()
    pause_id = await asyncio.wait_for(pause, 30)
    # When the pause returns, every e-mail that was in flight has been sent and recorded...
    in_flight = len(env.smtp.messages)
    sent = [r for r in await records(env.pool) if r["status"] == "sent"]
    assert 1 <= in_flight <= SEND_LANES and len(sent) == in_flight
    # ...and nothing leaves after it.
    await asyncio.wait_for(run, 30)
    await env.remind()
    assert len(env.smtp.messages) == in_flight
    rows = await records(env.pool)
    suppressed = [r for r in rows if r["status"] == "suppressed"]
    assert len(suppressed) == len(invoices) - in_flight
    assert {(r["reason"], r["pause_id"]) for r in suppressed} == {("paused", pause_id)}


def _is_set(event: object) -> object:
    async def check() -> bool:
        return bool(event.is_set())  # type: ignore[attr-defined]

    return check


async def _pause_waits(env: Env) -> bool:
    waiting = await env.pool.fetchval(
        "select count(*) from pg_locks l join pg_database d on d.oid = l.database"
        " where l.locktype = 'advisory' and not l.granted and d.datname = current_database()"
    )
    return bool(waiting)


async def test_a_pause_with_an_end_date_ends_by_itself(env: Env) -> None:
    await add_customers(env.pool, "acme", ["C1"])
    due = env.wednesday - timedelta(days=30)
    await add_invoices(env.pool, "acme", [("O1", "C1", due, due, "100.00")])
    today = local_today()
    topics = env.notifier.runtime.topics
    pause_id = await _pause(env, "customer", "C1", until=today.isoformat())

    env.clock.local(today)  # its last day: still paused
    await env.remind()
    assert env.smtp.messages == []
    await env.notifier.tick()
    assert [p["id"] for p in await list_pauses(env.pool, "acme")] == [pause_id]

    env.clock.local(today + timedelta(days=1))  # the day after: it ended
    async with TopicReader(env.settings.require_kafka(), topics.control) as control:
        await env.remind()
        assert env.smtp.subjects()[0].startswith("Eerste herinnering: factuur O1")
        await env.notifier.tick()
        events = await control.wait_for(
            lambda ms: any(m["command"] == "pause_lifted" for m in ms), what="pause_lifted"
        )
    lifted = next(m for m in events if m["command"] == "pause_lifted")
    assert lifted["detail"]["id"] == pause_id and lifted["detail"]["ended"] is True
    assert await list_pauses(env.pool, "acme") == []
    ended = await list_pauses(env.pool, "acme", include_ended=True)
    assert [(p["id"], p["state"], p["lifted_by"]) for p in ended] == [(pause_id, "ended", "until")]


async def test_adding_a_paused_cases_invoices_pauses_them_at_once(env: Env) -> None:
    await _new_and_overdue(env, ["C1"])
    topics = env.notifier.runtime.topics
    await add_case(env.pool, topics, "acme", "K1", customer="C1", invoices=["N1"])
    case = await _pause(env, "case", "K1")
    await add_case(env.pool, topics, "acme", "K1", customer="C1", invoices=["O1"])
    await env.send_invoice_mails()
    await env.remind()
    assert env.smtp.messages == []
    assert {r["pause_id"] for r in await records(env.pool)} == {case}
