"""Keys and texts full of quotes, SQL and HTML flow through an import: they are stored
verbatim in PostgreSQL, travel verbatim on the error topic, are found again by their exact
key (records, errors, explain, the ignore list), and nothing in them is ever executed."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from services.control.explain import explain
from services.control.ignore import add_ignore_entry
from services.control.records import get_customer, get_invoice, list_errors
from services.importer.app import build_app as build_importer
from services.validator.app import build_app as build_validator
from shared.settings import Settings
from shared.testing import TopicReader, running, write_export
from shared.topics import Topics
from tests.faults.harness import ADMIN, register, request, wait_for_run

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]

DROP_CUSTOMERS = "C1'; drop table customers; --"
SCRIPT_KEY = '<script>alert("C2")</script>'
PLACEHOLDERS = "$1 %s {0} :name ? \\N \\x00"
QUOTES = 'O\'Brien & "Zonen" <b>B.V.</b>'
SLEEP = "'); select pg_sleep(30); --"
BAD_EMAIL = '"><img src=x onerror=alert(1)>@'
DESCRIPTION = "</td><script>fetch('/api/administrations')</script>; delete from invoices; --"
IGNORED_INVOICE = "F'3\"; truncate invoices; --"

GOOD = {
    "email": "administratie@korenschoof.nl",
    "street": SLEEP,
    "postal_code": "1234 AB",
    "city": "Amsterdam",
    "country": "NL",
}


def invoice(number: str, customer: str, description: str = "") -> dict[str, str]:
    return {
        "invoice_number": number,
        "customer_number": customer,
        "invoice_date": "2026-11-01",
        "due_date": "2026-12-01",
        "currency": "EUR",
        "amount_total": "121.00",
        "amount_open": "121.00",
        "payment_condition": "30D",
        "description": description,
    }


async def test_quotes_sql_and_markup_are_stored_and_reported_verbatim(
    settings: Settings, tmp_path: Path
) -> None:
    export = write_export(
        tmp_path / "export",
        customers=[
            {"customer_number": DROP_CUSTOMERS, "name": QUOTES, **GOOD},
            {"customer_number": SCRIPT_KEY, "name": PLACEHOLDERS, **GOOD, "email": BAD_EMAIL},
        ],
        invoices=[
            invoice(PLACEHOLDERS, DROP_CUSTOMERS, DESCRIPTION),
            invoice("F2", SCRIPT_KEY),
            invoice(IGNORED_INVOICE, DROP_CUSTOMERS),
        ],
        payment_conditions=[{"code": "30D", "description": SLEEP, "term_days": "30"}],
    )
    database_url = settings.database_url or ""
    await register(database_url, export)
    topics = Topics(settings.topic_prefix)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await add_ignore_entry(
            pool, topics, ADMIN, "invoice", IGNORED_INVOICE, issued_by="fault-test"
        )
        async with (
            running(build_importer(settings), build_validator(settings)),
            TopicReader(settings.kafka_bootstrap or "", topics.validation_errors) as events,
        ):
            requested = await request(settings)
            run = await wait_for_run(database_url, requested.request_id, timeout=60)
            raised = await events.wait_for(lambda ms: len(ms) >= 1, what="the error event")
        assert run["status"] == "completed", run

        customer = await get_customer(pool, ADMIN, DROP_CUSTOMERS)
        assert (customer["customer_number"], customer["name"]) == (DROP_CUSTOMERS, QUOTES)
        assert customer["street"] == SLEEP
        loaded = await get_invoice(pool, ADMIN, PLACEHOLDERS)
        assert (loaded["invoice_number"], loaded["description"]) == (PLACEHOLDERS, DESCRIPTION)
        assert await pool.fetchval("select description from payment_conditions") == SLEEP

        # The customer with the bad e-mail address is held back, and reported verbatim.
        [error] = await list_errors(pool, ADMIN)
        assert (error["key"], error["code"], error["value"]) == (
            SCRIPT_KEY,
            "invalid_email",
            BAD_EMAIL,
        )
        assert BAD_EMAIL in error["message"]
        [event] = raised
        assert (event["key"], event["value"]) == (SCRIPT_KEY, BAD_EMAIL)
        assert BAD_EMAIL in event["message"]
        why = await explain(pool, ADMIN, "customer", SCRIPT_KEY)
        assert why["key"] == SCRIPT_KEY
        assert "validation_error" in [r["code"] for r in why["reasons"]]

        # The ignore entry matched its exact, hostile key, and only that.
        ignored = await explain(pool, ADMIN, "invoice", IGNORED_INVOICE)
        assert "ignored" in [r["code"] for r in ignored["reasons"]]
        invoices = {r["invoice_number"] for r in await pool.fetch("select * from invoices")}
        assert invoices == {PLACEHOLDERS}  # F2 held back with its customer; F'3 ignored

        # Nothing was executed: every table is there, and nothing slept.
        tables = {
            r["tablename"]
            for r in await pool.fetch("select tablename from pg_tables where schemaname = 'public'")
        }
        assert {"customers", "invoices", "ignore_entries", "payment_conditions"} <= tables
        slept = await pool.fetchval(
            "select count(*) from pg_stat_activity where query like '%pg_sleep(30)%'"
            " and pid <> pg_backend_pid()"
        )
        assert slept == 0
    finally:
        await pool.close()
