"""The importer service: wires the broker, its subscribers and its clock."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from services.importer.handlers import Importer
from shared.kafka import make_broker
from shared.messages import ImportRequested, ImportRunEvent
from shared.service import ServiceRuntime, build_service_app, subscribe_batches
from shared.settings import Settings

__all__ = ["build_app"]


def build_app(settings: Settings, *, tick_seconds: float = 15.0) -> AsgiFastStream:
    runtime = ServiceRuntime(settings, make_broker(settings, client_id="importer"), "importer")
    importer = Importer(runtime, tick_seconds=tick_seconds)
    topics = runtime.topics
    subscribe_batches(
        runtime, topics.import_requests, ImportRequested, importer.on_import_requested
    )
    subscribe_batches(
        runtime, topics.import_runs, ImportRunEvent, importer.on_run_event, group="runs"
    )

    async def start_clock() -> None:
        runtime.spawn(importer.keep_time(), "clock")

    async def stop_runs() -> None:
        await importer.hand_back_runs()

    app = build_service_app(runtime, after_start=[start_clock], before_stop=[stop_runs])
    app.state_importer = importer  # type: ignore[attr-defined]  # for tests and tools
    return app
