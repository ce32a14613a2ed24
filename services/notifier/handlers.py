"""The notifier's handlers: accepted updates schedule invoice e-mails, reminder-run requests
run reminders, and a clock sends due invoice e-mails, fires the daily reminder run and ends
pauses whose end date has passed.

Handlers are thin: decisions are in `logic`, SQL in `store`, sending in `delivery`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from services.importer.logic import latest_due_moment
from services.notifier.delivery import Delivery
from services.notifier.logic import Candidate, Day, sending_day
from services.notifier.mailer import Mailer
from services.notifier.store import NotifierStore
from shared.kafka import Decoded
from shared.messages import ReminderRunRequested, UpdatesAccepted
from shared.service import ServiceRuntime

__all__ = ["DAILY_REMINDER_RUN_AT", "Clock", "Notifier", "system_clock"]

log = logging.getLogger("creditflow.notifier")

Clock = Callable[[], datetime]
# The daily reminder run, in each administration's own time zone.
DAILY_REMINDER_RUN_AT = time(9, 0)
MAX_PAGES = 20


def system_clock() -> datetime:
    return datetime.now(UTC)


def local_date(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


class Notifier:
    def __init__(
        self,
        runtime: ServiceRuntime,
        *,
        clock: Clock = system_clock,
        tick_seconds: float = 30.0,
        dispatch_seconds: float = 5.0,
    ) -> None:
        self.runtime = runtime
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.dispatch_seconds = dispatch_seconds
        self.mailer = Mailer(runtime.settings.smtp_url)
        self.wake = asyncio.Event()
        self._daily_moment_seen: dict[str, datetime] = {}  # administration -> last moment tried
        self._store: NotifierStore | None = None
        self._delivery: Delivery | None = None

    @property
    def store(self) -> NotifierStore:
        if self._store is None:
            self._store = NotifierStore(self.runtime.pool, self.runtime.topics)
        return self._store

    @property
    def delivery(self) -> Delivery:
        if self._delivery is None:
            self._delivery = Delivery(
                self.store,
                self.mailer,
                self.runtime.relay,
                sender=self.runtime.settings.smtp_sender,
                clock=self.clock,
            )
        return self._delivery

    # --- subscribers ---------------------------------------------------------------------

    async def on_updates_accepted(self, batch: list[Decoded[UpdatesAccepted]]) -> None:
        """A newly accepted invoice owes an e-mail once its grace period has passed."""
        grace = timedelta(seconds=self.runtime.settings.invoice_grace_seconds)
        added: dict[tuple[str, datetime], list[str]] = defaultdict(list)
        for item in batch:
            update = item.message
            for change in update.changes:
                if change.entity == "invoice" and change.change == "added":
                    added[(update.administration_id, update.occurred_at + grace)].append(change.key)
        scheduled = 0
        for (admin_id, send_after), invoices in added.items():
            scheduled += await self.store.schedule_invoice_mails(admin_id, invoices, send_after)
        if scheduled:
            log.info("%d invoice e-mails scheduled", scheduled)
            self.wake.set()

    async def on_reminder_run_requested(self, batch: list[Decoded[ReminderRunRequested]]) -> None:
        for item in batch:
            await self.run_reminders(item.message)

    # --- reminder runs -------------------------------------------------------------------

    async def run_reminders(self, request: ReminderRunRequested) -> Counter[str]:
        """R9: every invoice of the administration gets at most its next level, once."""
        admin = await self.store.administration(request.administration_id)
        await self.store.start_run(request)
        if admin is None:
            reason = f"unknown administration {request.administration_id!r}"
            log.warning("reminder run %s: %s", request.request_id, reason)
            await self.store.finish_run(
                request.request_id, status="failed", counts={}, reason=reason
            )
            return Counter()
        day = sending_day(request.as_of, admin.holiday_country, "reminder")
        # One statement selects every due reminder and records those held back for a reason
        # that needs no work per reminder (on a Saturday: all of them); the rest come here.
        held, candidates = await self.store.hold_due_reminders(
            admin.id,
            as_of=request.as_of,
            now=self.clock(),
            day=day,
            request_id=request.request_id,
            domain=self.delivery.domain,
        )
        self.delivery.count(held.by_kind, "suppressed")

        async def recheck(conn: asyncpg.Connection, c: Candidate) -> list[Candidate]:
            return await self.store.due_reminders(
                admin.id,
                as_of=request.as_of,
                now=self.clock(),
                invoices=[c.invoice_number],
                conn=conn,
            )

        counts = await self.delivery.deliver(
            candidates,
            day_of=lambda c: day,
            run_date_of=lambda c: request.as_of,
            recheck=recheck,
            request_id=request.request_id,
        )
        if held.recorded:
            counts["suppressed"] += held.recorded
        counts["due"] = held.total + len(candidates)
        await self.store.finish_run(request.request_id, status="completed", counts=dict(counts))
        log.info(
            "reminder run %s of %r as of %s: %s",
            request.request_id,
            admin.id,
            request.as_of,
            dict(counts),
        )
        return counts

    # --- invoice e-mails -----------------------------------------------------------------

    async def send_due_invoice_mails(self, *, batch: int = 500) -> Counter[str]:
        total: Counter[str] = Counter()
        days: dict[tuple[str, date], Day] = {}

        def day_of(c: Candidate) -> Day:
            on = c.data["today"]
            key = (str(c.data["holiday_country"]), on)
            if key not in days:
                days[key] = sending_day(on, key[0], "invoice")
            return days[key]

        async def recheck(conn: asyncpg.Connection, c: Candidate) -> list[Candidate]:
            return await self.store.due_invoice_mails(
                self.clock(),
                admin_id=c.administration_id,
                invoices=[c.invoice_number],
                conn=conn,
            )

        # Every e-mail looked at is sent, settled or put off for a while, so the next page
        # holds others; a bounded number of pages keeps one pass short.
        for _ in range(MAX_PAGES):
            candidates = await self.store.due_invoice_mails(self.clock(), limit=batch)
            if candidates:
                total += await self.delivery.deliver(
                    candidates,
                    day_of=day_of,
                    run_date_of=lambda c: c.data["today"],
                    recheck=recheck,
                )
            if len(candidates) < batch:
                break
        return total

    # --- time ----------------------------------------------------------------------------

    async def keep_time(self) -> None:
        """Send due invoice e-mails (woken early by new ones), and on every tick fire the
        daily reminder runs and end expired pauses."""
        loop = asyncio.get_running_loop()
        last_tick = -self.tick_seconds
        while True:
            try:
                if loop.time() - last_tick >= self.tick_seconds:
                    last_tick = loop.time()
                    await self.tick()
                await self.send_due_invoice_mails()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an outage must not stop the clock
                log.warning("notifier clock: %s: %s", type(exc).__name__, exc)
            self.wake.clear()
            try:
                await asyncio.wait_for(
                    self.wake.wait(), timeout=min(self.dispatch_seconds, self.tick_seconds)
                )
            except TimeoutError:
                pass

    async def tick(self) -> None:
        now = self.clock()
        ended = await self.store.end_expired_pauses(now)
        for pause in ended:
            log.info(
                "pause %s of %s %s ended on %s",
                pause["id"],
                pause["entity"],
                pause["key"],
                pause["until"],
            )
        for admin in await self.store.administrations():
            moment = latest_due_moment(
                now,
                [DAILY_REMINDER_RUN_AT.strftime("%H:%M")],
                admin.timezone,
                not_before=admin.created_at,
            )
            if moment is None or self._daily_moment_seen.get(admin.id) == moment:
                continue
            # A moment caught up late runs as of today, so that nothing leaves on a day that
            # is not a working day.
            request = ReminderRunRequested(
                administration_id=admin.id,
                as_of=local_date(now, admin.timezone),
                requested_by="schedule",
            )
            if await self.store.claim_daily_run(admin.id, moment, request):
                log.info("daily reminder run of %r as of %s requested", admin.id, request.as_of)
            self._daily_moment_seen[admin.id] = moment  # claimed here or by another notifier
        await self.runtime.relay.flush()
