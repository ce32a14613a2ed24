"""Test helpers: read topics with a plain Kafka client, write exports, run services, wait.

Tests wait on events with timeouts, never on fixed sleeps.
"""

from __future__ import annotations

import asyncio
import csv
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.source_format import COLUMNS

__all__ = [
    "CUSTOMER_COLUMNS",
    "INVOICE_COLUMNS",
    "PAYMENT_CONDITION_COLUMNS",
    "TopicReader",
    "database_url_for",
    "eventually",
    "publish_json",
    "running",
    "write_export",
]

T = TypeVar("T")

CUSTOMER_COLUMNS = list(COLUMNS["customer"])
INVOICE_COLUMNS = list(COLUMNS["invoice"])
PAYMENT_CONDITION_COLUMNS = list(COLUMNS["payment_condition"])


def database_url_for(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the server; dropped afterwards."""
    name = f"cf_{uuid4().hex[:16]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    try:
        yield database_url_for(server_url, name)
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()


def write_export(
    directory: Path,
    *,
    customers: Iterable[Mapping[str, str]] = (),
    invoices: Iterable[Mapping[str, str]] = (),
    payment_conditions: Iterable[Mapping[str, str]] = (),
) -> Path:
    """Write the three CSV files of DESIGN section 6 (missing fields are empty)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, columns, rows in (
        ("customers.csv", CUSTOMER_COLUMNS, customers),
        ("invoices.csv", INVOICE_COLUMNS, invoices),
        ("payment_conditions.csv", PAYMENT_CONDITION_COLUMNS, payment_conditions),
    ):
        with (directory / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([row.get(column, "") for column in columns])
    return directory


async def publish_json(
    bootstrap: str,
    topic: str,
    key: str,
    value: dict[str, Any] | bytes,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=16 * 1024 * 1024)
    await producer.start()
    try:
        payload = value if isinstance(value, bytes) else json.dumps(value).encode()
        await producer.send_and_wait(topic, payload, key=key.encode(), headers=headers)
    finally:
        await producer.stop()


class TopicReader:
    """Reads a topic from its beginning with a plain aiokafka consumer (no group)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.messages: list[dict[str, Any]] = []
        self.raw: list[Any] = []
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
        )

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        partitions = await _partitions(self._consumer, self.topic)
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def poll(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=100)
        for records in batches.values():
            for record in records:
                self.raw.append(record)
                try:
                    self.messages.append(json.loads(record.value))
                except (ValueError, TypeError):
                    self.messages.append({"__undecodable__": record.value})

    async def wait_for(
        self,
        predicate: Callable[[list[dict[str, Any]]], bool],
        *,
        timeout: float = 30.0,
        what: str = "messages",
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while not predicate(self.messages):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what} on {self.topic}; "
                    f"saw {len(self.messages)}: {self.messages[-5:]}"
                )
            await self.poll()
        return self.messages


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[Any]:
    from aiokafka import TopicPartition

    for _ in range(100):
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.05)
    raise AssertionError(f"topic {topic} does not exist")


async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Call `check` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = await check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        await asyncio.sleep(interval)


@asynccontextmanager
async def running(*apps: Any) -> AsyncIterator[None]:
    """Run FastStream apps in this event loop (start hooks, broker, consumers), started
    together so that their consumer-group joins overlap."""
    outcomes = await asyncio.gather(*(app.start() for app in apps), return_exceptions=True)
    started = [app for app, outcome in zip(apps, outcomes, strict=True) if outcome is None]
    try:
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        yield
    finally:
        for app in reversed(started):
            await app.stop()
