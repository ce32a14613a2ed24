"""The dashboard's token check holds on every route it serves, found by walking the app's own
route table (so a route added later is walked too), for every method:

- without a token, with a wrong one, with the token itself as the session cookie (the cookie
  holds an HMAC of it), in another auth scheme or in the query string: the API, /metrics and
  /asyncapi answer 401 with `WWW-Authenticate: Bearer`, pages send you to /login; no answer
  holds any data, no table changes and no message is published;
- with the token the same requests get through (so the refusals are the gate's, not a
  missing route's), and asked with another administration's id and this one's keys, no
  answer holds this administration's data (tests/integration/test_dashboard_isolation.py
  walks that side in depth, without a token).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from services.dashboard.app import build_app
from shared.settings import Settings
from shared.testing import TopicReader
from shared.topics import Topics

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

TOKEN = f"tok-{uuid4().hex}"
SECRET = "alpha-secret-data"
OPEN = ("/healthz", "/login", "/favicon.ico")
MACHINE = ("/api", "/metrics", "/asyncapi")
ALPHA = {"customer": "ALPHA-C1", "invoice": "ALPHA-F1"}
REQUEST = UUID("00000000-0000-4000-8000-00000000a1fa")
BODY = {
    "id": "mallory",
    "name": "Mallory",
    "source": "demo:1",
    "entity": "customer",
    "pattern": ALPHA["customer"],
    "key": ALPHA["customer"],
    "mode": "full",
    "customer": ALPHA["customer"],
    "invoices": [ALPHA["invoice"]],
    "as_of": "2026-12-03",
    "first_after_days": 1,
    "interval_days": 1,
    "count": 9,
    "final_notice": False,
}
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
BAD_CREDENTIALS: dict[str, dict[str, Any]] = {
    "no token": {},
    "a wrong token": {"headers": {"Authorization": f"Bearer {TOKEN[:-1]}x"}},
    "an empty bearer": {"headers": {"Authorization": "Bearer "}},
    "the token in another scheme": {"headers": {"Authorization": f"Basic {TOKEN}"}},
    "the token as session cookie": {"headers": {"Cookie": f"creditflow_session={TOKEN}"}},
    "the token in the query": {"params": {"token": TOKEN, "api_token": TOKEN}},
}


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = build_app(replace(settings, api_token=TOKEN))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        right = {"Authorization": f"Bearer {TOKEN}"}
        for admin, name in (("alpha", "Alpha Secret Trading"), ("beta", "Beta Trading")):
            response = await client.post(
                "/api/administrations",
                json={"id": admin, "name": name, "source": "demo:3"},
                headers=right,
            )
            assert response.status_code == 201, response.text
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute(
                "insert into customers (administration_id, customer_number, name, email,"
                " content_hash) values ('alpha', $1, $2, 'a@example.nl', 'x')",
                ALPHA["customer"],
                SECRET,
            )
            await conn.execute(
                "insert into invoices (administration_id, invoice_number, customer_number,"
                " invoice_date, due_date, currency, amount_total, amount_open, description,"
                " content_hash) values ('alpha', $1, $2, '2026-11-01', '2026-12-01', 'EUR',"
                " 10, 10, $3, 'x')",
                ALPHA["invoice"],
                ALPHA["customer"],
                SECRET,
            )
            await conn.execute(
                "insert into validation_errors (error_id, administration_id, entity, key, code,"
                " field, value, severity, message, status) values ($1, 'alpha', 'customer', $2,"
                " 'required', 'name', $3, 'error', $3, 'open')",
                uuid4(),
                ALPHA["customer"],
                SECRET,
            )
        finally:
            await conn.close()
        yield app, client


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, frozenset[str]]]:
    """(path, methods) of every route, also inside included routers; a route with no methods
    (a plain ASGI endpoint such as /metrics) answers them all."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Route):
            methods = frozenset(route.methods or {"GET", "POST", "PUT", "DELETE"}) - {"HEAD"}
            yield prefix + route.path, methods


