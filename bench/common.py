"""What every benchmark shares: the parts it runs on, the services as real processes, and the
raw limits measured in the same run on the same machine.

Each benchmark prints one line of `name=value` figures: its own result next to the broker's
produce/consume rate and PostgreSQL's COPY-into-staging-then-upsert rate for the same records.
Embedded parts are used unless CREDITFLOW_DATABASE_URL / CREDITFLOW_KAFKA_BOOTSTRAP are set.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.control.admins import NewAdministration, add_administration  # noqa: E402
from services.importer.reader import CHUNK_SIZE  # noqa: E402
from services.importer.sources import FilesSource  # noqa: E402
from services.importer.sources.generator import write_export  # noqa: E402
from shared.db import apply_migrations, connect_pool  # noqa: E402
from shared.embedded import EmbeddedBroker, EmbeddedPostgres, free_port  # noqa: E402
from shared.kafka import ensure_topics  # noqa: E402
from shared.messages import RawRecord, RecordsRead, encode  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.testing import fresh_database  # noqa: E402

TODAY = date(2026, 12, 3)
PAID_RATIO = 0.3


def export_for(
    directory: Path, *, open_invoices: int, customers: int, seed: int = 7
) -> dict[str, int]:
    """A synthetic export with about `open_invoices` outstanding (the rest paid)."""
    total = round(open_invoices / (1 - PAID_RATIO))
    return write_export(
        directory, seed, customers=customers, invoices=total, today=TODAY, paid_ratio=PAID_RATIO
    )


@dataclass
class Parts:
    settings: Settings
    work: Path
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)


@contextlib.asynccontextmanager
async def parts(partitions: int = 8) -> AsyncIterator[Parts]:
    """A broker, a fresh database and a work directory, all gone afterwards."""
    work = Path(tempfile.mkdtemp(prefix="creditflow-bench-"))
    broker = None
    postgres = None
    bootstrap = os.environ.get("CREDITFLOW_KAFKA_BOOTSTRAP")
    if not bootstrap:
        broker = EmbeddedBroker().start()
        bootstrap = broker.bootstrap
    server = os.environ.get("CREDITFLOW_DATABASE_URL")
    if not server:
        postgres = EmbeddedPostgres(work / "pgdata", delete_on_stop=True).start()
        server = postgres.url("postgres")
    try:
        async with fresh_database(server) as url:
            settings = Settings(
                database_url=url,
                kafka_bootstrap=bootstrap,
                home=work / "home",
                topic_prefix=f"bench{uuid4().hex[:8]}.",
                topic_partitions=partitions,
            )
            await ensure_topics(settings)
            pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
            await apply_migrations(pool)
            await pool.close()
            yield Parts(settings, work)
    finally:
        if broker:
            broker.stop()
        if postgres:
            postgres.stop()


def service_env(settings: Settings, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CREDITFLOW_DATABASE_URL": settings.database_url or "",
            "CREDITFLOW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
            "CREDITFLOW_TOPIC_PREFIX": settings.topic_prefix,
            "CREDITFLOW_HOME": str(settings.home),
            "CREDITFLOW_HTTP_PORT": str(port),
            "CREDITFLOW_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "CREDITFLOW_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


@dataclass
class Service:
    name: str
    port: int
    process: psutil.Popen


@contextlib.contextmanager
def services(settings: Settings, names: list[str], log_dir: Path) -> Iterator[list[Service]]:
    """Start services as real processes (`python -m creditflow run NAME`); stop them after."""
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = []
    try:
        for i, name in enumerate(names):
            log = (log_dir / f"{name}-{i}.log").open("ab")
            port = free_port()
            processes.append(
                Service(
                    name,
                    port,
                    psutil.Popen(
                        [sys.executable, "-m", "creditflow", "run", name],
                        cwd=ROOT,
                        env=service_env(settings, port),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    ),
                )
            )
        yield processes
    finally:
        for service in processes:
            with contextlib.suppress(psutil.Error):
                service.process.terminate()
        for service in processes:
            with contextlib.suppress(psutil.Error, subprocess.TimeoutExpired):
                service.process.wait(15)
            with contextlib.suppress(psutil.Error):
                service.process.kill()


async def wait_until_serving(started: list[Service], timeout: float = 90.0) -> None:
    """Wait until every service answers /healthz: uvicorn answers only after the app's
    startup (migrations, topics, consumer-group joins) finished."""
    import urllib.request

    deadline = time.monotonic() + timeout
    for service in started:
        while True:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited with {service.process.returncode}")
            url = f"http://127.0.0.1:{service.port}/healthz"
            try:
                await asyncio.to_thread(lambda u=url: urllib.request.urlopen(u, timeout=2).close())
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service.name} did not start") from None
                await asyncio.sleep(0.2)


async def register(settings: Settings, admin_id: str, export: Path) -> None:
    pool = await connect_pool(settings.database_url or "", min_size=1, max_size=1)
    try:
        await add_administration(
            pool,
            NewAdministration.parse(
                {
                    "id": admin_id,
                    "name": admin_id,
                    "source": f"files:{export}",
                    "import_mode": "manual",
                }
            ),
        )
    finally:
        await pool.close()


async def warm_up(settings: Settings, work: Path) -> None:
    """Run a tiny import first: the first run waits for consumer-group joins, and benchmarks
    measure a warm system."""
    warmup = work / "warmup"
    export_for(warmup, open_invoices=10, customers=3)
    await register(settings, "warmup", warmup)
    await import_and_wait(settings, "warmup")


async def import_and_wait(
    settings: Settings, admin_id: str, timeout: float = 1800.0
) -> dict[str, Any]:
    """Publish an import request; return the run row once it ended, with `elapsed` seconds."""
    from services.control.imports import request_import, wait_for_request
    from shared.publish import Publisher
    from shared.topics import Topics

    pool = await connect_pool(settings.database_url or "", min_size=1, max_size=1)
    try:
        started = time.perf_counter()
        async with Publisher(settings) as publisher:
            request = await request_import(
                publisher, Topics(settings.topic_prefix), admin_id, requested_by="bench"
            )
        run = await wait_for_request(pool, request.request_id, timeout=timeout, poll=0.05)
        run["elapsed"] = time.perf_counter() - started
        return run
    finally:
        await pool.close()


# --- raw limits ---------------------------------------------------------------------------------


def outstanding_chunks(export: Path) -> list[bytes]:
    """The raw-records messages an import of `export` publishes, serialised the same way."""
    source = FilesSource(export)
    records: list[RawRecord] = []
    customers: set[str] = set()
    for row in source.invoices():
        if row.data["amount_open"].strip() not in ("0", "0.00", "0.0", ""):
            records.append(RawRecord(entity="invoice", line=row.line, data=row.data))
            customers.add(row.data["customer_number"])
    for row in source.customers():
        if row.data["customer_number"] in customers:
            records.append(RawRecord(entity="customer", line=row.line, data=row.data))
    run_id = uuid4()
    return [
        encode(
            RecordsRead(
                administration_id="raw",
                run_id=run_id,
                seq=i // CHUNK_SIZE,
                records=records[i : i + CHUNK_SIZE],
            )
        )
        for i in range(0, len(records), CHUNK_SIZE)
    ]


async def broker_rates(
    settings: Settings, chunks: list[bytes], records: int
) -> tuple[float, float]:
    """Records per second the broker itself takes and gives back for these messages."""
    topic = f"{settings.topic_prefix}raw-limit"
    await ensure_topics(settings, [topic])
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, max_request_size=8 * 1024 * 1024, linger_ms=5
    )
    await producer.start()
    started = time.perf_counter()
    futures = [
        await producer.send(topic, chunk, key=str(i).encode()) for i, chunk in enumerate(chunks)
    ]
    await asyncio.gather(*futures)
    produce_s = time.perf_counter() - started
    await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    seen = 0
    started = time.perf_counter()
    while seen < len(chunks):
        batch = await consumer.getmany(timeout_ms=1000)
        seen += sum(len(v) for v in batch.values())
    consume_s = time.perf_counter() - started
    await consumer.stop()
    return records / produce_s, records / consume_s


async def pg_upsert_rate(settings: Settings, export: Path) -> tuple[float, int]:
    """Rows per second for COPY into a staging table then one upsert into a keyed table, for
    the same outstanding invoice and customer rows an import loads."""
    source = FilesSource(export)
    invoices = [
        row
        for row in source.invoices()
        if row.data["amount_open"].strip() not in ("0", "0.00", "0.0", "")
    ]
    wanted = {row.data["customer_number"] for row in invoices}
    customers = [row for row in source.customers() if row.data["customer_number"] in wanted]
    inv_cols = [
        "invoice_number",
        "customer_number",
        "invoice_date",
        "due_date",
        "currency",
        "amount_total",
        "amount_open",
        "payment_condition",
        "description",
    ]
    cust_cols = [
        "customer_number",
        "name",
        "email",
        "phone",
        "street",
        "postal_code",
        "city",
        "country",
        "language",
        "vat_number",
        "changed_at",
    ]
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            "create table raw_inv ("
            + ", ".join(f"{c} text" for c in inv_cols)
            + ", primary key (invoice_number));"
            " create table raw_cust ("
            + ", ".join(f"{c} text" for c in cust_cols)
            + ", primary key (customer_number))"
        )
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(
                "create temp table s_inv (like raw_inv) on commit drop;"
                " create temp table s_cust (like raw_cust) on commit drop"
            )
            await conn.copy_records_to_table(
                "s_inv", records=[[r.data[c] for c in inv_cols] for r in invoices]
            )
            await conn.copy_records_to_table(
                "s_cust", records=[[r.data[c] for c in cust_cols] for r in customers]
            )
            for table, staging, cols in (
                ("raw_inv", "s_inv", inv_cols),
                ("raw_cust", "s_cust", cust_cols),
            ):
                updates = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
                await conn.execute(
                    f"insert into {table} select distinct on ({cols[0]}) * from {staging}"
                    f" on conflict ({cols[0]}) do update set {updates}"
                )
        elapsed = time.perf_counter() - started
        await conn.execute("drop table raw_inv; drop table raw_cust")
    finally:
        await conn.close()
    rows = len(invoices) + len(customers)
    return rows / elapsed, rows


def figures(**values: Any) -> str:
    def show(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}" if value < 10 else f"{value:.0f}"
        return str(value)

    return " ".join(f"{name}={show(value)}" for name, value in values.items())
