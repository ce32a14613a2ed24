"""R9 against a real SMTP server, PostgreSQL and broker: one next level per run, never a
burst; nothing for paid, ignored, blocked or small amounts; working days only; the same
Message-ID on a resend; invoice e-mails from the start date, after the grace period."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import pytest

from services.control.pauses import lift_pause, set_pause
from shared.settings import Settings
from tests.integration.notifier_support import (
    Env,
    add_customers,
    add_invoices,
    notifier_env,
    outcomes,
    records,
)

pytestmark = pytest.mark.integration

# Wednesdays in 2027 with no Dutch public holiday around them (Easter is 28 March).
WEDNESDAYS = [date(2027, 3, 3) + timedelta(weeks=n) for n in range(6)]


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    async with notifier_env(settings, minimum_amount="10.00") as env:
        await add_customers(env.pool, "acme", ["C1", "C2", "C3"])
        yield env


async def test_an_invoice_first_seen_long_after_its_due_date_gets_level_one_only(env: Env) -> None:
    await add_invoices(env.pool, "acme", [("F1", "C1", date(2026, 1, 1), date(2026, 2, 1), "50")])
    assert (await env.remind(WEDNESDAYS[0]))["sent"] == 1
    assert await env.remind(WEDNESDAYS[0]) == {"due": 0}  # the same day again: nothing
    assert env.smtp.subjects() == [
        "Eerste herinnering: factuur F1, € 50,00, vervallen op 1 februari 2026"
    ]
    assert (await env.remind(WEDNESDAYS[1]))["sent"] == 1  # an interval later: level 2
    assert env.smtp.subjects()[1].startswith("Tweede herinnering: factuur F1")


async def test_a_resumed_invoice_goes_on_with_its_next_level_never_a_burst(env: Env) -> None:
    await add_invoices(env.pool, "acme", [("F1", "C1", date(2026, 1, 1), date(2026, 2, 1), "50")])
    topics = env.notifier.runtime.topics
    await env.remind(WEDNESDAYS[0])
    await set_pause(env.pool, topics, "acme", entity="invoice", key="F1", issued_by="test")
    for week in WEDNESDAYS[1:4]:
        assert (await env.remind(week)).get("sent", 0) == 0
    await lift_pause(env.pool, topics, "acme", entity="invoice", key="F1", issued_by="test")

    await env.remind(WEDNESDAYS[4])
    await env.remind(WEDNESDAYS[4])
    assert [s.split(":")[0] for s in env.smtp.subjects()] == [
        "Eerste herinnering",
        "Tweede herinnering",
    ]
    await env.remind(WEDNESDAYS[5])
    await env.remind(WEDNESDAYS[5] + timedelta(weeks=10))
    assert [s.split(":")[0] for s in env.smtp.subjects()] == [
        "Eerste herinnering",
        "Tweede herinnering",
        "Laatste aanmaning",
    ]
    # The pause was recorded once for the level it held back, however many runs met it.
    assert outcomes(await records(env.pool)) == {
        ("F1", "reminder", 1, "sent", None),
        ("F1", "reminder", 2, "suppressed", "paused"),
        ("F1", "reminder", 2, "sent", None),
        ("F1", "final_notice", 3, "sent", None),
    }


async def test_paid_ignored_blocked_and_small_invoices_get_no_reminder(env: Env) -> None:
    old, due = date(2026, 12, 1), date(2027, 1, 1)
    await add_invoices(
        env.pool,
        "acme",
        [
            ("OK", "C1", old, due, "100.00"),
            ("IGN", "C1", old, due, "100.00"),
            ("OFCUST", "C3", old, due, "100.00"),
            ("SMALL", "C2", old, due, "9.99"),
        ],
    )
    await add_invoices(env.pool, "acme", [("PAID", "C1", old, due, "100.00")], status="closed")
    await add_invoices(env.pool, "acme", [("BLK", "C2", old, due, "100.00")], status="blocked")
    await env.pool.execute(
        "insert into ignore_entries (administration_id, entity, pattern, kind, low) values"
        " ('acme', 'invoice', 'IGN', 'exact', 'IGN'), ('acme', 'customer', 'C3*', 'prefix', 'C3')"
    )

    counts = await env.remind(WEDNESDAYS[0])

    assert env.to_invoices() == ["OK"]
    assert counts == {"due": 5, "sent": 1, "suppressed": 4}
    assert outcomes(await records(env.pool)) == {
        ("OK", "reminder", 1, "sent", None),
        ("IGN", "reminder", 1, "suppressed", "ignored"),
        ("OFCUST", "reminder", 1, "suppressed", "ignored"),
        ("BLK", "reminder", 1, "suppressed", "blocked"),
        ("SMALL", "reminder", 1, "suppressed", "below_minimum"),
    }
    assert await env.remind(WEDNESDAYS[0]) == {"due": 4}  # each cause is recorded once


async def test_no_reminder_leaves_on_a_saturday_or_on_kings_day(env: Env) -> None:
    await add_invoices(env.pool, "acme", [("F1", "C1", date(2027, 2, 1), date(2027, 3, 1), "50")])
    saturday, kings_day, day_after = date(2027, 4, 24), date(2027, 4, 27), date(2027, 4, 28)
    assert (await env.remind(saturday)).get("sent", 0) == 0
    assert (await env.remind(kings_day)).get("sent", 0) == 0
    assert env.smtp.messages == []
    assert (await env.remind(day_after))["sent"] == 1
    rows = await records(env.pool)
    assert [(r["run_date"], r["status"], r["reason"]) for r in rows] == [
        (saturday, "suppressed", "not_working_day"),
        (kings_day, "suppressed", "holiday"),
        (day_after, "sent", None),
    ]


async def test_invoice_emails_leave_monday_to_saturday_but_not_on_sunday_or_kings_day(
    env: Env,
) -> None:
    await add_invoices(
        env.pool,
        "acme",
        [("F1", "C1", date(2027, 4, 20), date(2027, 5, 20), "50")],
    )
    # The e-mail became due long before these days (the grace period is 0 in these tests).
    await env.notifier.store.schedule_invoice_mails("acme", ["F1"], datetime(2027, 4, 20))
    for day in (date(2027, 4, 25), date(2027, 4, 27)):  # Sunday, King's Day
        env.clock.local(day)
        await env.send_invoice_mails()
    assert env.smtp.messages == []
    env.clock.local(date(2027, 5, 1))  # a Saturday
    await env.send_invoice_mails()
    assert env.smtp.subjects() == [
        "Factuur F1 van Acme Trading B.V.: € 50,00, te betalen uiterlijk 20 mei 2027"
    ]
    assert [r["reason"] for r in await records(env.pool)] == ["not_working_day", "holiday", None]


async def test_an_invoice_email_waits_for_the_grace_period_and_goes_once(env: Env) -> None:
    w = env.wednesday
    await add_invoices(env.pool, "acme", [("F1", "C2", w, w + timedelta(days=30), "25.00")])
    await env.notifier.store.schedule_invoice_mails(
        "acme", ["F1"], env.clock() + timedelta(hours=1)
    )
    assert await env.send_invoice_mails() == {}
    env.clock.now += timedelta(minutes=61)
    await env.send_invoice_mails()
    await env.send_invoice_mails()
    assert len(env.smtp.messages) == 1
    # Below the minimum, yet e-mailed: the minimum is about chasing, not invoicing.
    assert env.smtp.subjects()[0].startswith("Factuur F1")


async def test_only_invoices_dated_from_the_start_date_are_emailed(env: Env) -> None:
    await env.pool.execute("update administrations set send_invoices_from = '2027-03-01'")
    await add_invoices(
        env.pool,
        "acme",
        [
            ("OLD", "C1", date(2027, 2, 28), date(2027, 3, 30), "50"),
            ("NEW", "C1", date(2027, 3, 1), date(2027, 3, 31), "50"),
            ("CREDIT", "C1", date(2027, 3, 2), date(2027, 4, 1), "-50"),
        ],
    )
    assert await env.schedule_invoice_mails(["OLD", "NEW", "CREDIT"]) == 1
    await env.send_invoice_mails()
    assert env.to_invoices() == ["NEW"]


async def test_an_invoice_paid_or_ignored_before_its_email_gets_none(env: Env) -> None:
    w = env.wednesday
    rows = [(n, "C1", w, w + timedelta(days=30), "50") for n in ("PAID", "IGN", "OK")]
    await add_invoices(env.pool, "acme", rows)
    await env.schedule_invoice_mails(["PAID", "IGN", "OK"])
    await env.pool.execute("update invoices set status = 'closed' where invoice_number = 'PAID'")
    await env.pool.execute(
        "insert into ignore_entries (administration_id, entity, pattern, kind, low)"
        " values ('acme', 'invoice', 'IGN', 'exact', 'IGN')"
    )
    await env.send_invoice_mails()
    assert env.to_invoices() == ["OK"]
    assert outcomes(await records(env.pool)) == {
        ("PAID", "invoice", 0, "suppressed", "closed"),
        ("IGN", "invoice", 0, "suppressed", "ignored"),
        ("OK", "invoice", 0, "sent", None),
    }
    pending = await env.pool.fetch(
        "select invoice_number from invoice_mails where settled_at is null"
    )
    assert [r["invoice_number"] for r in pending] == ["IGN"]  # may be un-ignored; paid is done


async def test_a_resend_after_a_crash_between_smtp_and_commit_carries_the_same_message_id(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_invoices(env.pool, "acme", [("F1", "C1", date(2026, 1, 1), date(2026, 2, 1), "50")])
    store = env.notifier.store
    real_mark_sent = store.mark_sent

    async def crash(*args: object, **kwargs: object) -> None:
        raise ConnectionResetError("the notifier lost its database after SMTP accepted")

    monkeypatch.setattr(store, "mark_sent", crash)
    with pytest.raises(ConnectionResetError):
        await env.remind(WEDNESDAYS[0])
    assert len(env.smtp.messages) == 1
    assert await records(env.pool) == []  # the claim rolled back with the transaction

    monkeypatch.setattr(store, "mark_sent", real_mark_sent)
    await env.remind(WEDNESDAYS[0])
    first, second = env.smtp.message_ids()
    assert first == second
    rows = await records(env.pool)
    assert [(r["status"], r["email_message_id"]) for r in rows] == [("sent", first)]


async def test_an_address_the_server_refuses_is_recorded_and_tried_again_later(env: Env) -> None:
    due = date(2027, 1, 1)
    rows = [("F1", "C1", due, due, "50"), ("F2", "C2", due, due, "50")]
    await add_invoices(env.pool, "acme", rows)
    env.smtp.refuse.add("c1@example.nl")
    assert await env.remind(WEDNESDAYS[0]) == {"due": 2, "failed": 1, "sent": 1}
    assert env.to_invoices() == ["F2"]
    env.smtp.refuse.clear()
    assert await env.remind(WEDNESDAYS[1]) == {"due": 2, "sent": 2}  # F1 level 1, F2 level 2
    rows = await records(env.pool)
    assert sorted((r["invoice_number"], r["level"], r["status"]) for r in rows) == [
        ("F1", 1, "failed"),
        ("F1", 1, "sent"),
        ("F2", 1, "sent"),
        ("F2", 2, "sent"),
    ]


async def test_invoice_emails_held_back_never_crowd_out_those_that_may_go(env: Env) -> None:
    w = env.wednesday
    rows = [(f"P{n:02}", "C1", w, w + timedelta(days=30), "10") for n in range(6)]
    rows.append(("FREE", "C2", w, w + timedelta(days=30), "10"))
    await add_invoices(env.pool, "acme", rows)
    topics = env.notifier.runtime.topics
    await set_pause(env.pool, topics, "acme", entity="customer", key="C1", issued_by="test")
    # The paused ones are first in line, more of them than one batch holds.
    await env.notifier.store.schedule_invoice_mails(
        "acme", [r[0] for r in rows[:-1]], env.clock() - timedelta(hours=1)
    )
    await env.schedule_invoice_mails(["FREE"])
    assert await env.notifier.send_due_invoice_mails(batch=4) == {"suppressed": 6, "sent": 1}
    assert env.to_invoices() == ["FREE"]
