"""The notifier service: wires the broker and its subscribers."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from services.notifier.handlers import Notifier
from shared.kafka import make_broker
from shared.messages import UpdatesAccepted
from shared.service import ServiceRuntime, build_service_app, subscribe_batches
from shared.settings import Settings

__all__ = ["build_app"]


def build_app(settings: Settings) -> AsgiFastStream:
    runtime = ServiceRuntime(settings, make_broker(settings, client_id="notifier"), "notifier")
    notifier = Notifier(runtime)
    subscribe_batches(
        runtime, runtime.topics.accepted_updates, UpdatesAccepted, notifier.on_updates_accepted
    )
    return build_service_app(runtime)
