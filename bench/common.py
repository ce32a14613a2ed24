"""What every benchmark shares: the parts it runs on, the services as real processes, and the
raw limits measured in the same run on the same machine.

Each benchmark prints one line of `name=value` figures, its own result next to the raw limits
for the same records, with its headline figures and ratio last: the broker's own
produce/consume rate for the messages an import publishes, and PostgreSQL's
COPY-into-staging-then-upsert rate for the rows it loads.

Embedded parts (a Tansu broker, an embedded PostgreSQL) are started unless
CREDITFLOW_DATABASE_URL / CREDITFLOW_KAFKA_BOOTSTRAP name running ones; either way every run
gets a fresh database and its own topics, all gone afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
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
from services.importer.logic import is_outstanding  # noqa: E402
from services.importer.reader import CHUNK_SIZE, chunk_message  # noqa: E402
from services.importer.sources import FilesSource, SourceRow  # noqa: E402
from services.importer.sources.generator import write_export  # noqa: E402
from shared.db import apply_migrations, connect_pool  # noqa: E402
from shared.embedded import EmbeddedBroker, EmbeddedPostgres, free_port  # noqa: E402
from shared.kafka import ensure_topics  # noqa: E402
from shared.messages import encode  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.source_format import COLUMNS, ENTITIES, KEY_COLUMN, Entity  # noqa: E402
from shared.testing import fresh_database  # noqa: E402

TODAY = date(2026, 12, 3)
PAID_RATIO = 0.3
CUSTOMERS_PER_INVOICE = 0.2  # 200,000 open invoices: 40,000 customers


def export_for(
    directory: Path, *, open_invoices: int, customers: int, seed: int = 7
) -> dict[Entity, int]:
    """A seeded synthetic export with about `open_invoices` outstanding (the rest paid), a few
    percent invalid and some credit notes (the generator's defaults)."""
    total = round(open_invoices / (1 - PAID_RATIO))
    return write_export(
        directory, seed, customers=customers, invoices=total, today=TODAY, paid_ratio=PAID_RATIO
    )


def size_arguments(parser: argparse.ArgumentParser, invoices: int) -> None:
    parser.add_argument("--invoices", type=int, default=invoices, help="open invoices")
    parser.add_argument(
        "--customers", type=int, default=None, help="customers (default: a fifth of --invoices)"
    )


def customers_for(args: argparse.Namespace) -> int:
    return int(args.customers or max(1, round(args.invoices * CUSTOMERS_PER_INVOICE)))


@dataclass
class Parts:
    settings: Settings
    work: Path


@contextlib.asynccontextmanager
async def parts(partitions: int = 8) -> AsyncIterator[Parts]:
    """A broker, a fresh database and a work directory, all gone afterwards (the work
    directory, with the services' logs, is kept when the benchmark fails)."""
    work = Path(tempfile.mkdtemp(prefix="creditflow-bench-"))
    broker = None
    postgres = None
    failed = True
    try:
        bootstrap = os.environ.get("CREDITFLOW_KAFKA_BOOTSTRAP")
        if not bootstrap:
            broker = EmbeddedBroker().start()
            bootstrap = broker.bootstrap
        server = os.environ.get("CREDITFLOW_DATABASE_URL")
        if not server:
            postgres = EmbeddedPostgres(work / "pgdata", delete_on_stop=True).start()
            server = postgres.url("postgres")
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
        failed = False
    finally:
        if broker:
            broker.stop()
        if postgres:
            postgres.stop()
        if failed:
            print(f"bench: work directory and logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


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
    if settings.smtp_url:
        env["CREDITFLOW_SMTP_URL"] = settings.smtp_url
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


def _get(url: str) -> None:
    urllib.request.urlopen(url, timeout=2).close()


async def wait_until_serving(started: list[Service], timeout: float = 90.0) -> None:
    """Wait until every service answers /healthz: uvicorn answers only after the app's
    startup (migrations, topics, consumer-group joins) finished."""
    deadline = time.monotonic() + timeout
    for service in started:
        while True:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited with {service.process.returncode}")
            url = f"http://127.0.0.1:{service.port}/healthz"
            try:
                await asyncio.to_thread(_get, url)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service.name} did not start") from None
                await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def running(p: Parts, names: list[str], *, warm: bool = True) -> AsyncIterator[list[Service]]:
    """The named services as processes, serving, and (by default) warmed up by a tiny import."""
    with services(p.settings, names, p.work / "logs") as started:
        await wait_until_serving(started)
        if warm:
            await warm_up(p.settings, p.work)
        yield started


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
    admin_id = f"warmup-{uuid4().hex[:8]}"
    warmup = work / admin_id
    export_for(warmup, open_invoices=10, customers=3)
    await register(settings, admin_id, warmup)
    await import_and_wait(settings, admin_id)


async def import_and_wait(
    settings: Settings, admin_id: str, timeout: float = 1800.0
) -> dict[str, Any]:
    """Publish an import request; return the run row once it ended, with `elapsed` seconds
    (from the request to the run's end, everything committed)."""
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


def completed(run: dict[str, Any]) -> int:
    """The records a completed run loaded (every outcome counted); exits if it did not end
    completed."""
    if run["status"] != "completed":
        raise SystemExit(f"run ended {run['status']}: {run['reason']}")
    return sum(sum(c.values()) for c in run["counts"].values())


async def loaded_rows(settings: Settings, admin_id: str) -> dict[str, int]:
    """Rows of the administration in the validator's tables, and how many keys appear twice."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        counts: dict[str, int] = {}
        tables: tuple[tuple[Entity, str], ...] = (
            ("customer", "customers"),
            ("invoice", "invoices"),
        )
        for entity, table in tables:
            key = KEY_COLUMN[entity]
            row = await conn.fetchrow(
                f"select count(*) as n, count(*) - count(distinct {key}) as dup"
                f" from {table} where administration_id = $1",
                admin_id,
            )
            counts[table] = row["n"]
            counts[f"{table}_duplicates"] = row["dup"]
        return counts
    finally:
        await conn.close()


# --- measuring ----------------------------------------------------------------------------------


class PeakRss(threading.Thread):
    """Samples processes' resident memory every 50 ms, keeping the peak per name."""

    def __init__(self, processes: dict[str, psutil.Process]) -> None:
        super().__init__(daemon=True)
        self.processes = processes
        self.peaks = dict.fromkeys(processes, 0)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            for name, process in self.processes.items():
                with contextlib.suppress(psutil.Error):
                    self.peaks[name] = max(self.peaks[name], process.memory_info().rss)
            self._stop_event.wait(0.05)

    def __enter__(self) -> PeakRss:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_event.set()
        self.join()

    def peaks_mb(self) -> dict[str, float]:
        return {name: rss / 2**20 for name, rss in self.peaks.items()}


class CpuSeconds:
    """CPU seconds (user + system) spent by processes while the block runs: each service and
    its threads, and every process of the PostgreSQL server (found by name, so anything else
    the server does meanwhile counts too)."""

    def __init__(self, services: list[Service]) -> None:
        self._services = services
        self.seconds: dict[str, float] = {}

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
        except psutil.Error:
            return 0.0
        return float(times.user + times.system)

    def _postgres(self) -> dict[int, float]:
        return {
            process.pid: self._cpu(process)
            for process in psutil.process_iter(["name"])
            if process.info["name"] in ("postgres", "postgresql")
        }

    def __enter__(self) -> CpuSeconds:
        self._before = {s.process.pid: self._cpu(s.process) for s in self._services}
        self._postgres_before = self._postgres()
        return self

    def __exit__(self, *exc: object) -> None:
        for service in self._services:
            name = f"{service.name}_cpu_s"
            spent = self._cpu(service.process) - self._before[service.process.pid]
            self.seconds[name] = self.seconds.get(name, 0.0) + spent
        after = self._postgres()
        self.seconds["postgres_cpu_s"] = sum(
            cpu - self._postgres_before.get(pid, 0.0) for pid, cpu in after.items()
        )


def figures(**values: Any) -> str:
    def show(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}" if value < 10 else f"{value:.0f}"
        return str(value)

    return " ".join(f"{name}={show(value)}" for name, value in values.items())


def report(result: dict[str, Any], last: tuple[str, ...]) -> str:
    """One line: every figure, with the headline ones (`last`, ending with the ratio) last."""
    rest = {k: v for k, v in result.items() if k not in last and not isinstance(v, dict | list)}
    return figures(**rest, **{k: result[k] for k in last})


def run_bench(
    main: Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]],
    args: argparse.Namespace,
    last: tuple[str, ...],
) -> None:
    print(report(asyncio.run(main(args)), last), flush=True)


