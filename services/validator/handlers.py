"""The validator's handlers: stage chunks as they come, load a run once it is complete."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from uuid import UUID

from services.validator.decode import Table, tables_of
from services.validator.staging import HASHED, StagedBatch, source_hashes, stage_records
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
        tables, hashes = await asyncio.to_thread(_tables_and_hashes, todo)
        known = await self._known_clean(running, todo, tables, hashes)
        chunks: dict[tuple[UUID, int], tuple[int, StagedBatch]] = {}
        for chunk, chunk_tables, hashed in zip(todo, tables, hashes, strict=True):
            staged = await asyncio.to_thread(
                stage_records,
                chunk.run_id,
                chunk_tables,
                hashed,
                known[running[chunk.run_id]],
            )
            chunks[(chunk.run_id, chunk.seq)] = (len(hashed), staged)
        if chunks:
            await self.store.stage_chunks(chunks)
        for run_id in {run_id for run_id, _ in chunks}:
            await self.try_finalize(run_id)

    async def _known_clean(
        self,
        running: dict[UUID, str],
        chunks: list[RecordsRead],
        tables: list[list[Table]],
        hashes: list[list[tuple[str, str] | None]],
    ) -> dict[str, set[tuple[str, str, str]]]:
        """Per administration, the records of these chunks loaded from their very text, which
        validation found nothing in: one query per administration for the whole batch."""
        if not chunks:
            return {}
        # An administration with nothing loaded yet (a first import) knows no record: its
        # keys are neither collected nor looked up.
        loaded = await self.store.with_loaded_records({running[c.run_id] for c in chunks})
        wanted: dict[str, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
        for chunk, chunk_tables, hashed in zip(chunks, tables, hashes, strict=True):
            admin = running[chunk.run_id]
            if admin not in loaded:
                continue
            by_entity = wanted[admin]
            start = 0
            for table in chunk_tables:
                end = start + len(table.rows)
                if table.entity in HASHED:
                    by_entity[table.entity].update(p for p in hashed[start:end] if p)
                start = end
        known = {admin: await self.store.known_clean(admin, w) for admin, w in wanted.items()}
        return defaultdict(set, known)

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


def _tables_and_hashes(
    chunks: list[RecordsRead],
) -> tuple[list[list[Table]], list[list[tuple[str, str] | None]]]:
    tables = [tables_of(chunk) for chunk in chunks]
    return tables, [source_hashes(chunk_tables) for chunk_tables in tables]
