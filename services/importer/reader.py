"""Reading one run: the source, streamed, cut to what is outstanding (R3), published in chunks.

Invoices are read first: those with an open amount are published and the customers and
payment conditions they reference are remembered; then only those customers and payment
conditions are published. Nothing but those key sets is held in memory, so a large export is
never held whole. File reads run in a worker thread, a chunk at a time, so the event loop
(and the consumer's heartbeats) keep going.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from uuid import UUID

from faststream.kafka import KafkaBroker

from services.importer.logic import chunked, is_outstanding
from services.importer.sources import Source, SourceRow
from shared.messages import RecordsRead, RecordTable, encode
from shared.source_format import COLUMNS, Entity

__all__ = ["CHUNK_SIZE", "ChunkPublisher", "chunk_message", "publish_outstanding"]

CHUNK_SIZE = 500
_IN_FLIGHT = 8


def chunk_message(
    administration_id: str, run_id: UUID, seq: int, entity: Entity, rows: Sequence[SourceRow]
) -> RecordsRead:
    """One chunk in the compact wire form: the entity's columns once, then a row of values
    per record (RecordTable). A third of the bytes of one object per record, and decoded by
    the validator without building a model per record."""
    columns = COLUMNS[entity]
    values = _values(columns, rows)
    return RecordsRead(
        administration_id=administration_id,
        run_id=run_id,
        seq=seq,
        table=RecordTable.of_rows(entity, list(columns), [row.line for row in rows], values),
    )


def _values(columns: tuple[str, ...], rows: Sequence[SourceRow]) -> list[list[str]]:
    pick = itemgetter(*columns)  # a tuple: every entity has several columns
    try:
        return [list(pick(row.data)) for row in rows]
    except KeyError:  # a source that leaves a column out: the column is empty
        return [[row.data.get(column, "") for column in columns] for row in rows]


@dataclass
class ChunkPublisher:
    """Publishes a run's chunks with a bounded number in flight."""

    broker: KafkaBroker
    topic: str
    administration_id: str
    run_id: UUID
    seq: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    _pending: list[asyncio.Future[object]] = field(default_factory=list)

    async def publish(self, entity: Entity, rows: Sequence[SourceRow]) -> None:
        message = chunk_message(self.administration_id, self.run_id, self.seq, entity, rows)
        # Keyed per chunk so that a large administration spreads over every partition; a
        # run is complete by counts, not by order.
        future = await self.broker.publish(
            encode(message),
            self.topic,
            key=f"{self.administration_id}:{self.seq}".encode(),
            headers={"content-type": "application/json"},
            no_confirm=True,
        )
        self._pending.append(future)
        self.seq += 1
        self.counts[entity] += len(rows)
        if len(self._pending) >= _IN_FLIGHT:
            await self.drain()

    async def drain(self) -> None:
        pending, self._pending = self._pending, []
        await asyncio.gather(*pending)


async def _next_chunk(rows: Iterator[SourceRow], size: int) -> list[SourceRow]:
    return await asyncio.to_thread(lambda: list(islice(rows, size)))


async def publish_outstanding(source: Source, publisher: ChunkPublisher) -> dict[str, int]:
    """Publish the run's records; return the announced count per entity."""
    customers: set[str] = set()
    conditions: set[str] = set()

    invoices = source.invoices()
    while rows := await _next_chunk(invoices, CHUNK_SIZE * 4):
        outstanding = [row for row in rows if is_outstanding(row.data.get("amount_open", ""))]
        for row in outstanding:
            customers.add(row.data.get("customer_number", "").strip())
            conditions.add(row.data.get("payment_condition", "").strip())
        for chunk in chunked(outstanding, CHUNK_SIZE):
            await publisher.publish("invoice", chunk)

    # A missing reference is the invoice's own `required` error, not a record to look up.
    customers.discard("")
    conditions.discard("")
    await _publish_referenced(
        source.customers(), "customer", "customer_number", customers, publisher
    )
    await _publish_referenced(
        source.payment_conditions(), "payment_condition", "code", conditions, publisher
    )
    await publisher.drain()
    return {
        entity: publisher.counts.get(entity, 0)
        for entity in ("customer", "invoice", "payment_condition")
    }


async def _publish_referenced(
    rows: Iterator[SourceRow],
    entity: Entity,
    key_column: str,
    wanted: set[str],
    publisher: ChunkPublisher,
) -> None:
    batch: list[SourceRow] = []
    while chunk := await _next_chunk(rows, CHUNK_SIZE * 4):
        for row in chunk:
            if row.data.get(key_column, "").strip() in wanted:
                batch.append(row)
                if len(batch) == CHUNK_SIZE:
                    await publisher.publish(entity, batch)
                    batch = []
    if batch:
        await publisher.publish(entity, batch)
