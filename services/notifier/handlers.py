"""The notifier's handlers (first form: it follows accepted updates; R8/R9 come next)."""

from __future__ import annotations

import logging

from shared.kafka import Decoded
from shared.messages import UpdatesAccepted
from shared.service import ServiceRuntime

__all__ = ["Notifier"]

log = logging.getLogger("creditflow.notifier")


class Notifier:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def on_updates_accepted(self, batch: list[Decoded[UpdatesAccepted]]) -> None:
        for item in batch:
            update = item.message
            log.info(
                "run %s of %r: %d accepted changes",
                update.run_id,
                update.administration_id,
                len(update.changes),
            )
