"""Helpers for the notifier's tests: a real SMTP server that collects (and can hold) mail, a
notifier whose parts run against the real broker and database, a settable clock, and quick
ways to put customers and invoices in place."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import holidays
from aiosmtpd.controller import Controller

from services.control.admins import NewAdministration, add_administration
from services.notifier.handlers import Notifier
from services.notifier.logic import Pause
from shared.embedded import free_port
from shared.kafka import make_broker
from shared.messages import NotificationRecorded, ReminderRunRequested
from shared.service import ServiceRuntime
from shared.settings import Settings
from shared.testing import eventually

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def notification_message_id(notification_id: int) -> UUID:
    """The message_id of a notification's event: a version-3 UUID of its id, the same each
    time it is published (SQL `notification_events`)."""
    digest = hashlib.md5(f"creditflow.notification.{notification_id}".encode()).hexdigest()
    return UUID(digest[:12] + "3" + digest[13:16] + "8" + digest[17:])


def recorded_event(row: asyncpg.Record, pause: Pause | None = None) -> NotificationRecorded:
    """A notification row as the NotificationRecorded its event must be, written out in
    Python: what SQL `notification_events` builds for the relay is compared with it."""
    return NotificationRecorded(
        message_id=notification_message_id(row["id"]),
        administration_id=row["administration_id"],
        invoice=row["invoice_number"],
        kind=row["kind"],
        level=row["level"],
        outcome=row["status"],
        reason=row["reason"],
        email_message_id=row["email_message_id"],
        at=row["sent_at"] or row["created_at"],
        notification_id=row["id"],
        customer=row["customer_number"],
        detail=row["detail"],
        pause_id=row["pause_id"],
        pause_entity=pause.entity if pause else None,
        pause_key=pause.key if pause else None,
        run_date=row["run_date"],
        request_id=row["request_id"],
    )


class MailCatcher:
    """An aiosmtpd server on a free port that keeps every message it accepts.

    `hold()` makes it keep the reply to the next DATA until `release()`: a send in flight.
    Addresses in `refuse` are answered 550.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self.data_arrived = threading.Event()
        self._release = threading.Event()
        self._release.set()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> MailCatcher:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._controller.stop()

    def hold(self) -> None:
        self.data_arrived.clear()
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_arrived.set()
        if not self._release.is_set():
            await asyncio.get_running_loop().run_in_executor(None, self._release.wait, 60)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    # --- reading -----------------------------------------------------------------------------

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]).strip() for m in self.messages]  # unfolded

    def to(self) -> list[str]:
        return [str(m["To"].addresses[0].addr_spec) for m in self.messages]

    async def wait_for(self, count: int, *, timeout: float = 20.0) -> list[EmailMessage]:
        async def enough() -> bool:
            return len(self.messages) >= count

        await eventually(enough, timeout=timeout, what=f"{count} e-mails")
        return self.messages


@asynccontextmanager
async def mail_catcher() -> AsyncIterator[MailCatcher]:
    catcher = MailCatcher().start()
    try:
        yield catcher
    finally:
        catcher.stop()


