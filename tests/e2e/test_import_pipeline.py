"""The whole import path through the contract: a plain Kafka client asks for an import, the
importer and validator load the good records and report the bad ones on the error topic."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

from services.control.admins import NewAdministration, add_administration
from services.importer.app import build_app as build_importer
from services.validator.app import build_app as build_validator
from shared.settings import Settings
from shared.testing import TopicReader, publish_json, running, write_export

pytestmark = pytest.mark.e2e

GOOD_CUSTOMER = {
    "customer_number": "C1",
    "name": "Bakkerij De Korenschoof",
    "email": "administratie@korenschoof.nl",
    "phone": "+31 20 123 4567",
    "street": "Dorpsstraat 1",
    "postal_code": "1234 AB",
    "city": "Amsterdam",
    "country": "NL",
    "language": "nl",
}


def _export(directory: Path) -> Path:
    return write_export(
        directory,
        customers=[
            GOOD_CUSTOMER,
            {**GOOD_CUSTOMER, "customer_number": "C2", "email": "jan@"},
            {**GOOD_CUSTOMER, "customer_number": "C3", "name": "Paid Up B.V."},
        ],
        invoices=[
            {
                "invoice_number": "F1",
                "customer_number": "C1",
                "invoice_date": "2026-11-01",
                "due_date": "2026-12-01",
                "currency": "EUR",
                "amount_total": "121.00",
                "amount_open": "121.00",
                "payment_condition": "30D",
            },
            {
                "invoice_number": "F2",
                "customer_number": "C1",
                "invoice_date": "2026-10-01",
                "due_date": "2026-10-31",
                "currency": "EUR",
                "amount_total": "50.00",
                "amount_open": "0.00",
                "payment_condition": "30D",
            },
            {
                "invoice_number": "F3",
                "customer_number": "C2",
                "invoice_date": "2026-11-02",
                "due_date": "2026-12-02",
                "currency": "EUR",
                "amount_total": "10.00",
                "amount_open": "10.00",
                "payment_condition": "30D",
            },
            {
                "invoice_number": "CN4",
                "customer_number": "C1",
                "invoice_date": "2026-11-03",
                "due_date": "2026-12-03",
                "currency": "EUR",
                "amount_total": "-25.00",
                "amount_open": "-25.00",
                "payment_condition": "30D",
            },
            {
                "invoice_number": "F5",
                "customer_number": "C3",
                "invoice_date": "2026-09-01",
                "due_date": "2026-10-01",
                "currency": "EUR",
                "amount_total": "99.00",
                "amount_open": "0",
                "payment_condition": "30D",
            },
        ],
        payment_conditions=[{"code": "30D", "description": "30 days", "term_days": "30"}],
    )


async def test_an_import_request_from_a_plain_kafka_client_loads_good_records_and_reports_bad_ones(
    settings: Settings, tmp_path: Path
) -> None:
    export = _export(tmp_path / "export")
    pool = await asyncpg.create_pool(settings.database_url)
    request_id = str(uuid4())
    async with running(build_importer(settings), build_validator(settings)):
        await add_administration(
            pool,
            NewAdministration.parse({"id": "acme", "name": "Acme", "source": f"files:{export}"}),
        )
        async with (
            TopicReader(settings.kafka_bootstrap, f"{settings.topic_prefix}import-runs") as runs,
            TopicReader(
                settings.kafka_bootstrap, f"{settings.topic_prefix}validation-errors"
            ) as errors,
        ):
            await publish_json(
                settings.kafka_bootstrap,
                f"{settings.topic_prefix}import-requests",
                "acme",
                {
                    "message_id": str(uuid4()),
                    "request_id": request_id,
                    "administration_id": "acme",
                    "trigger": "manual",
                    "requested_by": "test",
                    "requested_at": "2026-12-03T09:00:00Z",
                },
            )
            events = await runs.wait_for(
                lambda ms: any(m.get("event") in ("completed", "failed") for m in ms),
                what="the run to end",
            )
            ended = next(m for m in events if m.get("event") in ("completed", "failed"))
            assert ended["event"] == "completed", ended
            assert ended["request_id"] == request_id
            raised = await errors.wait_for(lambda ms: len(ms) >= 1, what="the raised error")

    customers = {r["customer_number"] for r in await pool.fetch("select * from customers")}
    invoices = {
        r["invoice_number"]: r["status"] for r in await pool.fetch("select * from invoices")
    }
    await pool.close()
    assert customers == {"C1"}  # C2 held back by its error; C3 has no open invoice (R3)
    assert invoices == {"F1": "open", "CN4": "open"}  # F2 paid; F3 held back with C2 (R5)
    assert [(e["event"], e["entity"], e["key"], e["code"], e["severity"]) for e in raised] == [
        ("raised", "customer", "C2", "invalid_email", "error")
    ]
    event = raised[0]
    assert event["field"] == "email" and event["value"] == "jan@"
    assert "jan@" in event["message"]
    assert set(event) >= {"message_id", "error_id", "administration_id", "run_id", "occurred_at"}
    assert ended["counts"]["invoice"] == {
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "blocked": 1,
        "ignored": 0,
    }
