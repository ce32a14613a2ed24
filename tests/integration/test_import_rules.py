"""R3 to R6 through the real importer and validator, the real broker and PostgreSQL: a ledger
is imported, edited in the accounting package's export, and imported again."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import Settings
from tests.integration.importing import customer, import_services, invoice

pytestmark = pytest.mark.integration

ODD_CUSTOMER = 'O\'Brien <b>"&"</b>; drop table customers;--'
ODD_INVOICE = "F'4 <script>alert(1)</script>"


def counts(added: int = 0, updated: int = 0, unchanged: int = 0, blocked: int = 0) -> dict:
    return {
        "added": added,
        "updated": updated,
        "unchanged": unchanged,
        "blocked": blocked,
        "ignored": 0,
    }


async def test_an_invalid_customer_is_held_back_with_its_invoices_until_the_export_is_fixed(
    settings: Settings, tmp_path: Path
) -> None:
    async with import_services(settings, tmp_path / "export") as h:
        h.ledger.customers = [
            customer("C1"),
            customer("C2", email="jan@"),
            customer("C5", phone="12345"),  # a doubtful phone number: a warning only
            customer(ODD_CUSTOMER),
        ]
        h.ledger.invoices = [
            invoice("F1", "C1"),
            invoice("F2", "C1"),
            invoice("F3", "C2"),
            invoice("D1", "C1", "10.00"),
            invoice("D1", "C1", "20.00"),  # the same number twice
            invoice("F5", "C5"),
            invoice(ODD_INVOICE, ODD_CUSTOMER),
        ]
        first = await h.run_import()

        # R5: C2 and its invoice are held back; the rest of the run loads normally, C5 too.
        assert set(await h.customers()) == {"C1", "C5", ODD_CUSTOMER}
        assert await h.statuses() == {"F1": "open", "F2": "open", "F5": "open", ODD_INVOICE: "open"}
        assert first["counts"] == {
            "customer": counts(added=3, blocked=1),
            "invoice": counts(added=4, blocked=2),  # F3 (its customer) and D1 (duplicate)
            "payment_condition": counts(added=1),
        }
        open_errors = await h.errors()
        assert set(open_errors) == {
            ("customer", "C2", "invalid_email"),
            ("customer", "C5", "invalid_phone"),
            ("invoice", "D1", "duplicate_key"),
        }
        assert "'jan@'" in open_errors["customer", "C2", "invalid_email"]["message"]
        assert "2 times" in open_errors["invoice", "D1", "duplicate_key"]["message"]
        raised = [e for e in await h.error_events() if e["event"] == "raised"]
        assert sorted((e["key"], e["code"], e["severity"]) for e in raised) == [
            ("C2", "invalid_email", "error"),
            ("C5", "invalid_phone", "warning"),
            ("D1", "duplicate_key", "error"),
        ]
        # The held-back invoice is explained by its customer, not reported on its own.
        assert not any(e["key"] == "F3" for e in raised)

        # A re-import of the same export: everything unchanged, no error raised again.
        again = await h.run_import()
        assert again["counts"] == {
            "customer": counts(unchanged=3, blocked=1),
            "invoice": counts(unchanged=4, blocked=2),
            "payment_condition": counts(unchanged=1),
        }
        assert set(await h.errors()) == set(open_errors)
        assert len(await h.error_events()) == 3

        # The bookkeeper fixes the export; meanwhile F1's due date (fixed once loaded) and
        # open amount change, and C1 gets a new e-mail address.
        h.ledger.change("customer", "C2", email="jan@korenschoof.nl")
        h.ledger.invoices = [row for row in h.ledger.invoices if row["amount_open"] != "20.00"]
        h.ledger.change("invoice", "F1", due_date="2027-01-31", amount_open="60.00")
        h.ledger.change("customer", "C1", email="boekhouding@korenschoof.nl")
        fixed = await h.run_import()

        assert fixed["counts"] == {
            "customer": counts(added=1, updated=1, unchanged=2),
            "invoice": counts(added=2, updated=1, unchanged=3),
            "payment_condition": counts(unchanged=1),
        }
        loaded = await h.invoices()
        assert set(loaded) == {"F1", "F2", "F3", "D1", "F5", ODD_INVOICE}
        assert str(loaded["F1"]["due_date"]) == "2026-12-01"  # R5: kept as first loaded
        assert str(loaded["F1"]["amount_open"]) == "60.00"  # follows the source
        assert (await h.customers())["C1"]["email"] == "boekhouding@korenschoof.nl"
        assert (await h.customers())["C2"]["email"] == "jan@korenschoof.nl"
        assert set(await h.errors()) == {
            ("invoice", "F1", "immutable_field_changed"),
            ("customer", "C5", "invalid_phone"),
        }

        events = await h.error_events()
        resolved = {(e["key"], e["code"]): e for e in events if e["event"] == "resolved"}
        assert {k: e["resolution"] for k, e in resolved.items()} == {
            ("C2", "invalid_email"): "fixed",
            ("D1", "duplicate_key"): "fixed",
        }
        raised_ids = {(e["key"], e["code"]): e["error_id"] for e in raised}
        assert resolved["C2", "invalid_email"]["error_id"] == raised_ids["C2", "invalid_email"]
        warning = next(e for e in events if e["code"] == "immutable_field_changed")
        assert (warning["event"], warning["severity"], warning["field"]) == (
            "raised",
            "warning",
            "due_date",
        )
        assert "'2026-12-01'" in warning["message"] and "'2027-01-31'" in warning["message"]

        # The due date is put back: the warning is resolved as fixed.
        h.ledger.change("invoice", "F1", due_date="2026-12-01")
        await h.run_import()
        assert set(await h.errors()) == {("customer", "C5", "invalid_phone")}
        last = (await h.error_events())[-1]
        assert (last["event"], last["code"], last["resolution"]) == (
            "resolved",
            "immutable_field_changed",
            "fixed",
        )


async def test_a_customer_change_waits_for_an_open_invoice_and_invoices_close_after_complete_runs(
    settings: Settings, tmp_path: Path
) -> None:
    async with import_services(settings, tmp_path / "export") as h:
        h.ledger.customers = [customer("C1"), customer("C3"), customer("C4")]
        h.ledger.invoices = [
            invoice("F1", "C1"),
            invoice("CN7", "C1", "-25.00"),  # a credit note is outstanding too
            invoice("F5", "C3"),
            invoice("F6", "C4", "0.00"),  # paid: neither it nor C4 is loaded (R3)
        ]
        await h.run_import()
        assert set(await h.customers()) == {"C1", "C3"}
        assert await h.statuses() == {"F1": "open", "CN7": "open", "F5": "open"}

        # C3 pays its only invoice and changes its name; C1 changes its name too.
        h.ledger.change("invoice", "F5", amount_open="0.00")
        h.ledger.change("customer", "C3", name="Renamed Three")
        h.ledger.change("customer", "C1", name="Renamed One")
        await h.run_import()
        customers = await h.customers()
        assert customers["C1"]["name"] == "Renamed One"  # has an open invoice
        assert customers["C3"]["name"] == "Customer C3"  # no open invoice: not taken over
        assert (await h.statuses())["F5"] == "closed"  # R4: paid

        # C3 gets a new open invoice: its change is taken over now.
        h.ledger.invoices.append(invoice("F8", "C3"))
        await h.run_import()
        assert (await h.customers())["C3"]["name"] == "Renamed Three"

        # F1 is paid and gone from the export, but the run fails on a broken customer row:
        # a failed run closes nothing and changes nothing.
        h.ledger.invoices = [row for row in h.ledger.invoices if row["invoice_number"] != "F1"]
        h.ledger.change("customer", "C1", name="Not Taken Over")
        h.ledger.write()
        with (h.ledger.directory / "customers.csv").open("a", encoding="utf-8") as out:
            out.write('C9,"an unclosed quote,x,,,,,,,,\n')
        before = (await h.customers(), await h.invoices())
        failed = await h.run_import(expect="failed", write=False)
        assert "customers.csv" in failed["reason"] and "line 5" in failed["reason"]
        assert (await h.customers(), await h.invoices()) == before
        assert await h.pool.fetchval("select count(*) from staged_invoices") == 0

        # The export is repaired: now F1 is closed.
        h.ledger.customers.append(customer("C9", postal_code="12345"))
        h.ledger.invoices.append(invoice("F9", "C9"))
        await h.run_import()
        assert (await h.statuses())["F1"] == "closed"
        assert set(await h.errors()) == {("customer", "C9", "invalid_postal_code")}

        # Everything is paid: a run with no outstanding invoice completes and closes all.
        for row in h.ledger.invoices:
            row["amount_open"] = "0.00"
        empty = await h.run_import()
        assert set((await h.statuses()).values()) == {"closed"}
        assert all(n == 0 for entity in empty["counts"].values() for n in entity.values()), empty[
            "counts"
        ]
        assert await h.errors() == {}
        [left] = (await h.errors("resolved")).values()
        assert (left["key"], left["resolution"]) == ("C9", "left_import")
