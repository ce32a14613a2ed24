"""The accepted changes a completed run announces on {prefix}accepted-updates: every change
once, in messages of at most CHANGES_PER_MESSAGE, each one a valid UpdatesAccepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.validator import store
from shared.messages import UpdatesAccepted
from shared.settings import Settings
from shared.testing import eventually
from tests.integration.importing import EventLog, customer, import_services, invoice

pytestmark = pytest.mark.integration


async def test_each_run_announces_its_changes_split_into_messages(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "CHANGES_PER_MESSAGE", 2)
    async with (
        import_services(settings, tmp_path / "export") as h,
        EventLog(settings.kafka_bootstrap, h.topics.accepted_updates) as updates,
    ):
        h.ledger.customers = [customer("C1"), customer('C"2')]
        h.ledger.invoices = [invoice("F1", "C1"), invoice("F2", "C1"), invoice("F3", 'C"2')]
        first = await h.run_import()
        h.ledger.change("customer", "C1", email="boekhouding@korenschoof.nl")
        h.ledger.invoices = [invoice("F1", "C1", "50.00"), invoice("F3", 'C"2')]
        second = await h.run_import()

        async def all_read() -> bool:
            runs = {m.get("run_id") for m in await updates.drain()}
            return {str(first["run_id"]), str(second["run_id"])} <= runs

        await eventually(all_read, what="both runs' accepted updates")
        messages = [UpdatesAccepted.model_validate_json(json.dumps(m)) for m in updates.messages]
        by_run: dict[str, list[tuple[str, str, str]]] = {}
        for message in messages:
            assert message.administration_id == h.admin_id
            assert 1 <= len(message.changes) <= 2
            by_run.setdefault(str(message.run_id), []).extend(
                (c.entity, c.key, c.change) for c in message.changes
            )
        assert sorted(by_run[str(first["run_id"])]) == sorted(
            [
                ("customer", "C1", "added"),
                ("customer", 'C"2', "added"),
                ("invoice", "F1", "added"),
                ("invoice", "F2", "added"),
                ("invoice", "F3", "added"),
            ]
        )
        assert sorted(by_run[str(second["run_id"])]) == [
            ("customer", "C1", "updated"),
            ("invoice", "F1", "updated"),
            ("invoice", "F2", "closed"),
        ]
        assert len({m.message_id for m in messages}) == len(messages)
