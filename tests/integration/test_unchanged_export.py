"""An export unchanged since the last completed run is not imported again (issue 6), through
the real importer and validator: the run completes at once, with the counts a full run of
the same export gives, and says why; anything that could change what a run loads (the
export's content, the ignore list, the dunning plans, the code) makes the next run read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.control.ignore import add_ignore_entry, remove_ignore_entry
from services.control.plans import PlanInput, set_plan
from services.importer import handlers
from shared.settings import Settings
from shared.testing import TopicReader
from tests.integration.importing import (
    ImportHarness,
    customer,
    fill_ledger_with_findings,
    import_services,
    invoice,
    row_versions,
)

pytestmark = pytest.mark.integration


def unchanged_since(run: dict[str, Any]) -> str:
    return f"the export is unchanged since run {run['run_id']}: nothing to load"


async def chunks(h: ImportHarness, run: dict[str, Any]) -> int:
    return int(
        await h.pool.fetchval(
            "select chunks from import_runs where run_id = $1::uuid", run["run_id"]
        )
    )


async def test_an_unchanged_export_completes_at_once_as_a_full_run_would(
    settings: Settings, tmp_path: Path
) -> None:
    async with import_services(settings, tmp_path / "export") as h:
        fill_ledger_with_findings(h.ledger)
        first = await h.run_import()
        assert first["reason"] is None and await chunks(h, first) > 0
        before = await row_versions(h)
        open_errors = set(await h.errors())
        events = len(await h.error_events())

        # The files are written again (new times), with the same content.
        skipped = await h.run_import()

        assert skipped["reason"] == unchanged_since(first)
        assert await chunks(h, skipped) == 0
        # On the import-runs topic: started, then completed with the reason and the counts.
        async with TopicReader(settings.require_kafka(), h.topics.import_runs) as runs:
            run_events = await runs.wait_for(
                lambda ms: any(
                    m["run_id"] == skipped["run_id"] and m["event"] == "completed" for m in ms
                ),
                what="the skipped run's completed event",
            )
        of_skipped = [m for m in run_events if m["run_id"] == skipped["run_id"]]
        assert [m["event"] for m in of_skipped] == ["started", "completed"]
        assert of_skipped[1]["reason"] == unchanged_since(first)
        assert of_skipped[1]["counts"] == skipped["counts"]
        assert skipped["records"] == first["records"]
        assert await row_versions(h) == before
        assert set(await h.errors()) == open_errors
        assert len(await h.error_events()) == events

        # A change to the ignore list that is undone at once still makes the next run read
        # the export: it counts exactly what the skipped run counted.
        entry = {"entity": "invoice", "pattern": "X-*"}
        await add_ignore_entry(h.pool, h.topics, h.admin_id, **entry, issued_by="test")
        await remove_ignore_entry(h.pool, h.topics, h.admin_id, **entry, issued_by="test")
        read = await h.run_import()
        assert read["reason"] is None and await chunks(h, read) > 0
        assert read["counts"] == skipped["counts"]
        assert read["counts"]["invoice"] == {
            "added": 0,
            "updated": 0,
            "unchanged": 2,
            "blocked": 2,
            "ignored": 0,
        }
        assert await row_versions(h) == before

        # ... and stands for the export from then on.
        again = await h.run_import()
        assert again["reason"] == unchanged_since(read)
        assert again["counts"] == read["counts"]


async def test_what_changes_a_runs_outcome_makes_the_next_run_read_the_export(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with import_services(settings, tmp_path / "export") as h:
        fill_ledger_with_findings(h.ledger)
        await h.run_import()

        # The ignore list: the entry takes effect.
        await add_ignore_entry(h.pool, h.topics, h.admin_id, "customer", "C1", issued_by="test")
        run = await h.run_import()
        assert run["reason"] is None
        assert (await h.customers())["C1"]["status"] == "blocked"
        assert (await h.run_import())["reason"] == unchanged_since(run)

        # The dunning plans (`no_dunning_plan` consults them).
        plan = {"first_after_days": 7, "interval_days": 7, "count": 2, "final_notice": True}
        await set_plan(h.pool, h.topics, h.admin_id, "60D", PlanInput(plan))
        run = await h.run_import()
        assert run["reason"] is None
        assert (await h.run_import())["reason"] == unchanged_since(run)

        # The export's content: one amount.
        h.ledger.change("invoice", "F5", amount_open="40.00")
        changed = await h.run_import()
        assert changed["reason"] is None
        assert changed["counts"]["invoice"]["updated"] == 1

        # An export equal to an earlier run's, but not to the latest completed one's.
        h.ledger.change("invoice", "F5", amount_open="100.00")
        back = await h.run_import()
        assert back["reason"] is None
        assert back["counts"]["invoice"]["updated"] == 1
        assert (await h.invoices())["F5"]["amount_open"] == 100

        # The code that reads, validates and loads it (or the libraries the rules consult).
        monkeypatch.setattr(handlers, "pipeline_fingerprint", lambda: "other code")
        run = await h.run_import()
        assert run["reason"] is None
        assert (await h.run_import())["reason"] == unchanged_since(run)


async def test_a_failed_run_does_not_stand_for_an_export(
    settings: Settings, tmp_path: Path
) -> None:
    async with import_services(settings, tmp_path / "export") as h:
        h.ledger.customers = [customer("C1")]
        h.ledger.invoices = [invoice("F1", "C1")]
        first = await h.run_import()

        broken = h.ledger.directory / "invoices.csv"
        good = broken.read_bytes()
        broken.write_bytes(b"invoice_number\nF1\n")
        await h.run_import(expect="failed", write=False)

        broken.write_bytes(good)
        run = await h.run_import(write=False)
        assert run["reason"] == unchanged_since(first)
