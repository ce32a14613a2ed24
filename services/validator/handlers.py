"""The validator's handlers: stage chunks as they come, load a run once it is complete."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from uuid import UUID

from services.validator.decode import Record, records_of
from services.validator.staging import StagedBatch, source_hashes, stage_records
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
        # The run ended (failed, restarted or already loaded): its chunks are not staged.
        todo = [item.message for item in batch if item.message.run_id in running]
        # Decoding, hashing and validation are CPU work: off the event loop, so heartbeats
        # keep going.
        records, hashes = await asyncio.to_thread(_records_and_hashes, todo)
        known = await self._known_clean(running, todo, records, hashes)
        chunks: dict[tuple[UUID, int], tuple[int, StagedBatch]] = {}
        for chunk, chunk_records, hashed in zip(todo, records, hashes, strict=True):
            staged = await asyncio.to_thread(
                stage_records,
                chunk.run_id,
                chunk_records,
                hashed,
                known[running[chunk.run_id]],
            )
            chunks[(chunk.run_id, chunk.seq)] = (len(chunk_records), staged)
        if chunks:
            await self.store.stage_chunks(chunks)
        for run_id in {run_id for run_id, _ in chunks}:
            await self.try_finalize(run_id)

    async def _known_clean(
        self,
        running: dict[UUID, str],
        chunks: list[RecordsRead],
        records: list[list[Record]],
        hashes: list[list[tuple[str, str] | None]],
    ) -> dict[str, set[tuple[str, str, str]]]:
        """Per administration, the records of these chunks loaded from their very text, which
        validation found nothing in: one query per administration for the whole batch."""
        candidates: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for chunk, chunk_records, hashed in zip(chunks, records, hashes, strict=True):
            wanted = candidates[running[chunk.run_id]]
            for record, pair in zip(chunk_records, hashed, strict=True):
                if pair is not None:
                    wanted.append((record.entity, *pair))
        return {admin: await self.store.known_clean(admin, c) for admin, c in candidates.items()}

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


def _records_and_hashes(
    chunks: list[RecordsRead],
) -> tuple[list[list[Record]], list[list[tuple[str, str] | None]]]:
    records = [records_of(chunk) for chunk in chunks]
    return records, [source_hashes(chunk_records) for chunk_records in records]
