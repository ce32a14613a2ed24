"""The notifier as a service on the real broker: reminder-run requests and accepted updates
arrive as messages; a redelivered request sends nothing new."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4

import pytest

from services.notifier.app import build_app
from shared.db import apply_migrations, connect_pool
from shared.settings import Settings
from shared.testing import TopicReader, eventually, publish_json, running
from tests.integration.notifier_support import (
    AMSTERDAM,
    Clock,
    MailCatcher,
    add_admin,
    add_customers,
    add_invoices,
    mail_catcher,
    notifier_settings,
)

pytestmark = pytest.mark.integration

AS_OF = date(2027, 3, 3)


@dataclass
class Service:
    settings: Settings
    smtp: MailCatcher

    async def publish(self, topic: str, value: dict[str, object] | bytes) -> None:
        await publish_json(
            self.settings.require_kafka(), f"{self.settings.topic_prefix}{topic}", "acme", value
        )

    async def run_ended(self, request_id: str) -> dict[str, object]:
        pool = await connect_pool(self.settings.require_database(), max_size=1)
        try:

            async def ended() -> object:
                return await pool.fetchrow(
                    "select status, counts from reminder_runs where request_id = $1"
                    " and status <> 'running'",
                    request_id,
                )

            row = await eventually(ended, what=f"reminder run {request_id}")
            return dict(row)  # type: ignore[call-overload]
        finally:
            await pool.close()


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    pool = await connect_pool(settings.require_database(), max_size=2)
    clock = Clock(datetime.combine(AS_OF, time(10), tzinfo=AMSTERDAM).astimezone(UTC))
    await apply_migrations(pool)
    await add_admin(pool)
    # Created at the clock's time: no daily run is due before tomorrow 09:00.
    await pool.execute("update administrations set created_at = $1", clock())
    await add_customers(pool, "acme", ["C1", "C2"])
    due = AS_OF - timedelta(days=30)
    await add_invoices(pool, "acme", [("F1", "C1", due, due, "100"), ("F2", "C2", due, due, "100")])
    await pool.close()
    async with mail_catcher() as smtp:
        configured = notifier_settings(settings, smtp)
        async with running(build_app(configured, clock=clock, dispatch_seconds=0.2)):
            yield Service(configured, smtp)


def _request(as_of: date = AS_OF, request_id: str | None = None) -> dict[str, object]:
    return {
        "message_id": str(uuid4()),
        "request_id": request_id or str(uuid4()),
        "administration_id": "acme",
        "as_of": as_of.isoformat(),
        "requested_by": "another system",
        "requested_at": "2027-03-03T08:00:00Z",
    }


async def test_a_redelivered_reminder_run_request_sends_nothing_new(service: Service) -> None:
    request = _request()
    await service.publish("reminder-requests", request)
    first = await service.run_ended(str(request["request_id"]))
    await service.smtp.wait_for(2)

    await service.publish("reminder-requests", request)  # the same message again
    await service.publish("reminder-requests", _request())  # and another request, same day
    marker = _request(AS_OF + timedelta(days=1))  # requests of one administration keep order
    await service.publish("reminder-requests", marker)
    await service.run_ended(str(marker["request_id"]))

    assert first == {"status": "completed", "counts": {"due": 2, "sent": 2}}
    assert sorted(service.smtp.to()) == ["c1@example.nl", "c2@example.nl"]


async def test_bad_requests_neither_send_nor_block_the_ones_behind_them(
    service: Service,
) -> None:
    prefix = service.settings.topic_prefix
    async with TopicReader(service.settings.require_kafka(), f"{prefix}dead-letters") as dead:
        await service.publish("reminder-requests", b"{not json")
        unknown = {**_request(), "administration_id": "nobody"}
        await service.publish("reminder-requests", unknown)
        good = _request()
        await service.publish("reminder-requests", good)
        assert (await service.run_ended(str(good["request_id"])))["status"] == "completed"
        letters = await dead.wait_for(lambda ms: len(ms) >= 1, what="the dead letter")
    failed = await service.run_ended(str(unknown["request_id"]))
    assert failed["status"] == "failed"
    assert (
        len(letters) == 1 and "ReminderRunRequested" in dict(dead.raw[0].headers)["error"].decode()
    )
    assert len(service.smtp.messages) == 2


def _added(*invoices: str) -> bytes:
    update = {
        "message_id": str(uuid4()),
        "administration_id": "acme",
        "run_id": str(uuid4()),
        "changes": [{"entity": "invoice", "key": n, "change": "added"} for n in invoices]
        + [
            {"entity": "invoice", "key": "F1", "change": "updated"},
            {"entity": "customer", "key": "C2", "change": "added"},
        ],
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps(update).encode()


async def test_an_accepted_new_invoice_is_emailed_once(service: Service) -> None:
    pool = await connect_pool(service.settings.require_database(), max_size=1)
    later = AS_OF + timedelta(days=30)
    rows = [("NEW1", "C2", AS_OF, later, "75.50"), ("NEW2", "C2", AS_OF, later, "20.00")]
    await add_invoices(pool, "acme", rows)
    await pool.close()
    first = _added("NEW1")
    await service.publish("accepted-updates", first)
    messages = await service.smtp.wait_for(1)
    assert messages[0]["Subject"].startswith("Factuur NEW1 van Acme Trading B.V.: € 75,50")

    await service.publish("accepted-updates", first)  # redelivered
    await service.publish("accepted-updates", _added("NEW2"))  # behind it, same partition
    await service.smtp.wait_for(2)
    assert service.smtp.subjects()[1].startswith("Factuur NEW2")
    assert len(service.smtp.messages) == 2
