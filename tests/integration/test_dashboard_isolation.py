"""One administration's data never appears in another's pages or answers.

The walk covers every route below `/api/administrations/{id}` and `/administrations/{id}` that
the dashboard serves, whoever wrote it: asked with another administration's id (and this
one's keys), an answer holds none of this administration's data and reads exactly as it would
for keys that exist nowhere; asked with an unknown id, every route answers 404; and requests
that change things, sent for another administration, leave this one's answers unchanged.
"""

from __future__ import annotations

import itertools
import json
import mailbox
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from services.dashboard.app import build_app
from services.dashboard.mail import ADMINISTRATION_HEADER
from services.dashboard.store import apply_error_events
from shared.messages import ValidationErrorEvent
from shared.settings import Settings

pytestmark = pytest.mark.integration

SECRET = "alpha-secret"  # in the data of administration "alpha" only, never in a request
ALPHA_KEYS = {"customer": "ALPHA-C1", "invoice": "ALPHA-F1", "payment_condition": "ALPHA-PC"}
NOWHERE_KEYS = {"customer": "NOWHERE-C1", "invoice": "NOWHERE-F1", "payment_condition": "NW-PC"}
ALPHA_REQUEST = UUID("00000000-0000-4000-8000-00000000a1fa")
NOWHERE_REQUEST = UUID("00000000-0000-4000-8000-0000000000ff")
MUTATION_BODY = {
    "entity": "customer",
    "pattern": ALPHA_KEYS["customer"],
    "key": ALPHA_KEYS["customer"],
    "mode": "full",
    "customer": ALPHA_KEYS["customer"],
    "invoices": [ALPHA_KEYS["invoice"]],
    "as_of": "2026-12-03",
    "first_after_days": 7,
    "interval_days": 7,
    "count": 2,
    "final_notice": True,
}


