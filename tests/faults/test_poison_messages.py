"""Poison on every topic the services consume: undecodable bytes,
valid JSON of the wrong shape, a message without a value, text PostgreSQL cannot store (a NUL
character) and a 10 MB value. Each goes to `{prefix}dead-letters` with the error in its
headers, and the partition keeps flowing: an import requested after the poison, whose
messages queue behind it on the same (single) partitions, completes; the notifier schedules
the e-mail of the invoice it loaded and runs a reminder run requested after the poison, and
the dashboard's view shows the error the run raised.

Tansu accepts a 10 MB value (produced with a large enough max_request_size) and hands it to
consumers whose fetch limit is smaller, so the real thing is tested; the dead letter keeps
its first MAX_DEAD_LETTER_BYTES.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from services.dashboard.app import build_app as build_dashboard
from services.importer.app import build_app as build_importer
from services.notifier.app import build_app as build_notifier
from services.validator.app import build_app as build_validator
from shared.kafka import MAX_DEAD_LETTER_BYTES, ensure_topics
from shared.messages import ReminderRunRequested
from shared.publish import Publisher
from shared.settings import Settings
from shared.testing import TopicReader, running, write_export
from tests.faults.harness import register, request, wait_for_run
from tests.integration.notifier_support import mail_catcher

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

HUGE = 10 * 1024 * 1024
CUSTOMER = {
    "customer_number": "C1",
    "name": "Bakkerij De Korenschoof",
    "email": "administratie@korenschoof.nl",
    "street": "Dorpsstraat 1",
    "postal_code": "1234 AB",
    "city": "Amsterdam",
    "country": "NL",
}
INVOICE = {
    "invoice_number": "F1",
    "customer_number": "C1",
    "invoice_date": "2026-11-01",
    "due_date": "2026-12-01",
    "currency": "EUR",
    "amount_total": "121.00",
    "amount_open": "121.00",
    "payment_condition": "30D",
}
RUN_ID = str(uuid4())

# A well-formed message of each topic's model, but with a NUL character in a text.
NUL_MESSAGES = {
    "import-requests": {
        "message_id": str(uuid4()),
        "request_id": str(uuid4()),
        "administration_id": "acme",
        "trigger": "manual",
        "requested_by": "cli\u0000",
        "requested_at": "2026-12-03T09:00:00Z",
    },
    "import-runs": {
        "message_id": str(uuid4()),
        "event": "failed",
        "run_id": RUN_ID,
        "administration_id": "acme",
        "status": "failed",
        "reason": "disk\u0000full",
    },
    "raw-records": {
        "message_id": str(uuid4()),
        "administration_id": "acme",
        "run_id": RUN_ID,
        "seq": 0,
        "records": [{"entity": "customer", "line": 2, "data": {"name": "nul\u0000"}}],
    },
    "accepted-updates": {
        "message_id": str(uuid4()),
        "administration_id": "acme",
        "run_id": RUN_ID,
        "changes": [{"entity": "invoice", "key": "F\u00001", "change": "added"}],
    },
    "reminder-requests": {
        "message_id": str(uuid4()),
        "administration_id": "acme",
        "as_of": "2026-12-03",
        "requested_by": "cron\u0000",
    },
    "validation-errors": {
        "message_id": str(uuid4()),
        "event": "raised",
        "error_id": str(uuid4()),
        "administration_id": "acme",
        "entity": "customer",
        "key": "C9",
        "code": "invalid_email",
        "field": "email",
        "value": "x\u0000@",
        "severity": "error",
        "message": "not valid",
    },
}


def poison(topic: str) -> dict[str, bytes | None]:
    # The huge one first: a fetch ends after a message above its limit, so the others and
    # the good message after them arrive together, in one batch.
    return {
        "huge": b'{"padding": "' + b"x" * HUGE + b'"}',
        "undecodable": b"\xff\xfe\x00\x9c not json at all",
        "wrong_shape": json.dumps({"hello": ["world"], "administration_id": 7}).encode(),
        "not_an_object": b"[1, 2, 3]",
        "no_value": None,
        "nul_character": json.dumps(NUL_MESSAGES[topic]).encode(),
    }


# Who consumes what: import-runs is read by the importer and the validator, each in its group.
CONSUMERS = {
    "import-requests": ["importer"],
    "import-runs": ["importer", "validator"],
    "raw-records": ["validator"],
    "accepted-updates": ["notifier"],
    "reminder-requests": ["notifier"],
    "validation-errors": ["dashboard"],
}


async def test_poison_on_every_consumed_topic_goes_to_dead_letters_and_the_partition_flows_on(
    settings: Settings, tmp_path: Path
) -> None:
    # One partition per topic: the import's messages queue behind the poison.
    settings = replace(settings, topic_prefix=f"p{uuid4().hex[:10]}.", topic_partitions=1)
    await ensure_topics(settings)
    export = write_export(
        tmp_path / "export",
        customers=[CUSTOMER, {**CUSTOMER, "customer_number": "C2", "email": "jan@"}],
        invoices=[INVOICE, {**INVOICE, "invoice_number": "F2", "customer_number": "C2"}],
        payment_conditions=[{"code": "30D", "description": "30 days", "term_days": "30"}],
    )
    database_url = settings.database_url or ""
    await register(database_url, export, send_invoices_from="2020-01-01")

    # The poison first, then a good import request: on import-requests they share a batch,
    # and the run's own messages queue behind the poison on the other topics.
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, max_request_size=HUGE + 1024 * 1024
    )
    await producer.start()
    try:
        for topic in CONSUMERS:
            for kind, value in poison(topic).items():
                await producer.send_and_wait(
                    settings.topic_prefix + topic, value, key=f"poison-{kind}".encode()
                )
    finally:
        await producer.stop()
    requested = await request(settings)
    reminders = ReminderRunRequested(
        administration_id="acme", as_of=date(2026, 12, 2), requested_by="fault-test"
    )
    async with Publisher(settings) as publisher:
        await publisher.send(settings.topic_prefix + "reminder-requests", "acme", reminders)

    expected = sum(len(poison(t)) * len(c) for t, c in CONSUMERS.items())
    dashboard = build_dashboard(settings)
    async with (
        mail_catcher() as smtp,
        running(
            build_importer(settings),
            build_validator(settings),
            build_notifier(replace(settings, smtp_url=smtp.url)),
        ),
        dashboard.router.lifespan_context(dashboard),
    ):
        run = await wait_for_run(database_url, requested.request_id, timeout=60)
        assert run["status"] == "completed", run
        records = await _read_dead_letters(settings, expected, timeout=30)
        conn = await asyncpg.connect(database_url)
        try:
            # Each of these is consumed behind its topic's poison, after the dead letters
            # went out: waited for, not read once.
            (reminder_run,) = await _wait_for_rows(
                conn,
                "select status from reminder_runs where status <> 'running' and request_id = $1",
                reminders.request_id,
            )
            mails = await _wait_for_rows(conn, "select invoice_number from invoice_mails")
            viewed = await _wait_for_rows(conn, "select key, code from dashboard_errors")
        finally:
            await conn.close()
    assert reminder_run["status"] == "completed"  # the request behind the poison ran
    assert [m["invoice_number"] for m in mails] == ["F1"]  # the loaded invoice's e-mail is due
    assert [tuple(r) for r in viewed] == [("C2", "invalid_email")]  # the error behind the poison

    letters: dict[tuple[str, str, str], tuple[dict[str, str], bytes | None]] = {}
    for record in records:
        headers = {name: value.decode() for name, value in record.headers}
        source = headers["source_topic"].removeprefix(settings.topic_prefix)
        service = headers["consumer"].split(":")[0]
        letters[(source, record.key.decode().removeprefix("poison-"), service)] = (
            headers,
            record.value,
        )
    assert sorted(letters) == sorted(
        (topic, kind, service)
        for topic, services in CONSUMERS.items()
        for kind in poison(topic)
        for service in services
    )
    for (topic, kind, _), (headers, value) in letters.items():
        assert headers["error"], (topic, kind)
        assert int(headers["source_offset"]) >= 0 and headers["source_partition"] == "0"
        if kind == "huge":
            assert headers["truncated_from_bytes"] == str(HUGE + len(b'{"padding": ""}'))
            assert value is not None and len(value) == MAX_DEAD_LETTER_BYTES
        elif kind == "no_value":
            assert headers["error"] == "empty message value"
        else:
            assert value == poison(topic)[kind]  # the original bytes, for inspection
    assert "NUL character" in letters[("raw-records", "nul_character", "validator")][0]["error"]
    assert "Invalid JSON" in letters[("import-requests", "undecodable", "importer")][0]["error"]


async def _read_dead_letters(settings: Settings, expected: int, *, timeout: float) -> list[Any]:
    """The dead letters, once there are `expected` (their values are large: never print)."""
    deadline = time.monotonic() + timeout
    async with TopicReader(
        settings.kafka_bootstrap or "", settings.topic_prefix + "dead-letters"
    ) as reader:
        while len(reader.raw) < expected:
            keys = sorted(r.key.decode() for r in reader.raw)
            assert time.monotonic() < deadline, f"{len(keys)} of {expected} dead letters: {keys}"
            await reader.poll()
        return list(reader.raw)


async def _wait_for_rows(
    conn: asyncpg.Connection, query: str, *args: Any, timeout: float = 30
) -> list[Any]:
    deadline = time.monotonic() + timeout
    while not (rows := await conn.fetch(query, *args)):
        assert time.monotonic() < deadline, f"nothing from: {query}"
        await asyncio.sleep(0.05)
    return rows
