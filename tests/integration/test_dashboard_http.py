"""Every HTTP path the dashboard owns (DESIGN section 8), including bad input answered with the
right 4xx status and nothing changed, HTML escaping, and the access token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.dashboard.app import build_app
from services.dashboard.store import apply_error_events
from shared.messages import ValidationErrorEvent
from shared.settings import Settings
from shared.testing import TopicReader

pytestmark = pytest.mark.integration

ACME = {"id": "acme", "name": "Acme B.V.", "source": "demo:7"}


class Dashboard:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
        self.app = app
        self.client = client
        self.pool = pool

    async def add(self, **fields: Any) -> dict[str, Any]:
        response = await self.client.post("/api/administrations", json={**ACME, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    async def run(
        self,
        admin: str,
        *,
        status: str = "completed",
        started: datetime | None = None,
        seconds: float | None = 2.5,
        request_id: UUID | None = None,
        counts: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> UUID:
        run_id = uuid4()
        started = started or datetime.now(UTC) - timedelta(minutes=5)
        await self.pool.execute(
            "insert into import_runs (run_id, request_id, administration_id, trigger,"
            " requested_by, status, started_at, finished_at, counts, reason)"
            " values ($1, $2, $3, 'manual', 'test', $4, $5, $6, $7, $8)",
            run_id,
            request_id,
            admin,
            status,
            started,
            started + timedelta(seconds=seconds) if seconds is not None else None,
            counts or {},
            reason,
        )
        return run_id


@pytest.fixture
async def dashboard(settings: Settings) -> AsyncIterator[Dashboard]:
    async for d in _dashboard(settings):
        yield d


async def _dashboard(settings: Settings) -> AsyncIterator[Dashboard]:
    app = build_app(settings)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        await _json_codec(pool)
        yield Dashboard(app, client, pool)
    await pool.close()


async def _json_codec(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.set_type_codec(
            "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


def _error_event(admin: str, key: str, **fields: Any) -> ValidationErrorEvent:
    base: dict[str, Any] = {
        "event": "raised",
        "error_id": uuid4(),
        "administration_id": admin,
        "run_id": uuid4(),
        "entity": "customer",
        "key": key,
        "code": "invalid_email",
        "field": "email",
        "value": "jan@",
        "severity": "error",
        "message": "e-mail address 'jan@' is not valid",
    }
    return ValidationErrorEvent(**{**base, **fields})


# --- administrations ---------------------------------------------------------------------------


async def test_administrations_are_added_and_listed_newest_first(dashboard: Dashboard) -> None:
    client = dashboard.client
    assert (await client.get("/api/administrations")).json() == []
    created = await dashboard.add(
        import_at=["13:00", "06:30"],
        timezone="Europe/Brussels",
        send_invoices_from="2026-12-01",
        minimum_amount="7.5",
    )
    assert created["import_at"] == ["06:30", "13:00"]
    assert created["minimum_amount"] == "7.50"
    await dashboard.add(id="beta", name="Beta")
    listed = (await client.get("/api/administrations")).json()
    assert [a["id"] for a in listed] == ["beta", "acme"]
    assert (await client.get("/api/administrations/acme")).json()["timezone"] == "Europe/Brussels"
    assert (await client.get("/api/administrations/nobody")).status_code == 404


BAD_ADMINISTRATIONS = [
    (b"{not json", 400, "not valid JSON"),
    (b"", 400, "not valid JSON"),
    (b"[1, 2]", 422, "JSON object"),
    (b'"acme"', 422, "JSON object"),
    (b'{"name": "X", "source": "demo:1"}', 422, "id"),
    (b'{"id": 5, "name": "X", "source": "demo:1"}', 422, "id"),
    (b'{"id": "has space", "name": "X", "source": "demo:1"}', 422, "administration id"),
    (b'{"id": "x", "name": ["X"], "source": "demo:1"}', 422, "name"),
    (b'{"id": "x", "name": "X", "source": "ftp://x"}', 422, "source"),
    (b'{"id": "x", "name": "X", "source": "demo:abc"}', 422, "seed"),
    (b'{"id": "x", "name": "X", "source": "demo:1", "import_at": 6}', 422, "import_at"),
    (b'{"id": "x", "name": "X", "source": "demo:1", "import_at": ["25:00"]}', 422, "25:00"),
    (b'{"id": "x", "name": "X", "source": "demo:1", "timezone": "Mars/Base"}', 422, "Mars"),
    (b'{"id": "x", "name": "X", "source": "demo:1", "import_mode": "hourly"}', 422, "mode"),
    (
        b'{"id": "x", "name": "X", "source": "demo:1", "send_invoices_from": "soon"}',
        422,
        "date",
    ),
    (b'{"id": "x", "name": "X", "source": "demo:1", "send_invoices_from": 5}', 422, "date"),
    (b'{"id": "x", "name": "X", "source": "demo:1", "minimum_amount": "lots"}', 422, "amount"),
    (b'{"id": "x", "name": "X", "source": "demo:1", "minimum_amount": -1}', 422, "amount"),
    (b'{"id": "x", "name": "X", "source": "demo:1", "minimum_amount": "1.005"}', 422, "amount"),
    (b'{"id": "x", "name": "X", "source": "demo:1", "holiday_country": "XX"}', 422, "country"),
]


async def test_a_bad_administration_is_refused_with_a_clear_error_and_nothing_is_added(
    dashboard: Dashboard,
) -> None:
    for body, status, words in BAD_ADMINISTRATIONS:
        response = await dashboard.client.post(
            "/api/administrations", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == status, (body, response.text)
        assert words.lower() in response.json()["error"].lower(), (body, response.text)
    untyped = await dashboard.client.post("/api/administrations", content=b"{bad")
    assert untyped.status_code == 400
    assert (await dashboard.client.get("/api/administrations")).json() == []


async def test_adding_an_administration_twice_is_a_conflict_that_changes_nothing(
    dashboard: Dashboard,
) -> None:
    await dashboard.add()
    again = await dashboard.client.post("/api/administrations", json={**ACME, "name": "Other"})
    assert again.status_code == 409
    assert "already exists" in again.json()["error"]
    assert [a["name"] for a in (await dashboard.client.get("/api/administrations")).json()] == [
        "Acme B.V."
    ]


# --- imports -----------------------------------------------------------------------------------


async def test_import_now_publishes_the_contract_import_request(
    dashboard: Dashboard, settings: Settings
) -> None:
    await dashboard.add()
    assert settings.kafka_bootstrap
    async with TopicReader(
        settings.kafka_bootstrap, f"{settings.topic_prefix}import-requests"
    ) as requests:
        response = await dashboard.client.post("/api/administrations/acme/imports")
        assert response.status_code == 202
        request_id = response.json()["request_id"]
        (message,) = await requests.wait_for(lambda ms: len(ms) >= 1, what="the request")
    assert message["request_id"] == request_id
    assert message["administration_id"] == "acme"
    assert message["trigger"] == "manual"
    assert message["requested_by"] == "http"
    assert requests.raw[0].key == b"acme"


async def test_import_now_for_an_unknown_administration_is_404_and_publishes_nothing(
    dashboard: Dashboard, settings: Settings
) -> None:
    assert settings.kafka_bootstrap
    response = await dashboard.client.post("/api/administrations/nobody/imports")
    assert response.status_code == 404
    assert "nobody" in response.json()["error"]
    async with TopicReader(
        settings.kafka_bootstrap, f"{settings.topic_prefix}import-requests"
    ) as requests:
        await requests.poll()
        assert requests.messages == []


async def test_the_import_log_shows_runs_of_the_last_30_days_with_counts_duration_and_reason(
    dashboard: Dashboard,
) -> None:
    await dashboard.add()
    now = datetime.now(UTC)
    counts = {"customer": {"added": 3, "updated": 1, "unchanged": 0, "blocked": 1, "ignored": 0}}
    done = await dashboard.run("acme", started=now - timedelta(days=2), counts=counts)
    failed = await dashboard.run(
        "acme", status="failed", started=now - timedelta(days=1), reason="customers.csv line 3"
    )
    running = await dashboard.run("acme", status="running", seconds=None)
    await dashboard.run("acme", started=now - timedelta(days=45))

    runs = (await dashboard.client.get("/api/administrations/acme/imports")).json()

    assert [r["run_id"] for r in runs] == [str(running), str(failed), str(done)]
    assert runs[2]["counts"] == counts
    assert runs[2]["duration_seconds"] == 2.5
    assert runs[1]["status"] == "failed" and runs[1]["reason"] == "customers.csv line 3"
    assert runs[0]["finished_at"] is None and runs[0]["duration_seconds"] is None
    assert set(runs[0]) >= {"run_id", "request_id", "status", "started_at", "finished_at"}
    longer = await dashboard.client.get("/api/administrations/acme/imports?days=60")
    assert len(longer.json()) == 4


async def test_a_bad_import_log_window_is_refused(dashboard: Dashboard) -> None:
    await dashboard.add()
    for query in ("days=0", "days=400", "days=soon"):
        response = await dashboard.client.get(f"/api/administrations/acme/imports?{query}")
        assert response.status_code == 422, query
        assert "days" in response.json()["error"], query


async def test_an_import_request_can_be_followed_to_its_run(dashboard: Dashboard) -> None:
    await dashboard.add()
    request_id = uuid4()
    path = f"/api/administrations/acme/import-requests/{request_id}"
    pending = (await dashboard.client.get(path)).json()
    assert pending == {
        "request_id": str(request_id),
        "administration_id": "acme",
        "outcome": None,
        "run": None,
    }
    await dashboard.pool.execute(
        "insert into import_requests (request_id, administration_id, trigger, outcome)"
        " values ($1, 'acme', 'manual', 'started')",
        request_id,
    )
    run_id = await dashboard.run("acme", request_id=request_id)
    followed = (await dashboard.client.get(path)).json()
    assert followed["outcome"] == "started"
    assert followed["run"]["run_id"] == str(run_id)
    assert followed["run"]["status"] == "completed"
    bad = await dashboard.client.get("/api/administrations/acme/import-requests/not-a-uuid")
    assert bad.status_code == 422
    unknown = await dashboard.client.get(f"/api/administrations/nobody/import-requests/{uuid4()}")
    assert unknown.status_code == 404


# --- errors ------------------------------------------------------------------------------------


async def test_errors_are_answered_by_status_with_the_fields_of_the_topic_event(
    dashboard: Dashboard,
) -> None:
    await dashboard.add()
    open_error = _error_event("acme", "C1")
    fixed = _error_event("acme", "C2", event="resolved", resolution="fixed")
    await apply_error_events(dashboard.pool, [open_error, fixed])
    client = dashboard.client

    (shown,) = (await client.get("/api/administrations/acme/errors")).json()
    topic_fields = open_error.model_dump(mode="json", exclude_none=True)
    assert datetime.fromisoformat(shown.pop("occurred_at")) == open_error.occurred_at
    del topic_fields["occurred_at"]
    assert {k: shown[k] for k in topic_fields} == topic_fields
    assert "accounting package" in shown["fix_hint"]
    resolved = (await client.get("/api/administrations/acme/errors?status=resolved")).json()
    assert [(e["key"], e["resolution"]) for e in resolved] == [("C2", "fixed")]
    everything = (await client.get("/api/administrations/acme/errors?status=all")).json()
    assert {e["key"] for e in everything} == {"C1", "C2"}

    bad = await client.get("/api/administrations/acme/errors?status=closed")
    assert bad.status_code == 422 and "status" in bad.json()["error"]
    assert (await client.get("/api/administrations/nobody/errors")).status_code == 404


# --- the page ----------------------------------------------------------------------------------

NASTY = "\"'><script>alert(1)</script>&amp;"


async def test_the_page_shows_open_errors_grouped_with_how_to_fix_them_and_escapes_every_value(
    dashboard: Dashboard,
) -> None:
    await dashboard.add(name=f"Acme {NASTY}")
    await apply_error_events(
        dashboard.pool,
        [
            _error_event("acme", NASTY, value=NASTY, message=f"bad {NASTY}"),
            _error_event(
                "acme",
                "F1",
                entity="invoice",
                code="due_before_invoice",
                field="due_date",
                value="2026-01-01",
                message="due before invoice",
            ),
        ],
    )
    await dashboard.run("acme", reason=NASTY, status="failed")

    page = await dashboard.client.get("/administrations/acme")

    assert page.status_code == 200
    html = page.text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&amp;amp;" in html  # the value's own "&amp;" shown as typed, not as "&"
    assert "Customers" in html and "Invoices" in html
    assert "Correct the e-mail address of this customer in your accounting package" in html
    assert "due date" in html
    assert 'id="import-now"' in html
    assert 'data-admin="acme"' in html
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["x-frame-options"] == "DENY"


async def test_the_list_of_administrations_links_each_with_its_open_errors(
    dashboard: Dashboard,
) -> None:
    await dashboard.add(name=f"Acme {NASTY}")
    await dashboard.add(id="beta", name="Beta")
    await apply_error_events(dashboard.pool, [_error_event("acme", "C1")])
    html = (await dashboard.client.get("/")).text
    assert 'href="/administrations/acme"' in html and 'href="/administrations/beta"' in html
    assert "<script>alert(1)</script>" not in html
    assert 'badge-error">1<' in html


async def test_sections_are_served_for_the_live_refresh_and_unknown_ones_are_404(
    dashboard: Dashboard,
) -> None:
    await dashboard.add()
    for name in ("errors", "imports", "mail"):
        response = await dashboard.client.get(f"/administrations/acme/sections/{name}")
        assert response.status_code == 200, name
        assert "<html" not in response.text
    assert (await dashboard.client.get("/administrations/acme/sections/secrets")).status_code == 404
    assert (
        await dashboard.client.get("/administrations/nobody/sections/errors")
    ).status_code == 404
    missing = await dashboard.client.get("/administrations/nobody")
    assert missing.status_code == 404 and "nobody" in missing.text
    assert missing.headers["content-type"].startswith("text/html")


async def test_health_and_static_files_are_served_and_unknown_paths_answer_json_errors(
    dashboard: Dashboard,
) -> None:
    assert (await dashboard.client.get("/healthz")).json() == {"status": "ok"}
    script = await dashboard.client.get("/static/dashboard.js")
    assert script.status_code == 200 and "textContent" in script.text
    assert (await dashboard.client.get("/static/dashboard.css")).status_code == 200
    missing = await dashboard.client.get("/api/nothing-here")
    assert missing.status_code == 404 and missing.json() == {"error": "not found"}
    wrong = await dashboard.client.delete("/api/administrations")
    assert wrong.status_code == 405 and wrong.json() == {"error": "method not allowed"}


# --- operations --------------------------------------------------------------------------------


async def test_metrics_and_the_asyncapi_document_are_served(
    dashboard: Dashboard,
) -> None:
    await dashboard.add()
    await apply_error_events(dashboard.pool, [_error_event("acme", "C1")])
    response = await dashboard.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'creditflow_dashboard_errors{event="raised",severity="error"} 1.0' in text
    assert "creditflow_consumer_lag" in text
    assert "creditflow_metrics_scrape_ok 1.0" in text

    page = await dashboard.client.get("/asyncapi")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    document = (await dashboard.client.get("/asyncapi.json")).json()
    assert "ValidationErrorEvent" in document["components"]["schemas"]
    assert "createTryItOutPlugin" not in page.text


# --- access ------------------------------------------------------------------------------------


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[Dashboard]:
    from dataclasses import replace

    async for d in _dashboard(replace(settings, api_token="s3cret-token")):
        yield d


async def test_with_a_token_the_api_refuses_requests_without_it(guarded: Dashboard) -> None:
    client = guarded.client
    for path in ("/api/administrations", "/metrics", "/asyncapi.json", "/api/nothing"):
        response = await client.get(path)
        assert response.status_code == 401, path
        assert "error" in response.json()
        assert response.headers["www-authenticate"] == "Bearer"
    wrong = await client.get(
        "/api/administrations", headers={"Authorization": "Bearer s3cret-tokeN"}
    )
    assert wrong.status_code == 401
    posted = await client.post("/api/administrations", json=ACME)
    assert posted.status_code == 401
    right = {"Authorization": "Bearer s3cret-token"}
    assert (await client.get("/api/administrations", headers=right)).json() == []
    assert (await client.get("/metrics", headers=right)).status_code == 200
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/static/dashboard.css")).status_code == 200


async def test_with_a_token_the_page_asks_to_log_in_and_a_session_cookie_lets_you_in(
    guarded: Dashboard,
) -> None:
    client = guarded.client
    page = await client.get("/administrations/acme?x=1")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fadministrations%2Facme%3Fx%3D1"
    form = await client.get("/login")
    assert form.status_code == 200 and 'name="token"' in form.text

    refused = await client.post("/login", data={"token": "guess", "next": "/"})
    assert refused.status_code == 401 and "not right" in refused.text
    assert "creditflow_session" not in client.cookies

    accepted = await client.post("/login", data={"token": "s3cret-token", "next": "//evil/"})
    assert accepted.status_code == 303 and accepted.headers["location"] == "/"
    cookie = accepted.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "s3cret-token" not in cookie
    assert (await client.get("/")).status_code == 200
    assert (await client.get("/api/administrations")).status_code == 200  # the page's script

    await client.post("/logout")
    client.cookies.clear()
    assert (await client.get("/")).status_code == 303