# --- raw limits ---------------------------------------------------------------------------------


@dataclass
class Outstanding:
    """What an import of the export loads (R3: outstanding invoices and what they refer to),
    written once, untimed, as PostgreSQL COPY text per entity and as the raw-records chunks
    the importer publishes (chunk_message), so that the raw limits stream them in constant
    memory."""

    copy_files: dict[Entity, Path]
    rows: dict[Entity, int]
    chunk_file: Path
    chunks: int = 0
    record_count: int = field(init=False)

    def __post_init__(self) -> None:
        self.record_count = sum(self.rows.values())

    def messages(self) -> Iterator[bytes]:
        with self.chunk_file.open("rb") as f:
            while header := f.read(4):
                yield f.read(struct.unpack(">I", header)[0])


def _outstanding_rows(source: FilesSource) -> Iterator[tuple[Entity, SourceRow]]:
    wanted: dict[Entity, set[str]] = {"customer": set(), "payment_condition": set()}
    for row in source.invoices():
        if is_outstanding(row.data.get("amount_open", "")):
            wanted["customer"].add(row.data["customer_number"].strip())
            wanted["payment_condition"].add(row.data["payment_condition"].strip())
            yield "invoice", row
    referred: tuple[tuple[Entity, Iterator[SourceRow]], ...] = (
        ("customer", iter(source.customers())),
        ("payment_condition", iter(source.payment_conditions())),
    )
    for entity, rows in referred:
        for row in rows:
            if row.data[KEY_COLUMN[entity]].strip() in wanted[entity]:
                yield entity, row


