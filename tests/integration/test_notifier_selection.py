"""The one SQL statement that selects due reminders agrees with the rule written out in Python
(`next_reminder`) over a grid of plans, due dates and reminders already sent."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import product

import pytest

from services.notifier.logic import Plan, next_reminder
from services.notifier.store import NotifierStore
from shared.db import apply_migrations, connect_pool
from shared.topics import Topics
from tests.integration.notifier_support import add_admin, add_customers, add_invoices

pytestmark = pytest.mark.integration

AS_OF = date(2027, 6, 16)
PLANS = {
    "default": Plan(7, 7, 2, True),
    "P2": Plan(3, 10, 1, False),
    "P0": Plan(14, 7, 0, True),
}
DUE_DAYS_AGO = [0, 3, 6, 7, 8, 14, 16, 21, 30, 200]
SENT = [(0, None), (1, 1), (1, 7), (1, 10), (2, 3), (2, 7), (3, 30)]  # (levels sent, days ago)


async def test_the_due_reminder_query_agrees_with_the_rule_over_a_grid(database_url: str) -> None:
    pool = await connect_pool(database_url)
    await apply_migrations(pool)
    await add_admin(pool)
    await add_customers(pool, "acme", ["C1"])
    for code, plan in PLANS.items():
        await pool.execute(
            "insert into dunning_plans values ('acme', $1, $2, $3, $4, $5)"
            " on conflict (administration_id, condition_code) do update set"
            " first_after_days = $2, interval_days = $3, reminder_count = $4, final_notice = $5",
            code,
            plan.first_after_days,
            plan.interval_days,
            plan.reminder_count,
            plan.final_notice,
        )
    expected: dict[str, tuple[str, int]] = {}
    sent_rows = []
    for code, days_ago, (sent_level, sent_days_ago) in product(PLANS, DUE_DAYS_AGO, SENT):
        number = f"{code}-{days_ago}-{sent_level}-{sent_days_ago}"
        due = AS_OF - timedelta(days=days_ago)
        condition = "UNPLANNED" if code == "default" else code  # falls back to default
        await add_invoices(
            pool,
            "acme",
            [(number, "C1", due - timedelta(days=30), due, "100.00")],
            payment_condition=condition,
        )
        last = AS_OF - timedelta(days=sent_days_ago) if sent_days_ago is not None else None
        plan = PLANS[code]
        for level in range(1, sent_level + 1):
            kind = plan.kind_of(level) or "reminder"
            on = (last or AS_OF) - timedelta(days=sent_level - level)
            sent_rows.append((number, kind, level, on))
        due_now = next_reminder(plan, due, sent_level=sent_level, last_sent_on=last, as_of=AS_OF)
        if due_now is not None:
            expected[number] = due_now
    await pool.executemany(
        "insert into notifications (administration_id, invoice_number, customer_number, kind,"
        " level, status, run_date, email_message_id) values ('acme', $1, 'C1', $2, $3, 'sent',"
        " $4, 'x')",
        sent_rows,
    )

    store = NotifierStore(pool, Topics("t."))
    found = await store.due_reminders("acme", as_of=AS_OF, now=datetime.now(UTC))
    await pool.close()

    assert {c.invoice_number: (c.kind, c.level) for c in found} == expected
    assert len(expected) > 20  # the grid has due and not-due cases of every kind
    assert {kind for kind, _ in expected.values()} == {"reminder", "final_notice"}


async def test_paid_invoices_and_credit_notes_are_never_selected_but_blocked_ones_are(
    database_url: str,
) -> None:
    pool = await connect_pool(database_url)
    await apply_migrations(pool)
    await add_admin(pool)
    await add_customers(pool, "acme", ["C1"])
    due = AS_OF - timedelta(days=60)
    rows = [("OPEN", "C1", due, due, "10.00"), ("CREDIT", "C1", due, due, "-25.00")]
    await add_invoices(pool, "acme", rows)
    await add_invoices(pool, "acme", [("PAID", "C1", due, due, "10.00")], status="closed")
    await add_invoices(pool, "acme", [("BLOCKED", "C1", due, due, "10.00")], status="blocked")

    store = NotifierStore(pool, Topics("t."))
    found = await store.due_reminders("acme", as_of=AS_OF, now=datetime.now(UTC))
    await pool.close()

    assert sorted(c.invoice_number for c in found) == ["BLOCKED", "OPEN"]
