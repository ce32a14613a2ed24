"""The validator's handlers: stage chunks as they come, load a run once it is complete."""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from services.validator.decode import records_of
from services.validator.staging import StagedBatch, stage_records
from services.validator.store import ValidatorStore
from shared.kafka import Decoded
from shared.messages import ImportRunEvent, RecordsRead
from shared.service import ServiceRuntime

__all__ = ["Validator"]

log = logging.getLogger("creditflow.validator")


class Validator:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self._store: ValidatorStore | None = None

    @property
    def store(self) -> ValidatorStore:
        if self._store is None:
            self._store = ValidatorStore(self.runtime.pool, self.runtime.topics)
        return self._store

    async def on_records_read(self, batch: list[Decoded[RecordsRead]]) -> None:
        running = await self.store.running_runs(item.message.run_id for item in batch)
        chunks: dict[tuple[UUID, int], tuple[int, StagedBatch]] = {}
        for item in batch:
            chunk = item.message
            if chunk.run_id not in running:
                continue  # the run ended (failed, restarted or already loaded)
            records = records_of(chunk)
            # Validation is CPU work: off the event loop, so heartbeats keep going.
            # stage_records reads only .entity, .line and .data, which a Record has.
            staged = await asyncio.to_thread(
                stage_records,
                chunk.run_id,
                records,  # type: ignore[arg-type]
            )
            chunks[(chunk.run_id, chunk.seq)] = (len(records), staged)
        if chunks:
            await self.store.stage_chunks(chunks)
        for run_id in {run_id for run_id, _ in chunks}:
            await self.try_finalize(run_id)

    async def on_run_event(self, batch: list[Decoded[ImportRunEvent]]) -> None:
        for item in batch:
            event = item.message
            if event.event == "finished":
                await self.try_finalize(event.run_id)
            elif event.event == "failed":
                await self.store.discard_run(event.run_id)

    async def try_finalize(self, run_id: UUID) -> None:
        outcome = await self.store.finalize(run_id)
        if outcome is None:
            return
        log.info(
            "run %s of %r loaded: %s; %d errors raised, %d resolved",
            run_id,
            outcome.administration_id,
            outcome.counts,
            outcome.raised,
            outcome.resolved,
        )
        await self.runtime.relay.flush()
