"""`GET /metrics` of every service, in Prometheus' text format.

Business state is read from PostgreSQL at scrape time, so no business code makes metric
calls: import runs by status (importer), validation errors by status and severity
(validator), notifications by kind and outcome (notifier; its table may not exist yet). Every
service adds the lag of its own Kafka consumers, and FastStream's Prometheus middleware
(shared.kafka.make_broker) counts the messages each handler received and processed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import TopicPartition
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

__all__ = [
    "FAMILIES_BY_SERVICE",
    "ConsumerLag",
    "MetricsEndpoint",
    "StateCollector",
    "consumer_lag",
    "read_state",
]

log = logging.getLogger(__name__)

# Which service exports which counts, so one scrape of all services never counts twice.
FAMILIES_BY_SERVICE: dict[str, tuple[str, ...]] = {
    "importer": ("import_runs",),
    "validator": ("validation_errors",),
    "notifier": ("notifications",),
    "dashboard": ("dashboard_errors",),
}

_QUERIES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    # family: (metric name, help, SQL returning label columns then n, label names)
    "import_runs": (
        "creditflow_import_runs",
        "Import runs by status.",
        "select status, count(*) as n from import_runs group by status",
        ("status",),
    ),
    "validation_errors": (
        "creditflow_validation_errors",
        "Validation errors and warnings by status (open, resolved) and severity.",
        "select status, severity, count(*) as n from validation_errors group by 1, 2",
        ("status", "severity"),
    ),
    "notifications": (
        "creditflow_notifications",
        "Notifications (invoice e-mails, reminders, final notices) by kind and outcome "
        "(sent, suppressed, failed).",
        "select kind, status as outcome, count(*) as n from notifications"
        " where status <> 'claimed' group by 1, 2",
        ("kind", "outcome"),
    ),
    "dashboard_errors": (
        "creditflow_dashboard_errors",
        "Errors in the dashboard's view by the last event seen (raised, resolved).",
        "select event, severity, count(*) as n from dashboard_errors group by 1, 2",
        ("event", "severity"),
    ),
}


@dataclass(frozen=True)
class ConsumerLag:
    group: str
    topic: str
    lag: int


@dataclass(eq=False)
class StateCollector(Collector):
    """Yields the last snapshot taken by `refresh` (prometheus_client collects synchronously,
    so the database is read just before, in the scrape's request)."""

    families: Sequence[str]
    counts: dict[str, list[tuple[tuple[str, ...], int]]] = field(default_factory=dict)
    lags: list[ConsumerLag] = field(default_factory=list)
    scrape_ok: bool = True

    def collect(self) -> Iterable[Metric]:
        for family in self.families:
            name, help_text, _, labels = _QUERIES[family]
            gauge = GaugeMetricFamily(name, help_text, labels=list(labels))
            for values, n in self.counts.get(family, []):
                gauge.add_metric(list(values), n)
            yield gauge
        lag = GaugeMetricFamily(
            "creditflow_consumer_lag",
            "Messages not yet committed by this service's consumer group, per topic.",
            labels=["group", "topic"],
        )
        for item in self.lags:
            lag.add_metric([item.group, item.topic], item.lag)
        yield lag
        yield GaugeMetricFamily(
            "creditflow_metrics_scrape_ok",
            "1 when the last scrape read PostgreSQL and the consumers without error.",
            value=1 if self.scrape_ok else 0,
        )

    async def refresh(self, pool: asyncpg.Pool | None, consumers: Sequence[Any]) -> None:
        ok = True
        try:
            if pool is not None:
                self.counts = await read_state(pool, self.families)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("metrics: cannot read PostgreSQL: %s", exc)
            ok = False
        try:
            self.lags = await consumer_lag(consumers)
        except Exception as exc:  # a broker hiccup must not break the scrape
            log.warning("metrics: cannot read consumer lag: %s", exc)
            ok = False
        self.scrape_ok = ok


async def read_state(
    pool: asyncpg.Pool, families: Sequence[str]
) -> dict[str, list[tuple[tuple[str, ...], int]]]:
    counts: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    async with pool.acquire() as conn:
        for family in families:
            _, _, sql, labels = _QUERIES[family]
            try:
                rows = await conn.fetch(sql)
            except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
                rows = []  # a table another part has not created (yet)
            counts[family] = [
                (tuple(str(row[label]) for label in labels), row["n"]) for row in rows
            ]
    return counts


async def consumer_lag(subscribers: Sequence[Any]) -> list[ConsumerLag]:
    """Per (group, topic): the end offsets minus the committed offsets of the partitions
    assigned to this process's consumers."""
    lags: dict[tuple[str, str], int] = {}
    for subscriber in subscribers:
        consumer = getattr(subscriber, "consumer", None)
        group = getattr(subscriber, "group_id", None) or ""
        if consumer is None:
            continue
        assigned: list[TopicPartition] = sorted(consumer.assignment())
        if not assigned:
            continue
        ends = await consumer.end_offsets(assigned)
        starts: dict[TopicPartition, int] | None = None
        for tp in assigned:
            committed = await consumer.committed(tp)
            if committed is None:
                starts = starts or await consumer.beginning_offsets(assigned)
                committed = starts[tp]
            key = (group, tp.topic)
            lags[key] = lags.get(key, 0) + max(0, ends[tp] - committed)
    return [ConsumerLag(group, topic, lag) for (group, topic), lag in sorted(lags.items())]


class MetricsEndpoint:
    """An ASGI app answering every request with the process's metrics and the fresh state."""

    def __init__(
        self,
        families: Sequence[str],
        pool: Callable[[], asyncpg.Pool | None],
        subscribers: Callable[[], Sequence[Any]],
        *,
        timeout: float = 5.0,
    ) -> None:
        self.collector = StateCollector(families)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self.pool = pool
        self.subscribers = subscribers
        self.timeout = timeout

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        try:
            await asyncio.wait_for(
                self.collector.refresh(self.pool(), self.subscribers()), self.timeout
            )
        except TimeoutError:
            log.warning("metrics: reading the state took longer than %.0fs", self.timeout)
            self.collector.scrape_ok = False
        body = generate_latest(REGISTRY) + generate_latest(self.registry)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