def _urls(path: str, admin: str) -> list[str]:
    choices = {
        "admin_id": [admin],
        "request_id": [str(REQUEST)],
        "entity": ["customer", "invoice"],
        "name": ["errors", "imports", "mail"],
        "code": ["default"],
        "key": [ALPHA["customer"], ALPHA["invoice"]],
    }
    names = [m.group(1) for m in PARAM.finditer(path)]
    urls = []
    for values in itertools.product(*(choices.get(n, ["x"]) for n in names)):
        chosen = dict(zip(names, values, strict=True))
        urls.append(PARAM.sub(lambda m, c=chosen: quote(c[m.group(1)], safe=""), path))
    return urls


def _walk(app: FastAPI, admin: str) -> list[tuple[str, str, bool]]:
    """(method, url, whether the route is below one administration) of every route."""
    walked = [
        (method, url, "{admin_id}" in path)
        for path, methods in _routes(app.routes)
        if path not in OPEN
        for method in sorted(methods)
        for url in _urls(path, admin)
    ]
    assert len(walked) >= 40, walked  # the table was read, not an empty list
    return walked


async def _state(database_url: str) -> dict[str, str]:
    """A digest of every table's content."""
    conn = await asyncpg.connect(database_url)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch(
                "select tablename from pg_tables where schemaname = 'public' order by 1"
            )
        ]
        digest = "select md5(coalesce(string_agg(x::text, ',' order by x::text), ''))"
        return {t: await conn.fetchval(f'{digest} from "{t}" x') for t in tables}
    finally:
        await conn.close()


async def _published(settings: Settings) -> list[dict[str, Any]]:
    """What was published to the topics a request can publish to."""
    topics = Topics(settings.topic_prefix)
    found: list[dict[str, Any]] = []
    for topic in (topics.import_requests, topics.reminder_requests, topics.control):
        async with TopicReader(settings.kafka_bootstrap or "", topic) as reader:
            for _ in range(5):
                await reader.poll()
            found += reader.messages
    return found


async def test_every_route_refuses_requests_without_the_right_token_and_changes_nothing(
    guarded: tuple[FastAPI, httpx.AsyncClient], settings: Settings
) -> None:
    app, client = guarded
    before = await _state(settings.database_url or "")
    published_before = await _published(settings)
    refused = 0
    for method, url, _ in _walk(app, "alpha"):
        for how, credentials in BAD_CREDENTIALS.items():
            response = await client.request(
                method, url, json=BODY if method != "GET" else None, **credentials
            )
            where = f"{method} {url} with {how}"
            if url.startswith(MACHINE):
                assert response.status_code == 401, (where, response.text)
                assert response.headers["www-authenticate"] == "Bearer", where
                assert "error" in response.json(), where
            else:
                assert response.status_code == 303, (where, response.text)
                assert response.headers["location"].startswith("/login?next="), where
            assert SECRET not in response.text and "Alpha Secret" not in response.text, where
            refused += 1
    assert await _state(settings.database_url or "") == before
    assert await _published(settings) == published_before
    print(f"{refused} requests refused")


async def test_with_the_token_every_route_is_reached_and_another_id_shows_none_of_its_data(
    guarded: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = guarded
    right = {"Authorization": f"Bearer {TOKEN}"}
    shown = await client.get(
        f"/api/administrations/alpha/customers/{ALPHA['customer']}", headers=right
    )
    assert SECRET in shown.text  # the data is there to be leaked
    scoped = 0
    for method, url, below_admin in _walk(app, "beta"):  # alpha's keys, beta's id
        response = await client.request(
            method, url, json=BODY if method != "GET" else None, headers=right
        )
        where = f"{method} {url}"
        assert response.status_code != 401, where
        assert not response.headers.get("location", "").startswith("/login?next="), where
        if method == "GET" and below_admin:
            assert SECRET not in response.text and "Alpha Secret" not in response.text, where
            scoped += 1
    assert scoped >= 15
