"""R7 through the real importer and validator: every kind of ignore-list entry (customer,
invoice, payment condition; exact, range, prefix) added and removed, with its cascades, the
blocking of data loaded before, and errors resolved as `ignored`."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.control.ignore import add_ignore_entry, list_ignore_entries, remove_ignore_entry
from shared.settings import Settings
from shared.testing import TopicReader
from tests.integration.importing import CONDITION, customer, import_services, invoice

pytestmark = pytest.mark.integration

ENTRIES = [
    ("customer", "1000...1999"),
    ("customer", "TEST*"),
    ("customer", "C5"),
    ("invoice", "INV-TEST*"),
    ("invoice", "7001...7002"),
    ("invoice", "X1"),
    ("payment_condition", "CASH"),
    ("payment_condition", "DIR*"),
    ("payment_condition", "400...599"),
]

REMOVED = [
    ("customer", "1000...1999"),
    ("invoice", "X1"),
    ("payment_condition", "CASH"),
    ("payment_condition", "400...599"),
]


async def test_each_kind_of_ignore_entry_keeps_records_out_blocks_loaded_ones_and_lets_go(
    settings: Settings, tmp_path: Path
) -> None:
    async with import_services(settings, tmp_path / "export") as h:
        h.ledger.customers = [
            customer("C1"),
            customer("1500"),
            customer("TEST-1"),
            customer("C5", email="jan@"),  # erroneous, then ignored
            customer("C6"),
        ]
        h.ledger.conditions = [
            CONDITION,
            {"code": "CASH", "description": "Cash", "term_days": "0"},
            {"code": "DIR-14", "description": "Direct debit", "term_days": "14"},
            {"code": "500", "description": "Old code", "term_days": "10"},
        ]
        h.ledger.invoices = [
            invoice("F1", "C1"),
            invoice("F2", "1500"),
            invoice("F3", "TEST-1"),
            invoice("F4", "C5"),
            invoice("F5", "C6", payment_condition="CASH"),
            invoice("INV-TEST-9", "C1"),
            invoice("7001", "C1"),
            invoice("7002", "C1"),
            invoice("7003", "C1"),
            invoice("X1", "C6"),
            invoice("P1", "C1", payment_condition="DIR-14"),
            invoice("P2", "C1", payment_condition="500"),
        ]
        await h.run_import()
        assert set(await h.customers()) == {"C1", "1500", "TEST-1", "C6"}
        assert set(await h.errors()) == {("customer", "C5", "invalid_email")}

        topics = h.topics
        for entity, pattern in ENTRIES:
            await add_ignore_entry(h.pool, topics, "acme", entity, pattern, issued_by="test")
        # Visible at once, newest first.
        listed = await list_ignore_entries(h.pool, "acme")
        assert [(e["entity"], e["pattern"]) for e in listed] == ENTRIES[::-1]
        # ... and not applied before the next run.
        assert set((await h.statuses()).values()) == {"open"}

        h.ledger.change("customer", "1500", name="Changed While Ignored")
        # A new customer whose only open invoice is ignored: neither loaded nor validated.
        h.ledger.customers.append(customer("C7", email="not-an-address"))
        h.ledger.invoices.append(invoice("INV-TEST-7", "C7"))
        ignored = await h.run_import()

        customers = await h.customers()
        assert {k: c["status"] for k, c in customers.items()} == {
            "C1": "active",
            "1500": "blocked",  # range
            "TEST-1": "blocked",  # prefix
            "C6": "active",  # its invoices are ignored, it is not
        }
        assert customers["1500"]["name"] == "Customer 1500"  # no more updates
        assert await h.statuses() == {
            "F1": "open",
            "F2": "blocked",  # its customer is in a range entry
            "F3": "blocked",  # its customer matches a prefix entry
            "F5": "blocked",  # its payment condition is ignored
            "INV-TEST-9": "blocked",  # invoice prefix
            "7001": "blocked",  # invoice range
            "7002": "blocked",
            "7003": "open",  # just outside the range
            "X1": "blocked",  # exact invoice entry
            "P1": "blocked",  # its payment condition matches a prefix entry
            "P2": "blocked",  # its payment condition is in a range entry
        }
        assert "C5" not in customers and "F4" not in await h.statuses()
        assert {entity: c["ignored"] for entity, c in ignored["counts"].items()} == {
            "customer": 3,  # 1500, TEST-1, C5
            "invoice": 11,  # F2, F3, F4, F5, INV-TEST-7, INV-TEST-9, 7001, 7002, X1, P1, P2
            "payment_condition": 3,
        }
        # C1 alone is still referenced by an invoice that is not ignored.
        assert ignored["counts"]["customer"]["unchanged"] == 1
        # The customer that was erroneous and is now ignored: its error resolved as ignored.
        assert await h.errors() == {}
        resolved = [e for e in await h.error_events() if e["event"] == "resolved"]
        assert [(e["key"], e["code"], e["resolution"]) for e in resolved] == [
            ("C5", "invalid_email", "ignored")
        ]

        for entity, pattern in REMOVED:
            await remove_ignore_entry(h.pool, topics, "acme", entity, pattern, issued_by="test")
        released = await h.run_import()

        customers = await h.customers()
        assert customers["1500"]["status"] == "active"
        assert customers["1500"]["name"] == "Changed While Ignored"
        statuses = await h.statuses()
        assert {k for k, s in statuses.items() if s == "blocked"} == {
            "F3",
            "INV-TEST-9",
            "7001",
            "7002",
            "P1",
        }
        assert released["counts"]["invoice"]["updated"] == 4  # unblocked: F2, X1, F5, P2

        # Every change was announced on the control topic, after its commit.
        async with TopicReader(settings.kafka_bootstrap, topics.control) as control:
            events = await control.wait_for(lambda ms: len(ms) >= 13, what="ignore events")
        assert [(e["command"], e["detail"]["pattern"]) for e in events] == [
            *(("ignore_added", pattern) for _, pattern in ENTRIES),
            *(("ignore_removed", pattern) for _, pattern in REMOVED),
        ]
