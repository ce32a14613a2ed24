"""The HTTP paths for loaded records, explain (R10) and the ignore list (R7), against the
dashboard app in its lifespan, a real database and the real broker; data loaded by the
importer's and validator's own code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest

from services.control.admins import NewAdministration, add_administration
from services.dashboard.app import build_app
from shared.db import connect_pool
from shared.settings import Settings
from shared.testing import TopicReader
from shared.topics import Topics
from tests.integration.importing import Ledger, customer, invoice, load_directly

pytestmark = pytest.mark.integration

ODD = 'O\'Brien <b>"&"</b>; drop table customers;--'
ACME = "/api/administrations/acme"
JSON = {"content-type": "application/json"}


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as client,
    ):
        yield client


@pytest.fixture
async def pool(settings: Settings, api: httpx.AsyncClient) -> AsyncIterator[asyncpg.Pool]:
    pool = await connect_pool(settings.require_database(), max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def ledger(settings: Settings, pool: asyncpg.Pool, tmp_path: Path) -> Ledger:
    """acme, loaded once: C1 fine, C2 with an error, C4 without an open invoice."""
    ledger = Ledger(
        tmp_path / "export",
        customers=[
            customer("C1", changed_at="2026-11-01T09:00:00"),
            customer("C2", email="jan@"),
            customer("C4"),
            customer("TEST-1"),
            customer(ODD),
        ],
        invoices=[
            invoice("F1", "C1"),
            invoice("2026/001", "C1"),
            invoice("F3", "C2"),
            invoice("F6", "C4", "0.00"),
            invoice("F7", "TEST-1"),
            invoice("F8", ODD),
        ],
    )
    ledger.write()
    await add_administration(
        pool,
        NewAdministration.parse(
            {"id": "acme", "name": "Acme", "source": f"files:{ledger.directory}"}
        ),
    )
    await load_directly(pool, Topics(settings.topic_prefix), "acme")
    return ledger


async def reasons(api: httpx.AsyncClient, entity: str, key: str) -> list[dict[str, Any]]:
    response = await api.get(f"{ACME}/explain/{entity}/{quote(key, safe='')}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["entity"], body["key"]) == (entity, key)
    return body["reasons"]


def codes(found: list[dict[str, Any]]) -> list[str]:
    return [reason["code"] for reason in found]


async def test_loaded_records_come_with_their_source_field_names_and_status(
    api: httpx.AsyncClient, ledger: Ledger
) -> None:
    c1 = (await api.get(f"{ACME}/customers/C1")).json()
    assert {k: c1[k] for k in ("customer_number", "email", "country", "status")} == {
        "customer_number": "C1",
        "email": "administratie@korenschoof.nl",
        "country": "NL",
        "status": "active",
    }
    f1 = (await api.get(f"{ACME}/invoices/2026/001")).json()
    assert f1["invoice_number"] == "2026/001"
    assert {k: f1[k] for k in ("amount_open", "invoice_date", "status")} == {
        "amount_open": "100.00",
        "invoice_date": "2026-11-01",
        "status": "open",
    }
    odd = await api.get(f"{ACME}/customers/{quote(ODD, safe='')}")
    assert odd.status_code == 200 and odd.json()["customer_number"] == ODD

    for path, status in (
        (f"{ACME}/customers/C2", 404),  # held back by its error: never loaded
        (f"{ACME}/invoices/F404", 404),
        ("/api/administrations/ghost/customers/C1", 404),
    ):
        response = await api.get(path)
        assert response.status_code == status, path
        assert "error" in response.json()


async def test_explain_gives_each_reason(
    api: httpx.AsyncClient, ledger: Ledger, pool: asyncpg.Pool
) -> None:
    assert codes(await reasons(api, "customer", "C1")) == ["up_to_date"]
    assert codes(await reasons(api, "customer", "C99")) == ["never_imported"]
    assert codes(await reasons(api, "customer", "C4")) == ["never_imported", "no_open_invoice"]
    assert codes(await reasons(api, "invoice", "F6")) == ["never_imported", "no_open_invoice"]
    [error] = (await reasons(api, "customer", "C2"))[1:]
    assert error["code"] == "validation_error"
    assert [e["code"] for e in error["errors"]] == ["invalid_email"]
    [held] = (await reasons(api, "invoice", "F3"))[1:]
    assert held["code"] == "blocked_by_customer" and held["customer"] == "C2"
    assert codes(await reasons(api, "customer", ODD)) == ["up_to_date"]

    # Changes in the accounting package after the last complete run.
    ledger.change("customer", "C1", email="nieuw@korenschoof.nl", changed_at="2099-01-01T09:00")
    ledger.change("invoice", "F1", due_date="2027-02-01")
    ledger.write()
    [stale] = await reasons(api, "customer", "C1")
    assert stale["code"] == "not_imported_since_change"
    assert "2099-01-01 09:00" in stale["detail"] and "email" in stale["fields"]
    assert codes(await reasons(api, "invoice", "F1")) == ["immutable_field_changed"]

    # Ignored through an entry added over HTTP, for the customer and its invoice.
    added = await api.post(f"{ACME}/ignore-list", json={"entity": "customer", "pattern": "TEST*"})
    assert added.status_code == 201
    [ignored] = await reasons(api, "customer", "TEST-1")
    assert ignored["code"] == "ignored"
    assert ignored["entry"] == {"entity": "customer", "pattern": "TEST*"}
    [via] = await reasons(api, "invoice", "F7")
    assert via["code"] == "ignored" and "customer 'TEST-1'" in via["detail"]

    # The export itself becomes unreadable.
    (ledger.directory / "invoices.csv").unlink()
    found = await reasons(api, "customer", "C1")
    assert codes(found) == ["source_unreadable"]
    assert "invoices.csv" in found[0]["detail"]


async def test_explain_refuses_bad_input(api: httpx.AsyncClient, ledger: Ledger) -> None:
    for path, status in (
        (f"{ACME}/explain/payment_condition/30D", 422),
        (f"{ACME}/explain/vendor/C1", 422),
        ("/api/administrations/ghost/explain/customer/C1", 404),
    ):
        response = await api.get(path)
        assert response.status_code == status, (path, response.text)
        assert set(response.json()) == {"error"}


async def test_the_ignore_list_is_changed_over_http_and_refuses_bad_input_changing_nothing(
    api: httpx.AsyncClient, ledger: Ledger, settings: Settings
) -> None:
    url = f"{ACME}/ignore-list"
    for entry in (
        {"entity": "customer", "pattern": "1000 ... 1999"},
        {"entity": "invoice", "pattern": "INV-TEST*"},
        {"entity": "payment_condition", "pattern": "CASH"},
    ):
        response = await api.post(url, json=entry)
        assert response.status_code == 201, response.text
    listed = (await api.get(url)).json()
    assert [(e["entity"], e["pattern"], e["kind"]) for e in listed] == [
        ("payment_condition", "CASH", "exact"),
        ("invoice", "INV-TEST*", "prefix"),
        ("customer", "1000...1999", "range"),
    ]

    bad_requests: list[tuple[str, dict[str, Any], int]] = [
        ("post", {"json": {"entity": "customer", "pattern": "1000...1999"}}, 409),
        ("post", {"json": {"entity": "customer", "pattern": "A*B"}}, 422),
        ("post", {"json": {"entity": "vendor", "pattern": "X"}}, 422),
        ("post", {"json": {"entity": "customer"}}, 422),
        ("post", {"json": ["customer", "X"]}, 422),
        ("post", {"content": b'{"entity": "customer", "pattern": ', "headers": JSON}, 400),
        ("post", {"content": b"", "headers": JSON}, 422),
        ("delete", {"json": {"entity": "customer", "pattern": "NOT-THERE"}}, 404),
        ("delete", {"params": {"entity": "customer", "pattern": "2000...1000"}}, 422),
        ("delete", {"content": b"{oops", "headers": JSON}, 400),
    ]
    for method, options, status in bad_requests:
        response = await api.request(method.upper(), url, **options)
        assert response.status_code == status, (options, response.text)
        assert set(response.json()) == {"error"}
        assert "\n" not in response.json()["error"]
    ghost = await api.post(
        "/api/administrations/ghost/ignore-list", json={"entity": "customer", "pattern": "X"}
    )
    assert ghost.status_code == 404
    assert (await api.get("/api/administrations/ghost/ignore-list")).status_code == 404
    assert (await api.get(url)).json() == listed  # nothing changed

    by_body = await api.request("DELETE", url, json={"entity": "invoice", "pattern": "INV-TEST*"})
    assert by_body.status_code == 200 and by_body.json()["pattern"] == "INV-TEST*"
    by_query = await api.delete(url, params={"entity": "customer", "pattern": "1000...1999"})
    assert by_query.status_code == 200
    assert [e["pattern"] for e in (await api.get(url)).json()] == ["CASH"]

    async with TopicReader(settings.kafka_bootstrap, Topics(settings.topic_prefix).control) as r:
        events = await r.wait_for(lambda ms: len(ms) >= 5, what="the control events")
    assert [(e["command"], e["detail"]["pattern"], e["issued_by"]) for e in events] == [
        ("ignore_added", "1000...1999", "http"),
        ("ignore_added", "INV-TEST*", "http"),
        ("ignore_added", "CASH", "http"),
        ("ignore_removed", "INV-TEST*", "http"),
        ("ignore_removed", "1000...1999", "http"),
    ]