@pytest.fixture
async def walk(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = build_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        for admin, name in (("alpha", "Alpha Secret Trading"), ("beta", "Beta Trading")):
            response = await client.post(
                "/api/administrations", json={"id": admin, "name": name, "source": "demo:3"}
            )
            assert response.status_code == 201
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
        try:
            await _alpha_data(pool, client, settings)
        finally:
            await pool.close()
        yield app, client


async def _alpha_data(pool: asyncpg.Pool, client: httpx.AsyncClient, settings: Settings) -> None:
    now = datetime.now(UTC)
    await apply_error_events(
        pool,
        [
            ValidationErrorEvent(
                event=event,  # type: ignore[arg-type]
                error_id=uuid4(),
                administration_id="alpha",
                entity=entity,  # type: ignore[arg-type]
                key=ALPHA_KEYS[entity],
                code="required",
                field="name",
                value=SECRET,
                severity="error",
                message=f"{SECRET} is wrong",
                resolution="fixed" if event == "resolved" else None,
            )
            for event, entity in (("raised", "customer"), ("resolved", "invoice"))
        ],
    )
    await pool.execute(
        "insert into import_requests (request_id, administration_id, trigger, outcome)"
        " values ($1, 'alpha', 'manual', 'started')",
        ALPHA_REQUEST,
    )
    await pool.execute(
        "insert into import_runs (run_id, request_id, administration_id, trigger, status,"
        " started_at, finished_at, reason)"
        " values ($1, $2, 'alpha', 'manual', 'failed', $3, $3, $4)",
        uuid4(),
        ALPHA_REQUEST,
        now - timedelta(minutes=1),
        f"{SECRET} reason",
    )
    await pool.execute(
        "insert into customers (administration_id, customer_number, name, email, content_hash)"
        " values ('alpha', $1, $2, $3, 'x')",
        ALPHA_KEYS["customer"],
        f"{SECRET} customer",
        f"{SECRET}@example.nl",
    )
    await pool.execute(
        "insert into invoices (administration_id, invoice_number, customer_number,"
        " invoice_date, due_date, currency, amount_total, amount_open, description,"
        " content_hash) values ('alpha', $1, $2, '2026-11-01', '2026-12-01', 'EUR', 10, 10,"
        " $3, 'x')",
        ALPHA_KEYS["invoice"],
        ALPHA_KEYS["customer"],
        f"{SECRET} invoice",
    )
    await pool.execute(
        "insert into validation_errors (error_id, administration_id, entity, key, code, field,"
        " value, severity, message, status) values ($1, 'alpha', 'customer', $2, 'required',"
        " 'name', $3, 'error', $3, 'open')",
        uuid4(),
        ALPHA_KEYS["customer"],
        SECRET,
    )
    await pool.execute(
        "insert into ignore_entries (administration_id, entity, pattern, kind, low)"
        " values ('alpha', 'customer', 'ALPHA-IGN*', 'prefix', 'ALPHA-IGN')"
    )
    # Through the contract where the route exists (pauses, cases and plans of the notifier).
    for path, body in (
        ("pauses", {"entity": "customer", "key": ALPHA_KEYS["customer"], "reason": SECRET}),
        (
            "cases",
            {
                "key": "ALPHA-CASE",
                "customer": ALPHA_KEYS["customer"],
                "invoices": [ALPHA_KEYS["invoice"]],
            },
        ),
    ):
        response = await client.post(f"/api/administrations/alpha/{path}", json=body)
        assert response.status_code in (200, 201, 202, 404), (path, response.text)
    message = EmailMessage()
    message["Subject"] = f"{SECRET} reminder"
    message["To"] = f"{SECRET}@example.nl"
    message[ADMINISTRATION_HEADER] = "alpha"
    message.set_content(SECRET)
    settings.home.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(settings.home / "mail", create=True).add(message)


@dataclass(frozen=True)
class Endpoint:
    path: str  # with {parameters}
    methods: frozenset[str]

    @property
    def params(self) -> list[str]:
        return [m.group(1) for m in PARAM.finditer(self.path)]

    def url(self, params: dict[str, str]) -> str:
        return PARAM.sub(lambda m: quote(params[m.group(1)], safe=""), self.path)


PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _flatten(routes: list[Any], prefix: str = "") -> list[Endpoint]:
    """Every route, also inside included routers (FastAPI keeps those nested)."""
    found = []
    for route in routes:
        if hasattr(route, "original_router"):
            found += _flatten(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Route):
            found.append(Endpoint(prefix + route.path, frozenset(route.methods or ())))
    return found


def _administration_routes(app: FastAPI) -> list[Endpoint]:
    found = [
        e
        for e in _flatten(app.routes)
        if e.path.startswith(("/api/administrations/{", "/administrations/{"))
    ]
    assert len(found) >= 6, [e.path for e in found]
    return found


def _param_choices(name: str, keys: dict[str, str], request: UUID) -> list[dict[str, str]]:
    if "request" in name:
        return [{name: str(request)}]
    if name == "name":  # page sections
        return [{name: section} for section in ("errors", "imports", "mail")]
    if name == "entity":
        return [{name: entity} for entity in ("customer", "invoice")]
    if name == "code":
        return [{name: "default"}]
    return [{name: keys["customer"]}]


def _urls(route: Endpoint, admin: str, keys: dict[str, str], request: UUID) -> list[str]:
    admin_param, *others = route.params
    urls = []
    for combo in itertools.product(*(_param_choices(n, keys, request) for n in others)):
        params = {admin_param: admin}
        for part in combo:
            params.update(part)
        if "entity" in params and "key" in params:
            params["key"] = keys.get(params["entity"], params["key"])
        urls.append(route.url(params))
    return urls


def _normalised(text: str, keys: dict[str, str], request: UUID) -> str:
    for entity, key in keys.items():
        text = text.replace(key, f"<{entity}>")
    return text.replace(str(request), "<request>")


async def test_another_administrations_pages_and_answers_never_show_this_ones_data(
    walk: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = walk
    alpha_page = await client.get("/administrations/alpha")
    assert SECRET in alpha_page.text  # the data is there to be leaked
    checked = 0
    for route in _administration_routes(app):
        if "GET" not in route.methods:
            continue
        with_alpha_keys = _urls(route, "beta", ALPHA_KEYS, ALPHA_REQUEST)
        with_no_keys = _urls(route, "beta", NOWHERE_KEYS, NOWHERE_REQUEST)
        for url, control in zip(with_alpha_keys, with_no_keys, strict=True):
            answer, expected = await client.get(url), await client.get(control)
            assert SECRET not in answer.text and "Alpha Secret" not in answer.text, url
            assert answer.status_code == expected.status_code, url
            assert _normalised(answer.text, ALPHA_KEYS, ALPHA_REQUEST) == _normalised(
                expected.text, NOWHERE_KEYS, NOWHERE_REQUEST
            ), url
            checked += 1
    assert checked >= 8


async def test_every_route_answers_404_for_an_unknown_administration(
    walk: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = walk
    for route in _administration_routes(app):
        for method in sorted(route.methods):
            if method == "HEAD":
                continue
            for url in _urls(route, "nobody", ALPHA_KEYS, ALPHA_REQUEST):
                response = await client.request(
                    method, url, json=MUTATION_BODY if method != "GET" else None
                )
                assert response.status_code == 404, (method, url, response.text)


async def test_changes_asked_for_another_administration_leave_this_ones_answers_unchanged(
    walk: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = walk
    routes = _administration_routes(app)

    async def alpha_answers() -> dict[str, str]:
        answers = {}
        for route in routes:
            if "GET" in route.methods:
                for url in _urls(route, "alpha", ALPHA_KEYS, ALPHA_REQUEST):
                    answers[url] = _stable((await client.get(url)).text)
        return answers

    before = await alpha_answers()
    for route in routes:
        for method in sorted(route.methods - {"GET", "HEAD"}):
            for url in _urls(route, "beta", ALPHA_KEYS, ALPHA_REQUEST):
                await client.request(method, url, json=MUTATION_BODY)
    assert await alpha_answers() == before


def _stable(text: str) -> str:
    """An answer without what changes by itself (JSON key order is stable already)."""
    try:
        return json.dumps(json.loads(text), sort_keys=True)
    except ValueError:
        return text
