"""A reminder run decides in SQL what it holds back without the reminders coming to Python
(`hold_due_reminders`). Every decision must be the one `suppression_for` takes on the same
candidate (`due_reminders`, the reference selection): the same reason, detail and pause, the
same Message-ID, and an event (built by the relay) equal to `recorded_event` of its row. What
SQL leaves undecided comes back to Python: those that may be sent, and the rare ones only
Python words."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import asyncpg
import pytest

from services.notifier.logic import (
    Candidate,
    Pause,
    Suppression,
    email_message_id,
    sending_day,
    suppression_for,
)
from services.notifier.store import NotifierStore
from shared.db import apply_migrations, connect_pool
from shared.messages import NotificationRecorded
from shared.topics import Topics
from tests.integration.notifier_support import add_admin, add_invoices, recorded_event

pytestmark = pytest.mark.integration

WEDNESDAY, SATURDAY, KINGS_DAY = date(2027, 6, 16), date(2027, 6, 19), date(2027, 4, 27)
NOW = datetime(2027, 4, 20, 10, 0, tzinfo=UTC)  # pauses are judged at the real date
DOMAIN = "example.nl"
NBSP = "\u00a0"  # blank to Python's str.strip()
# customer number -> e-mail address
CUSTOMERS = {
    "C1": "c1@example.nl",
    "C2": None,
    "C3": " \t ",
    "C4": NBSP,
    "C5": "ü",  # not blank: the SMTP server judges it
    "C6": "c6@example.nl",  # blocked
    "C7": "c7@example.nl",  # paused fully, with a reason and an end date
    "C8": "c8@example.nl",  # reminders paused, empty reason
    "C9": "c9@example.nl",  # on the ignore list by prefix
    "C10": "c10@example.nl",  # its invoices A and B in a paused case
    "C11": "c11@example.nl",  # paused, and its invoice A paused too: the customer is named
}


async def _world(pool: asyncpg.Pool, admin_id: str) -> None:
    """Per customer: A due for level 1, B below the minimum, C due for its final notice
    (levels 1 and 2 sent), D blocked, E done (all three sent); and a few odd ones."""
    await add_admin(pool, admin_id, minimum_amount="50")
    await pool.executemany(
        "insert into customers (administration_id, customer_number, name, email, language,"
        " content_hash) values ($1, $2, $3, $4, 'nl', 'test')",
        [(admin_id, c, f"Customer {c}", email) for c, email in CUSTOMERS.items()],
    )
    await pool.execute(
        "update customers set status = 'blocked' where administration_id = $1"
        " and customer_number = 'C6'",
        admin_id,
    )
    old, due = date(2026, 12, 1), date(2027, 1, 1)
    for c in CUSTOMERS:
        await add_invoices(
            pool,
            admin_id,
            [
                (f"{c}-A", c, old, due, "100.00"),
                (f"{c}-B", c, old, due, "10.5"),
                (f"{c}-C", c, old, due, "1234.56"),
                (f"{c}-E", c, old, due, "75"),
            ],
        )
        await add_invoices(pool, admin_id, [(f"{c}-D", c, old, due, "80")], status="blocked")
        await pool.executemany(
            "insert into notifications (administration_id, invoice_number, customer_number,"
            " kind, level, status, run_date, email_message_id)"
            " values ($1, $2, $3, $4, $5, 'sent', $6, 'x')",
            [
                (admin_id, f"{c}-C", c, "reminder", 1, date(2027, 1, 8)),
                (admin_id, f"{c}-C", c, "reminder", 2, date(2027, 1, 15)),
                (admin_id, f"{c}-E", c, "reminder", 1, date(2027, 1, 8)),
                (admin_id, f"{c}-E", c, "reminder", 2, date(2027, 1, 15)),
                (admin_id, f"{c}-E", c, "final_notice", 3, date(2027, 1, 22)),
            ],
        )
    await add_invoices(
        pool,
        admin_id,
        [
            ("IGN-1", "C1", old, due, "100"),
            ("Q'1", "C1", old, due, "100"),  # its ignore entry needs Python's repr
            ("PC-1", "C1", old, due, "100"),
        ],
    )
    await pool.execute(
        "update invoices set payment_condition = 'XIGN' where administration_id = $1"
        " and invoice_number = 'PC-1'",
        admin_id,
    )
    await pool.executemany(
        "insert into ignore_entries (administration_id, entity, pattern, kind, low)"
        " values ($1, $2, $3, $4, $5)",
        [
            (admin_id, "invoice", "IGN-1", "exact", "IGN-1"),
            (admin_id, "invoice", "Q'1", "exact", "Q'1"),
            (admin_id, "customer", "C9*", "prefix", "C9"),
            (admin_id, "payment_condition", "XIGN", "exact", "XIGN"),
        ],
    )
    await pool.execute(
        "insert into cases (administration_id, case_key, customer_number, created_by)"
        " values ($1, 'K1', 'C10', 'test')",
        admin_id,
    )
    await pool.executemany(
        "insert into case_invoices (administration_id, invoice_number, case_key)"
        " values ($1, $2, 'K1')",
        [(admin_id, "C10-A"), (admin_id, "C10-B")],
    )
    until, ended = date(2027, 12, 31), date(2027, 4, 1)
    await pool.executemany(
        "insert into pauses (administration_id, entity, key, mode, until, reason, created_by)"
        " values ($1, $2, $3, $4, $5, $6, 'test')",
        [
            (admin_id, "customer", "C7", "full", until, "disputed"),
            (admin_id, "customer", "C8", "reminders", None, ""),
            (admin_id, "case", "K1", "full", None, "payment plan"),
            (admin_id, "customer", "C11", "full", None, None),
            (admin_id, "invoice", "C11-A", "full", until, None),
            (admin_id, "invoice", "C1-C", "full", until, None),
            (admin_id, "invoice", "C1-A", "full", ended, "over"),  # ended: not in force
        ],
    )


def _python_only(c: Candidate, s: Suppression) -> bool:
    """What the statement leaves to Python: an ignore entry that repr() would escape."""
    return s.reason == "ignored" and c.ignored is not None and "'" in c.ignored.pattern


async def _compare(
    pool: asyncpg.Pool, store: NotifierStore, admin_id: str, as_of: date
) -> dict[str, int]:
    """Run the statement as of a day and check each decision against Python's; the reasons
    met, counted."""
    await pool.execute("delete from outbox")
    await pool.execute("delete from notifications where status = 'suppressed'")
    day = sending_day(as_of, "NL", "reminder")
    reference = await store.due_reminders(admin_id, as_of=as_of, now=NOW)
    expected = {
        (c.invoice_number, c.kind, c.level): (c, suppression_for(c, day)) for c in reference
    }
    request_id = uuid4()

    held, rest = await store.hold_due_reminders(
        admin_id, as_of=as_of, now=NOW, day=day, request_id=request_id, domain=DOMAIN
    )

    rows = {
        (r["invoice_number"], r["kind"], r["level"]): r
        for r in await pool.fetch("select * from notifications where request_id = $1", request_id)
    }
    back = {(c.invoice_number, c.kind, c.level): c for c in rest}
    assert set(rows) | set(back) == set(expected)
    assert not set(rows) & set(back)
    met: dict[str, int] = {}
    for key, (c, s) in expected.items():
        if key in rows:
            assert s is not None, key
            row = rows[key]
            assert (row["status"], row["reason"], row["detail"], row["pause_id"]) == (
                "suppressed",
                s.reason,
                s.detail,
                s.pause.id if s.pause else None,
            ), key
            assert row["email_message_id"] == email_message_id(
                admin_id, c.invoice_number, c.kind, c.level, DOMAIN
            )
            assert (row["run_date"], row["customer_number"]) == (as_of, c.customer_number)
            met[s.reason] = met.get(s.reason, 0) + 1
        else:
            assert s is None or _python_only(c, s), (key, s)
            assert back[key] == c  # the same facts as the reference selection
            what = "python" if s is None else f"python:{s.reason}"
            met[what] = met.get(what, 0) + 1
    assert held.total == held.recorded == len(rows)
    assert held.by_kind == {
        kind: sum(k == kind for _, k, _ in rows) for kind in ("reminder", "final_notice")
    }

    # The events are staged as one outbox row naming the new notifications; each event the
    # relay builds from it is its row as NotificationRecorded, message_id included.
    pauses = {
        p["id"]: Pause(p["id"], p["entity"], p["key"], p["mode"], p["reason"], p["until"])
        for p in await pool.fetch("select * from pauses")
    }
    by_id = {r["id"]: r for r in rows.values()}
    staged = await pool.fetch("select topic, key, payload, notification_ids from outbox")
    assert [(s["topic"], s["key"], s["payload"]) for s in staged] == [
        ("t.notifications", admin_id, None)
    ]
    assert staged[0]["notification_ids"] == sorted(by_id)
    payloads = await pool.fetch(
        "select payload from notification_events($1)", staged[0]["notification_ids"]
    )
    events = [NotificationRecorded.model_validate(json.loads(p["payload"])) for p in payloads]
    assert [e.notification_id for e in events] == sorted(by_id)
    for event in events:
        row = by_id[event.notification_id]
        assert event == recorded_event(row, pauses.get(row["pause_id"]))

    # A second run meets the same causes: recorded once.
    again, rest_again = await store.hold_due_reminders(
        admin_id, as_of=as_of, now=NOW, day=day, request_id=uuid4(), domain=DOMAIN
    )
    assert (again.total, again.recorded) == (held.total, 0)
    assert [c.invoice_number for c in rest_again] == [c.invoice_number for c in rest]
    assert await pool.fetchval("select count(*) from outbox") == 1  # nothing new staged
    return met


async def test_what_a_run_holds_back_in_sql_is_what_python_decides(database_url: str) -> None:
    pool = await connect_pool(database_url)
    await apply_migrations(pool)
    store = NotifierStore(pool, Topics("t."))
    await _world(pool, "acme")
    await _world(pool, "whole")
    await pool.execute(
        "insert into pauses (administration_id, entity, key, mode, until, reason, created_by)"
        " values ('whole', 'administration', 'whole', 'reminders', '2027-12-31', 'year end',"
        " 'test')"
    )
    try:
        met = {
            (admin_id, as_of): await _compare(pool, store, admin_id, as_of)
            for admin_id in ("acme", "whole")
            for as_of in (WEDNESDAY, SATURDAY, KINGS_DAY)
        }
    finally:
        await pool.close()

    working = met[("acme", WEDNESDAY)]
    assert set(working) == {
        "ignored",
        "blocked",
        "paused",
        "below_minimum",
        "no_email",
        "python",
        "python:ignored",
    }
    # only C1-A (its pause ended), C5-A, C5-C and C10-C (not in the case) may leave
    assert working["python"] == 4
    assert working["no_email"] == 6  # C2, C3 and C4 (A and C; B is below the minimum)
    assert "not_working_day" in met[("acme", SATURDAY)]
    assert "holiday" in met[("acme", KINGS_DAY)]
    assert "python" not in met[("acme", SATURDAY)]
    # an administration paused: everything not ignored or blocked is paused, by it
    assert set(met[("whole", WEDNESDAY)]) == {"ignored", "blocked", "paused", "python:ignored"}


async def test_a_days_due_reminders_are_counted_once_whatever_comes_back(
    database_url: str,
) -> None:
    pool = await connect_pool(database_url)
    await apply_migrations(pool)
    store = NotifierStore(pool, Topics("t."))
    await _world(pool, "acme")
    wednesday = sending_day(WEDNESDAY, "NL", "reminder")
    try:
        reference = await store.due_reminders("acme", as_of=WEDNESDAY, now=NOW)
        held, rest = await store.hold_due_reminders(
            "acme", as_of=WEDNESDAY, now=NOW, day=wednesday, request_id=uuid4(), domain=DOMAIN
        )
        # nothing due at all: one row of counts, no candidate
        late = NOW + timedelta(days=1)
        none_held, none_back = await store.hold_due_reminders(
            "acme",
            as_of=date(2026, 1, 5),
            now=late,
            day=sending_day(date(2026, 1, 5), "NL", "reminder"),
            request_id=uuid4(),
            domain=DOMAIN,
        )
    finally:
        await pool.close()

    assert held.total + len(rest) == len(reference)
    assert [c.invoice_number for c in rest] == sorted(c.invoice_number for c in rest)
    assert (none_held.total, none_held.recorded, none_back) == (0, 0, [])
