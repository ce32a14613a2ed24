"""What a CLI command needs: settings, a database pool, a publisher; opened per command."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import asyncpg

from shared.db import apply_migrations, connect_pool
from shared.outbox import OutboxRelay
from shared.publish import Publisher
from shared.settings import Settings
from shared.topics import Topics

__all__ = ["Context", "run"]


T = TypeVar("T")


class Context:
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool
        self.topics = Topics(settings.topic_prefix)

    @asynccontextmanager
    async def publisher(self) -> AsyncIterator[Publisher]:
        async with Publisher(self.settings) as publisher:
            yield publisher

    async def flush_outbox(self) -> None:
        """Publish the events a command wrote to the outbox with its change, now.

        The change is already in force; if the broker cannot be reached, the events stay in
        the outbox and the next relay pass of any running service publishes them."""
        relay = OutboxRelay(self.pool, self.settings)
        try:
            await asyncio.wait_for(relay.flush(), timeout=30)
        except Exception as exc:  # the change itself succeeded: warn, do not fail
            print(
                f"creditflow: warning: the change is in force, but its event was not published"
                f" yet ({type(exc).__name__}: {exc}); a running service will publish it",
                file=sys.stderr,
            )
        finally:
            await relay.stop()


@asynccontextmanager
async def open_context(settings: Settings | None = None) -> AsyncIterator[Context]:
    settings = settings or Settings.from_env()
    url = settings.require_database()
    # A command asks once and says so in one line; services wait and retry instead.
    try:
        probe = await asyncpg.connect(url, timeout=10)
        await probe.close()
        pool = await asyncio.wait_for(connect_pool(url, min_size=1, max_size=2), timeout=15)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(f"cannot reach the database: {exc}") from None
    try:
        await apply_migrations(pool)
        yield Context(settings, pool)
    finally:
        await pool.close()


def run(action: Callable[[Context], Awaitable[T]]) -> T:
    """Run one command's coroutine with an open context."""

    async def main() -> T:
        async with open_context() as context:
            return await action(context)

    return asyncio.run(main())