@dataclass
class Clock:
    """A settable clock for the notifier."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def local(self, day: date, at: time = time(10, 0)) -> None:
        self.now = datetime.combine(day, at, tzinfo=AMSTERDAM).astimezone(UTC)


def next_working_day(after: date, weekday: int = 2) -> date:
    """The first given weekday (default Wednesday) after `after` that is no Dutch holiday."""
    day = after + timedelta(days=1)
    nl = holidays.country_holidays("NL", years=range(after.year, after.year + 2))
    while day.weekday() != weekday or day in nl:
        day += timedelta(days=1)
    return day


def local_today() -> date:
    return datetime.now(AMSTERDAM).date()


def notifier_settings(settings: Settings, smtp: MailCatcher, *, grace: int = 0) -> Settings:
    return replace(settings, smtp_url=smtp.url, invoice_grace_seconds=grace)


@asynccontextmanager
async def running_notifier(settings: Settings, clock: Clock) -> AsyncIterator[Notifier]:
    """A notifier's parts on the real database and broker (its outbox relay publishes), with
    no consumer groups to join: tests call its handlers directly."""
    runtime = ServiceRuntime(settings, make_broker(settings, client_id="notifier-test"), "notifier")
    await runtime.open()
    await runtime.broker.start()
    await runtime.start_relay()
    try:
        yield Notifier(runtime, clock=clock)
    finally:
        await runtime.broker.stop()
        await runtime.close()


def reminder_request(admin_id: str, as_of: date) -> ReminderRunRequested:
    return ReminderRunRequested(administration_id=admin_id, as_of=as_of, requested_by="test")


# --- data -------------------------------------------------------------------------------------


async def add_admin(
    pool: asyncpg.Pool,
    admin_id: str = "acme",
    *,
    send_invoices_from: str | None = "2020-01-01",
    minimum_amount: str = "0",
) -> None:
    await add_administration(
        pool,
        NewAdministration.parse(
            {
                "id": admin_id,
                "name": "Acme Trading B.V.",
                "source": "demo:1",
                "import_mode": "manual",
                "send_invoices_from": send_invoices_from,
                "minimum_amount": minimum_amount,
            }
        ),
    )


async def add_customers(
    pool: asyncpg.Pool, admin_id: str, numbers: list[str], *, language: str = "nl"
) -> None:
    await pool.executemany(
        "insert into customers (administration_id, customer_number, name, email, language,"
        " content_hash) values ($1, $2, $3, $4, $5, 'test')",
        [(admin_id, n, f"Customer {n}", f"{n.lower()}@example.nl", language) for n in numbers],
    )


async def add_invoices(
    pool: asyncpg.Pool,
    admin_id: str,
    rows: list[tuple[str, str, date, date, str]],
    *,
    payment_condition: str = "30D",
    status: str = "open",
) -> None:
    """rows: (invoice number, customer number, invoice date, due date, amount open)."""
    await pool.executemany(
        "insert into invoices (administration_id, invoice_number, customer_number, invoice_date,"
        " due_date, currency, amount_total, amount_open, payment_condition, content_hash,"
        " status) values ($1, $2, $3, $4, $5, 'EUR', $6, $6, $7, 'test', $8)",
        [
            (admin_id, n, c, d, due, Decimal(amount), payment_condition, status)
            for n, c, d, due, amount in rows
        ],
    )


async def records(pool: asyncpg.Pool, admin_id: str = "acme") -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "select invoice_number, kind, level, status, reason, pause_id, run_date,"
        " email_message_id from notifications where administration_id = $1 order by id",
        admin_id,
    )
    return [dict(row) for row in rows]


def outcomes(rows: list[dict[str, Any]]) -> set[tuple[str, str, int, str, str | None]]:
    return {(r["invoice_number"], r["kind"], r["level"], r["status"], r["reason"]) for r in rows}


@dataclass
class Env:
    """One test's notifier world: settings, a pool, the SMTP server, the clock, a notifier."""

    settings: Settings
    pool: asyncpg.Pool
    smtp: MailCatcher
    clock: Clock
    notifier: Notifier
    wednesday: date  # a working day (no holiday) after today, where the clock stands

    async def remind(self, as_of: date | None = None, admin_id: str = "acme") -> dict[str, int]:
        counts = await self.notifier.run_reminders(
            reminder_request(admin_id, as_of or self.wednesday)
        )
        return dict(counts)

    async def schedule_invoice_mails(self, invoices: list[str], admin_id: str = "acme") -> int:
        return await self.notifier.store.schedule_invoice_mails(admin_id, invoices, self.clock())

    async def send_invoice_mails(self) -> dict[str, int]:
        return dict(await self.notifier.send_due_invoice_mails())

    def to_invoices(self) -> list[str]:
        """The invoice numbers the e-mails received so far are about (from their subjects)."""
        found = [re.search(r"(?:factuur|invoice) (\S+?),? ", s, re.I) for s in self.smtp.subjects()]
        return sorted(m.group(1) for m in found if m)


@asynccontextmanager
async def notifier_env(
    settings: Settings, *, minimum_amount: str = "0", grace: int = 0
) -> AsyncIterator[Env]:
    from shared.db import connect_pool

    async with mail_catcher() as smtp:
        configured = notifier_settings(settings, smtp, grace=grace)
        wednesday = next_working_day(local_today())
        clock = Clock(datetime.now(UTC))
        clock.local(wednesday)
        pool = await connect_pool(settings.require_database(), max_size=4)
        try:
            async with running_notifier(configured, clock) as notifier:
                await add_admin(pool, minimum_amount=minimum_amount)
                yield Env(configured, pool, smtp, clock, notifier, wednesday)
        finally:
            await pool.close()
