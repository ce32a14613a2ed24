"""The dashboard's Kafka consumer: validation-error events into its own view."""

from __future__ import annotations

from shared.kafka import Decoded
from shared.messages import ValidationErrorEvent
from shared.service import ServiceRuntime

from .store import apply_error_events

__all__ = ["ErrorView"]


class ErrorView:
    """Keeps `dashboard_errors` in step with `{prefix}validation-errors`."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def on_validation_errors(self, batch: list[Decoded[ValidationErrorEvent]]) -> None:
        await apply_error_events(self.runtime.pool, [item.message for item in batch])
