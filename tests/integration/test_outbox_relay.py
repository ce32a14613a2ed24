"""The outbox relay publishes both forms of outbox row, in the order they were written: a
payload as it is, and a row naming notifications as each one's NotificationRecorded, built
from its row when it leaves (migration 0070)."""

from __future__ import annotations

import json

import pytest

from shared.db import apply_migrations, connect_pool
from shared.messages import ControlEvent
from shared.outbox import OutboxRelay, stage, stage_notifications
from shared.settings import Settings
from shared.testing import TopicReader
from shared.topics import Topics
from tests.integration.notifier_support import notification_message_id

pytestmark = pytest.mark.integration

# More than the relay's page (2,000), so that a row's events are built in several pages.
NOTIFICATIONS = 4_500


async def test_a_row_naming_notifications_leaves_as_their_events_in_order(
    settings: Settings,
) -> None:
    pool = await connect_pool(settings.database_url)
    relay = OutboxRelay(pool, settings)
    topic = Topics(settings.topic_prefix).notifications
    try:
        await apply_migrations(pool)
        async with pool.acquire() as conn, conn.transaction():
            ids = await conn.fetch(
                "insert into notifications (administration_id, invoice_number, customer_number,"
                " kind, level, status, reason, detail, run_date, email_message_id)"
                " select 'acme', 'F' || g, 'C' || g % 7, 'reminder', 1, 'suppressed',"
                " 'not_working_day', 'Saturday 2026-12-05: no reminders', date '2026-12-05',"
                " '<m' || g || '@example.nl>' from generate_series(1, $1) g returning id",
                NOTIFICATIONS,
            )
            ids = [row["id"] for row in ids]
            before = ControlEvent(command="plan_set", administration_id="acme", detail={"n": 1})
            after = ControlEvent(command="plan_set", administration_id="acme", detail={"n": 2})
            await stage(conn, topic, "acme", [before])
            # Named out of order: they leave in the order named.
            named = ids[1:] + ids[:1]
            await stage_notifications(conn, topic, "acme", named)
            await stage(conn, topic, "acme", [after])

        async with TopicReader(settings.require_kafka(), topic) as reader:
            assert await relay.flush() == NOTIFICATIONS + 2
            messages = await reader.wait_for(
                lambda ms: len(ms) >= NOTIFICATIONS + 2, what="every event"
            )
        assert await pool.fetchval("select count(*) from outbox") == 0
        assert await relay.flush() == 0

        assert messages[0]["detail"] == {"n": 1}
        assert messages[-1]["detail"] == {"n": 2}
        events = messages[1:-1]
        assert [e["notification_id"] for e in events] == named
        assert [e["message_id"] for e in events] == [str(notification_message_id(i)) for i in named]
        first = next(e for e in events if e["notification_id"] == ids[0])
        assert first["invoice"] == "F1" and first["customer"] == "C1"
        assert (first["outcome"], first["reason"], first["level"]) == (
            "suppressed",
            "not_working_day",
            1,
        )
        assert "pause_id" not in first and "request_id" not in first  # nulls are left out
    finally:
        await relay.stop()
        await pool.close()


async def test_an_event_built_twice_is_the_same_message(settings: Settings) -> None:
    """A relay that dies after publishing and before deleting the row publishes it again:
    with the same message_id, so that consumers can tell."""
    pool = await connect_pool(settings.database_url)
    try:
        await apply_migrations(pool)
        notification_id = await pool.fetchval(
            "insert into notifications (administration_id, invoice_number, kind, level, status,"
            " run_date, email_message_id) values ('acme', 'F1', 'invoice', 0, 'sent',"
            " date '2026-12-04', '<m@example.nl>') returning id"
        )
        built = [
            await pool.fetchval("select payload from notification_events($1)", [notification_id])
            for _ in range(2)
        ]
        assert built[0] == built[1]
        assert json.loads(built[0])["message_id"] == str(notification_message_id(notification_id))
        with pytest.raises(Exception, match="outbox_payload_or_notifications"):
            await pool.execute(
                "insert into outbox (topic, key, payload, notification_ids)"
                " values ('t', 'acme', '\\x7b7d', array[1])"
            )
    finally:
        await pool.close()
