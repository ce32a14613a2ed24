"""The export format of DESIGN section 6 (contract): entities, their columns and keys.

One definition for every part that reads, writes, stages or shows source records.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["COLUMNS", "ENTITIES", "KEY_COLUMN", "OPTIONAL_COLUMNS", "Entity"]

Entity = Literal["customer", "invoice", "payment_condition"]

# Payment conditions first: invoices refer to them, and customers to nothing.
ENTITIES: tuple[Entity, ...] = ("payment_condition", "customer", "invoice")

COLUMNS: dict[Entity, tuple[str, ...]] = {
    "customer": (
        "customer_number",
        "name",
        "email",
        "phone",
        "street",
        "postal_code",
        "city",
        "country",
        "language",
        "vat_number",
        "changed_at",
    ),
    "invoice": (
        "invoice_number",
        "customer_number",
        "invoice_date",
        "due_date",
        "currency",
        "amount_total",
        "amount_open",
        "payment_condition",
        "description",
    ),
    "payment_condition": ("code", "description", "term_days"),
}

# Columns an export may leave out of its header; a missing one reads as "".
OPTIONAL_COLUMNS: dict[Entity, frozenset[str]] = {
    "customer": frozenset({"changed_at"}),
    "invoice": frozenset({"description"}),
    "payment_condition": frozenset({"description"}),
}

KEY_COLUMN: dict[Entity, str] = {
    "customer": "customer_number",
    "invoice": "invoice_number",
    "payment_condition": "code",
}
