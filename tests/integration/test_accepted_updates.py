"""What a completed run changed, as the accepted-updates topic tells it: every added, updated,
closed, blocked and unblocked record once, nothing for what stayed the same or was held back,
in messages the contract's model reads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from services.control.ignore import add_ignore_entry, remove_ignore_entry
from services.validator.store import CHANGES_PER_MESSAGE
from shared.messages import UpdatesAccepted
from shared.settings import Settings
from shared.topics import Topics
from tests.integration.importing import EventLog, ImportHarness, customer, import_services, invoice

pytestmark = pytest.mark.integration


async def accepted(h: ImportHarness, log: EventLog, run: dict) -> list[tuple[str, str, str]]:
    """The changes announced for `run`, in the order they were published."""
    await h.error_events()  # waits for an empty outbox
    messages = [UpdatesAccepted.model_validate(m) for m in await log.drain()]
    ours = [m for m in messages if str(m.run_id) == str(run["run_id"])]
    assert len({m.message_id for m in ours}) == len(ours)
    assert all(0 < len(m.changes) <= CHANGES_PER_MESSAGE for m in ours)
    assert all(m.administration_id == h.admin_id for m in ours)
    return [(c.entity, c.key, c.change) for m in ours for c in m.changes]


async def test_each_change_of_a_run_is_announced_once_and_nothing_else(
    settings: Settings, tmp_path: Path
) -> None:
    topic = Topics(settings.topic_prefix).accepted_updates
    async with (
        import_services(settings, tmp_path / "export") as h,
        EventLog(settings.kafka_bootstrap, topic) as log,
    ):
        h.ledger.customers = [customer("C1"), customer("C2"), customer("C3", email="jan@")]
        h.ledger.invoices = [
            invoice("F1", "C1"),
            invoice("F2", "C1"),
            invoice("F3", "C2"),
            invoice("F4", "C3"),  # held back with its customer
        ]
        first = await h.run_import()
        assert sorted(await accepted(h, log, first)) == [
            ("customer", "C1", "added"),
            ("customer", "C2", "added"),
            ("invoice", "F1", "added"),
            ("invoice", "F2", "added"),
            ("invoice", "F3", "added"),
        ]

        h.ledger.change("customer", "C2", name="Renamed B.V.")
        h.ledger.invoices = [i for i in h.ledger.invoices if i["invoice_number"] != "F2"]
        h.ledger.change("invoice", "F1", amount_open="40.00")
        h.ledger.invoices.append(invoice("F5", "C1"))
        second = await h.run_import()
        assert sorted(await accepted(h, log, second)) == [
            ("customer", "C2", "updated"),
            ("invoice", "F1", "updated"),
            ("invoice", "F2", "closed"),  # R4: it left the export
            ("invoice", "F5", "added"),
        ]

        third = await h.run_import(write=False)  # the same export again
        assert await accepted(h, log, third) == []

        # R7: an ignored customer is blocked with its open invoices, and back when released.
        await add_ignore_entry(h.pool, h.topics, h.admin_id, "customer", "C1", issued_by="test")
        fourth = await h.run_import(write=False)
        assert sorted(await accepted(h, log, fourth)) == [
            ("customer", "C1", "blocked"),
            ("invoice", "F1", "blocked"),
            ("invoice", "F5", "blocked"),
        ]
        await remove_ignore_entry(h.pool, h.topics, h.admin_id, "customer", "C1", issued_by="test")
        fifth = await h.run_import(write=False)
        assert sorted(await accepted(h, log, fifth)) == [
            ("customer", "C1", "unblocked"),
            ("invoice", "F1", "unblocked"),
            ("invoice", "F5", "unblocked"),
        ]


async def test_a_large_run_is_announced_in_full_messages(
    settings: Settings, tmp_path: Path
) -> None:
    topic = Topics(settings.topic_prefix).accepted_updates
    count = CHANGES_PER_MESSAGE * 2 + 7
    async with (
        import_services(settings, tmp_path / "export") as h,
        EventLog(settings.kafka_bootstrap, topic) as log,
    ):
        h.ledger.customers = [customer("C1")]
        h.ledger.invoices = [invoice(f"F{n:05d}", "C1") for n in range(count)]
        run = await h.run_import()
        changes = await accepted(h, log, run)
        assert Counter(change for _, _, change in changes) == {"added": count + 1}
        assert len(set(changes)) == count + 1
