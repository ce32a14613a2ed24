"""PostgreSQL access: the asyncpg pool and the schema migrations.

Migrations are the ordered `shared/migrations/NNNN_name.sql` files, applied once each and
recorded in `schema_migrations`. Every service applies them at start; an advisory lock makes
concurrent starts safe.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, TypeVar

import asyncpg

from shared.settings import redacted

__all__ = [
    "TRANSIENT_DATABASE_ERRORS",
    "apply_migrations",
    "connect_pool",
    "is_transient_database_error",
    "migration_files",
    "retry_while_unavailable",
    "wait_for_database",
]

T = TypeVar("T")

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x0C4ED17F  # arbitrary, constant: serialises migrations across processes


# Errors that say "not now" rather than "never": the server is unreachable, restarting, full,
# or chose this transaction as a deadlock or serialization victim. Retrying them is right.
TRANSIENT_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.TransactionRollbackError,
)


def is_transient_database_error(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_DATABASE_ERRORS)


async def retry_while_unavailable(
    operation: Callable[[], Awaitable[T]], *, what: str, max_delay: float = 5.0
) -> T:
    """Run `operation` until it gets through a database outage: transient errors are retried
    with exponential backoff (0.2 s doubling up to `max_delay`), anything else is raised."""
    delay = 0.2
    while True:
        try:
            return await operation()
        except TRANSIENT_DATABASE_ERRORS as exc:
            log.warning(
                "%s: database unavailable (%s: %s); retrying in %.1fs",
                what,
                type(exc).__name__,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def wait_for_database(url: str, *, timeout: float | None = 60.0) -> None:
    """Wait until the database accepts connections, backing off; raise after `timeout`
    seconds (never, when None)."""
    where = redacted(url)
    delay, waited = 0.1, 0.0
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=5)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            if timeout is not None and waited >= timeout:
                raise RuntimeError(
                    f"database {where} not reachable after {timeout:.0f}s: {exc}"
                ) from exc
            log.warning("database %s not reachable (%s); retrying in %.1fs", where, exc, delay)
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)
        else:
            await conn.close()
            return


async def connect_pool(
    url: str, *, min_size: int = 0, max_size: int = 10, wait: float | None = 60.0
) -> asyncpg.Pool:
    """A pool once the database answers (waiting up to `wait` seconds; None: for as long as
    it takes, as a worker service does rather than exit and be restarted in a loop)."""
    # min_size 0: with a floor, asyncpg logs a traceback every second of a database outage
    # while it tries to restore it; idle connections are kept anyway (for 300 s).
    await wait_for_database(url, timeout=wait)
    pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=300
    )
    assert pool is not None
    return pool


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration, in order."""
    found = []
    for entry in resources.files("shared.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {sorted(versions)}")
    return found


async def apply_migrations(pool: asyncpg.Pool) -> list[str]:
    """Apply the migrations not yet applied; return the names applied now."""
    applied_now: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("select pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "create table if not exists schema_migrations ("
            " version int primary key, name text not null,"
            " applied_at timestamptz not null default now())"
        )
        done = {row["version"] for row in await conn.fetch("select version from schema_migrations")}
        for version, name, sql in migration_files():
            if version in done:
                continue
            log.info("applying migration %s", name)
            await conn.execute(sql)
            await conn.execute(
                "insert into schema_migrations (version, name) values ($1, $2)", version, name
            )
            applied_now.append(name)
    return applied_now


def record_to_dict(record: asyncpg.Record | None) -> dict[str, Any] | None:
    return dict(record) if record is not None else None
