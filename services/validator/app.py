"""The validator service: wires the broker and its subscribers."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream

from services.validator.handlers import Validator
from shared.kafka import make_broker
from shared.messages import ImportRunEvent, RecordsRead
from shared.service import ServiceRuntime, build_service_app, subscribe_batches
from shared.settings import Settings

__all__ = ["build_app"]


def build_app(settings: Settings) -> AsgiFastStream:
    runtime = ServiceRuntime(settings, make_broker(settings, client_id="validator"), "validator")
    validator = Validator(runtime)
    topics = runtime.topics
    subscribe_batches(
        runtime,
        topics.raw_records,
        RecordsRead,
        validator.on_records_read,
        max_records=20,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    subscribe_batches(
        runtime, topics.import_runs, ImportRunEvent, validator.on_run_event, group="runs"
    )
    return build_service_app(runtime)
