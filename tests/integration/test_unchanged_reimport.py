"""The unchanged re-import (issue 6), through the real importer and validator: a record loaded
from a clean source text is neither validated again nor rewritten while that text stays the
same, and every finding stays exactly as a full validation would have it."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import pytest

from services.importer import handlers
from services.validator import staging
from services.validator.rules import Finding
from services.validator.store import ValidatorStore
from shared.settings import Settings
from tests.integration.importing import (
    customer,
    fill_ledger_with_findings,
    import_services,
    invoice,
    row_versions,
)

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def read_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run here reads its records: as if the code changed between runs, so that an
    unchanged export is not completed at once (tests/integration/test_unchanged_export.py)
    and what is tested is each record's own source hash."""
    monkeypatch.setattr(handlers, "pipeline_fingerprint", lambda: uuid4().hex)


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The customer numbers validation is run on, in the validator of this test process."""
    numbers: list[str] = []
    real = staging._VALIDATE["customer"]

    def counting(row: Any) -> list[Finding]:
        numbers.append(row["customer_number"])
        return real(row)

    monkeypatch.setitem(staging._VALIDATE, "customer", counting)
    return numbers


async def test_an_unchanged_export_writes_nothing_and_keeps_every_finding(
    settings: Settings, tmp_path: Path
) -> None:
    async with import_services(settings, tmp_path / "export") as h:
        fill_ledger_with_findings(h.ledger)
        await h.run_import()
        open_errors = set(await h.errors())
        assert open_errors == {
            ("customer", "C2", "invalid_email"),
            ("customer", "C5", "invalid_phone"),
            ("invoice", "F9", "unknown_customer"),
        }
        before = await row_versions(h)
        events = len(await h.error_events())

        again = await h.run_import()

        assert again["counts"]["customer"]["unchanged"] == 2
        assert again["counts"]["invoice"]["unchanged"] == 2
        assert await row_versions(h) == before  # not a row written, errors included
        assert set(await h.errors()) == open_errors
        assert len(await h.error_events()) == events


async def test_known_clean_records_skip_validation_and_changed_ones_do_not(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validated: list[str]
) -> None:
    async with import_services(settings, tmp_path / "export") as h:
        h.ledger.customers = [customer("C1"), customer("C2"), customer("C5", phone="12345")]
        h.ledger.invoices = [invoice("F1", "C1"), invoice("F2", "C2"), invoice("F5", "C5")]
        await h.run_import()
        assert sorted(validated) == ["C1", "C2", "C5"]

        # C1 unchanged: skipped. C5 had a warning: validated again, the warning stays open.
        # C2 changed to an invalid address: validated, held back, its last good version kept.
        validated.clear()
        h.ledger.change("customer", "C2", email="jan@")
        run = await h.run_import()
        assert sorted(validated) == ["C2", "C5"]
        assert run["counts"]["customer"]["unchanged"] == 2
        assert set(await h.errors()) == {
            ("customer", "C2", "invalid_email"),
            ("customer", "C5", "invalid_phone"),
        }
        assert (await h.customers())["C2"]["email"] == "administratie@korenschoof.nl"

        # Back to the text C2 was loaded from: known clean again, its error resolved as fixed.
        validated.clear()
        h.ledger.change("customer", "C2", email="administratie@korenschoof.nl")
        await h.run_import()
        assert sorted(validated) == ["C5"]
        resolved = await h.errors("resolved")
        assert resolved["customer", "C2", "invalid_email"]["resolution"] == "fixed"

        # Other rules (a new version): every record is validated again.
        validated.clear()
        monkeypatch.setattr(staging, "_FINGERPRINT", "other rules")
        await h.run_import()
        assert sorted(validated) == ["C1", "C2", "C5"]


async def test_a_record_with_a_warning_that_left_and_returns_unchanged_raises_it_again(
    settings: Settings, tmp_path: Path
) -> None:
    async with import_services(settings, tmp_path / "export") as h:
        h.ledger.customers = [customer("C1"), customer("C5", phone="12345")]
        h.ledger.invoices = [invoice("F1", "C1"), invoice("F5", "C5")]
        await h.run_import()
        assert set(await h.errors()) == {("customer", "C5", "invalid_phone")}

        # F5 is paid: C5 leaves the import and its warning is resolved.
        h.ledger.invoices = [invoice("F1", "C1")]
        await h.run_import()
        assert (await h.errors("resolved"))["customer", "C5", "invalid_phone"][
            "resolution"
        ] == "left_import"

        # A new invoice brings C5 back with the very same text: the warning is raised again.
        h.ledger.invoices = [invoice("F1", "C1"), invoice("F6", "C5")]
        await h.run_import()
        assert set(await h.errors()) == {("customer", "C5", "invalid_phone")}
        raised = [e for e in await h.error_events() if e["event"] == "raised"]
        assert [e["key"] for e in raised] == ["C5", "C5"]


async def test_a_reopened_or_fixed_field_changed_invoice_is_not_taken_as_unchanged(
    settings: Settings, tmp_path: Path
) -> None:
    async with import_services(settings, tmp_path / "export") as h:
        h.ledger.customers = [customer("C1")]
        h.ledger.invoices = [invoice("F1", "C1"), invoice("F2", "C1")]
        await h.run_import()

        # F2 is paid and closed; it comes back with the same text: reopened, counted updated.
        h.ledger.invoices = [invoice("F1", "C1")]
        await h.run_import()
        assert (await h.statuses())["F2"] == "closed"
        h.ledger.invoices = [invoice("F1", "C1"), invoice("F2", "C1")]
        run = await h.run_import()
        assert (await h.statuses())["F2"] == "open"
        assert run["counts"]["invoice"] == {
            "added": 0,
            "updated": 1,
            "unchanged": 1,
            "blocked": 0,
            "ignored": 0,
        }

        # F1's due date (fixed once loaded) changes: the warning is raised, and stays open on
        # every later run of that same text, though nothing in the loaded invoice changes.
        h.ledger.change("invoice", "F1", due_date="2027-01-31")
        await h.run_import()
        await h.run_import()
        assert set(await h.errors()) == {("invoice", "F1", "immutable_field_changed")}
        assert str((await h.invoices())["F1"]["due_date"]) == "2026-12-01"

        # Back to the loaded due date: resolved as fixed, and the invoice unchanged again.
        h.ledger.change("invoice", "F1", due_date="2026-12-01")
        run = await h.run_import()
        assert set(await h.errors()) == set()
        assert run["counts"]["invoice"]["unchanged"] == 2


async def test_a_lookup_that_times_out_only_means_everything_is_validated(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validated: list[str]
) -> None:
    async def too_slow(self: ValidatorStore, *args: Any) -> Any:
        raise asyncpg.QueryCanceledError("canceling statement due to statement timeout")

    async with import_services(settings, tmp_path / "export") as h:
        h.ledger.customers = [customer("C1"), customer("C2")]
        h.ledger.invoices = [invoice("F1", "C1"), invoice("F2", "C2")]
        await h.run_import()
        monkeypatch.setattr(ValidatorStore, "_probe_loaded", too_slow)
        validated.clear()
        run = await h.run_import()
        assert sorted(validated) == ["C1", "C2"]
        assert run["counts"]["customer"]["unchanged"] == 2
