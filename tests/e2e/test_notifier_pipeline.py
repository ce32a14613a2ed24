"""From an export file to e-mails: the importer and validator load an export, the notifier
mails the new invoice after its grace period (not the old one), and a reminder run requested
like the CLI does sends the overdue invoice its first reminder only."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from services.control.admins import NewAdministration, add_administration
from services.control.reminders import request_reminder_run, wait_for_reminder_run
from services.importer.app import build_app as build_importer
from services.notifier.app import build_app as build_notifier
from services.validator.app import build_app as build_validator
from shared.db import apply_migrations, connect_pool
from shared.publish import Publisher
from shared.settings import Settings
from shared.testing import TopicReader, publish_json, running, write_export
from shared.topics import Topics
from tests.integration.notifier_support import (
    AMSTERDAM,
    Clock,
    local_today,
    mail_catcher,
    next_working_day,
    notifier_settings,
)

pytestmark = pytest.mark.e2e

CUSTOMER = {
    "name": "Bakkerij De Korenschoof",
    "phone": "+31 20 123 4567",
    "street": "Dorpsstraat 1",
    "postal_code": "1234 AB",
    "city": "Amsterdam",
    "country": "NL",
}


async def test_an_import_leads_to_an_invoice_email_and_a_first_reminder_only(
    settings: Settings, tmp_path: Path
) -> None:
    w = next_working_day(local_today())
    day = lambda offset: (w + timedelta(days=offset)).isoformat()  # noqa: E731
    export = write_export(
        tmp_path / "export",
        customers=[
            {**CUSTOMER, "customer_number": "C1", "email": "c1@example.nl", "language": "nl"},
            {**CUSTOMER, "customer_number": "C2", "email": "c2@example.com", "language": "en"},
        ],
        invoices=[
            {
                "invoice_number": "NEW",
                "customer_number": "C1",
                "invoice_date": day(-2),
                "due_date": day(28),
                "currency": "EUR",
                "amount_total": "121.00",
                "amount_open": "121.00",
                "payment_condition": "30D",
            },
            {
                "invoice_number": "OLD",
                "customer_number": "C2",
                "invoice_date": day(-400),
                "due_date": day(-370),
                "currency": "EUR",
                "amount_total": "50.00",
                "amount_open": "50.00",
                "payment_condition": "30D",
            },
        ],
        payment_conditions=[{"code": "30D", "description": "30 days", "term_days": "30"}],
    )
    clock = Clock(datetime.combine(w, time(10), tzinfo=AMSTERDAM).astimezone(UTC))
    pool = await connect_pool(settings.require_database(), max_size=2)
    await apply_migrations(pool)
    await add_administration(
        pool,
        NewAdministration.parse(
            {
                "id": "acme",
                "name": "Acme Trading B.V.",
                "source": f"files:{export}",
                "import_mode": "manual",
                "send_invoices_from": day(-7),
            }
        ),
    )
    await pool.execute("update administrations set created_at = $1", clock())  # no daily run

    async with mail_catcher() as smtp:
        configured = notifier_settings(settings, smtp, grace=0)
        async with running(
            build_importer(configured),
            build_validator(configured),
            build_notifier(configured, clock=clock, dispatch_seconds=0.2),
        ):
            runs = TopicReader(configured.require_kafka(), f"{settings.topic_prefix}import-runs")
            async with runs:
                await publish_json(
                    configured.require_kafka(),
                    f"{settings.topic_prefix}import-requests",
                    "acme",
                    {
                        "administration_id": "acme",
                        "trigger": "manual",
                        "requested_by": "test",
                    },
                )
                await runs.wait_for(
                    lambda ms: any(m.get("event") == "completed" for m in ms),
                    timeout=60,
                    what="the import to complete",
                )
            invoice_mail = (await smtp.wait_for(1, timeout=30))[0]

            async with Publisher(configured) as publisher:
                request = await request_reminder_run(
                    pool,
                    publisher,
                    Topics(settings.topic_prefix),
                    "acme",
                    as_of=w.isoformat(),
                    requested_by="test",
                )
            run = await wait_for_reminder_run(pool, request.request_id, timeout=60)
    await pool.close()

    assert invoice_mail["To"].addresses[0].addr_spec == "c1@example.nl"
    assert str(invoice_mail["Subject"]).startswith(
        "Factuur NEW van Acme Trading B.V.: € 121,00, te betalen uiterlijk"
    )
    assert run["status"] == "completed" and run["counts"]["sent"] == 1
    assert len(smtp.messages) == 2
    reminder = smtp.messages[1]
    assert reminder["To"].addresses[0].addr_spec == "c2@example.com"
    assert str(reminder["Subject"]).startswith("First reminder: invoice OLD, €50.00, due ")
