"""The notifier's HTTP paths (DESIGN section 8): pauses, cases, dunning plans, reminder runs and
notifications; bad input is answered with the right 4xx and {"error": …}, and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from services.dashboard.app import build_app
from shared.settings import Settings
from shared.testing import TopicReader
from tests.integration.notifier_support import (
    add_admin,
    add_customers,
    add_invoices,
    local_today,
)

pytestmark = pytest.mark.integration

API = "/api/administrations/acme"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        pool = app.state.runtime.pool
        await add_admin(pool)
        await add_customers(pool, "acme", ["C1", "C2"])
        d = date(2027, 3, 1)
        await add_invoices(
            pool,
            "acme",
            [("F1", "C1", d, d, "10"), ("F2", "C1", d, d, "10"), ("G1", "C2", d, d, "10")],
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def _state(client: httpx.AsyncClient) -> tuple[list[Any], ...]:
    pool = client.app.state.runtime.pool  # type: ignore[attr-defined]
    tables = ("pauses", "cases", "case_invoices", "dunning_plans")
    return tuple(
        [
            [dict(row) for row in await pool.fetch(f"select * from {t} order by 1, 2")]
            for t in tables
        ]
    )


async def _refused(
    client: httpx.AsyncClient, method: str, path: str, status: int, message: str, **kwargs: Any
) -> None:
    response = await client.request(method, path, **kwargs)
    assert response.status_code == status, (path, kwargs, response.text)
    body = response.json()
    assert set(body) == {"error"} and message in body["error"], (path, kwargs, body)


async def test_pauses_are_set_listed_and_lifted_over_http(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    until = (local_today() + timedelta(days=3)).isoformat()
    topic = f"{settings.topic_prefix}control"
    async with TopicReader(settings.require_kafka(), topic) as control:
        response = await client.post(
            f"{API}/pauses",
            json={"entity": "customer", "key": "C1", "mode": "reminders", "until": until,
                  "reason": "disputed"},
        )  # fmt: skip
        assert response.status_code == 201
        pause = response.json()
        assert (pause["entity"], pause["key"], pause["mode"]) == ("customer", "C1", "reminders")
        assert (pause["until"], pause["reason"], pause["state"]) == (until, "disputed", "active")
        # In force at once, and published right after.
        events = await control.wait_for(lambda ms: len(ms) >= 1, what="pause_set")
        assert events[0]["command"] == "pause_set" and events[0]["issued_by"] == "http"

        assert (await client.post(f"{API}/pauses", json={})).status_code == 201  # administration
        listed = (await client.get(f"{API}/pauses")).json()
        assert [(p["entity"], p["key"]) for p in listed] == [
            ("administration", "acme"),
            ("customer", "C1"),
        ]
        lifted = await client.request(
            "DELETE", f"{API}/pauses", json={"entity": "customer", "key": "C1"}
        )
        assert lifted.status_code == 200 and lifted.json()["state"] == "lifted"
        by_query = await client.delete(f"{API}/pauses", params={"entity": "administration"})
        assert by_query.status_code == 200
        assert (await client.get(f"{API}/pauses")).json() == []
        history = (await client.get(f"{API}/pauses", params={"status": "all"})).json()
        assert [p["state"] for p in history] == ["lifted", "lifted"]


async def test_bad_pause_requests_are_refused_and_change_nothing(client: httpx.AsyncClient) -> None:
    created = await client.post(
        f"{API}/cases", json={"key": "K1", "customer": "C1", "invoices": ["F1"]}
    )
    assert created.status_code == 201
    before = await _state(client)
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    pauses = f"{API}/pauses"
    await _refused(client, "POST", "/api/administrations/nobody/pauses", 404, "unknown", json={})
    await _refused(client, "POST", pauses, 400, "not valid JSON", content=b"{nope")
    await _refused(client, "POST", pauses, 422, "must be a JSON object", json=["customer"])
    await _refused(client, "POST", pauses, 422, "entity 'supplier'", json={"entity": "supplier"})
    await _refused(
        client, "POST", pauses, 409, "invoice 'F1' is in case 'K1'",
        json={"entity": "invoice", "key": "F1"},
    )  # fmt: skip
    await _refused(
        client, "POST", pauses, 422, "paused for reminders only",
        json={"entity": "invoice", "key": "F2", "mode": "reminders"},
    )  # fmt: skip
    await _refused(client, "POST", pauses, 422, "mode 'some'", json={"mode": "some"})
    await _refused(client, "POST", pauses, 422, "is not a date", json={"until": "31-12-2027"})
    await _refused(client, "POST", pauses, 422, "in the past", json={"until": yesterday})
    await _refused(client, "POST", pauses, 422, "is not a date", json={"until": 20271231})
    await _refused(client, "POST", pauses, 422, "key is required", json={"entity": "customer"})
    await _refused(
        client, "POST", pauses, 404, "customer 'C9' is not loaded",
        json={"entity": "customer", "key": "C9"},
    )  # fmt: skip
    await _refused(client, "DELETE", pauses, 404, "the administration is not paused")
    await _refused(client, "GET", f"{pauses}?status=some", 422, "status 'some'")
    assert await _state(client) == before


async def test_cases_are_created_over_http(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/cases", json={"key": "K1", "customer": "C1", "invoices": ["F1", "F2"]}
    )
    assert response.status_code == 201
    assert response.json()["invoices"] == ["F1", "F2"]
    before = await _state(client)
    cases = f"{API}/cases"
    await _refused(client, "POST", cases, 422, "belongs to customer 'C2'",
                   json={"key": "K2", "customer": "C1", "invoices": ["G1"]})  # fmt: skip
    await _refused(client, "POST", cases, 409, "already in case 'K1'",
                   json={"key": "K2", "customer": "C1", "invoices": ["F1"]})  # fmt: skip
    await _refused(client, "POST", cases, 422, "invoices must be a list",
                   json={"key": "K2", "customer": "C1", "invoices": "F1"})  # fmt: skip
    await _refused(client, "POST", cases, 422, "case key is required",
                   json={"customer": "C1", "invoices": ["F1"]})  # fmt: skip
    await _refused(client, "POST", "/api/administrations/nobody/cases", 404, "unknown",
                   json={"key": "K2", "customer": "C1", "invoices": ["F1"]})  # fmt: skip
    assert await _state(client) == before
    listed = (await client.get(cases)).json()
    assert [(c["key"], c["customer"], c["paused"]) for c in listed] == [("K1", "C1", False)]


async def test_dunning_plans_are_read_and_replaced_over_http(client: httpx.AsyncClient) -> None:
    default = (await client.get(f"{API}/dunning-plans/default")).json()
    assert {
        k: default[k] for k in ("first_after_days", "interval_days", "count", "final_notice")
    } == {
        "first_after_days": 7,
        "interval_days": 7,
        "count": 2,
        "final_notice": True,
    }
    plan = {"first_after_days": 14, "interval_days": 10, "count": 3, "final_notice": False}
    response = await client.put(f"{API}/dunning-plans/30D", json=plan)
    assert response.status_code == 200
    assert (await client.get(f"{API}/dunning-plans/30D")).json() | {"updated_at": 0} == {
        "administration_id": "acme",
        "code": "30D",
        **plan,
        "updated_at": 0,
    }
    codes = [p["code"] for p in (await client.get(f"{API}/dunning-plans")).json()]
    assert codes == ["default", "30D"]

    before = await _state(client)
    plans = f"{API}/dunning-plans/30D"
    await _refused(client, "GET", f"{API}/dunning-plans/60D", 404, "follow 'default'")
    await _refused(client, "PUT", plans, 422, "count is required",
                   json={"first_after_days": 1, "interval_days": 1})  # fmt: skip
    await _refused(client, "PUT", plans, 422, "must be a whole number",
                   json={**plan, "count": "2"})  # fmt: skip
    await _refused(client, "PUT", plans, 422, "must be a whole number",
                   json={**plan, "count": True})  # fmt: skip
    await _refused(client, "PUT", plans, 422, "between 1 and 365",
                   json={**plan, "interval_days": 0})  # fmt: skip
    await _refused(client, "PUT", plans, 422, "final_notice 'no' must be true or false",
                   json={**plan, "final_notice": "no"})  # fmt: skip
    await _refused(client, "PUT", "/api/administrations/nobody/dunning-plans/30D", 404,
                   "unknown", json=plan)  # fmt: skip
    assert await _state(client) == before


async def test_reminder_runs_are_requested_and_notifications_listed_over_http(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    topic = f"{settings.topic_prefix}reminder-requests"
    async with TopicReader(settings.require_kafka(), topic) as requests:
        response = await client.post(f"{API}/reminder-runs", json={"as_of": "2027-04-28"})
        assert response.status_code == 202
        body = response.json()
        assert body["as_of"] == "2027-04-28"
        today = await client.post(f"{API}/reminder-runs")  # no body: today, there
        assert today.status_code == 202 and today.json()["as_of"] == local_today().isoformat()
        seen = await requests.wait_for(lambda ms: len(ms) >= 2, what="two requests")
    assert seen[0]["request_id"] == body["request_id"] and seen[0]["requested_by"] == "http"
    await _refused(client, "POST", f"{API}/reminder-runs", 422, "as_of '2027-02-30' is not",
                   json={"as_of": "2027-02-30"})  # fmt: skip
    await _refused(client, "POST", "/api/administrations/nobody/reminder-runs", 404, "unknown")

    pool = client.app.state.runtime.pool  # type: ignore[attr-defined]
    await pool.execute(
        "insert into notifications (administration_id, invoice_number, customer_number, kind,"
        " level, status, reason, detail, run_date, email_message_id, created_at) values"
        " ('acme', 'F1', 'C1', 'reminder', 1, 'sent', null, null, '2027-04-28', '<a@x>',"
        "  now() - interval '1 hour'),"
        " ('acme', 'F2', 'C1', 'reminder', 1, 'suppressed', 'below_minimum', 'small', "
        "  '2027-04-28', '<b@x>', now())"
    )
    listed = (await client.get(f"{API}/notifications")).json()
    assert [(n["invoice"], n["kind"], n["level"], n["outcome"], n["reason"]) for n in listed] == [
        ("F2", "reminder", 1, "suppressed", "below_minimum"),
        ("F1", "reminder", 1, "sent", None),
    ]
    assert {"message_id", "at"} <= set(listed[0]) and listed[0]["message_id"] == "<b@x>"
    one = (await client.get(f"{API}/notifications", params={"invoice": "F1"})).json()
    assert [n["invoice"] for n in one] == ["F1"]
    await _refused(client, "GET", f"{API}/notifications?limit=lots", 422, "whole number")
    await _refused(client, "GET", "/api/administrations/nobody/notifications", 404, "unknown")
    runs = await client.get(f"{API}/reminder-runs")
    assert runs.status_code == 200 and runs.json() == []  # no notifier ran them here
