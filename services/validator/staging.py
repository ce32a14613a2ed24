"""Turning a chunk of raw records into staging rows and findings (pure, no I/O).

Each record is validated on its own here (R5); the checks that need the whole run
(duplicates, unknown references, missing dunning plans, fixed fields) run in SQL when the run
is complete. Values are staged stripped of surrounding whitespace; findings keep the source
text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from services.validator.rules import (
    Finding,
    validate_customer,
    validate_invoice,
    validate_payment_condition,
)
from shared.messages import RawRecord

__all__ = ["COLUMNS", "KEY_COLUMN", "StagedBatch", "record_key", "stage_records"]

COLUMNS: dict[str, tuple[str, ...]] = {
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
KEY_COLUMN = {
    "customer": "customer_number",
    "invoice": "invoice_number",
    "payment_condition": "code",
}
TABLE = {
    "customer": "staged_customers",
    "invoice": "staged_invoices",
    "payment_condition": "staged_payment_conditions",
}
_VALIDATE: dict[str, Callable[[Mapping[str, str]], list[Finding]]] = {
    "customer": validate_customer,
    "invoice": validate_invoice,
    "payment_condition": validate_payment_condition,
}


def record_key(entity: str, data: Mapping[str, str], line: int) -> str:
    """The record's key; a record without one is named by its line so it can be reported."""
    key = (data.get(KEY_COLUMN[entity]) or "").strip()
    return key or f"(no number, line {line})"


@dataclass
class StagedBatch:
    """Rows ready for COPY: per staging table, and the findings of every record."""

    rows: dict[str, list[tuple[object, ...]]] = field(
        default_factory=lambda: {table: [] for table in TABLE.values()}
    )
    findings: list[tuple[object, ...]] = field(default_factory=list)

    def extend(self, other: StagedBatch) -> None:
        for table, rows in other.rows.items():
            self.rows[table].extend(rows)
        self.findings.extend(other.findings)


def stage_records(run_id: UUID, records: Iterable[RawRecord]) -> StagedBatch:
    batch = StagedBatch()
    for record in records:
        entity = record.entity
        data = record.data
        key = record_key(entity, data, record.line)
        found = _VALIDATE[entity](data)
        has_error = False
        for finding in found:
            has_error = has_error or finding.severity == "error"
            batch.findings.append(
                (
                    run_id,
                    entity,
                    key,
                    finding.code,
                    finding.field,
                    finding.value,
                    finding.severity,
                    finding.message,
                )
            )
        values = [(data.get(column) or "").strip() for column in COLUMNS[entity][1:]]
        batch.rows[TABLE[entity]].append((run_id, record.line, key, *values, has_error))
    return batch