def outstanding(export: Path, into: Path | None = None) -> Outstanding:
    into = into or export.parent / f"{export.name}-raw"
    into.mkdir(parents=True, exist_ok=True)
    copy_files = {entity: into / f"{entity}.csv" for entity in ENTITIES}
    rows = dict.fromkeys(ENTITIES, 0)
    chunk_file = into / "chunks.bin"
    run_id = uuid4()
    chunks = 0
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(chunk_file.open("wb"))
        writers = {
            entity: csv.writer(stack.enter_context(path.open("w", newline="")))
            for entity, path in copy_files.items()
        }
        batch: list[SourceRow] = []
        batch_entity: Entity = "invoice"

        def flush() -> None:
            nonlocal chunks, batch
            if batch:
                message = encode(chunk_message("raw", run_id, chunks, batch_entity, batch))
                out.write(struct.pack(">I", len(message)) + message)
                chunks += 1
                batch = []

        for entity, row in _outstanding_rows(FilesSource(export)):
            writers[entity].writerow([row.data[c] for c in COLUMNS[entity]])
            rows[entity] += 1
            if entity != batch_entity:
                flush()
                batch_entity = entity
            batch.append(row)
            if len(batch) == CHUNK_SIZE:
                flush()
        flush()
    return Outstanding(copy_files, rows, chunk_file, chunks)


async def broker_rates(settings: Settings, raw: Outstanding) -> tuple[float, float]:
    """Records per second the broker itself takes and gives back for the import's messages."""
    topic = f"{settings.topic_prefix}raw-limit"
    await ensure_topics(settings, [topic])
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, max_request_size=8 * 1024 * 1024, linger_ms=5
    )
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, chunk, key=str(i).encode())
            for i, chunk in enumerate(raw.messages())
        ]
        await asyncio.gather(*futures)
        produce_s = time.perf_counter() - started
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        found = consumer.partitions_for_topic(topic)
        if not found:
            await consumer._client.force_metadata_update()
            found = consumer.partitions_for_topic(topic)
        partitions = [TopicPartition(topic, p) for p in found or []]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        started = time.perf_counter()
        while seen < raw.chunks:
            batch = await consumer.getmany(timeout_ms=1000)
            seen += sum(len(v) for v in batch.values())
        consume_s = time.perf_counter() - started
    finally:
        await consumer.stop()
    return raw.record_count / produce_s, raw.record_count / consume_s


async def pg_upsert_rate(settings: Settings, export: Path | Outstanding) -> tuple[float, int]:
    """Rows per second for COPY into a staging table then one upsert into a keyed table, for
    the same outstanding invoice, customer and payment-condition rows an import loads (text
    columns, no validation: the database's own limit)."""
    raw = export if isinstance(export, Outstanding) else outstanding(export)
    conn = await asyncpg.connect(settings.database_url)
    try:
        for entity in ENTITIES:
            columns = ", ".join(f"{c} text" for c in COLUMNS[entity])
            await conn.execute(
                f"create table raw_{entity} ({columns}, primary key ({KEY_COLUMN[entity]}))"
            )
        started = time.perf_counter()
        async with conn.transaction():
            for entity in ENTITIES:
                key, *rest = COLUMNS[entity]
                assert key == KEY_COLUMN[entity]
                await conn.execute(
                    f"create temp table s_{entity} (like raw_{entity}) on commit drop"
                )
                await conn.copy_to_table(f"s_{entity}", source=raw.copy_files[entity], format="csv")
                updates = ", ".join(f"{c} = excluded.{c}" for c in rest)
                await conn.execute(
                    f"insert into raw_{entity} select distinct on ({key}) * from s_{entity}"
                    f" on conflict ({key}) do update set {updates}"
                )
        elapsed = time.perf_counter() - started
        for entity in ENTITIES:
            await conn.execute(f"drop table raw_{entity}")
    finally:
        await conn.close()
    return raw.record_count / elapsed, raw.record_count
