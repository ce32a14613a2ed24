"""What the fault tests share: services as real processes, an import to run, the reference
outcome of an uninterrupted run, and the database state to compare.

A service is started exactly as an operator starts it: `python -m creditflow run NAME` with
the repository as working directory and its settings in the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from services.control.admins import NewAdministration, add_administration
from services.control.imports import request_import, run_for_request
from services.importer.app import build_app as build_importer
from services.importer.sources.generator import write_export
from services.validator.app import build_app as build_validator
from shared.db import apply_migrations
from shared.embedded import free_port
from shared.kafka import ensure_topics
from shared.messages import ImportRequested
from shared.publish import Publisher
from shared.settings import Settings
from shared.testing import TopicReader, fresh_database, running
from shared.topics import Topics

__all__ = [
    "ADMIN",
    "ROOT",
    "ServiceProcess",
    "Snapshot",
    "distinct_events",
    "generated_export",
    "processes",
    "reference_snapshot",
    "register",
    "request",
    "snapshot",
    "wait_for_run",
]

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "acme"
TODAY = date(2026, 12, 3)


def generated_export(directory: Path, *, open_invoices: int, seed: int = 11) -> Path:
    """A realistic export with about `open_invoices` outstanding, a few percent invalid."""
    total = round(open_invoices / 0.7)
    write_export(
        directory,
        seed,
        customers=max(1, open_invoices // 5),
        invoices=total,
        today=TODAY,
        paid_ratio=0.3,
    )
    return directory


# --- services as processes ---------------------------------------------------------------------


@dataclass
class ServiceProcess:
    """`python -m creditflow run NAME` with these settings; its output goes to a log file."""

    name: str
    settings: Settings
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"{self.name}-{self.port}.log"

    def env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITFLOW_")}
        env.update(
            {
                "CREDITFLOW_DATABASE_URL": s.database_url or "",
                "CREDITFLOW_KAFKA_BOOTSTRAP": s.kafka_bootstrap or "",
                "CREDITFLOW_TOPIC_PREFIX": s.topic_prefix,
                "CREDITFLOW_TOPIC_PARTITIONS": str(s.topic_partitions),
                "CREDITFLOW_HOME": str(s.home),
                "CREDITFLOW_HTTP_PORT": str(self.port),
                "CREDITFLOW_KAFKA_SESSION_TIMEOUT_MS": str(s.kafka_session_timeout_ms),
                "CREDITFLOW_LOG_LEVEL": "INFO",
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if s.smtp_url:
            env["CREDITFLOW_SMTP_URL"] = s.smtp_url
        env.update(self.extra_env)
        return env

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "creditflow", "run", self.name],
                cwd=ROOT,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        self.started_at = time.monotonic()
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """kill -9: no handler runs, nothing is flushed, nothing is committed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def wait(self, timeout: float) -> int:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} still running after {timeout}s")
            await asyncio.sleep(0.05)
        return self.process.returncode

    def stop(self) -> None:
        if self.alive:
            self.terminate()
            try:
                assert self.process is not None
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def wait_until_serving(self, timeout: float = 60.0) -> None:
        """Wait until every subscriber joined its group: the service logs "NAME started"
        after that (its /healthz answers earlier, while the broker is still starting)."""
        deadline = time.monotonic() + timeout
        started = f"shared.service: {self.name} started"
        if self.name == "dashboard":  # a FastAPI app: its lifespan starts the broker first
            started = "Application startup complete"
        while started not in self.output():
            if not self.alive:
                raise AssertionError(f"{self.name} exited:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not started after {timeout}s")
            await asyncio.sleep(0.05)


@contextlib.contextmanager
def processes(*services: ServiceProcess) -> Iterator[tuple[ServiceProcess, ...]]:
    """Start the services; stop whatever is still running afterwards."""
    try:
        for service in services:
            service.start()
        yield services
    finally:
        for service in services:
            with contextlib.suppress(Exception):
                service.stop()


# --- the import ----------------------------------------------------------------------------------


async def register(database_url: str, export: Path, admin: str = ADMIN, **fields: Any) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        await apply_migrations(pool)
        await add_administration(
            pool,
            NewAdministration.parse(
                {
                    "id": admin,
                    "name": admin,
                    "source": f"files:{export}",
                    "import_mode": "manual",
                    **fields,
                }
            ),
        )
    finally:
        await pool.close()


async def request(settings: Settings, admin: str = ADMIN) -> ImportRequested:
    async with Publisher(settings) as publisher:
        return await request_import(
            publisher, Topics(settings.topic_prefix), admin, requested_by="fault-test"
        )


