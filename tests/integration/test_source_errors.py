"""A source that cannot be read fails the run with a reason naming file, line and column, and
changes nothing that was loaded (R4: a failed run closes nothing)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.importer import handlers
from services.importer.sources import Source
from shared.settings import Settings
from tests.integration.importing import ImportHarness, customer, import_services, invoice

pytestmark = pytest.mark.integration


def missing_file(export: Path) -> None:
    (export / "payment_conditions.csv").unlink()


def missing_column(export: Path) -> None:
    path = export / "invoices.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    # Drop amount_open (the 7th column) from every line.
    path.write_text(
        "\n".join(",".join(line.split(",")[:6] + line.split(",")[7:]) for line in lines) + "\n",
        encoding="utf-8",
    )


def wrong_encoding(export: Path) -> None:
    path = export / "customers.csv"
    text = path.read_text(encoding="utf-8").replace("Customer C2", "Café C2")
    path.write_bytes(text.encode("latin-1"))


def malformed_row(export: Path) -> None:
    with (export / "invoices.csv").open("a", encoding="utf-8") as out:
        out.write("F9,C1,2026-11-01\n")


BREAKAGES: list[tuple[Callable[[Path], None], str]] = [
    (missing_file, "payment_conditions.csv: the file does not exist"),
    (missing_column, "invoices.csv, line 1, column 'amount_open': the header lacks"),
    (
        wrong_encoding,
        "customers.csv, line 3, column 'name': the text is not valid UTF-8 (byte 0xE9)",
    ),
    (malformed_row, "invoices.csv, line 4: expected 9 fields (as in the header) but found 3"),
]


async def snapshot(h: ImportHarness) -> tuple[object, ...]:
    return (
        await h.customers(),
        await h.invoices(),
        await h.errors("all"),
        await h.pool.fetch("select * from payment_conditions order by code"),
    )


async def test_an_unreadable_export_fails_the_run_naming_where_and_changes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    async with import_services(settings, tmp_path / "export") as h:
        h.ledger.customers = [customer("C1"), customer("C2", email="jan@")]
        h.ledger.invoices = [invoice("F1", "C1"), invoice("F2", "C2")]
        await h.run_import()
        before = await snapshot(h)
        assert set(before[1]) == {"F1"} and before[2]  # F2 held back by C2's error

        # F1 is paid meanwhile, and C2 fixed: a failed run must take over neither.
        h.ledger.change("invoice", "F1", amount_open="0.00")
        h.ledger.change("customer", "C2", email="jan@korenschoof.nl")
        for breakage, reason in BREAKAGES:
            breakage(h.ledger.write())
            run = await h.run_import(expect="failed", write=False)
            assert reason in run["reason"], (breakage.__name__, run["reason"])
            assert await snapshot(h) == before, breakage.__name__
        assert await h.pool.fetchval("select count(*) from run_chunks") == 0
        assert await h.pool.fetchval("select count(*) from staged_invoices") == 0
        assert await h.pool.fetchval("select count(*) from staged_customers") == 0


async def test_an_export_that_changes_while_it_is_read_fails_the_run_and_closes_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with import_services(settings, tmp_path / "export") as h:
        h.ledger.customers = [customer("C1")]
        h.ledger.invoices = [invoice("F1", "C1"), invoice("F2", "C1")]
        await h.run_import()
        before = await snapshot(h)

        # F1 partly paid; then the accounting package writes the next export while this one
        # is read. What was read may be part of one and part of the other: nothing is loaded.
        h.ledger.change("invoice", "F1", amount_open="50.00")
        real = handlers.publish_outstanding

        async def read_then_overwrite(source: Source, publisher: Any) -> dict[str, int]:
            records = await real(source, publisher)
            h.ledger.invoices = [invoice("F2", "C1"), invoice("F3", "C1")]
            h.ledger.write()
            return records

        monkeypatch.setattr(handlers, "publish_outstanding", read_then_overwrite)
        run = await h.run_import(expect="failed")
        assert run["reason"] == handlers.EXPORT_CHANGED_WHILE_READ
        assert await snapshot(h) == before
        assert await h.pool.fetchval("select count(*) from staged_invoices") == 0

        # Read whole, the new export loads as it is.
        monkeypatch.setattr(handlers, "publish_outstanding", real)
        await h.run_import(write=False)
        assert await h.statuses() == {"F1": "closed", "F2": "open", "F3": "open"}
