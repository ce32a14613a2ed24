"""The `demo:SEED` source: a small, believable ledger for `creditflow up --demo`.

About 25 customers and 60 invoices from the last four months, dated relative to today so that
invoice e-mails and reminders have something to do, with the handful of problems a bookkeeper
meets every week, each on a customer or invoice that the import actually loads:

- a customer whose e-mail address is cut off after the @ (error `invalid_email`);
- a customer without a postal code (error `required`);
- a company whose VAT number has a typo in its check digit (warning `invalid_vat`);
- an invoice whose due date lies before its invoice date (error `due_before_invoice`).
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from .base import COLUMNS, ENTITIES, KEY_COLUMN, Entity, SourceRow
from .files import FILE_NAMES
from .generator import SyntheticExport

__all__ = ["DemoSource"]

DEMO_CUSTOMERS = 25
DEMO_INVOICES = 60


class DemoSource:
    """An in-memory export, the same for the same seed and day."""

    def __init__(self, seed: int, *, today: date | None = None) -> None:
        self.seed = seed
        self.today = today if today is not None else date.today()
        export = SyntheticExport(
            seed,
            customers=DEMO_CUSTOMERS,
            invoices=DEMO_INVOICES,
            invalid_ratio=0.0,
            paid_ratio=0.25,
            credit_note_ratio=0.04,
            today=self.today,
            span_days=120,
        )
        conditions = list(export.payment_condition_rows())
        customers = list(export.customer_rows())
        invoices = list(export.invoice_rows())
        self.problems = _stage_problems(customers, invoices, random.Random(seed))
        staged: dict[Entity, list[dict[str, str]]] = {
            "payment_condition": conditions,
            "customer": customers,
            "invoice": invoices,
        }
        self._rows: dict[Entity, list[SourceRow]] = {
            entity: [SourceRow(n, row) for n, row in enumerate(rows, 2)]
            for entity, rows in staged.items()
        }

    def __repr__(self) -> str:
        return f"DemoSource(seed={self.seed}, today={self.today.isoformat()})"

    def payment_conditions(self) -> Iterator[SourceRow]:
        return self.rows("payment_condition")

    def invoices(self) -> Iterator[SourceRow]:
        return self.rows("invoice")

    def customers(self) -> Iterator[SourceRow]:
        return self.rows("customer")

    def rows(self, entity: Entity) -> Iterator[SourceRow]:
        # Fresh dicts each time, so a caller that edits a row cannot change the source.
        return (SourceRow(row.line, dict(row.data)) for row in self._rows[entity])

    def find(self, entity: Entity, key: str) -> SourceRow | None:
        column = KEY_COLUMN[entity]
        key = key.strip()
        for row in self._rows[entity]:
            if row.data[column].strip() == key:
                return SourceRow(row.line, dict(row.data))
        return None

    def fingerprint(self) -> str:
        return hashlib.sha256(f"demo:{self.seed}:{self.today.isoformat()}".encode()).hexdigest()

    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for entity in ENTITIES:
            for row in self._rows[entity]:
                digest.update(f"{entity}:{row.line}:{sorted(row.data.items())!r}\n".encode())
        return digest.hexdigest()

    def write_files(self, directory: Path | str) -> dict[Entity, int]:
        """Write the demo as a `files` export, e.g. to try the files source by hand."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        counts: dict[Entity, int] = {}
        for entity in ENTITIES:
            with open(directory / FILE_NAMES[entity], "w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(COLUMNS[entity])
                for row in self._rows[entity]:
                    writer.writerow([row.data[c] for c in COLUMNS[entity]])
            counts[entity] = len(self._rows[entity])
        return counts


def _stage_problems(
    customers: list[dict[str, str]], invoices: list[dict[str, str]], rng: random.Random
) -> dict[str, str]:
    """Plant the problems on records the import loads (R3); return {problem: key}."""
    open_of: dict[str, list[dict[str, str]]] = {}
    for invoice in invoices:
        if invoice["amount_open"] != "0.00" and not invoice["amount_total"].startswith("-"):
            open_of.setdefault(invoice["customer_number"], []).append(invoice)
    # Reopen paid invoices until four customers have something open (rare with 60 invoices).
    for invoice in invoices:
        if len(open_of) >= 4:
            break
        if invoice["customer_number"] not in open_of and not invoice["amount_total"].startswith(
            "-"
        ):
            invoice["amount_open"] = invoice["amount_total"]
            open_of[invoice["customer_number"]] = [invoice]

    by_number = {c["customer_number"]: c for c in customers}
    candidates = sorted(open_of)
    rng.shuffle(candidates)
    bad_email, no_postal_code, late_invoice_customer = candidates[:3]
    problems: dict[str, str] = {}

    customer = by_number[bad_email]
    customer["email"] = customer["email"].partition("@")[0] + "@"
    problems["invalid_email"] = bad_email

    by_number[no_postal_code]["postal_code"] = ""
    problems["missing_postal_code"] = no_postal_code

    companies = [n for n in candidates[3:] if by_number[n]["vat_number"].startswith("NL")]
    if companies:
        customer = by_number[companies[0]]
        customer["vat_number"] = _mistype_nl_vat(customer["vat_number"])
        problems["invalid_vat"] = companies[0]

    invoice = open_of[late_invoice_customer][0]
    invoice_date = date.fromisoformat(invoice["invoice_date"])
    invoice["due_date"] = (invoice_date - timedelta(days=30)).isoformat()
    problems["due_before_invoice"] = invoice["invoice_number"]

    _make_sure_of_variety(invoices, taken={bad_email, no_postal_code, late_invoice_customer})
    return problems


def _make_sure_of_variety(invoices: list[dict[str, str]], taken: set[str]) -> None:
    """At least one credit note and one partly paid invoice, whatever the seed."""
    spare = [
        i
        for i in invoices
        if i["customer_number"] not in taken
        and i["amount_open"] == i["amount_total"]
        and not i["amount_total"].startswith("-")
    ]
    if not any(i["amount_total"].startswith("-") for i in invoices) and spare:
        credit = spare.pop()
        credit["amount_total"] = credit["amount_open"] = "-" + credit["amount_total"]
        credit["description"] = "Creditnota: retour geleverde goederen"
    partly_paid = any(i["amount_open"] not in ("0.00", i["amount_total"]) for i in invoices)
    if not partly_paid and spare:
        invoice = spare.pop()
        cents = round(float(invoice["amount_total"]) * 100)
        invoice["amount_open"] = f"{cents * 2 // 5 // 100}.{cents * 2 // 5 % 100:02d}"


def _mistype_nl_vat(vat: str) -> str:
    """The same Dutch btw-id with its ninth digit changed so that no check accepts it."""
    for digit in "0123456789":
        candidate = vat[:10] + digit + vat[11:]
        if candidate != vat and not _nl_vat_is_valid(candidate):
            return candidate
    return vat  # unreachable: only one ninth digit satisfies the eleven-test


def _nl_vat_is_valid(vat: str) -> bool:
    digits = vat[2:11]
    eleven = (sum((9 - i) * int(d) for i, d in enumerate(digits[:8])) - int(digits[8])) % 11 == 0
    mod97 = int("".join(str(int(c, 36)) for c in vat)) % 97 == 1
    return eleven or mod97
