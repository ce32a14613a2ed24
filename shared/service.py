"""What every service process shares: its resources, its lifecycle and its HTTP side.

A service is a FastStream ASGI app: the Kafka broker with the service's subscribers, plus
`/healthz` and `/metrics` (Prometheus) on CREDITFLOW_HTTP_HOST:CREDITFLOW_HTTP_PORT. The
database pool, migrations, topics and outbox relay are created when it starts, never at import.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from faststream.asgi import AsgiFastStream, make_ping_asgi
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared.asyncapi import asyncapi_html, asyncapi_json
from shared.db import apply_migrations, connect_pool
from shared.kafka import BatchRunner, ensure_topics, subscriber_options
from shared.metrics import FAMILIES_BY_SERVICE, MetricsEndpoint
from shared.outbox import OutboxRelay
from shared.settings import Settings
from shared.topics import Topics

__all__ = [
    "ServiceRuntime",
    "asyncapi_routes",
    "build_service_app",
    "metrics_route",
    "serve",
    "subscribe_batches",
]

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]


@dataclass
class ServiceRuntime:
    """The resources of one service process; `pool` and `relay` exist once it started."""

    settings: Settings
    broker: KafkaBroker
    name: str
    topics: Topics = field(init=False)
    _pool: asyncpg.Pool | None = field(default=None, init=False)
    _relay: OutboxRelay | None = field(default=None, init=False)
    background: list[asyncio.Task[Any]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.topics = Topics(self.settings.topic_prefix)

    def group(self, suffix: str = "") -> str:
        """A consumer group of this service; prefixed like the topics, so that deployments
        (and tests) sharing a broker never share a group."""
        return f"{self.settings.topic_prefix}{self.name}{'.' + suffix if suffix else ''}"

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "the service has not started"
        return self._pool

    @property
    def open_pool(self) -> asyncpg.Pool | None:
        """The pool while the service runs, else None (for scrapes at any moment)."""
        return self._pool

    @property
    def relay(self) -> OutboxRelay:
        assert self._relay is not None, "the service has not started"
        return self._relay

    async def open(self) -> None:
        # A worker waits for its database however long it is away, rather than exit.
        self._pool = await connect_pool(self.settings.require_database(), wait=None)
        await apply_migrations(self._pool)
        await ensure_topics(self.settings, attempts=None)  # wait out a broker outage
        # Exists before the broker starts: a subscriber may get its first batch (and flush)
        # before the after-startup hooks ran.
        self._relay = OutboxRelay(self._pool, self.settings)

    async def start_relay(self) -> None:
        self.relay.start()

    def spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self.name}:{name}")
        self.background.append(task)

    async def close(self) -> None:
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        self.background.clear()
        if self._relay is not None:
            await self._relay.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def build_service_app(
    runtime: ServiceRuntime,
    *,
    after_start: Sequence[Hook] = (),
    before_stop: Sequence[Hook] = (),
    routes: Sequence[tuple[str, Any]] = (),
) -> AsgiFastStream:
    """The ASGI app of a worker service: broker, lifecycle hooks, /healthz, /metrics and
    /asyncapi (HTML; JSON at /asyncapi.json)."""

    async def on_startup() -> None:
        await runtime.open()

    async def after_startup() -> None:
        await runtime.start_relay()
        for hook in after_start:
            await hook()
        log.info("%s started", runtime.name)

    async def on_shutdown() -> None:
        for hook in before_stop:
            await hook()

    async def after_shutdown() -> None:
        await runtime.close()
        log.info("%s stopped", runtime.name)

    return AsgiFastStream(
        runtime.broker,
        asgi_routes=[
            ("/healthz", make_ping_asgi(runtime.broker, timeout=5.0)),
            metrics_route(runtime),
            *asyncapi_routes(runtime.settings),
            *routes,
        ],
        on_startup=[on_startup],
        after_startup=[after_startup],
        on_shutdown=[on_shutdown],
        after_shutdown=[after_shutdown],
    )


def metrics_route(runtime: ServiceRuntime) -> tuple[str, Any]:
    """`/metrics`: the process's metrics plus this service's state, read at scrape time."""
    return (
        "/metrics",
        MetricsEndpoint(
            FAMILIES_BY_SERVICE.get(runtime.name, ()),
            lambda: runtime.open_pool,
            lambda: runtime.broker.subscribers,
        ),
    )


def asyncapi_routes(settings: Settings) -> list[tuple[str, Any]]:
    """`/asyncapi` (HTML) and `/asyncapi.json`: the document of every topic."""
    prefix, bootstrap = settings.topic_prefix, settings.kafka_bootstrap or "kafka:9092"

    def static(content_type: str, body: Any) -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", content_type.encode())],
                }
            )
            await send({"type": "http.response.body", "body": body(prefix, bootstrap)})

        return app

    return [
        ("/asyncapi.json", static("application/json", asyncapi_json)),
        ("/asyncapi", static("text/html; charset=utf-8", asyncapi_html)),
    ]


def serve(app: Any, settings: Settings) -> None:
    """Run an ASGI app until SIGINT/SIGTERM, with a graceful shutdown."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        lifespan="on",
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=8,
    )
    uvicorn.Server(config).run()


def subscribe_batches(
    runtime: ServiceRuntime,
    topic: str,
    model: type[Any],
    apply: Callable[[list[Any]], Awaitable[None]],
    *,
    group: str = "",
    **options: Any,
) -> None:
    """Register a batch consumer: decoded messages go to `apply`, the undecodable to dead
    letters, and offsets are committed after `apply` returned (see shared.kafka)."""
    runner = BatchRunner(
        runtime.broker, model, apply, runtime.topics.dead_letters, name=f"{runtime.name}:{topic}"
    )

    async def handle(body: Any, message: KafkaMessage) -> None:
        await runner(message)

    handle.__name__ = f"on_{topic.rsplit('.', 1)[-1].replace('-', '_')}"
    session_ms = runtime.settings.kafka_session_timeout_ms
    options = {
        "session_timeout_ms": session_ms,
        "heartbeat_interval_ms": max(100, session_ms // 5),
        **options,
    }
    runtime.broker.subscriber(
        topic, group_id=runtime.group(group), **subscriber_options(**options)
    )(handle)
