"""Delivering due notifications: decide, record what is suppressed, claim and send the rest.

Selection is set-based (the store's due queries). What is suppressed is recorded in one
statement. Each e-mail is then sent inside its own transaction, which
1. takes the administration's sending guard in its shared form (a pause waits for it),
2. selects this notification again, so it sees every pause committed before the guard,
3. decides again, and records a suppression, or
4. claims (invoice, kind, level) (a concurrent claimer waits and then finds it taken),
5. hands the e-mail to the SMTP server and marks it sent, with its event in the outbox.
A crash anywhere rolls the claim back: the next run sends it again, with the same Message-ID.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from uuid import UUID

import asyncpg
from prometheus_client import Counter as Metric

from services.notifier.compose import Notice, compose, sender_domain
from services.notifier.logic import (
    Candidate,
    Day,
    Suppression,
    email_message_id,
    language_of,
    suppression_for,
)
from services.notifier.mailer import Mailer, MailRefused, MailSession
from services.notifier.store import NotifierStore, Record
from shared.outbox import OutboxRelay

__all__ = ["Delivery", "Recheck"]

log = logging.getLogger("creditflow.notifier")

NOTIFICATIONS = Metric(
    "creditflow_notifications_total",
    "Notifications by kind and outcome (sent, suppressed, failed).",
    ["kind", "outcome"],
)

# Selects one candidate again inside the sending transaction: [] when it is no longer due.
Recheck = Callable[[asyncpg.Connection, Candidate], Awaitable[list[Candidate]]]
FLUSH_EVERY = 50
# E-mails go out over this many SMTP connections at once, each reused for the whole run.
SEND_LANES = 4
# A suppressed invoice e-mail (paused, ignored, not a sending day) is looked at again after
# this long; one refused by the mail server after an hour.
RECHECK_SECONDS = 60


class Delivery:
    def __init__(
        self,
        store: NotifierStore,
        mailer: Mailer,
        relay: OutboxRelay,
        *,
        sender: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.mailer = mailer
        self.relay = relay
        self.sender = sender
        self.domain = sender_domain(sender)
        self.clock = clock

    def message_id(self, c: Candidate) -> str:
        return email_message_id(c.administration_id, c.invoice_number, c.kind, c.level, self.domain)

    def record(
        self, c: Candidate, run_date: date, request_id: UUID | None, s: Suppression | None
    ) -> Record:
        return Record(c, run_date, self.message_id(c), request_id, s)

    async def deliver(
        self,
        candidates: Sequence[Candidate],
        *,
        day_of: Callable[[Candidate], Day],
        run_date_of: Callable[[Candidate], date],
        recheck: Recheck,
        request_id: UUID | None = None,
    ) -> Counter[str]:
        counts: Counter[str] = Counter()
        suppressed: list[Record] = []
        sendable: list[Candidate] = []
        for c in candidates:
            s = suppression_for(c, day_of(c))
            if s is None:
                sendable.append(c)
            else:
                suppressed.append(self.record(c, run_date_of(c), request_id, s))
        if suppressed:
            # Recorded with their events in the outbox, in one statement; the relay publishes
            # them (in the background, or with the first flush below), so a run that holds
            # back a great many never waits for the broker before it sends.
            new = await self.store.record_suppressions(suppressed, recheck_at=self._recheck_at())
            if new:
                counts["suppressed"] += new
            self._count(suppressed, "suppressed")
        if not sendable:
            return counts

        async def lane(share: Sequence[Candidate]) -> None:
            async with self.mailer.session() as session:
                for done, c in enumerate(share, 1):
                    outcome = await self._send_one(
                        session, c, day_of, run_date_of, recheck, request_id
                    )
                    counts[outcome] += 1
                    if done % FLUSH_EVERY == 0:
                        await self.relay.flush()

        try:
            async with asyncio.TaskGroup() as lanes:
                for n in range(min(SEND_LANES, len(sendable))):
                    lanes.create_task(lane(sendable[n::SEND_LANES]))
        except BaseExceptionGroup as group:
            raise group.exceptions[0] from None  # the first failure, as if sent in one lane
        finally:
            await self.relay.flush()
        return counts

    async def _send_one(
        self,
        session: MailSession,
        candidate: Candidate,
        day_of: Callable[[Candidate], Day],
        run_date_of: Callable[[Candidate], date],
        recheck: Recheck,
        request_id: UUID | None,
    ) -> str:
        async with self.store.pool.acquire() as conn, conn.transaction():
            # Its own statement: the recheck below must start after the guard was granted.
            await conn.execute("select lock_sending_shared($1)", candidate.administration_id)
            fresh = [
                f
                for f in await recheck(conn, candidate)
                if (f.kind, f.level) == (candidate.kind, candidate.level)
            ]
            if not fresh:
                return "skipped"  # sent meanwhile, or no longer due
            c = fresh[0]
            s = suppression_for(c, day_of(c))
            message = None
            if s is None:
                try:
                    message = compose(
                        self.notice(c),
                        sender=self.sender,
                        message_id=self.message_id(c),
                        now=self.clock(),
                    )
                except ValueError as exc:
                    s = Suppression(
                        "no_email", f"the e-mail address {c.email!r} cannot be used: {exc}"
                    )
            record = self.record(c, run_date_of(c), request_id, s)
            if s is not None or message is None:
                new = await self.store.record_suppressions(
                    [record], conn, recheck_at=self._recheck_at()
                )
                self._count([record], "suppressed")
                return "suppressed" if new else "skipped"
            claim_id = await self.store.claim(conn, record)
            if claim_id is None:
                return "skipped"  # another sender got there first
            recipient = (c.email or "").strip()
            try:
                await session.send(message)
            except MailRefused as exc:
                log.warning("%s %s: refused by the SMTP server: %s", c.invoice_number, c.kind, exc)
                await self.store.mark_failed(conn, claim_id, recipient, str(exc))
                if c.kind == "invoice":
                    await self.store.postpone_invoice_mail(
                        conn, c.administration_id, c.invoice_number, self._retry_at()
                    )
                self._count([record], "failed")
                return "failed"
            await self.store.mark_sent(conn, claim_id, recipient)
        self._count([record], "sent")
        return "sent"

    def _retry_at(self) -> datetime:
        return self.clock() + timedelta(hours=1)

    def _recheck_at(self) -> datetime:
        return self.clock() + timedelta(seconds=RECHECK_SECONDS)

    @staticmethod
    def notice(c: Candidate) -> Notice:
        d = c.data
        return Notice(
            kind=c.kind,
            level=c.level,
            language=language_of(d.get("language")),
            administration_name=str(d["administration_name"]),
            customer_name=str(d.get("customer_name") or ""),
            recipient=(c.email or "").strip(),
            invoice_number=c.invoice_number,
            invoice_date=d["invoice_date"],
            due_date=d["due_date"],
            currency=str(d["currency"]),
            amount_total=d["amount_total"],
            amount_open=c.amount_open,
            description=d.get("description"),
        )

    @staticmethod
    def _count(records: Sequence[Record], outcome: str) -> None:
        Delivery.count(Counter(r.candidate.kind for r in records), outcome)

    @staticmethod
    def count(by_kind: Mapping[str, int], outcome: str) -> None:
        for kind, n in by_kind.items():
            if n:
                NOTIFICATIONS.labels(kind, outcome).inc(n)