async def wait_for_run(
    database_url: str, request_id: UUID, *, timeout: float, watch: Any = None
) -> dict[str, Any]:
    """The run of a request once it ended; `watch()` is called on every poll (to check that
    no process died, say)."""
    conn = await _connect(database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                run = await run_for_request(conn, request_id)  # type: ignore[arg-type]
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await conn.close(timeout=1)
                conn = await _connect(database_url)
                run = None
            if run is not None and run["status"] not in ("running",):
                return run
            if watch is not None:
                watch()
            if time.monotonic() > deadline:
                raise AssertionError(f"run of request {request_id} not ended after {timeout}s")
            await asyncio.sleep(0.1)
    finally:
        await conn.close(timeout=1)


async def _connect(url: str) -> asyncpg.Connection:
    for _ in range(100):
        try:
            return await asyncpg.connect(url, timeout=2)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            await asyncio.sleep(0.1)
    raise AssertionError("database not reachable")


# --- the outcome ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What an import leaves behind, without timestamps and run ids (they differ by run)."""

    payment_conditions: list[tuple[Any, ...]]
    customers: list[tuple[Any, ...]]
    invoices: list[tuple[Any, ...]]
    open_errors: list[tuple[Any, ...]]
    runs: Counter[str]

    def differences(self, other: Snapshot) -> list[str]:
        out = []
        for name in ("payment_conditions", "customers", "invoices", "open_errors"):
            mine, theirs = set(getattr(self, name)), set(getattr(other, name))
            if mine != theirs:
                out.append(
                    f"{name}: {len(mine - theirs)} only here (e.g. {sorted(mine - theirs)[:2]}),"
                    f" {len(theirs - mine)} only in the reference"
                    f" (e.g. {sorted(theirs - mine)[:2]})"
                )
        if self.runs != other.runs:
            out.append(f"runs: {dict(self.runs)} != {dict(other.runs)}")
        return out


async def snapshot(database_url: str, admin: str = ADMIN) -> Snapshot:
    conn = await asyncpg.connect(database_url)
    try:
        pcs = await conn.fetch(
            "select code, description, term_days, content_hash from payment_conditions"
            " where administration_id = $1 order by code",
            admin,
        )
        customers = await conn.fetch(
            "select customer_number, name, email, phone, street, postal_code, city, country,"
            " language, vat_number, changed_at, content_hash, status from customers"
            " where administration_id = $1 order by customer_number",
            admin,
        )
        invoices = await conn.fetch(
            "select invoice_number, customer_number, invoice_date, due_date, currency,"
            " amount_total, amount_open, payment_condition, description, content_hash, status"
            " from invoices where administration_id = $1 order by invoice_number",
            admin,
        )
        errors = await conn.fetch(
            "select error_id, entity, key, code, field, value, severity, message"
            " from validation_errors where administration_id = $1 and status = 'open'"
            " order by error_id",
            admin,
        )
        runs = await conn.fetch(
            "select status from import_runs where administration_id = $1", admin
        )
    finally:
        await conn.close()
    return Snapshot(
        [tuple(r) for r in pcs],
        [tuple(r) for r in customers],
        [tuple(r) for r in invoices],
        [tuple(r) for r in errors],
        Counter(r["status"] for r in runs),
    )


_references: dict[str, Snapshot] = {}


async def reference_snapshot(
    postgres_server_url: str, settings: Settings, export: Path
) -> Snapshot:
    """The outcome of an uninterrupted, in-process run of `export` into another database.

    Kept for the session by the export's content, so tests importing the same generated
    export compute it once."""
    digest = hashlib.sha256()
    for name in ("customers.csv", "invoices.csv", "payment_conditions.csv"):
        digest.update((export / name).read_bytes())
    fingerprint = digest.hexdigest()
    if fingerprint not in _references:
        _references[fingerprint] = await _reference_run(postgres_server_url, settings, export)
    return _references[fingerprint]


async def _reference_run(postgres_server_url: str, settings: Settings, export: Path) -> Snapshot:
    async with fresh_database(postgres_server_url) as url:
        reference = replace(settings, database_url=url, topic_prefix=f"ref{uuid4().hex[:8]}.")
        await ensure_topics(reference)
        await register(url, export)
        async with running(build_importer(reference), build_validator(reference)):
            requested = await request(reference)
            run = await wait_for_run(url, requested.request_id, timeout=60)
        assert run["status"] == "completed", run
        return await snapshot(url)


async def distinct_events(settings: Settings, topic: str, run_id: str) -> dict[str, set[str]]:
    """message_ids per event kind on a topic, for one run: a redelivered event repeats its
    message_id, a duplicated effect would bring a new one."""
    found: dict[str, set[str]] = {}
    async with TopicReader(settings.kafka_bootstrap or "", topic) as reader:
        previous = -1
        while len(reader.messages) != previous:  # read until a poll brings nothing new
            previous = len(reader.messages)
            for _ in range(5):
                await reader.poll()
        for message in reader.messages:
            if message.get("run_id") == run_id:
                key = f"{message.get('event')}:{message.get('error_id', '')}"
                found.setdefault(key, set()).add(message["message_id"])
    return found
