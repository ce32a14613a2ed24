"""Helpers for the import tests: a ledger the test edits between runs, the importer and
validator running in-process against the real broker and database, and an in-process load
for tests of the control surface that need loaded data but not the consumers."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from services.control.admins import NewAdministration, add_administration
from services.control.imports import request_import, wait_for_request
from services.importer.app import build_app as build_importer
from services.importer.reader import publish_outstanding
from services.importer.sources import SourceRow, open_source
from services.importer.store import ImportStore
from services.validator.app import build_app as build_validator
from services.validator.decode import tables_of_records
from services.validator.staging import stage_records
from services.validator.store import ValidatorStore
from shared.db import connect_pool
from shared.messages import ImportRequested, RawRecord
from shared.publish import Publisher
from shared.settings import Settings
from shared.source_format import Entity
from shared.testing import TopicReader, eventually, running, write_export
from shared.topics import Topics

__all__ = [
    "CONDITION",
    "EventLog",
    "ImportHarness",
    "Ledger",
    "customer",
    "fill_ledger_with_findings",
    "import_services",
    "invoice",
    "load_directly",
    "open_pool",
    "row_versions",
]

CONDITION = {"code": "30D", "description": "30 days", "term_days": "30"}


def customer(number: str, **fields: str) -> dict[str, str]:
    return {
        "customer_number": number,
        "name": f"Customer {number}",
        "email": "administratie@korenschoof.nl",
        "phone": "+31 20 123 4567",
        "street": "Dorpsstraat 1",
        "postal_code": "1234 AB",
        "city": "Amsterdam",
        "country": "NL",
        "language": "nl",
        **fields,
    }


def invoice(number: str, customer_number: str, open_amount: str = "100.00", **fields: str) -> dict:
    return {
        "invoice_number": number,
        "customer_number": customer_number,
        "invoice_date": "2026-11-01",
        "due_date": "2026-12-01",
        "currency": "EUR",
        "amount_total": "100.00" if not open_amount.startswith("-") else open_amount,
        "amount_open": open_amount,
        "payment_condition": "30D",
        **fields,
    }


@dataclass
class Ledger:
    """The accounting package's export, edited by the test and written before each run."""

    directory: Path
    customers: list[dict[str, str]] = field(default_factory=list)
    invoices: list[dict[str, str]] = field(default_factory=list)
    conditions: list[dict[str, str]] = field(default_factory=lambda: [dict(CONDITION)])

    def write(self) -> Path:
        return write_export(
            self.directory,
            customers=self.customers,
            invoices=self.invoices,
            payment_conditions=self.conditions,
        )

    def change(self, entity: str, key: str, **fields: str) -> None:
        rows, column = {
            "customer": (self.customers, "customer_number"),
            "invoice": (self.invoices, "invoice_number"),
            "payment_condition": (self.conditions, "code"),
        }[entity]
        for row in rows:
            if row[column] == key:
                row.update(fields)


def fill_ledger_with_findings(ledger: Ledger) -> None:
    """Customers and invoices with one of each kind of finding: an error that holds a
    customer and its invoice back, a warning only, and an error found across records."""
    ledger.customers = [
        customer("C1"),
        customer("C2", email="jan@"),  # an error: held back with its invoice
        customer("C5", phone="12345"),  # a warning only: loaded
    ]
    ledger.invoices = [
        invoice("F1", "C1"),
        invoice("F2", "C2"),
        invoice("F5", "C5"),
        invoice("F9", "C404"),  # unknown customer: an error found across records
    ]


class EventLog(TopicReader):
    """A topic read from its beginning, with a way to know everything published was read."""

    async def drain(self) -> list[dict[str, Any]]:
        consumer = self._consumer
        partitions = list(consumer.assignment())
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            while await consumer.position(tp) < end[tp]:
                await self.poll()
        return self.messages


