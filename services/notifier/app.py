"""The notifier service: wires the broker, its subscribers and its clock."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from services.notifier.handlers import Clock, Notifier, system_clock
from shared.kafka import make_broker
from shared.messages import ReminderRunRequested, UpdatesAccepted
from shared.service import ServiceRuntime, build_service_app, subscribe_batches
from shared.settings import Settings

__all__ = ["build_app"]

# A reminder run sends its e-mails before its request is committed; give it time.
REMINDER_RUN_MAX_SECONDS = 1800


def build_app(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    tick_seconds: float = 30.0,
    dispatch_seconds: float = 5.0,
) -> AsgiFastStream:
    runtime = ServiceRuntime(settings, make_broker(settings, client_id="notifier"), "notifier")
    notifier = Notifier(
        runtime, clock=clock, tick_seconds=tick_seconds, dispatch_seconds=dispatch_seconds
    )
    topics = runtime.topics
    subscribe_batches(
        runtime, topics.accepted_updates, UpdatesAccepted, notifier.on_updates_accepted
    )
    subscribe_batches(
        runtime,
        topics.reminder_requests,
        ReminderRunRequested,
        notifier.on_reminder_run_requested,
        group="reminders",
        max_records=10,
        max_poll_interval_ms=REMINDER_RUN_MAX_SECONDS * 1000,
    )

    async def start_clock() -> None:
        runtime.spawn(notifier.keep_time(), "clock")

    app = build_service_app(runtime, after_start=[start_clock])
    app.state_notifier = notifier  # type: ignore[attr-defined]  # for tests and tools
    return app
