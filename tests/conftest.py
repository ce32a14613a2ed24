"""Fixtures: every test gets a real Kafka-protocol broker, its own real PostgreSQL database
and its own topic prefix, so tests never see each other's data.

- Broker: CREDITFLOW_KAFKA_BOOTSTRAP when set, else a Tansu broker on a free port.
- Database: a fresh database on CREDITFLOW_DATABASE_URL's server when set, else on an
  embedded PostgreSQL started for the session.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from shared.embedded import EmbeddedBroker, EmbeddedPostgres
from shared.kafka import ensure_topics
from shared.settings import Settings
from shared.testing import fresh_database

EMBEDDED_BROKER = not os.environ.get("CREDITFLOW_KAFKA_BOOTSTRAP")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    configured = os.environ.get("CREDITFLOW_KAFKA_BOOTSTRAP")
    if configured:
        yield configured
        return
    broker = EmbeddedBroker().start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("CREDITFLOW_DATABASE_URL")
    if configured:
        yield configured
        return
    server = EmbeddedPostgres(
        tmp_path_factory.mktemp("postgres") / "data", delete_on_stop=True
    ).start()
    try:
        yield server.url("postgres")
    finally:
        server.stop()


@pytest.fixture
async def database_url(postgres_server_url: str) -> AsyncIterator[str]:
    async with fresh_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid4().hex[:10]}."


@pytest.fixture
async def settings(
    database_url: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> Settings:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        home=tmp_path / "home",
        topic_prefix=topic_prefix,
        topic_partitions=4,
        # Tansu finishes a group join after half the session timeout: keep tests quick.
        kafka_session_timeout_ms=2000 if EMBEDDED_BROKER else 10_000,
    )
    await ensure_topics(settings)
    return settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`-n`), the fault tests share one worker: they kill, cut and
    restart processes and are timed by their own deadlines, so they run one after another
    while the rest of the suite runs beside them."""
    for item in items:
        if "faults" in item.path.parts:
            item.add_marker(pytest.mark.xdist_group("faults"))