@dataclass
class ImportHarness:
    settings: Settings
    pool: asyncpg.Pool
    publisher: Publisher
    admin_id: str
    ledger: Ledger
    errors_topic: EventLog

    @property
    def topics(self) -> Topics:
        return Topics(self.settings.topic_prefix)

    async def run_import(self, *, expect: str = "completed", write: bool = True) -> dict[str, Any]:
        """Write the ledger, request an import as every manual path does, follow it."""
        if write:
            self.ledger.write()
        request = await request_import(
            self.publisher, self.topics, self.admin_id, requested_by="test"
        )
        run = await wait_for_request(self.pool, request.request_id, timeout=30)
        assert run["status"] == expect, run
        return run

    async def error_events(self) -> list[dict[str, Any]]:
        """Every validation-error event published so far (once the outbox is empty)."""
        await eventually(
            lambda: self.pool.fetchval("select count(*) = 0 from outbox"), what="an empty outbox"
        )
        return await self.errors_topic.drain()

    async def customers(self) -> dict[str, asyncpg.Record]:
        rows = await self.pool.fetch(
            "select * from customers where administration_id = $1", self.admin_id
        )
        return {row["customer_number"]: row for row in rows}

    async def invoices(self) -> dict[str, asyncpg.Record]:
        rows = await self.pool.fetch(
            "select * from invoices where administration_id = $1", self.admin_id
        )
        return {row["invoice_number"]: row for row in rows}

    async def statuses(self) -> dict[str, str]:
        return {key: row["status"] for key, row in (await self.invoices()).items()}

    async def errors(self, status: str = "open") -> dict[tuple[str, str, str], asyncpg.Record]:
        rows = await self.pool.fetch(
            "select * from validation_errors where administration_id = $1"
            " and ($2 = 'all' or status = $2)",
            self.admin_id,
            status,
        )
        return {(row["entity"], row["key"], row["code"]): row for row in rows}


async def row_versions(h: ImportHarness) -> dict[tuple[str, str], Any]:
    """Every loaded row's and error's physical version: a write of any kind changes it."""
    rows = await h.pool.fetch(
        """select 'customer' as t, customer_number as k, xmin::text as v from customers
           where administration_id = $1
           union all select 'invoice', invoice_number, xmin::text from invoices
           where administration_id = $1
           union all select 'payment_condition', code, xmin::text from payment_conditions
           where administration_id = $1
           union all select 'error', entity || '/' || key || '/' || code, xmin::text
           from validation_errors where administration_id = $1""",
        h.admin_id,
    )
    return {(row["t"], row["k"]): row["v"] for row in rows}


@asynccontextmanager
async def open_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await connect_pool(settings.require_database(), max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def import_services(
    settings: Settings, directory: Path, *, admin_id: str = "acme"
) -> AsyncIterator[ImportHarness]:
    """The importer and validator running, an administration in manual mode on `directory`."""
    ledger = Ledger(directory)
    ledger.write()
    async with (
        running(build_importer(settings, tick_seconds=3600), build_validator(settings)),
        Publisher(settings) as publisher,
        EventLog(settings.kafka_bootstrap, Topics(settings.topic_prefix).validation_errors) as log,
    ):
        async with open_pool(settings) as pool:
            await add_administration(
                pool,
                NewAdministration.parse(
                    {
                        "id": admin_id,
                        "name": "Acme",
                        "source": f"files:{directory}",
                        "import_mode": "manual",
                    }
                ),
            )
            yield ImportHarness(settings, pool, publisher, admin_id, ledger, log)


# --- loading without the consumers (for tests of the control surface) ------------------------


@dataclass
class _Collector:
    """Stands in for the importer's ChunkPublisher: keeps the chunks instead of sending them."""

    chunks: list[list[RawRecord]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def seq(self) -> int:
        return len(self.chunks)

    async def publish(self, entity: Entity, rows: Sequence[SourceRow]) -> None:
        self.chunks.append([RawRecord(entity=entity, line=r.line, data=r.data) for r in rows])
        self.counts[entity] += len(rows)

    async def drain(self) -> None:
        return None


async def load_directly(pool: asyncpg.Pool, topics: Topics, admin_id: str) -> UUID:
    """One complete import run through the importer's and validator's own code, minus Kafka."""
    importer = ImportStore(pool, topics)
    admission = await importer.admit(
        ImportRequested(administration_id=admin_id, trigger="manual", requested_by="test")
    )
    assert admission.run is not None, admission
    run = admission.run
    collector = _Collector()
    records = await publish_outstanding(open_source(run.source), collector)  # type: ignore[arg-type]
    await importer.mark_read(run, chunks=collector.seq, records=records)
    validator = ValidatorStore(pool, topics)
    await validator.stage_chunks(
        {
            (run.run_id, seq): (len(chunk), stage_records(run.run_id, tables_of_records(chunk)))
            for seq, chunk in enumerate(collector.chunks)
        }
    )
    outcome = await validator.finalize(run.run_id)
    assert outcome is not None
    await pool.execute("delete from outbox")  # nobody relays in these tests
    return run.run_id
