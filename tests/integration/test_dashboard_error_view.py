"""The dashboard's own view of the validation-errors topic: raised errors appear, resolved
ones vanish, and an event seen twice or out of order never brings a resolved error back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from services.dashboard.app import build_app
from services.dashboard.store import apply_error_events, list_errors
from shared.db import apply_migrations, connect_pool
from shared.messages import ValidationErrorEvent
from shared.settings import Settings
from shared.testing import eventually, publish_json

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _event(
    event: str = "raised",
    *,
    at: datetime = T0,
    error_id: UUID | None = None,
    admin: str = "acme",
    key: str = "C1",
    resolution: str | None = None,
) -> ValidationErrorEvent:
    return ValidationErrorEvent(
        event=event,  # type: ignore[arg-type]
        error_id=error_id or UUID(int=1),
        administration_id=admin,
        run_id=uuid4(),
        entity="customer",
        key=key,
        code="invalid_email",
        field="email",
        value="jan@",
        severity="error",
        message="e-mail address 'jan@' is not valid",
        occurred_at=at,
        resolution=resolution,  # type: ignore[arg-type]
    )


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await connect_pool(database_url, max_size=2)
    await apply_migrations(pool)
    yield pool
    await pool.close()


async def _statuses(pool: asyncpg.Pool, admin: str = "acme") -> list[tuple[str, str, Any]]:
    return [
        (e["key"], e["status"], e.get("resolution")) for e in await list_errors(pool, admin, "all")
    ]


async def test_a_resolve_seen_before_its_raise_keeps_the_error_resolved(
    pool: asyncpg.Pool,
) -> None:
    resolved = _event("resolved", at=T0 + timedelta(minutes=5), resolution="fixed")
    await apply_error_events(pool, [resolved])
    await apply_error_events(pool, [_event("raised", at=T0)])
    assert await _statuses(pool) == [("C1", "resolved", "fixed")]
    assert await list_errors(pool, "acme", "open") == []


async def test_the_same_event_twice_changes_nothing(pool: asyncpg.Pool) -> None:
    raised = _event("raised")
    await apply_error_events(pool, [raised])
    before = await list_errors(pool, "acme", "all")
    await apply_error_events(pool, [raised, raised])
    assert await list_errors(pool, "acme", "all") == before


async def test_within_one_batch_the_newest_event_of_an_error_wins_whatever_the_order(
    pool: asyncpg.Pool,
) -> None:
    events = [
        _event("raised", at=T0),
        _event("raised", at=T0 + timedelta(minutes=10)),  # raised again after the resolve
        _event("resolved", at=T0 + timedelta(minutes=5), resolution="fixed"),
    ]
    await apply_error_events(pool, events)
    (error,) = await list_errors(pool, "acme", "all")
    assert error["status"] == "open"
    assert error["raised_at"] == (T0 + timedelta(minutes=10)).isoformat()
    assert "resolution" not in error


async def test_an_error_raised_again_after_its_resolve_is_open_again(pool: asyncpg.Pool) -> None:
    await apply_error_events(pool, [_event("raised", at=T0)])
    await apply_error_events(
        pool, [_event("resolved", at=T0 + timedelta(hours=1), resolution="ignored")]
    )
    assert await _statuses(pool) == [("C1", "resolved", "ignored")]
    await apply_error_events(pool, [_event("raised", at=T0 + timedelta(hours=2))])
    assert await _statuses(pool) == [("C1", "open", None)]


async def test_errors_are_listed_per_administration_and_status_newest_first(
    pool: asyncpg.Pool,
) -> None:
    await apply_error_events(
        pool,
        [
            _event(error_id=UUID(int=1), key="C1", at=T0),
            _event(error_id=UUID(int=2), key="C2", at=T0 + timedelta(minutes=1)),
            _event("resolved", error_id=UUID(int=3), key="C3", resolution="left_import"),
            _event(error_id=UUID(int=4), key="X1", admin="other"),
        ],
    )
    assert [e["key"] for e in await list_errors(pool, "acme", "open")] == ["C2", "C1"]
    assert [e["key"] for e in await list_errors(pool, "acme", "resolved")] == ["C3"]
    assert [e["key"] for e in await list_errors(pool, "acme", "all")] == ["C2", "C1", "C3"]
    assert [e["key"] for e in await list_errors(pool, "other", "all")] == ["X1"]


async def test_errors_published_on_the_topic_appear_and_vanish_on_the_dashboard(
    settings: Settings,
) -> None:
    app = build_app(settings)
    topic = f"{settings.topic_prefix}validation-errors"
    assert settings.kafka_bootstrap
    bootstrap = settings.kafka_bootstrap
    first, sentinel = uuid4(), uuid4()

    def wire(event: ValidationErrorEvent) -> dict[str, Any]:
        return event.model_dump(mode="json", exclude_none=True)

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        await client.post(
            "/api/administrations", json={"id": "acme", "name": "Acme", "source": "demo:1"}
        )

        async def errors(status: str = "open") -> list[dict[str, Any]]:
            response = await client.get(f"/api/administrations/acme/errors?status={status}")
            assert response.status_code == 200
            return response.json()

        raised = _event("raised", error_id=first, at=T0)
        await publish_json(bootstrap, topic, "acme", wire(raised))
        shown = await eventually(errors, timeout=30, what="the raised error on the dashboard")
        assert shown[0]["error_id"] == str(first)
        assert {k: shown[0][k] for k in ("entity", "key", "code", "field", "value")} == {
            "entity": "customer",
            "key": "C1",
            "code": "invalid_email",
            "field": "email",
            "value": "jan@",
        }
        assert set(wire(raised)) <= set(shown[0])  # every field of the topic event

        resolved = _event(
            "resolved", error_id=first, at=T0 + timedelta(minutes=1), resolution="ignored"
        )
        await publish_json(bootstrap, topic, "acme", wire(resolved))
        await eventually(lambda: _empty(errors()), what="the resolved error to vanish")

        # A redelivered raise, then a sentinel behind it on the same partition (same key).
        await publish_json(bootstrap, topic, "acme", wire(raised))
        await publish_json(
            bootstrap, topic, "acme", wire(_event(error_id=sentinel, key="C2", at=T0))
        )
        await eventually(
            lambda: _has(errors(), str(sentinel)), what="the sentinel behind the late raise"
        )
        assert [e["key"] for e in await errors()] == ["C2"]
        (gone,) = await errors("resolved")
        assert gone["resolution"] == "ignored"


async def _empty(pending: Any) -> bool:
    return not await pending


async def _has(pending: Any, error_id: str) -> bool:
    return any(e["error_id"] == error_id for e in await pending)
